package console

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/xmppgate/xmppgate/commands"
)

var funcs = template.FuncMap{
	// cell shows a table cell: a list joined, everything else as text.
	"cell": func(v any) string {
		if l, ok := v.([]string); ok {
			return strings.Join(l, ", ")
		}
		return fmt.Sprint(v)
	},
}

// panel is one part of a page fed by one command: its table, or why the
// command failed (the rest of the page still shows).
type panel struct {
	Command string
	Table   commands.Table
	Err     string
}

// panelOf runs a read command for a panel.
func (h *Handler) panelOf(x *exchange, name string, raw commands.Raw) panel {
	res, err := h.call(x, name, raw)
	if err != nil {
		h.noteErr(x, err)
		return panel{Command: name, Err: errorText(err)}
	}
	t, _ := res.(commands.Table)
	return panel{Command: name, Table: t}
}

// noteErr puts a read's internal error into the request line; the page
// still answers.
func (h *Handler) noteErr(x *exchange, err error) {
	if commands.AsError(err).Kind == commands.Internal && x.line.Err == nil {
		x.line.Err = err
		x.line.Result = "internal"
	}
}

type dashboardData struct {
	Sessions                string
	Queue                   panel
	Batches, Failed, Logins panel
}

func (h *Handler) dashboard(x *exchange) {
	x.line.Command = "dashboard"
	d := dashboardData{Sessions: "no XMPP server"}
	if n, err := h.call(x, "connected_users_number", nil); err == nil {
		d.Sessions = fmt.Sprint(n)
	} else if commands.AsError(err).Reason != commands.ReasonNoServer {
		h.noteErr(x, err)
		d.Sessions = errorText(err)
	}
	d.Queue = h.panelOf(x, "queue_status", nil)
	d.Batches = h.panelOf(x, "list_batches", commands.Raw{"limit": {"20"}})
	d.Failed = h.panelOf(x, "list_failed_changes", commands.Raw{"limit": {"20"}})
	d.Logins = h.panelOf(x, "login_failures", commands.Raw{"limit": {"20"}})
	h.page(x, "dashboard", "Dashboard", d)
}

type domainRow struct {
	FQDN, Owner, DisplayName, Auth string
	Enabled, Running               bool
	Users                          int
	ModuleConfig                   string
}

type domainsData struct {
	Domains []domainRow
	Err     string
}

// domainList reads the domains through rest_domain_list.
func (h *Handler) domainList(x *exchange) ([]commands.DomainInfo, error) {
	res, err := h.call(x, "rest_domain_list", nil)
	if err != nil {
		h.noteErr(x, err)
		return nil, err
	}
	ds, _ := res.([]commands.DomainInfo)
	return ds, nil
}

func (h *Handler) domains(x *exchange) {
	x.line.Command = "domains"
	var d domainsData
	ds, err := h.domainList(x)
	if err != nil {
		d.Err = errorText(err)
	}
	for _, info := range ds {
		mc, _ := json.MarshalIndent(info.Settings.ModuleConfig, "", "  ")
		d.Domains = append(d.Domains, domainRow{FQDN: info.FQDN, Owner: info.Owner, DisplayName: info.Settings.DisplayName,
			Auth: info.Settings.AuthenticationMethod, Enabled: info.Enabled, Running: info.Running, Users: info.Users, ModuleConfig: string(mc)})
	}
	h.page(x, "domains", "Domains", d)
}

type usersData struct {
	Domains        []string
	Domain, Search string
	Users          panel
}

func (h *Handler) users(x *exchange) {
	x.line.Command = "users"
	q := x.r.URL.Query()
	d := usersData{Domain: q.Get("domain"), Search: q.Get("search")}
	ds, err := h.domainList(x)
	if err != nil {
		d.Users.Err = errorText(err)
	}
	for _, info := range ds {
		d.Domains = append(d.Domains, info.FQDN)
	}
	if d.Domain == "" && len(d.Domains) > 0 {
		d.Domain = d.Domains[0]
	}
	if d.Domain != "" {
		d.Users = h.panelOf(x, "search_users", commands.Raw{"domain": {d.Domain}, "search": {d.Search}, "limit": {"200"}})
	}
	h.page(x, "users", "Users", d)
}

// userActions are the commands the users page's buttons run, by the
// path's action.
var userActions = map[string]string{
	"deactivate": "deactivate_user",
	"reactivate": "reactivate_user",
	"password":   "change_password",
}

// userAction runs one button's command on a user and goes back to the
// users page with what happened.
func (h *Handler) userAction(x *exchange) {
	name, ok := userActions[x.r.PathValue("action")]
	if !ok {
		h.refuse(x, http.StatusNotFound, "not_found", "No such action.")
		return
	}
	x.line.Command = name
	f := x.r.PostForm
	raw := commands.Raw{"domain": {f.Get("domain")}, "username": {f.Get("username")}}
	if name == "change_password" {
		raw["password"] = []string{f.Get("password")}
	}
	who := f.Get("username") + "@" + f.Get("domain")
	res, err := h.call(x, name, raw)
	if err != nil {
		x.line.Result = resultOf(err)
		if commands.AsError(err).Kind == commands.Internal {
			x.line.Err = err
		}
		h.sessions.setFlash(x.ses, fmt.Sprintf("%s %s failed: %s", name, who, errorText(err)), true)
	} else {
		x.line.Result = "success"
		msg := fmt.Sprintf("%s %s: done", name, who)
		if r, ok := res.(commands.Receipt); ok {
			msg += " (batch " + r.Token + ")"
		}
		h.sessions.setFlash(x.ses, msg, false)
	}
	x.line.Status = http.StatusSeeOther
	back := url.Values{"domain": {f.Get("domain")}}
	if s := f.Get("search"); s != "" {
		back.Set("search", s)
	}
	http.Redirect(x.w, x.r, Prefix+"/users?"+back.Encode(), http.StatusSeeOther)
}

type keyRow struct {
	Key, Created, Comment string
	Grants                []string
}

type keysData struct {
	Keys []keyRow
	Err  string
}

// keys shows the keys with their grants; only the start of each key is
// shown, enough to tell them apart: the page is no place to copy one from.
func (h *Handler) keys(x *exchange) {
	x.line.Command = "keys"
	var d keysData
	res, err := h.call(x, "list_keys", nil)
	if err != nil {
		h.noteErr(x, err)
		d.Err = errorText(err)
	}
	t, _ := res.(commands.Table)
	for _, row := range t.Rows {
		if len(row) < 4 {
			continue
		}
		key, _ := row[0].(string)
		if len(key) > 4 {
			key = key[:4] + "…"
		}
		grants := strings.Split(fmt.Sprint(row[3]), ",")
		d.Keys = append(d.Keys, keyRow{Key: key, Created: fmt.Sprint(row[1]), Comment: fmt.Sprint(row[2]), Grants: grants})
	}
	h.page(x, "keys", "Keys", d)
}

type auditData struct {
	Account, Actor, Command, Since, Limit string
	Lines                                 panel
}

func (h *Handler) audit(x *exchange) {
	x.line.Command = "audit"
	q := x.r.URL.Query()
	d := auditData{Account: q.Get("account"), Actor: q.Get("actor"), Command: q.Get("command"), Since: q.Get("since"), Limit: q.Get("limit")}
	if d.Limit == "" {
		d.Limit = "100"
	}
	d.Lines = h.panelOf(x, "audit_log", commands.Raw{"account": {d.Account}, "actor": {d.Actor}, "command": {d.Command},
		"since": {d.Since}, "limit": {d.Limit}})
	h.page(x, "audit", "Audit log", d)
}
