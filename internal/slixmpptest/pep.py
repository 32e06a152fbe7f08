#!/usr/bin/python3
"""Drive XEP-0163 personal eventing with slixmpp and say what happened.

Reads {"alice", "bob", "carol": [jid, password]} on stdin: alice and bob share
presence subscriptions, carol is a stranger to both. Connects to HOST:PORT
(argv) over STARTTLS without checking the certificate and prints one JSON
object of observations, each named after the step of the scenario:

1. alice publishes a tune (default access: presence) before bob is online;
   bob logs in announcing tune+notify and devicelist+notify in his XEP-0115
   caps: he gets the tune as last item ("bob_last_tune").
2. alice publishes an OMEMO device list with publish-options
   access_model=open: bob gets the event ("bob_event_devicelist"), carol reads
   it ("carol_devicelist"), and the same publish asking access_model=presence
   fails with precondition-not-met ("precondition").
3. alice publishes to a whitelist node: bob is refused ("bob_whitelist").
4. alice reconnects: her device list is still there ("alice_again") and
   carol still reads it ("carol_again").
5. Bookmarks kept in step: alice stores XEP-0048 bookmarks in private XML
   (a room and a URL) and reads them as XEP-0402 items ("bookmarks_402");
   she publishes a second room as an XEP-0402 item and reads private XML
   ("bookmarks_private"); she stores XEP-0048 bookmarks in the PEP node
   storage:bookmarks (XEP-0223) and reads the XEP-0402 items again
   ("bookmarks_after_legacy"); bob may not read them ("bob_bookmarks").
6. Avatars kept in step (XEP-0398): alice publishes an XEP-0084 avatar and
   reads her vCard PHOTO ("avatar_vcard": type and hex SHA-1 of the image);
   she sets a vCard PHOTO and reads the avatar metadata and data items
   ("vcard_avatar").
"""
import asyncio
import hashlib
import json
import logging
import ssl
import sys

import slixmpp
from slixmpp.exceptions import IqError
from slixmpp.plugins.xep_0048 import Bookmarks
from slixmpp.xmlstream import ET

DEVICELIST = "eu.siacs.conversations.axolotl.devicelist"
TUNE = "http://jabber.org/protocol/tune"
PRIVATE = "urn:example:private"
BOOKMARKS = "urn:xmpp:bookmarks:1"


def client(jid, password, interests=()):
    c = slixmpp.ClientXMPP(jid, password)
    c.ssl_context.check_hostname = False
    c.ssl_context.verify_mode = ssl.CERT_NONE
    c.auto_authorize = None
    c.auto_subscribe = False
    for p in ("xep_0030", "xep_0004", "xep_0060", "xep_0115", "xep_0163", "xep_0049", "xep_0223", "xep_0048", "xep_0054", "xep_0084"):
        c.register_plugin(p)
    c.interests = interests
    c.events = asyncio.Queue()

    def on_publish(msg):
        items = msg["pubsub_event"]["items"]
        c.events.put_nowait((items["node"], items["item"]["id"], ET.tostring(items["item"].xml, encoding="unicode")))

    c.add_event_handler("pubsub_publish", on_publish)
    return c


async def online(c, host, port, presence=True):
    started = asyncio.get_running_loop().create_future()
    c.add_event_handler("session_start", lambda _: started.done() or started.set_result(True))
    c.connect((host, port))
    await asyncio.wait_for(started, 20)
    # Features belong to the bound JID: added only once it is known.
    for ns in c.interests:
        c["xep_0030"].add_feature(ns + "+notify")
    if presence:
        await c["xep_0115"].update_caps(broadcast=False)
        c.send_presence()
    return c


async def event(c, node, timeout=10):
    """The next event of node, skipping others; None on timeout."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        try:
            n, item_id, xml = await asyncio.wait_for(c.events.get(), max(0.01, end - loop.time()))
        except asyncio.TimeoutError:
            return None
        if n == node:
            return {"id": item_id, "xml": xml}


def options(c, **fields):
    form = c["xep_0004"].make_form("submit")
    form.add_field(var="FORM_TYPE", ftype="hidden", value="http://jabber.org/protocol/pubsub#publish-options")
    for k, v in fields.items():
        form.add_field(var="pubsub#" + k, value=v)
    return form


def devicelist(*ids):
    el = ET.Element("{eu.siacs.conversations.axolotl}list")
    for i in ids:
        ET.SubElement(el, "{eu.siacs.conversations.axolotl}device", id=str(i))
    return el


def tune(title):
    el = ET.Element("{%s}tune" % TUNE)
    ET.SubElement(el, "{%s}title" % TUNE).text = title
    return el


async def items(c, owner, node):
    """The items of node as [id, payload xml], or the error condition."""
    try:
        r = await c["xep_0060"].get_items(owner, node, timeout=10)
    except IqError as e:
        return {"error": e.condition, "app": [ch.tag for ch in e.iq["error"].xml if "pubsub#errors" in ch.tag]}
    return {"items": [[it["id"], ET.tostring(it["payload"], encoding="unicode")] for it in r["pubsub"]["items"]]}


async def main(host, port, users):
    out = {}
    alice = await online(client(*users["alice"]), host, port)
    await alice["xep_0060"].publish(None, TUNE, id="t1", payload=tune("first"), timeout=10)

    bob = await online(client(*users["bob"], interests=(TUNE, DEVICELIST)), host, port)
    out["bob_last_tune"] = await event(bob, TUNE)

    await alice["xep_0060"].publish(None, DEVICELIST, id="current", payload=devicelist(1001, 1002),
                                    options=options(alice, access_model="open"), timeout=10)
    out["bob_event_devicelist"] = await event(bob, DEVICELIST)
    carol = await online(client(*users["carol"]), host, port)
    out["carol_devicelist"] = await items(carol, users["alice"][0], DEVICELIST)
    try:
        await alice["xep_0060"].publish(None, DEVICELIST, id="current", payload=devicelist(1001),
                                        options=options(alice, access_model="presence"), timeout=10)
        out["precondition"] = "accepted"
    except IqError as e:
        out["precondition"] = [e.condition] + [ch.tag for ch in e.iq["error"].xml if "pubsub#errors" in ch.tag]

    await alice["xep_0060"].publish(None, PRIVATE, id="p", payload=tune("secret"),
                                    options=options(alice, access_model="whitelist"), timeout=10)
    out["bob_whitelist"] = await items(bob, users["alice"][0], PRIVATE)

    alice.disconnect()
    await alice.disconnected
    alice = await online(client(*users["alice"]), host, port, presence=False)
    out["alice_again"] = await items(alice, None, DEVICELIST)
    out["carol_again"] = await items(carol, users["alice"][0], DEVICELIST)

    b = Bookmarks()
    b.add_conference("room1@conf.example", "al", name="Room 1", autojoin=True)
    b.add_url("https://example.org/", name="site")
    await alice["xep_0048"].set_bookmarks(b, method="xep_0049", timeout=10)
    out["bookmarks_402"] = await items(alice, None, BOOKMARKS)
    conf = ET.Element("{%s}conference" % BOOKMARKS, name="Room 2")
    ET.SubElement(conf, "{%s}nick" % BOOKMARKS).text = "al2"
    await alice["xep_0060"].publish(None, BOOKMARKS, id="room2@conf.example", payload=conf, timeout=10,
                                    options=options(alice, persist_items="true", max_items="max",
                                                    send_last_published_item="never", access_model="whitelist"))
    r = await alice["xep_0048"].get_bookmarks(method="xep_0049", timeout=10)
    out["bookmarks_private"] = ET.tostring(r["private"]["bookmarks"].xml, encoding="unicode")
    b = Bookmarks()
    b.add_conference("room3@conf.example", "al3", autojoin=False)
    await alice["xep_0048"].set_bookmarks(b, method="xep_0223", timeout=10)
    out["bookmarks_after_legacy"] = await items(alice, None, BOOKMARKS)
    out["bob_bookmarks"] = await items(bob, users["alice"][0], BOOKMARKS)

    img1, img2 = b"\x89PNG first image", b"\xff\xd8 second image"
    await alice["xep_0084"].publish_avatar(img1, timeout=10)
    await alice["xep_0084"].publish_avatar_metadata(
        [{"id": hashlib.sha1(img1).hexdigest(), "type": "image/png", "bytes": len(img1)}], timeout=10)
    r = await alice["xep_0054"].get_vcard(users["alice"][0], timeout=10)
    photo = r["vcard_temp"]["PHOTO"]
    out["avatar_vcard"] = [photo["TYPE"], hashlib.sha1(photo["BINVAL"]).hexdigest()]
    vc = alice["xep_0054"].make_vcard()
    vc["FN"] = "Alice"
    vc["PHOTO"]["TYPE"] = "image/jpeg"
    vc["PHOTO"]["BINVAL"] = img2
    await alice["xep_0054"].publish_vcard(vc, timeout=10)
    meta = await items(alice, None, "urn:xmpp:avatar:metadata")
    data = await items(alice, None, "urn:xmpp:avatar:data")
    out["vcard_avatar"] = {"metadata": meta, "data_ids": [i[0] for i in data.get("items", [])],
                           "img2": hashlib.sha1(img2).hexdigest()}
    for c in (alice, bob, carol):
        c.disconnect()
    print(json.dumps(out))


if __name__ == "__main__":
    logging.basicConfig(level=logging.CRITICAL)
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), json.load(sys.stdin)))
