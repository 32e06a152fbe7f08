#!/usr/bin/python3
"""Exercise XEP-0313 (message archive management) with slixmpp's xep_0313.

Reads {"alice", "bob", "password"} (two bare JIDs sharing a password) on
stdin, connects to HOST:PORT (argv) over STARTTLS without checking the
certificate, and prints one JSON object:
  paged:  bodies of alice's archive, read by a new device of hers in pages of
          3 (RSM after), in the order slixmpp yields them
  with:   the same with the with filter set to bob
  last:   the whole archive paged backwards in pages of 2 from the last
          page (RSM <before/>, then <before>first</before>), newest first
          as slixmpp yields it
  never:  bodies archived after alice set prefs default='never' (expected:
          none of the new messages)
  stanza_ids: how many messages alice received carried a stanza-id by her JID
"""
import asyncio
import json
import logging
import ssl
import sys

import slixmpp


def client(jid, password):
    c = slixmpp.ClientXMPP(jid, password)
    c.ssl_context.check_hostname = False
    c.ssl_context.verify_mode = ssl.CERT_NONE
    for p in ("xep_0030", "xep_0059", "xep_0297", "xep_0313", "xep_0359"):
        c.register_plugin(p)
    return c


async def start(c, host, port):
    done = asyncio.get_running_loop().create_future()
    c.add_event_handler("session_start", lambda _: done.done() or done.set_result(True))
    c.add_event_handler("failed_all_auth", lambda _: done.done() or done.set_result(False))
    c.connect((host, port))
    if not await asyncio.wait_for(done, 20):
        raise SystemExit("login failed: %s" % c.boundjid)
    c.send_presence()
    return c


def body(msg):
    return msg["mam_result"]["forwarded"]["stanza"]["body"]


async def main():
    host, port = sys.argv[1], int(sys.argv[2])
    cfg = json.load(sys.stdin)
    alice = await start(client(cfg["alice"] + "/phone", cfg["password"]), host, port)
    bob = await start(client(cfg["bob"] + "/desk", cfg["password"]), host, port)

    got = []
    stanza_ids = []
    inbox = asyncio.Queue()

    def on_message(m):
        if m["body"]:
            got.append(m["body"])
            sid = m.xml.find("{urn:xmpp:sid:0}stanza-id")
            if sid is not None and sid.get("by") == cfg["alice"]:
                stanza_ids.append(sid.get("id"))
            inbox.put_nowait(m["body"])

    alice.add_event_handler("message", on_message)
    bob_inbox = asyncio.Queue()
    bob.add_event_handler("message", lambda m: m["body"] and bob_inbox.put_nowait(m["body"]))
    sent = []
    for i in range(7):
        text = "bob-%d" % i
        bob.send_message(mto=cfg["alice"], mbody=text, mtype="chat")
        sent.append(text)
        await asyncio.wait_for(inbox.get(), 10)
        if i in (2, 5):
            reply = "alice-%d" % i
            alice.send_message(mto=cfg["bob"], mbody=reply, mtype="chat")
            sent.append(reply)
            await asyncio.wait_for(bob_inbox.get(), 10)  # keeps the order the archive must show

    device = await start(client(cfg["alice"] + "/new-device", cfg["password"]), host, port)
    paged = [body(m) async for m in device["xep_0313"].iterate(rsm={"max": 3})]
    with_bob = [body(m) async for m in device["xep_0313"].iterate(with_jid=slixmpp.JID(cfg["bob"]), rsm={"max": 4})]
    last = [body(m) async for m in device["xep_0313"].iterate(reverse=True, rsm={"max": 2})]

    iq = device.make_iq_set()
    iq.append(slixmpp.xmlstream.ET.fromstring("<prefs xmlns='urn:xmpp:mam:2' default='never'/>"))
    await iq.send()
    bob.send_message(mto=cfg["alice"], mbody="after-never", mtype="chat")
    await asyncio.wait_for(inbox.get(), 10)
    after = [body(m) async for m in device["xep_0313"].iterate(rsm={"max": 50})]
    never = [b for b in after if b not in sent]

    print(json.dumps({"sent": sent, "paged": paged, "with": with_bob, "last": last, "never": never,
                      "stanza_ids": len(stanza_ids)}), flush=True)
    for c in (alice, bob, device):
        await c.disconnect()


if __name__ == "__main__":
    logging.basicConfig(level=logging.CRITICAL)
    asyncio.run(main())
