#!/usr/bin/python3
"""Drive a XEP-0060 pubsub service with slixmpp and say what happened.

Reads {"service": jid, "mode": "full" or "acl", "alice", "bob", "carol":
[jid, password]} on stdin, connects to HOST:PORT (argv) over STARTTLS without
checking the certificate and prints one JSON object of observations, each
named after its step.

mode "full":
1. alice creates an instant node ("instant": a node id was assigned) and the
   node "news" configured with a title and max_items 2; she reads the
   configuration back ("config").
2. The service's disco#items list both nodes ("disco_items"); the node's
   disco#info carries its meta-data ("meta": title, owner, access model).
3. bob subscribes ("subscribed") and lists his subscriptions ("bob_subs");
   carol tries to subscribe bob ("invalid_jid": the error condition).
4. alice publishes three items: bob gets each event ("events"); bob reads the
   items (all: the last two; max_items 1; by id: "items_all", "items_max",
   "items_id"); carol may not publish ("carol_publish").
5. alice retracts one: bob gets the retraction ("retracted"); alice makes
   carol an outcast and carol is refused the items ("carol_outcast");
   alice reads the affiliations ("affiliations").
6. bob unsubscribes, alice publishes again and bob gets no event
   ("after_unsubscribe"); bob subscribes again, alice deletes the node and bob
   gets the delete event ("deleted"); the node is gone ("gone").

mode "acl": bob (not an admin of the domain) tries to create a node
("create_refused": the error condition).
"""
import asyncio
import json
import logging
import ssl
import sys

import slixmpp
from slixmpp.exceptions import IqError
from slixmpp.xmlstream import ET

PAYLOAD_NS = "urn:example:news"


def client(jid, password):
    c = slixmpp.ClientXMPP(jid, password)
    c.ssl_context.check_hostname = False
    c.ssl_context.verify_mode = ssl.CERT_NONE
    for p in ("xep_0030", "xep_0004", "xep_0060", "xep_0128"):
        c.register_plugin(p)
    c.events = asyncio.Queue()
    c.add_event_handler("pubsub_publish", lambda m: c.events.put_nowait(
        ("publish", m["pubsub_event"]["items"]["node"], m["pubsub_event"]["items"]["item"]["id"])))
    c.add_event_handler("pubsub_retract", lambda m: c.events.put_nowait(
        ("retract", m["pubsub_event"]["items"]["node"], m["pubsub_event"]["items"]["retract"]["id"])))
    c.add_event_handler("pubsub_delete", lambda m: c.events.put_nowait(
        ("delete", m["pubsub_event"]["delete"]["node"], "")))
    return c


async def online(c, host, port):
    started = asyncio.get_running_loop().create_future()
    c.add_event_handler("session_start", lambda _: started.done() or started.set_result(True))
    c.connect((host, port))
    await asyncio.wait_for(started, 20)
    c.send_presence()
    return c


async def event(c, wait=5):
    try:
        return list(await asyncio.wait_for(c.events.get(), wait))
    except asyncio.TimeoutError:
        return None


async def condition(coro):
    try:
        await coro
        return "ok"
    except IqError as e:
        return e.condition


def payload(text):
    el = ET.Element("{%s}entry" % PAYLOAD_NS)
    el.text = text
    return el


async def item_ids(c, service, node, **kw):
    r = await c["xep_0060"].get_items(service, node, timeout=10, **kw)
    return [i["id"] for i in r["pubsub"]["items"]]


async def main(host, port, users):
    service = users["service"]
    if users["mode"] == "acl":
        bob = await online(client(*users["bob"]), host, port)
        out = {"create_refused": await condition(bob["xep_0060"].create_node(service, "bobs", timeout=10))}
        bob.disconnect()
        print(json.dumps(out))
        return
    alice = await online(client(*users["alice"]), host, port)
    bob = await online(client(*users["bob"]), host, port)
    carol = await online(client(*users["carol"]), host, port)
    out = {}
    ps = alice["xep_0060"]

    r = await ps.create_node(service, None, timeout=10)
    out["instant"] = bool(r["pubsub"]["create"]["node"])
    form = alice["xep_0004"].make_form(ftype="submit")
    form.add_field(var="pubsub#title", value="News")
    form.add_field(var="pubsub#max_items", value="2")
    await ps.create_node(service, "news", config=form, timeout=10)
    r = await ps.get_node_config(service, "news", timeout=10)
    vals = r["pubsub_owner"]["configure"]["form"].get_values()
    out["config"] = {k: vals[k] for k in ("pubsub#title", "pubsub#max_items", "pubsub#access_model")}

    r = await alice["xep_0030"].get_items(jid=service, timeout=10)
    out["disco_items"] = sorted(n for (_, n, _) in r["disco_items"]["items"])
    r = await bob["xep_0030"].get_info(jid=service, node="news", timeout=10)
    meta = r["disco_info"]["form"].get_values()
    out["meta"] = {k: meta[k] for k in ("pubsub#title", "pubsub#owner", "pubsub#access_model")}

    r = await bob["xep_0060"].subscribe(service, "news", timeout=10)
    out["subscribed"] = r["pubsub"]["subscription"]["subscription"]
    r = await bob["xep_0060"].get_subscriptions(service, timeout=10)
    out["bob_subs"] = [[s["node"], str(s["jid"])] for s in r["pubsub"]["subscriptions"]]
    out["invalid_jid"] = await condition(carol["xep_0060"].subscribe(service, "news", subscribee=users["bob"][0], timeout=10))

    events = []
    for i in ("1", "2", "3"):
        await ps.publish(service, "news", id=i, payload=payload("item " + i), timeout=10)
        events.append(await event(bob))
    out["events"] = events
    out["items_all"] = await item_ids(bob, service, "news")
    out["items_max"] = await item_ids(bob, service, "news", max_items=1)
    out["items_id"] = await item_ids(bob, service, "news", item_ids=["2"])
    out["carol_publish"] = await condition(carol["xep_0060"].publish(service, "news", payload=payload("x"), timeout=10))

    await ps.retract(service, "news", "2", timeout=10)
    out["retracted"] = await event(bob)
    await ps.modify_affiliations(service, "news", affiliations=[(users["carol"][0], "outcast")], timeout=10)
    out["carol_outcast"] = await condition(carol["xep_0060"].get_items(service, "news", timeout=10))
    r = await ps.get_node_affiliations(service, "news", timeout=10)
    out["affiliations"] = sorted([str(a["jid"]), a["affiliation"]] for a in r["pubsub_owner"]["affiliations"])

    await bob["xep_0060"].unsubscribe(service, "news", timeout=10)
    await ps.publish(service, "news", id="4", payload=payload("item 4"), timeout=10)
    out["after_unsubscribe"] = await event(bob, 1)
    await bob["xep_0060"].subscribe(service, "news", timeout=10)
    last = await event(bob)  # the last item, sent on subscription
    await ps.delete_node(service, "news", timeout=10)
    out["deleted"] = [last, await event(bob)]
    out["gone"] = await condition(bob["xep_0060"].get_items(service, "news", timeout=10))
    for c in (alice, bob, carol):
        c.disconnect()
    print(json.dumps(out))


if __name__ == "__main__":
    logging.basicConfig(level=logging.CRITICAL)
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), json.load(sys.stdin)))
