#!/usr/bin/python3
"""Exercise XEP-0045 (multi-user chat) with slixmpp's xep_0045, and the
room's XEP-0313 archive with xep_0313.

Reads {"alice", "bob", "carol", "password", "room"} (three bare JIDs
sharing a password, a room JID) on stdin, connects to HOST:PORT (argv) over
STARTTLS without checking the certificate, and prints one JSON object:
  created:      status codes of alice's self-presence when she creates the room
  config_vars:  how many muc#roomconfig fields the owner's form has
  before_member: the error condition bob gets joining the members-only room
                before alice makes him a member
  bob_joined:   [affiliation, role] of bob's self-presence after that
  alice_got, bob_got: the groupchat bodies each received from the other
  carol_refused: the error condition carol (no member) gets
  history:      bodies of the history bob gets when he rejoins
  archive:      bodies of the room's archive read by alice in pages of 2
"""
import asyncio
import json
import logging
import os
import ssl
import sys

import slixmpp
from slixmpp.exceptions import PresenceError

# slixmpp 1.8.3's join_muc_wait prints every history message's delay to
# stdout: the result goes to the real stdout, the rest to stderr.
OUT = os.fdopen(os.dup(1), "w")
sys.stdout = sys.stderr


def client(jid, password):
    c = slixmpp.ClientXMPP(jid, password)
    c.ssl_context.check_hostname = False
    c.ssl_context.verify_mode = ssl.CERT_NONE
    for p in ("xep_0030", "xep_0004", "xep_0045", "xep_0059", "xep_0297", "xep_0313", "xep_0359"):
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


def codes(pres):
    return sorted(int(c) for c in pres["muc"]["status_codes"])


async def refused(c, room, nick):
    try:
        await c["xep_0045"].join_muc_wait(room, nick, maxstanzas=0, timeout=10)
    except PresenceError as e:
        return e.presence["error"]["condition"]
    return None


async def main():
    host, port = sys.argv[1], int(sys.argv[2])
    cfg = json.load(sys.stdin)
    room = slixmpp.JID(cfg["room"])
    alice = await start(client(cfg["alice"] + "/a", cfg["password"]), host, port)
    bob = await start(client(cfg["bob"] + "/b", cfg["password"]), host, port)
    carol = await start(client(cfg["carol"] + "/c", cfg["password"]), host, port)
    out = {}

    pres, _, _, _ = await alice["xep_0045"].join_muc_wait(room, "Alice", maxstanzas=0, timeout=10)
    out["created"] = codes(pres)
    form = await alice["xep_0045"].get_room_config(room)
    out["config_vars"] = len([v for v in form.get_fields() if v.startswith("muc#roomconfig_")])
    submit = alice["xep_0004"].make_form(ftype="submit")
    submit.add_field(var="FORM_TYPE", ftype="hidden", value="http://jabber.org/protocol/muc#roomconfig")
    submit.add_field(var="muc#roomconfig_membersonly", ftype="boolean", value=True)
    submit.add_field(var="muc#roomconfig_persistentroom", ftype="boolean", value=True)
    submit.add_field(var="muc#roomconfig_roomname", value="Team")
    await alice["xep_0045"].set_room_config(room, submit)

    out["before_member"] = await refused(bob, room, "Bob")
    await alice["xep_0045"].set_affiliation(room, "member", jid=slixmpp.JID(cfg["bob"]))
    pres, _, _, _ = await bob["xep_0045"].join_muc_wait(room, "Bob", maxstanzas=0, timeout=10)
    out["bob_joined"] = [pres["muc"]["affiliation"], pres["muc"]["role"]]

    inboxes = {"alice": asyncio.Queue(), "bob": asyncio.Queue()}
    for name, c, other in (("alice", alice, "Bob"), ("bob", bob, "Alice")):
        c.add_event_handler("muc::%s::message" % room,
                            lambda m, q=inboxes[name], o=other: m["body"] and m["from"].resource == o and q.put_nowait(m["body"]))
    alice.send_message(mto=room, mbody="hello bob", mtype="groupchat")
    out["bob_got"] = [await asyncio.wait_for(inboxes["bob"].get(), 10)]
    bob.send_message(mto=room, mbody="hi alice", mtype="groupchat")
    out["alice_got"] = [await asyncio.wait_for(inboxes["alice"].get(), 10)]
    alice.send_message(mto=room, mbody="third", mtype="groupchat")
    await asyncio.wait_for(inboxes["bob"].get(), 10)

    out["carol_refused"] = await refused(carol, room, "Carol")

    bob["xep_0045"].leave_muc(room, "Bob")
    await asyncio.sleep(0.3)
    _, _, _, history = await bob["xep_0045"].join_muc_wait(room, "Bob", maxstanzas=10, timeout=10)
    out["history"] = [m["body"] for m in history]

    out["archive"] = [m["mam_result"]["forwarded"]["stanza"]["body"]
                      async for m in alice["xep_0313"].iterate(jid=room, rsm={"max": 2})]

    print(json.dumps(out), file=OUT, flush=True)
    for c in (alice, bob, carol):
        await c.disconnect()


if __name__ == "__main__":
    logging.basicConfig(level=logging.CRITICAL)
    asyncio.run(main())
