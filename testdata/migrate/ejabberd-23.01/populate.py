#!/usr/bin/python3
"""Fill a private ejabberd 23.01 with the data of the fixtures, or record
what its API answers about it. Run by regen.sh; see README.md.

  populate.py populate API_URL C2S_PORT   users, rosters (add_rosteritem and real
                                          subscriptions), vCards, private storage,
                                          offline messages
  populate.py record API_URL OUT.json     get_roster, get_vcard, get_vcard2,
                                          private_get, get_offline_count per user
"""
import asyncio
import json
import logging
import os
import ssl
import sys
import urllib.request
import xml.etree.ElementTree as ET

import slixmpp

HERE = os.path.dirname(os.path.abspath(__file__))
USERS = json.load(open(os.path.join(HERE, "users.json"), encoding="utf-8"))
PASSWORD = {f"{u}@{h}": pw for h, us in USERS.items() for u, pw in us.items()}

# vCard fields asked through get_vcard (name) and get_vcard2 (name, subname).
VCARD_FIELDS = [["FN"], ["NICKNAME"], ["BDAY"], ["URL"], ["N", "FAMILY"], ["N", "GIVEN"],
                ["ORG", "ORGNAME"], ["ORG", "ORGUNIT"], ["EMAIL", "USERID"], ["ADR", "LOCALITY"],
                ["ADR", "CTRY"], ["TEL", "NUMBER"]]
# Private storage asked through private_get (element, namespace).
PRIVATE = [["storage", "storage:bookmarks"], ["storage", "storage:rosternotes"], ["prefs", "urn:example:prefs"]]


def api(url, cmd, **args):
    req = urllib.request.Request(f"{url}/{cmd}", data=json.dumps(args).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def must(url, cmd, **args):
    st, body = api(url, cmd, **args)
    if st != 200 or body not in (0, "") and cmd != "register":
        sys.exit(f"{cmd} {args}: {st} {body}")


VCARDS = {
    "alice@one.example": """<vCard xmlns="vcard-temp">
  <FN>Alice Liddell &amp; Co</FN>
  <N><FAMILY>Liddell</FAMILY><GIVEN>Alice</GIVEN><MIDDLE>P.</MIDDLE></N>
  <NICKNAME>ally</NICKNAME>
  <BDAY>1852-05-04</BDAY>
  <ORG><ORGNAME>Wonderland &lt;Ltd&gt;</ORGNAME><ORGUNIT>Rabbit Hole</ORGUNIT></ORG>
  <TEL><HOME/><VOICE/><NUMBER>+44 1865 000000</NUMBER></TEL>
  <ADR><HOME/><STREET>1 Christ Church</STREET><LOCALITY>Oxford</LOCALITY><PCODE>OX1 1DP</PCODE><CTRY>UK</CTRY></ADR>
  <EMAIL><INTERNET/><PREF/><USERID>alice@one.example</USERID></EMAIL>
  <URL>https://one.example/~alice?a=1&amp;b=2</URL>
  <PHOTO><TYPE>image/png</TYPE><BINVAL>iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==</BINVAL></PHOTO>
  <DESC>Curiouser and curiouser! "Quotes" and 'apostrophes'.</DESC>
</vCard>""",
    "boris@one.example": """<vCard xmlns="vcard-temp">
  <FN>Борис Годунов</FN>
  <N><FAMILY>Годунов</FAMILY><GIVEN>Борис</GIVEN></N>
  <ORG><ORGNAME>Кремль</ORGNAME></ORG>
  <EMAIL><WORK/><USERID>boris@one.example</USERID></EMAIL>
  <EMAIL><HOME/><USERID>boris@two.example</USERID></EMAIL>
</vCard>""",
    "gina@two.example": """<vCard xmlns="vcard-temp">
  <FN>Gina Müller</FN>
  <N><FAMILY>Müller</FAMILY><GIVEN>Gina</GIVEN></N>
  <ADR><WORK/><LOCALITY>Köln</LOCALITY><CTRY>DE</CTRY></ADR>
  <TEL><WORK/><CELL/><NUMBER>+49 221 0000</NUMBER></TEL>
</vCard>""",
}

PRIVATE_XML = {
    "alice@one.example": [
        """<storage xmlns="storage:bookmarks">
  <conference name="Tea &amp; Party" autojoin="true" jid="tea@conference.one.example"><nick>Alice</nick><password>s3cr&lt;t</password></conference>
  <conference name="Croquet" autojoin="false" jid="croquet@conference.two.example"/>
  <url name="Home" url="https://one.example/"/>
</storage>""",
        """<prefs xmlns="urn:example:prefs"><theme>dark</theme><lang>en</lang></prefs>""",
    ],
    "boris@one.example": [
        """<storage xmlns="storage:rosternotes"><note jid="frank@two.example" cdate="2023-01-01T00:00:00Z" mdate="2023-01-02T00:00:00Z">Друг из Two</note></storage>""",
    ],
    "hiro@two.example": [
        """<storage xmlns="storage:bookmarks"><conference name="会議" autojoin="true" jid="kaigi@conference.two.example"><nick>ヒロ</nick></conference></storage>""",
    ],
}


class Client(slixmpp.ClientXMPP):
    def __init__(self, jid):
        super().__init__(jid, PASSWORD[jid])
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        # Subscriptions are answered by the script, never automatically.
        self.auto_authorize = None
        self.auto_subscribe = False
        self.ready = asyncio.get_running_loop().create_future()
        self.add_event_handler("session_start", self._start)
        self.add_event_handler("failed_all_auth", lambda _: self.ready.done() or self.ready.set_exception(RuntimeError(f"{jid}: login failed")))

    async def _start(self, _):
        await self.get_roster()
        self.send_presence()
        self.ready.set_result(True)

    async def iq_set(self, payload):
        iq = self.make_iq_set()
        iq.append(ET.fromstring(payload))
        await iq.send(timeout=10)


async def online(port, *jids):
    cs = {}
    for j in jids:
        c = Client(j)
        c.connect(("127.0.0.1", port))
        cs[j] = c
    await asyncio.gather(*(c.ready for c in cs.values()))
    return cs


async def settle():
    await asyncio.sleep(0.7)


async def populate(url, port):
    for host, us in USERS.items():
        for user, pw in us.items():
            must(url, "register", user=user, host=host, password=pw)
    # Items written by add_rosteritem: several groups, every subscription state.
    for lu, lh, u, h, nick, group, subs in [
        ("boris", "one.example", "frank", "two.example", "Frank", "Work;Friends;Ünïcode & <Co>", "both"),
        ("boris", "one.example", "ext", "elsewhere.example", "External", "", "none"),
        ("boris", "one.example", "to", "elsewhere.example", "Only To", "Remote", "to"),
        ("boris", "one.example", "from", "elsewhere.example", "", "Remote", "from"),
        ("gina", "two.example", "hiro", "two.example", "ヒロ", "A;B;C", "to"),
    ]:
        must(url, "add_rosteritem", localuser=lu, localhost=lh, user=u, host=h, nick=nick, group=group, subs=subs)

    # Real subscriptions between users (dora never logs in: what reaches her waits).
    cs = await online(port, "alice@one.example", "boris@one.example", "chen@one.example", "eve@one.example",
                      "frank@two.example", "gina@two.example", "hiro@two.example")
    a, b, c, e = (cs[j + "@one.example"] for j in ("alice", "boris", "chen", "eve"))
    f, g, hi = (cs[j + "@two.example"] for j in ("frank", "gina", "hiro"))

    def sub(x, to):
        x.send_presence(pto=to, ptype="subscribe")

    def ok(x, to):
        x.send_presence(pto=to, ptype="subscribed")

    # alice <-> boris: both, named and in two groups on alice's side.
    await a.iq_set('<query xmlns="jabber:iq:roster"><item jid="boris@one.example" name="Борис"><group>Friends</group><group>Family</group></item></query>')
    sub(a, "boris@one.example"); await settle(); ok(b, "alice@one.example"); await settle()
    sub(b, "alice@one.example"); await settle(); ok(a, "boris@one.example"); await settle()
    # alice -> chen approved: alice to, chen from.
    sub(a, "chen@one.example"); await settle(); ok(c, "alice@one.example"); await settle()
    # alice -> dora unanswered: alice none + ask; dora a pending request.
    sub(a, "dora@one.example")
    # eve -> alice unanswered: alice a pending request; eve none + ask.
    sub(e, "alice@one.example")
    # gina -> frank approved, then frank -> gina unanswered: frank from + ask, gina to + pending.
    await g.iq_set('<query xmlns="jabber:iq:roster"><item jid="frank@two.example" name="Frank &amp; Sons"><group>Work</group></item></query>')
    sub(g, "frank@two.example"); await settle(); ok(f, "gina@two.example"); await settle()
    sub(f, "gina@two.example")
    # hiro@two -> alice@one approved across hosts: hiro to, alice from.
    sub(hi, "alice@one.example"); await settle(); ok(a, "hiro@two.example"); await settle()

    # vCards (nested fields) and private storage (XEP-0049) over XMPP.
    for j, v in VCARDS.items():
        await cs[j].iq_set(v)
    for j, items in PRIVATE_XML.items():
        for p in items:
            await cs[j].iq_set('<query xmlns="jabber:iq:private">' + p + "</query>")
    # chen's vCard through the API.
    must(url, "set_vcard", user="chen", host="one.example", name="FN", content="陈 (Chen)")
    must(url, "set_vcard2", user="chen", host="one.example", name="N", subname="FAMILY", content="陈")

    # Offline messages: to dora (never online), and to eve and hiro once gone.
    for j in ("eve@one.example", "hiro@two.example"):
        cs.pop(j).disconnect()
    await asyncio.sleep(1)
    a.send_message(mto="dora@one.example", mbody="Tea at <5> & \"cake\"?", mtype="chat")
    a.send_message(mto="dora@one.example", mbody="Second one", msubject="Re: tea", mtype="normal")
    b.send_message(mto="dora@one.example", mbody="Привет, Дора", mtype="chat")
    m = f.make_message(mto="hiro@two.example", mbody="こんにちは", mtype="chat")
    m["thread"] = "t-1"
    m["lang"] = "ja"
    m.send()
    g.send_message(mto="eve@one.example", mbody="from two to one", mtype="chat")
    await settle()
    for x in cs.values():
        x.disconnect()
    await asyncio.sleep(1)


def record(url, out):
    res = {}
    for host, us in USERS.items():
        for user in us:
            jid = f"{user}@{host}"
            r = {}
            r["get_roster"] = api(url, "get_roster", user=user, host=host)[1]
            for f in VCARD_FIELDS:
                if len(f) == 1:
                    st, body = api(url, "get_vcard", user=user, host=host, name=f[0])
                    r[f"get_vcard {f[0]}"] = {"status": st, "body": body}
                else:
                    st, body = api(url, "get_vcard2", user=user, host=host, name=f[0], subname=f[1])
                    r[f"get_vcard2 {f[0]} {f[1]}"] = {"status": st, "body": body}
            for el, ns in PRIVATE:
                st, body = api(url, "private_get", user=user, host=host, element=el, ns=ns)
                r[f"private_get {el} {ns}"] = {"status": st, "body": body}
            r["get_offline_count"] = api(url, "get_offline_count", user=user, host=host)[1]
            res[jid] = r
    with open(out, "w", encoding="utf-8") as f:
        json.dump(res, f, ensure_ascii=False, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    logging.basicConfig(level=logging.ERROR)
    if sys.argv[1] == "populate":
        asyncio.run(populate(sys.argv[2], int(sys.argv[3])))
    elif sys.argv[1] == "record":
        record(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
