#!/usr/bin/python3
"""A slixmpp client driven line by line, for stream management, client
state and push tests.

argv: JID (with resource) PASSWORD. Reads one JSON command per line on
stdin and prints one JSON event per line on stdout:

  {"cmd": "connect", "host", "port", "direct"}  -> session_start | session_resumed
  {"cmd": "presence"}                           send available presence
  {"cmd": "send", "to", "body", "type"}         send a message
  {"cmd": "chatstate", "to", "state"}           send a chat-state-only message
  {"cmd": "inactive"} / {"cmd": "active"}       XEP-0352 client state
  {"cmd": "iq", "xml"}                          send an IQ request -> iq {type, xml}
  {"cmd": "privacy", "op", "name", "rules"}     an XEP-0016 request built with slixmpp's
                                                xep_0016 stanzas -> iq {type, xml}; op is
                                                lists, get, activate, deactivate, default,
                                                nodefault, edit (rules: the plugin's dicts)
                                                or remove
  {"cmd": "join", "room", "nick"}              join an XEP-0045 room
  {"cmd": "previd", "id"}                       resume the session id (another client's,
                                                to try one's luck) at the next connect
  {"cmd": "disconnect"}                         close the stream cleanly

Events: sm_enabled {id}, sm_failed, session_start, session_resumed, disconnected,
message {from, body, type, delay, chatstate} (with a body),
message_error {from, condition} (a bounce),
chatstate {from, state}, presence {from, type},
push {xml} (a pubsub publish IQ, answered with a result: the client plays
an XEP-0357 app server), privacy_push {name} (an XEP-0016 list push,
answered with a result), iq {type, xml}. Stream management (XEP-0198,
with resumption) and CSI (XEP-0352) are slixmpp's own plugins; a
connection lost without a clean close is resumed by the next connect.
"""
import asyncio
import json
import logging
import ssl
import sys

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.xmlstream import ET
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath


SEQ = [0]


def emit(**ev):
    SEQ[0] += 1
    ev["n"] = SEQ[0]  # arrival order, for tests of ordering
    print(json.dumps(ev), flush=True)


def main():
    jid, password = sys.argv[1], sys.argv[2]
    c = slixmpp.ClientXMPP(jid, password)
    c.ssl_context.check_hostname = False
    c.ssl_context.verify_mode = ssl.CERT_NONE
    c.auto_authorize = None
    c.auto_subscribe = False
    for p in ("xep_0198", "xep_0352", "xep_0203", "xep_0085", "xep_0016"):
        c.register_plugin(p)
    c.plugin["xep_0198"].window = 1

    c.add_event_handler("sm_enabled", lambda _: emit(event="sm_enabled", id=c.plugin["xep_0198"].sm_id))
    c.add_event_handler("sm_failed", lambda _: emit(event="sm_failed"))
    c.add_event_handler("session_start", lambda _: emit(event="session_start", jid=str(c.boundjid)))
    c.add_event_handler("session_resumed", lambda _: emit(event="session_resumed", jid=str(c.boundjid)))
    c.add_event_handler("disconnected", lambda _: emit(event="disconnected"))

    def on_message(m):
        emit(event="message", **{"from": str(m["from"]), "body": m["body"], "type": m["type"],
                                 "delay": bool(m["delay"]["stamp"]), "chatstate": m["chat_state"]})

    def on_presence(p):
        emit(event="presence", **{"from": str(p["from"]), "type": p["type"]})

    def on_push(iq):
        emit(event="push", xml=str(iq))
        iq.reply().send()

    def on_chatstate(m):
        emit(event="chatstate", **{"from": str(m["from"]), "state": m["chat_state"]})

    c.add_event_handler("message", on_message)
    c.add_event_handler("message_error", lambda m: emit(event="message_error", **{
        "from": str(m["from"]), "condition": m["error"]["condition"]}))
    c.add_event_handler("chatstate", on_chatstate)
    c.add_event_handler("presence", on_presence)
    c.register_handler(Callback("push", MatchXPath("{jabber:client}iq/{http://jabber.org/protocol/pubsub}pubsub"), on_push))

    def on_privacy_push(iq):
        if iq["type"] != "set":
            return
        emit(event="privacy_push", name=iq["privacy"]["list"]["name"])
        iq.reply().send()

    c.register_handler(Callback("privacy push", MatchXPath("{jabber:client}iq/{jabber:iq:privacy}query"), on_privacy_push))

    def privacy_iq(cmd):
        # The plugin's own methods do not return the answer (and its
        # edit_list builds the request without sending it): its stanza
        # interfaces make the request here.
        op, name = cmd["op"], cmd.get("name", "")
        iq = c.Iq()
        iq["type"] = "get" if op in ("lists", "get") else "set"
        if op == "lists":
            iq.enable("privacy")
        elif op in ("get", "remove"):
            iq["privacy"]["list"]["name"] = name
        elif op == "activate":
            iq["privacy"]["active"]["name"] = name
        elif op == "deactivate":
            iq["privacy"].enable("active")
        elif op == "default":
            iq["privacy"]["default"]["name"] = name
        elif op == "nodefault":
            iq["privacy"].enable("default")
        elif op == "edit":
            lst = iq["privacy"]["list"]
            lst["name"] = name
            for r in cmd["rules"]:
                item = lst.add_item(r.get("value"), r["action"], str(r["order"]), itype=r.get("type"),
                                    iq=r.get("iq", False), message=r.get("message", False),
                                    presence_in=r.get("presence_in", False))
                if r.get("presence_out"):
                    # slixmpp 1.8.3's presence_out writes <presence-in/>.
                    ET.SubElement(item.xml, "{jabber:iq:privacy}presence-out")
        return iq

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
            elif op == "presence":
                c.send_presence()
            elif op == "send":
                c.send_message(mto=cmd["to"], mbody=cmd["body"], mtype=cmd.get("type", "chat"))
            elif op == "chatstate":
                m = c.make_message(mto=cmd["to"], mtype="chat")
                m["chat_state"] = cmd["state"]
                m.send()
            elif op == "inactive":
                c.plugin["xep_0352"].send_inactive()
            elif op == "active":
                c.plugin["xep_0352"].send_active()
            elif op in ("iq", "privacy"):
                iq = c.Iq(xml=ET.fromstring(cmd["xml"])) if op == "iq" else privacy_iq(cmd)
                try:
                    res = await iq.send(timeout=10)
                    emit(event="iq", type=res["type"], xml=str(res))
                except IqError as e:
                    emit(event="iq", type="error", xml=str(e.iq))
                except IqTimeout:
                    emit(event="iq", type="timeout", xml="")
            elif op == "join":
                p = c.make_presence(pto=cmd["room"] + "/" + cmd["nick"])
                p.append(ET.Element("{http://jabber.org/protocol/muc}x"))
                p.send()
            elif op == "previd":
                c.plugin["xep_0198"].sm_id = cmd["id"]
            elif op == "disconnect":
                await c.disconnect()
        c.abort()

    asyncio.get_event_loop().run_until_complete(commands())


if __name__ == "__main__":
    logging.basicConfig(level=logging.CRITICAL)
    main()
