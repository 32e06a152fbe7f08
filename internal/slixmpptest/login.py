#!/usr/bin/python3
"""Log XMPP users in with slixmpp and say how it went.

Reads a JSON list of {"jid", "password", "mech"} on stdin ("mech" empty: let
slixmpp pick the strongest mechanism offered, as Gajim and Conversations do),
connects them all at once to HOST:PORT (argv) over STARTTLS without checking the
certificate, and prints one JSON line per login: {"jid", "mech" (asked),
"ok", "used" (the mechanism that succeeded), "failed" (mechanisms the server
refused before that)}, in the order of the list. Passwords are passed as given: slixmpp runs them
through SASLprep itself, as clients do.
"""
import asyncio
import json
import logging
import ssl
import sys

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout  # noqa: F401 (import check)


async def login(host, port, jid, password, mech):
    c = slixmpp.ClientXMPP(jid, password, sasl_mech=mech or None)
    c.ssl_context.check_hostname = False
    c.ssl_context.verify_mode = ssl.CERT_NONE
    c.auto_authorize = None
    c.auto_subscribe = False
    done = asyncio.get_running_loop().create_future()
    failed = []
    used = []

    def on_auth(_):
        used.append(c.plugin["feature_mechanisms"].mech.name)

    def on_failed(_):
        failed.append(c.plugin["feature_mechanisms"].mech.name)

    def on_no_auth(_):
        if not done.done():
            done.set_result(False)

    def on_session(_):
        if not done.done():
            done.set_result(True)

    def on_disconnected(_):
        if not done.done():
            done.set_result(False)

    c.add_event_handler("auth_success", on_auth)
    c.add_event_handler("failed_auth", on_failed)
    c.add_event_handler("failed_all_auth", on_no_auth)
    c.add_event_handler("session_start", on_session)
    c.add_event_handler("disconnected", on_disconnected)
    c.connect((host, port))
    try:
        ok = await asyncio.wait_for(done, 20)
    except asyncio.TimeoutError:
        ok = False
    if ok:
        await c.disconnect()
    else:
        c.abort()
    return {"jid": jid, "mech": mech, "ok": ok, "used": used[0] if used else "", "failed": failed}


async def main():
    host, port = sys.argv[1], int(sys.argv[2])
    users = json.load(sys.stdin)
    res = await asyncio.gather(*(login(host, port, u["jid"], u["password"], u.get("mech", "")) for u in users))
    for r in res:
        print(json.dumps(r), flush=True)


if __name__ == "__main__":
    logging.basicConfig(level=logging.CRITICAL)
    asyncio.run(main())
