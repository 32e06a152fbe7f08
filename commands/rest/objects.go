package rest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"

	"github.com/xmppgate/xmppgate/commands"
)

// The objects of the REST API (seed 001): what the registry's records look
// like on this wire, with their URIs. Every object's keys come out sorted,
// as the seed documents show them.

// domainURI is a domain's REST path.
func domainURI(fqdn string) string { return base + "/" + fqdn }

// userURI is a user's REST path.
func userURI(fqdn, username string) string {
	return domainURI(fqdn) + "/users/" + url.PathEscape(username)
}

// userObject is the REST user object.
type userObject struct {
	Enabled        bool   `json:"enabled"`
	JID            string `json:"jid"`
	Password       string `json:"password"`
	ResourceURI    string `json:"resourceUri"`
	Username       string `json:"username"`
	XMPPDomain     string `json:"xmppDomain"`
	XMPPDomainURI  string `json:"xmppDomainUri"`
	XMPPUserACLURI string `json:"xmppUserAclUri"`
}

func newUserObject(u commands.UserInfo) userObject {
	uri := userURI(u.Domain, u.Username)
	return userObject{Enabled: u.Enabled, JID: u.Username + "@" + u.Domain, Password: u.Password,
		ResourceURI: uri + "?format=json", Username: u.Username, XMPPDomain: u.Domain,
		XMPPDomainURI: domainURI(u.Domain) + "?format=json", XMPPUserACLURI: uri + "/acl?format=json"}
}

// listMeta is the meta object of a list (tastypie's).
type listMeta struct {
	Limit      int     `json:"limit"`
	Next       *string `json:"next"`
	Offset     *string `json:"offset"`
	Previous   *string `json:"previous"`
	TotalCount int     `json:"totalCount"`
}

// userList is a page of users: meta.offset is the page's last username,
// meta.next the next page's URI (null on the last page).
type userList struct {
	Meta    listMeta     `json:"meta"`
	Objects []userObject `json:"objects"`
}

func newUserList(p commands.UserPage) userList {
	out := userList{Meta: listMeta{Limit: p.Limit, TotalCount: p.Total}, Objects: make([]userObject, 0, len(p.Users))}
	for _, u := range p.Users {
		out.Objects = append(out.Objects, newUserObject(u))
	}
	if len(p.Users) > 0 {
		last := p.Users[len(p.Users)-1].Username
		out.Meta.Offset = &last
		if p.More {
			next := fmt.Sprintf("%s/users?limit=%d&offset=%s", domainURI(p.Users[len(p.Users)-1].Domain), p.Limit, url.QueryEscape(last))
			out.Meta.Next = &next
		}
	}
	return out
}

// aclLabels are the user ACL flags' labels (the spec's §4.5).
var aclLabels = map[string]string{
	"muc":          "Access Multi User Chats (muc)",
	"mucAdmin":     "Administer Multi User Chats (muc_admin)",
	"mucCreate":    "Create Multi User Chats (muc_create)",
	"pubsubCreate": "Create PubSub Nodes (pubsub_create)",
	"xmppgateway":  "Send messages using the HTTP API (xmppgateway)",
}

// aclObject is the REST user ACL object.
type aclObject struct {
	ACL           map[string]bool   `json:"acl"`
	ACLLabels     map[string]string `json:"aclLabels"`
	JID           string            `json:"jid"`
	ResourceURI   string            `json:"resourceUri"`
	Username      string            `json:"username"`
	XMPPDomain    string            `json:"xmppDomain"`
	XMPPDomainURI string            `json:"xmppDomainUri"`
	XMPPUserURI   string            `json:"xmppUserUri"`
}

func newACLObject(a commands.ACLInfo) aclObject {
	uri := userURI(a.Domain, a.Username)
	return aclObject{ACL: a.ACL, ACLLabels: aclLabels, JID: a.Username + "@" + a.Domain, ResourceURI: uri + "/acl?format=json",
		Username: a.Username, XMPPDomain: a.Domain, XMPPDomainURI: domainURI(a.Domain) + "?format=json",
		XMPPUserURI: uri + "?format=json"}
}

// domainObject is the REST domain object: the settings plus read-only fields.
type domainObject struct {
	commands.DomainSettings
	FQDN             string  `json:"fqdn"`
	IsEnabled        bool    `json:"isEnabled"`
	IsRunning        bool    `json:"isRunning"`
	OrganizationName *string `json:"organizationName"`
	ResourceURI      string  `json:"resourceUri"`
	UserCount        int     `json:"userCount"`
	UserlistURI      string  `json:"userlistUri"`
}

func newDomainObject(d commands.DomainInfo) domainObject {
	owner := d.Owner
	return domainObject{DomainSettings: d.Settings, FQDN: d.FQDN, IsEnabled: d.Enabled, IsRunning: d.Running,
		OrganizationName: &owner, ResourceURI: domainURI(d.FQDN) + "?format=json", UserCount: d.Users,
		UserlistURI: domainURI(d.FQDN) + "/users?format=json"}
}

// MarshalJSON emits every key sorted, settings and read-only fields alike.
func (o domainObject) MarshalJSON() ([]byte, error) {
	var m map[string]any
	b, err := json.Marshal(o.DomainSettings)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	m["fqdn"], m["isEnabled"], m["isRunning"] = o.FQDN, o.IsEnabled, o.IsRunning
	m["organizationName"], m["resourceUri"], m["userCount"], m["userlistUri"] = o.OrganizationName, o.ResourceURI, o.UserCount, o.UserlistURI
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false) // maps sort their keys
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return bytes.TrimRight(out.Bytes(), "\n"), nil
}

// domainList is the list of domains: one page with every domain (meta.limit
// 0 means no limit, as in tastypie).
type domainList struct {
	Meta    listMeta       `json:"meta"`
	Objects []domainObject `json:"objects"`
}

// domainStatus is a domain's control object.
func domainStatus(d commands.DomainInfo) map[string]any {
	uri := domainURI(d.FQDN)
	return map[string]any{
		"aclupdateUri": uri + "/aclupdate", "domain": d.FQDN, "domainEditUri": uri,
		"isEnabled": d.Enabled, "isRunning": d.Running,
		"startUri": uri + "/start", "statusUri": uri + "/status", "stopUri": uri + "/stop",
		"validActions": map[string]string{
			"aclupdate": "Apply a pending ACL update", "start": "Start the XMPP domain",
			"status": "Get the current status of the XMPP domain", "stop": "Stop the XMPP domain",
		},
	}
}

// deleted is the answer of a delete.
type deleted struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// object is a registry record as this API shows it.
func object(res any) any {
	switch v := res.(type) {
	case commands.UserInfo:
		return newUserObject(v)
	case commands.ACLInfo:
		return newACLObject(v)
	case commands.DomainInfo:
		return newDomainObject(v)
	case []commands.DomainInfo:
		out := domainList{Meta: listMeta{TotalCount: len(v)}, Objects: make([]domainObject, 0, len(v))}
		for _, d := range v {
			out.Objects = append(out.Objects, newDomainObject(d))
		}
		return out
	}
	return res
}
