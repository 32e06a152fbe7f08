"""people.py HOST PORT DOMAIN ALICE_PW BOB_PW CAROL_PW DAVE_PW

Makes the Prosody fixture's social state through real XMPP (slixmpp 1.8.3,
Debian's python3-slixmpp; run with /usr/bin/python3). Every subscription
goes through presence, as a client would do it; the end state is:

  alice: bob "Bobby" in Friends and Work, both; carol to; dave pending in
  bob:   alice both
  carol: alice from; dave in Solo, none (no subscription asked)
  dave:  alice none, ask subscribe
  vCards: alice (FN, N, NICKNAME, EMAIL, URL, BDAY, NOTE, PHOTO),
          bob (FN, TITLE, TEL work, EMAIL home, ADR home, ORG, JABBERID)
  offline: bob has two chat messages from alice, dave one from carol
  rooms (conference.pr.example): "lounge", persistent, members-only, named
          "The Lounge" with a description and a subject, alice owner, bob
          member, dave outcast; "scratch", temporary (not stored)
"""
import asyncio
import ssl
import sys
import xml.etree.ElementTree as ET

import slixmpp

HOST, PORT, DOMAIN = sys.argv[1], int(sys.argv[2]), sys.argv[3]
PW = dict(zip(["alice", "bob", "carol", "dave"], sys.argv[4:8]))

ALICE_VCARD = """<vCard xmlns='vcard-temp'><FN>Alice Ä. Liddell</FN>
<N><FAMILY>Liddell</FAMILY><GIVEN>Alice</GIVEN></N><NICKNAME>ally</NICKNAME>
<EMAIL><USERID>alice@pr.example</USERID></EMAIL><URL>https://alice.example/</URL>
<BDAY>1852-05-04</BDAY><NOTE>Curiouser &amp; curiouser</NOTE>
<PHOTO><TYPE>image/png</TYPE><BINVAL>iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==</BINVAL></PHOTO></vCard>"""
BOB_VCARD = """<vCard xmlns='vcard-temp'><FN>Bob &lt;the builder&gt;</FN><TITLE>Builder</TITLE>
<TEL><WORK/><NUMBER>+1 555 0100</NUMBER></TEL><EMAIL><HOME/><USERID>bob@home.example</USERID></EMAIL>
<ADR><HOME/><STREET>1 Builder Rd</STREET><LOCALITY>Bobton</LOCALITY><CTRY>UK</CTRY></ADR>
<ORG><ORGNAME>Fix-It Ltd</ORGNAME></ORG><JABBERID>bob@pr.example</JABBERID></vCard>"""


class Client(slixmpp.ClientXMPP):
    def __init__(self, user):
        super().__init__(f"{user}@{DOMAIN}/fixture", PW[user])
        self.register_plugin("xep_0045")
        self.user = user
        self.ssl_context = ssl.create_default_context()
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        # Subscriptions are answered by the script, not automatically.
        self.roster.auto_authorize = None
        self.roster.auto_subscribe = False
        self.ready = asyncio.Event()
        self.requests = asyncio.Queue()
        self.add_event_handler("session_start", self.started)
        self.add_event_handler("presence_subscribe", lambda p: self.requests.put_nowait(p["from"].bare))

    async def started(self, _):
        await self.get_roster()
        self.send_presence()
        self.ready.set()

    async def online(self):
        self.connect((HOST, PORT))
        await asyncio.wait_for(self.ready.wait(), 20)
        return self

    async def offline(self):
        done = asyncio.Event()
        self.add_event_handler("disconnected", lambda _: done.set())
        self.disconnect()
        await asyncio.wait_for(done.wait(), 20)

    async def vcard(self, text):
        iq = self.make_iq_set()
        iq.xml.append(ET.fromstring(text))
        await iq.send()

    async def roster_item(self, jid, name, groups):
        await self.update_roster(jid, name=name, groups=groups)


async def expect_request(c, frm):
    got = await asyncio.wait_for(c.requests.get(), 20)
    assert got == frm, (c.user, got, frm)


async def main():
    alice, bob, carol, dave = [await Client(u).online() for u in ("alice", "bob", "carol", "dave")]
    j = lambda u: f"{u}@{DOMAIN}"

    # alice <-> bob: both, with bob named and in two groups on alice's side.
    await alice.roster_item(j("bob"), "Bobby", ["Friends", "Work"])
    alice.send_presence_subscription(pto=j("bob"))
    await expect_request(bob, j("alice"))
    bob.send_presence(pto=j("alice"), ptype="subscribed")
    bob.send_presence_subscription(pto=j("alice"))
    await expect_request(alice, j("bob"))
    alice.send_presence(pto=j("bob"), ptype="subscribed")

    # alice -> carol: carol approves and does not ask back.
    alice.send_presence_subscription(pto=j("carol"))
    await expect_request(carol, j("alice"))
    carol.send_presence(pto=j("alice"), ptype="subscribed")

    # dave -> alice: alice never answers (pending in; ask on dave's side).
    dave.send_presence_subscription(pto=j("alice"))
    await expect_request(alice, j("dave"))

    # carol keeps dave in a group without any subscription.
    await carol.roster_item(j("dave"), None, ["Solo"])

    await alice.vcard(ALICE_VCARD)
    await bob.vcard(BOB_VCARD)
    await asyncio.sleep(1)

    # Rooms: alice makes a persistent members-only room and a temporary one.
    lounge, scratch = f"lounge@conference.{DOMAIN}", f"scratch@conference.{DOMAIN}"
    await alice.plugin["xep_0045"].join_muc_wait(lounge, "Alice", maxstanzas=0, timeout=20)
    await alice.plugin["xep_0045"].get_room_config(lounge)
    form = alice.plugin["xep_0004"].make_form(ftype="submit")
    form.add_field(var="FORM_TYPE", value="http://jabber.org/protocol/muc#roomconfig")
    values = {
        "muc#roomconfig_roomname": "The Lounge",
        "muc#roomconfig_roomdesc": "Tea & talk",
        "muc#roomconfig_persistentroom": True,
        "muc#roomconfig_membersonly": True,
        "muc#roomconfig_publicroom": True,
    }
    for var, value in values.items():
        form.add_field(var=var, value=value)
    await alice.plugin["xep_0045"].set_room_config(lounge, form)
    await alice.plugin["xep_0045"].set_affiliation(lounge, "member", jid=j("bob"))
    await alice.plugin["xep_0045"].set_affiliation(lounge, "outcast", jid=j("dave"))
    alice.plugin["xep_0045"].set_subject(lounge, "Welcome to the lounge")
    await alice.plugin["xep_0045"].join_muc_wait(scratch, "Alice", maxstanzas=0, timeout=20)
    await asyncio.sleep(1)

    # Offline messages: bob and dave leave, then get mail.
    await bob.offline()
    await dave.offline()
    for body in ("first while you were away", "second <&> one"):
        alice.send_message(mto=j("bob"), mbody=body, mtype="chat")
    carol.send_message(mto=j("dave"), mbody="hi dave", mtype="chat")
    await asyncio.sleep(1)
    await alice.offline()
    await carol.offline()


asyncio.run(main())
print("people.py: done")
