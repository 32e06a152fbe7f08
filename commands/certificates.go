package commands

import (
	"context"
	"errors"
	"slices"
	"strings"
)

// The ACME family (ejabberd_acme): list_certificates, request_certificate
// and revoke_certificate over the server's certificate manager. They act
// on the whole server, so they are Operator-only.

var certificateDefs = []*Def{ListCertificates, RequestCertificate, RevokeCertificate}

// Certificates is the server's ACME certificate manager as these commands
// see it. main sets Env.Certs when `acme: true`; nil otherwise, where the
// commands answer that ACME is off.
type Certificates interface {
	// List returns the stored certificates.
	List(ctx context.Context) ([]CertInfo, error)
	// Request obtains the certificates of domains (all the store's when
	// empty) that are missing or due for renewal, and returns once they
	// are stored.
	Request(ctx context.Context, domains []string) error
	// Revoke revokes and deletes the certificate stored in file; an
	// unknown file is ErrUnknownCertificate.
	Revoke(ctx context.Context, file string) error
}

// CertInfo is one certificate of Certificates.List.
type CertInfo struct {
	Domain, File string
	// Used: the domain is still served.
	Used bool
}

// ErrUnknownCertificate is what Certificates.Revoke wraps for a file that
// holds no certificate of the manager.
var ErrUnknownCertificate = errors.New("no such certificate")

var certificateColumns = []string{"domain", "file", "used"}

func certificates(c *Call) (Certificates, error) {
	if c.Env.Certs == nil {
		return nil, Errorf(NotImplemented, "", "", "%s: ACME is off (set acme: true in the configuration)", c.Def.Name)
	}
	return c.Env.Certs, nil
}

// ListCertificates is ejabberd's list_certificates.
var ListCertificates = &Def{
	Name: "list_certificates",
	Doc: "Operator only. Lists the ACME certificates in the data directory: the domain, the certificate's PEM file and " +
		"\"used\" while the domain is served, \"unused\" once it was removed.",
	Operator: true,
	Result:   Result{Kind: ResultTable, Name: "certificates", Columns: certificateColumns},
	Names:    map[Dialect]string{Ejabberd: "list_certificates"},
	Handle:   listCertificates,
}

func listCertificates(ctx context.Context, c *Call) (any, error) {
	m, err := certificates(c)
	if err != nil {
		return nil, err
	}
	cs, err := m.List(ctx)
	if err != nil {
		return nil, err
	}
	t := Table{Columns: certificateColumns, Rows: [][]any{}}
	for _, ci := range cs {
		used := "unused"
		if ci.Used {
			used = "used"
		}
		t.Rows = append(t.Rows, []any{ci.Domain, ci.File, used})
	}
	return t, nil
}

// RequestCertificate is ejabberd's request_certificate.
var RequestCertificate = &Def{
	Name: "request_certificate",
	Doc: "Operator only. Obtains the ACME certificates of \"all\" the served domains or of the comma-separated " +
		"domains given that have none or are due for renewal, and answers \"Success\" once they are stored. A domain " +
		"the server does not serve is refused.",
	Operator: true,
	Args:     []Arg{{Name: "domains", Type: String, Doc: "all, or domain1,domain2,..."}},
	Result:   Result{Kind: ResultString, Name: "res"},
	Names:    map[Dialect]string{Ejabberd: "request_certificate"},
	Handle:   requestCertificate,
}

func requestCertificate(ctx context.Context, c *Call) (any, error) {
	m, err := certificates(c)
	if err != nil {
		return nil, err
	}
	domains, err := parseDomainList(c.Args.String("domains"))
	if err != nil {
		return nil, err
	}
	for _, fqdn := range domains {
		if _, err := c.Env.Store.DomainByFQDN(ctx, fqdn); err != nil {
			return nil, Errorf(Invalid, ReasonUnknownDomain, "domains", "%s is not served here", fqdn)
		}
	}
	if err := m.Request(ctx, domains); err != nil {
		return nil, err
	}
	return "Success", nil
}

// RevokeCertificate is ejabberd's revoke_certificate.
var RevokeCertificate = &Def{
	Name: "revoke_certificate",
	Doc: "Operator only. Revokes the ACME certificate stored in file (a file of list_certificates) and deletes it; " +
		"the domain gets a new one at its next connection. Answers \"Success\".",
	Operator: true,
	Args:     []Arg{{Name: "file", Type: String, Doc: "The certificate's file, as list_certificates names it."}},
	Result:   Result{Kind: ResultString, Name: "res"},
	Names:    map[Dialect]string{Ejabberd: "revoke_certificate"},
	Handle:   revokeCertificate,
}

func revokeCertificate(ctx context.Context, c *Call) (any, error) {
	m, err := certificates(c)
	if err != nil {
		return nil, err
	}
	if err := m.Revoke(ctx, c.Args.String("file")); err != nil {
		if errors.Is(err, ErrUnknownCertificate) {
			return nil, Errorf(NotFound, "", "file", "no certificate is stored in %s", c.Args.String("file"))
		}
		return nil, err
	}
	return "Success", nil
}

// parseDomainList reads request_certificate's domains: "all" (nil), or
// domains separated by commas, each normalised, duplicates dropped.
func parseDomainList(spec string) ([]string, error) {
	spec = strings.TrimSpace(spec)
	if spec == "all" {
		return nil, nil
	}
	var out []string
	for _, d := range strings.Split(spec, ",") {
		fqdn, err := NormalizeDomain(strings.TrimSpace(d))
		if err != nil {
			return nil, Errorf(Invalid, ReasonMalformed, "domains", "invalid domain %q", d)
		}
		if !slices.Contains(out, fqdn) {
			out = append(out, fqdn)
		}
	}
	return out, nil
}
