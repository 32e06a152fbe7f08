#!/usr/bin/python3
"""Run XEP-0050 ad-hoc commands with slixmpp's xep_0050 plugin.

argv: HOST PORT JID PASSWORD. Logs in (STARTTLS, certificate not checked),
lists the server's commands, runs "ping", the online and registered user
counts, and the two-stage announcement (execute, then complete with the
form filled). Prints one JSON object: {"commands": [nodes], "ping": note,
"online": n, "registered": n, "announce_form": [field vars],
"announce": note, "errors": {node: condition}}.
"""
import asyncio
import json
import ssl
import sys

import slixmpp
from slixmpp.exceptions import IqError

ADMIN = "http://jabber.org/protocol/admin"


async def run(c, domain, node, out):
    try:
        return await c["xep_0050"].send_command(domain, node, timeout=20)
    except IqError as e:
        out["errors"][node] = e.iq["error"]["condition"]
        return None


async def main(host, port, jid, password):
    c = slixmpp.ClientXMPP(jid, password)
    c.ssl_context.check_hostname = False
    c.ssl_context.verify_mode = ssl.CERT_NONE
    for p in ("xep_0004", "xep_0030", "xep_0050"):
        c.register_plugin(p)
    started = asyncio.get_running_loop().create_future()
    c.add_event_handler("session_start", lambda _: started.done() or started.set_result(True))
    c.add_event_handler("failed_all_auth", lambda _: started.done() or started.set_result(False))
    c.connect((host, port))
    out = {"commands": [], "ping": "", "online": -1, "registered": -1, "announce_form": [], "announce": "", "errors": {}}
    try:
        if not await asyncio.wait_for(started, 20):
            raise SystemExit("login failed")
        domain = c.boundjid.domain
        items = await c["xep_0050"].get_commands(domain, timeout=20)
        out["commands"] = [i[1] for i in items["disco_items"]["items"]]
        r = await run(c, domain, "ping", out)
        if r is not None:
            out["ping"] = r["command"]["notes"][0][1]
        r = await run(c, domain, ADMIN + "#get-online-users-num", out)
        if r is not None:
            out["online"] = int(r["command"]["form"]["values"]["onlineusersnum"])
        r = await run(c, domain, ADMIN + "#get-registered-users-num", out)
        if r is not None:
            out["registered"] = int(r["command"]["form"]["values"]["registeredusersnum"])
        r = await run(c, domain, ADMIN + "#announce", out)
        if r is not None:
            form = r["command"]["form"]
            out["announce_form"] = [f["var"] for f in form["fields"]] if isinstance(form["fields"], list) else list(form["fields"].keys())
            filled = c["xep_0004"].make_form(ftype="submit")
            filled.add_field(var="FORM_TYPE", ftype="hidden", value=ADMIN)
            filled.add_field(var="subject", value="Maintenance")
            filled.add_field(var="announcement", ftype="text-multi", value="Back at 10:00.\nThanks.")
            done = await c["xep_0050"].send_command(domain, ADMIN + "#announce", action="complete",
                                                    payload=filled, sessionid=r["command"]["sessionid"], timeout=20)
            out["announce"] = done["command"]["notes"][0][1] if done["command"]["status"] == "completed" else done["command"]["status"]
        return out
    finally:
        c.disconnect()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]))))
