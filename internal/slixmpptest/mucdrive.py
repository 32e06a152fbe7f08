#!/usr/bin/python3
"""mucdrive.py: a slixmpp client in multi-user chat rooms (XEP-0045 through slixmpp's
xep_0045 plugin, XEP-0249 invitations through xep_0249), driven line by
line as sm.py is.

argv: JID (with resource) PASSWORD. Commands (one JSON object a line):

  {"cmd": "connect", "host", "port", "direct"}   -> session_start (then available presence)
  {"cmd": "join", "room", "nick", "password"}    join with the plugin's join_muc (no history)
  {"cmd": "say", "room", "body"}                 a groupchat message
  {"cmd": "leave", "room", "nick"}
  {"cmd": "disconnect"}

Events: session_start, disconnected,
muc_presence {from, type, nick, jid, role, affiliation, codes, destroy, reason, xml}
  (every presence from a room, errors included: type error with condition),
groupchat {from, body}, invite {room, password, reason} (XEP-0249).
"""
import asyncio
import json
import logging
import ssl
import sys

import slixmpp

NS_USER = "{http://jabber.org/protocol/muc#user}"
SEQ = [0]


def emit(**ev):
    SEQ[0] += 1
    ev["n"] = SEQ[0]
    print(json.dumps(ev), flush=True)


def main():
    jid, password = sys.argv[1], sys.argv[2]
    c = slixmpp.ClientXMPP(jid, password)
    c.ssl_context.check_hostname = False
    c.ssl_context.verify_mode = ssl.CERT_NONE
    for p in ("xep_0045", "xep_0249", "xep_0203"):
        c.register_plugin(p)
    muc = c.plugin["xep_0045"]

    def on_start(_):
        c.send_presence()  # available, so messages to the bare JID reach this session
        emit(event="session_start", jid=str(c.boundjid))

    c.add_event_handler("session_start", on_start)
    c.add_event_handler("disconnected", lambda _: emit(event="disconnected"))

    def on_presence(p):
        x = p.xml.find(NS_USER + "x")
        item = x.find(NS_USER + "item") if x is not None else None
        codes = [s.get("code") for s in x.iter(NS_USER + "status")] if x is not None else []
        destroy = x.find(NS_USER + "destroy") if x is not None else None
        reason = ""
        if destroy is not None and destroy.find(NS_USER + "reason") is not None:
            reason = destroy.find(NS_USER + "reason").text or ""
        emit(event="muc_presence", **{
            "from": str(p["from"]), "type": p["type"], "nick": p["from"].resource,
            "jid": item.get("jid", "") if item is not None else "",
            "role": item.get("role", "") if item is not None else "",
            "affiliation": item.get("affiliation", "") if item is not None else "",
            "codes": codes, "destroy": destroy is not None, "reason": reason,
            "condition": p["error"]["condition"] if p["type"] == "error" else "",
            "xml": str(p)})

    def on_groupchat(m):
        emit(event="groupchat", **{"from": str(m["from"]), "body": m["body"]})

    def on_invite(m):
        inv = m["groupchat_invite"]
        emit(event="invite", **{"from": str(m["from"]), "room": str(inv["jid"]),
                                "password": inv["password"], "reason": inv["reason"]})

    c.add_event_handler("groupchat_presence", on_presence)
    c.add_event_handler("groupchat_message", on_groupchat)
    c.add_event_handler("groupchat_direct_invite", on_invite)

    # Presence errors from a room never reach groupchat_presence.
    def on_presence_error(p):
        if "@" in p["from"].bare:
            on_presence(p)

    c.add_event_handler("presence_error", on_presence_error)

    async def commands():
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while True:
            line = await reader.readline()
            if not line:
                break
            cmd = json.loads(line)
            op = cmd["cmd"]
            if op == "connect":
                direct = bool(cmd.get("direct"))
                c.connect((cmd["host"], int(cmd["port"])), use_ssl=direct, force_starttls=not direct)
            elif op == "join":
                fut = muc.join_muc(cmd["room"], cmd["nick"], maxhistory="0", password=cmd.get("password", ""))
                # A refused join fails the plugin's future: the error presence is the event.
                fut.add_done_callback(lambda f: f.exception())
            elif op == "say":
                c.send_message(mto=cmd["room"], mbody=cmd["body"], mtype="groupchat")
            elif op == "leave":
                muc.leave_muc(cmd["room"], cmd["nick"])
            elif op == "disconnect":
                await c.disconnect()
        c.abort()

    asyncio.get_event_loop().run_until_complete(commands())


if __name__ == "__main__":
    logging.basicConfig(level=logging.CRITICAL)
    main()
