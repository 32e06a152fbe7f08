package openfirerest

import (
	"net/url"
	"sort"
	"strings"

	"github.com/xmppgate/xmppgate/commands"
)

// route is one command's "METHOD pattern" name, parsed: literal segments,
// {variable} segments named after the argument's wire name, and an
// optional trailing "[/{variable}]".
type route struct {
	def      *commands.Def
	wire     string
	method   string
	segs     []string
	optional string // the optional trailing variable, "" if none
	// item: a GET that shows one entity (its pattern ends in a variable),
	// not a list.
	item bool
}

func parseRoute(d *commands.Def) route {
	wire := d.Names[commands.OpenfireREST]
	method, pattern, _ := strings.Cut(wire, " ")
	rt := route{def: d, wire: wire, method: method}
	if head, tail, ok := strings.Cut(pattern, "[/"); ok {
		pattern, rt.optional = head, strings.TrimSuffix(strings.TrimSuffix(tail, "]"), "}")[1:]
	}
	rt.segs = strings.Split(pattern, "/")
	rt.item = method == "GET" && rt.optional == "" && isVar(rt.segs[len(rt.segs)-1])
	return rt
}

func isVar(seg string) bool { return strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") }

// bind matches path segments (escaped) against the route.
func (rt *route) bind(segs []string) (map[string]string, bool) {
	n := len(rt.segs)
	if len(segs) != n && !(rt.optional != "" && len(segs) == n+1) {
		return nil, false
	}
	vars := map[string]string{}
	for i, seg := range segs {
		v, err := url.PathUnescape(seg)
		if err != nil {
			return nil, false
		}
		if i == n {
			if v == "" {
				return nil, false
			}
			vars[rt.optional] = v
			continue
		}
		switch p := rt.segs[i]; {
		case isVar(p):
			if v == "" {
				return nil, false
			}
			vars[p[1:len(p)-1]] = v
		case p != v:
			return nil, false
		}
	}
	return vars, true
}

// match finds the route of method and path (relative to the base, still
// escaped). If the path matches only other methods' routes, allowed lists them.
func (h *Handler) match(method, path string) (*route, map[string]string, []string) {
	path = strings.TrimSuffix(path, "/")
	segs := strings.Split(path, "/")
	if method == "HEAD" {
		method = "GET"
	}
	seen := map[string]bool{}
	var allowed []string
	for i := range h.routes {
		rt := &h.routes[i]
		vars, ok := rt.bind(segs)
		if !ok {
			continue
		}
		if rt.method == method {
			return rt, vars, nil
		}
		if !seen[rt.method] {
			seen[rt.method] = true
			allowed = append(allowed, rt.method)
		}
	}
	sort.Strings(allowed)
	return nil, nil, allowed
}
