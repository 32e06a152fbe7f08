package extauth

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"strconv"
	"strings"
	"time"
)

func (c Config) pop3Addr() string {
	port := c.Pop3Port
	if port <= 0 {
		port = 110
		if c.Pop3SSL {
			port = 995
		}
	}
	return net.JoinHostPort(c.Pop3Host, strconv.Itoa(port))
}

// Pop3Login is the name sent with USER: the localpart, plus @AppendDomain
// when set.
func (c Config) Pop3Login(user string) string {
	if c.Pop3AppendDomain != "" {
		return user + "@" + c.Pop3AppendDomain
	}
	return user
}

// pop3 logs in with USER/PASS (RFC 1939), implicit TLS if Pop3SSL, then
// QUITs. +OK to PASS authorises; -ERR to USER or PASS refuses.
func (a *Authenticator) pop3(ctx context.Context, cfg Config, domain, user, password string) (bool, error) {
	login := cfg.Pop3Login(user)
	if strings.ContainsAny(login+password, "\r\n\x00") {
		return false, nil // would break the line protocol: never sent
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", cfg.pop3Addr())
	if err != nil {
		return false, unavailablef("%s", describe(err))
	}
	defer nc.Close()
	// The deadline and a cancelled ctx (shutdown) both end the exchange.
	deadline, _ := ctx.Deadline()
	nc.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if cfg.Pop3SSL {
		tc := a.TLSConfig.Clone()
		if tc == nil {
			tc = &tls.Config{}
		}
		if tc.ServerName == "" {
			tc.ServerName = cfg.Pop3Host
		}
		t := tls.Client(nc, tc)
		if err := t.HandshakeContext(ctx); err != nil {
			return false, unavailablef("TLS: %s", describe(err))
		}
		nc = t
	}
	r := bufio.NewReaderSize(nc, 512)
	reply := func() (bool, error) {
		line, err := r.ReadSlice('\n')
		if err != nil {
			if err == bufio.ErrBufferFull {
				return false, unavailablef("POP3 line too long")
			}
			return false, unavailablef("%s", describe(err))
		}
		switch {
		case strings.HasPrefix(string(line), "+OK"):
			return true, nil
		case strings.HasPrefix(string(line), "-ERR"):
			return false, nil
		}
		return false, unavailablef("not a POP3 reply")
	}
	cmd := func(s string) error {
		if _, err := nc.Write([]byte(s + "\r\n")); err != nil {
			return unavailablef("%s", describe(err))
		}
		return nil
	}
	if ok, err := reply(); err != nil || !ok {
		if err == nil {
			err = unavailablef("POP3 greeting was -ERR")
		}
		return false, err
	}
	if err := cmd("USER " + login); err != nil {
		return false, err
	}
	ok, err := reply()
	if err == nil && ok {
		if err = cmd("PASS " + password); err == nil {
			ok, err = reply()
		}
	}
	if err != nil {
		return false, err
	}
	cmd("QUIT") // best effort; the verdict is in
	return ok, nil
}
