#!/usr/bin/python3
"""Upload a file with slixmpp's XEP-0363 plugin, as a client would.

argv: HOST PORT JID PASSWORD FILE. Logs in over STARTTLS (certificate not
checked), discovers the upload service from the domain's disco#items, asks
for a slot and PUTs the file. Prints one JSON line: {"ok", "url" (the GET
URL), "error" (the failure, e.g. "FileTooBig" or the stanza error's
condition), "max" (the max-file-size the service announced)}.
"""
import asyncio
import json
import ssl
import sys

import slixmpp
from slixmpp.exceptions import IqError
from slixmpp.plugins.xep_0363 import FileTooBig, UploadServiceNotFound


async def discover(c):
    """Find the upload service as Conversations does: the domain's
    disco#items, then each item's disco#info. slixmpp 1.8.3's own
    find_upload_service passes coroutines to asyncio.wait, which Python
    3.11 refuses, so the plugin is handed the service found here."""
    up = c["xep_0363"]
    items = await c["xep_0030"].get_items(jid=c.boundjid.domain, timeout=20)
    for item in items["disco_items"]["items"]:
        info = await c["xep_0030"].get_info(jid=item[0], timeout=20)
        di = info["disco_info"]
        if ("store", "file") not in [(i[0], i[1]) for i in di["identities"]]:
            continue
        if "urn:xmpp:http:upload:0" not in di["features"]:
            continue
        up.upload_service = info["from"]
        for form in di.iterables:
            values = form["values"]
            if values.get("FORM_TYPE") == ["urn:xmpp:http:upload:0"]:
                up.max_file_size = int(values["max-file-size"])
        return
    raise UploadServiceNotFound()


async def main(host, port, jid, password, path):
    c = slixmpp.ClientXMPP(jid, password)
    c.ssl_context.check_hostname = False
    c.ssl_context.verify_mode = ssl.CERT_NONE
    c.register_plugin("xep_0030")
    c.register_plugin("xep_0363")
    started = asyncio.get_running_loop().create_future()
    c.add_event_handler("session_start", lambda _: started.done() or started.set_result(True))
    c.add_event_handler("failed_all_auth", lambda _: started.done() or started.set_result(False))
    c.connect((host, port))
    out = {"ok": False, "url": "", "error": "", "max": 0}
    try:
        if not await asyncio.wait_for(started, 20):
            out["error"] = "login failed"
            return out
        try:
            await discover(c)
            out["url"] = await c["xep_0363"].upload_file(path, timeout=20)
            out["ok"] = True
        except FileTooBig:
            out["error"] = "FileTooBig"
        except IqError as e:
            out["error"] = e.iq["error"]["condition"]
        except Exception as e:  # noqa: BLE001 (reported to the test)
            out["error"] = type(e).__name__ + ": " + str(e)
        mx = c["xep_0363"].max_file_size
        out["max"] = mx if isinstance(mx, int) else 0
        return out
    finally:
        c.disconnect()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], int(sys.argv[2]), *sys.argv[3:6]))))
