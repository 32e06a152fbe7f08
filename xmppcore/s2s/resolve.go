package s2s

import (
	"context"
	"net"
	"slices"
	"strconv"
	"strings"
)

// DefaultPort is the s2s port of RFC 6120 section 3.2.
const DefaultPort = 5269

// Resolver is the part of *net.Resolver that routing needs.
type Resolver interface {
	LookupSRV(ctx context.Context, service, proto, name string) (string, []*net.SRV, error)
}

// Target is one place to connect to.
type Target struct {
	Addr string // host:port
	// DirectTLS: XEP-0368 (_xmpps-server), TLS from the first byte.
	DirectTLS bool
}

// Targets lists where to connect for a remote domain, in order: the static
// route if there is one (and nothing else); else the SRV records of
// _xmpps-server._tcp and _xmpp-server._tcp merged by priority, and within a
// priority by weight (heaviest first: a stable order instead of RFC 2782's
// random pick, so retries walk every record); else the domain itself on
// DefaultPort, whose A/AAAA lookup the dialer does. A single "." target
// means the domain offers no service: the list is empty.
func Targets(ctx context.Context, r Resolver, routes map[string]string, domain string) []Target {
	if a, ok := routes[domain]; ok {
		if _, _, err := net.SplitHostPort(a); err != nil {
			a = net.JoinHostPort(a, strconv.Itoa(DefaultPort))
		}
		return []Target{{Addr: a}}
	}
	type rec struct {
		srv    *net.SRV
		direct bool
	}
	var recs []rec
	refused := false
	for _, svc := range []string{"xmpps-server", "xmpp-server"} {
		_, srvs, err := r.LookupSRV(ctx, svc, "tcp", domain)
		if err != nil {
			continue
		}
		if len(srvs) == 1 && (srvs[0].Target == "." || srvs[0].Target == "") {
			refused = refused || svc == "xmpp-server"
			continue
		}
		for _, s := range srvs {
			recs = append(recs, rec{s, svc == "xmpps-server"})
		}
	}
	if len(recs) == 0 {
		if refused {
			return nil
		}
		return []Target{{Addr: net.JoinHostPort(domain, strconv.Itoa(DefaultPort))}}
	}
	slices.SortStableFunc(recs, func(a, b rec) int {
		if a.srv.Priority != b.srv.Priority {
			return int(a.srv.Priority) - int(b.srv.Priority)
		}
		if a.srv.Weight != b.srv.Weight {
			return int(b.srv.Weight) - int(a.srv.Weight)
		}
		if a.direct != b.direct {
			if a.direct {
				return -1
			}
			return 1
		}
		return 0
	})
	out := make([]Target, 0, len(recs))
	for _, r := range recs {
		host := strings.TrimSuffix(r.srv.Target, ".")
		out = append(out, Target{Addr: net.JoinHostPort(host, strconv.Itoa(int(r.srv.Port))), DirectTLS: r.direct})
	}
	return out
}
