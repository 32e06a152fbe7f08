package piefxis

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/xmppgate/xmppgate/xmlel"
)

const xmlHead = "<?xml version='1.0' encoding='UTF-8'?>"

// FileNames are the names ejabberd's export gives: the main file
// YYYYMMDD-HHMMSS.xml and one YYYYMMDD-HHMMSS_<host with _ for .>.xml per
// host, for the time of the export.
func FileNames(now time.Time, hosts []string) (main string, perHost []string) {
	stamp := now.Format("20060102-150405")
	for _, h := range hosts {
		perHost = append(perHost, stamp+"_"+strings.ReplaceAll(h, ".", "_")+".xml")
	}
	return stamp + ".xml", perHost
}

// WriteServer writes the main file: a server-data element including each
// host file. It is written by hand because ejabberd's reader matches the
// include element by its literal name "xi:include", prefix and all.
func WriteServer(w io.Writer, hrefs []string) error {
	var b bytes.Buffer
	b.WriteString(xmlHead)
	b.WriteString("<server-data xmlns='" + NS + "' xmlns:xi='" + NSXInc + "'>")
	for _, h := range hrefs {
		b.WriteString("<xi:include href='")
		if err := xml.EscapeText(&b, []byte(h)); err != nil {
			return err
		}
		b.WriteString("'/>")
	}
	b.WriteString("</server-data>")
	_, err := w.Write(b.Bytes())
	return err
}

// WriteHost writes one host file: a host element holding its users.
func WriteHost(w io.Writer, h Host) error {
	host := xmlel.New(NS, "host", "jid", h.JID)
	for _, u := range h.Users {
		host.Add(userElement(h.JID, u))
	}
	var b bytes.Buffer
	b.WriteString(xmlHead)
	host.WriteTo(&b, "")
	_, err := w.Write(b.Bytes())
	return err
}

// userElement orders the children as ejabberd does: credentials, offline
// messages, vCard, roster and subscription requests, private storage.
// Credentials are SCRAM keys only: ejabberd's import fails on a user with
// both a password attribute and scram-credentials, and picks the first
// scram-credentials element (so SCRAM-SHA-1, its default, goes first);
// Prosody picks the element of its configured mechanism.
func userElement(domain string, u User) *xmlel.Element {
	el := xmlel.New(NS, "user", "name", u.Name)
	if len(u.SCRAM) == 0 && u.Password != "" {
		el.Set("password", u.Password)
	}
	for _, s := range u.SCRAM {
		el.Add(xmlel.New(NSScram, "scram-credentials", "mechanism", s.Mechanism).
			Text(NSScram, "iter-count", strconv.Itoa(s.Iterations)).
			Text(NSScram, "salt", base64.StdEncoding.EncodeToString(s.Salt)).
			Text(NSScram, "server-key", base64.StdEncoding.EncodeToString(s.ServerKey)).
			Text(NSScram, "stored-key", base64.StdEncoding.EncodeToString(s.StoredKey)))
	}
	if len(u.Offline) > 0 {
		off := xmlel.New(NS, "offline-messages")
		for _, m := range u.Offline {
			msg := m.Message.Copy()
			if !m.Stamp.IsZero() {
				msg.Add(xmlel.New(NSDelay, "delay", "from", domain, "stamp", m.Stamp.UTC().Format("2006-01-02T15:04:05Z")).Add("Offline Storage"))
			}
			off.Add(msg)
		}
		el.Add(off)
	}
	if u.VCard != nil {
		el.Add(u.VCard)
	}
	if len(u.Roster) > 0 || len(u.Pending) > 0 {
		q := xmlel.New(NSRoster, "query")
		for _, it := range u.Roster {
			ask := ""
			if it.Ask {
				ask = "subscribe"
			}
			item := xmlel.New(NSRoster, "item", "jid", it.JID, "name", it.Name, "subscription", it.Subscription, "ask", ask)
			for _, g := range it.Groups {
				item.Text(NSRoster, "group", g)
			}
			q.Add(item)
		}
		el.Add(q)
		for _, from := range u.Pending {
			el.Add(xmlel.New(NSClient, "presence", "from", from, "to", u.Name+"@"+domain, "type", "subscribe"))
		}
	}
	if len(u.Private) > 0 {
		q := xmlel.New(NSPrivate, "query")
		for _, p := range u.Private {
			q.Add(p)
		}
		el.Add(q)
	}
	return el
}
