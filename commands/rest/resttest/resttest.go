// Package resttest is the fixture the REST API dialect's tests share: the
// golden and scenario tests over loopback and the fuzz targets in
// process.
package resttest

import "github.com/xmppgate/xmppgate/commands/commandstest"

// Tenants creates the REST API accounts:
//
//	acme      a.example, a2.example  REST password acmepass
//	acme-sub  sub.example            a sub-account of acme
//	other     b.example              REST password otherpass
//	nopw      n.example              no REST password
func Tenants(f *commandstest.Fixture) {
	f.T.Helper()
	for _, a := range []struct {
		name, parent, password string
		domains                []string
	}{
		{"acme", "", "acmepass", []string{"a.example", "a2.example"}},
		{"acme-sub", "acme", "", []string{"sub.example"}},
		{"other", "", "otherpass", []string{"b.example"}},
		{"nopw", "", "", []string{"n.example"}},
	} {
		acc := f.Account(a.name, a.parent, false, a.domains...)
		if a.password != "" {
			f.RESTPassword(acc, a.password)
		}
	}
}

// Users are the requests that create acme's user alice (password
// alicepw) and other's bob (bobpw), written as the golden files write
// them: "Auth: user password" sets the credentials, acme's by default.
var Users = []string{
	"POST /api/1.0/xmppdomains/a.example/users/alice?password=alicepw",
	"POST /api/1.0/xmppdomains/b.example/users/bob?password=bobpw\nAuth: other otherpass",
}
