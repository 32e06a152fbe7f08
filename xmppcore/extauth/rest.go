package extauth

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// rest asks the Chatmongers-style external-auth web service: POST (default)
// form body or GET query with username, domain, password and secret; HTTP
// 200 with body true authorises, 200 with false refuses. Anything else (other
// status, other body, no answer) is Unavailable.
func (a *Authenticator) rest(ctx context.Context, cfg Config, domain, user, password string) (bool, error) {
	u, err := url.Parse(cfg.RestURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return false, unavailablef("authRestUrl is not an absolute http(s) URL")
	}
	form := url.Values{"username": {user}, "domain": {domain}, "password": {password}, "secret": {cfg.RestSecret}}
	var req *http.Request
	if strings.EqualFold(cfg.RestMethod, http.MethodGet) {
		q := u.Query()
		for k, v := range form {
			q[k] = v
		}
		u.RawQuery = q.Encode()
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	} else {
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(form.Encode()))
		if req != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	if err != nil {
		return false, unavailablef("cannot build the request")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "xmppgate-extauth")
	resp, err := a.client.Do(req)
	if err != nil {
		return false, unavailablef("%s", describe(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if err != nil {
		return false, unavailablef("reading the answer: %s", describe(err))
	}
	if resp.StatusCode != http.StatusOK {
		// The spec: any other status denies. A 5xx is the remote's trouble,
		// not a verdict on the password: reported as unavailable.
		if resp.StatusCode >= 500 {
			return false, unavailablef("HTTP status %d", resp.StatusCode)
		}
		return false, nil
	}
	switch v := strings.ToLower(string(bytes.TrimSpace(body))); v {
	case "true", `"true"`, "1":
		return true, nil
	case "false", `"false"`, "0":
		return false, nil
	default:
		return false, unavailablef("HTTP 200 with an unexpected body (%d bytes)", len(body))
	}
}

// describe renders a transport error without the URL (a GET URL carries the
// password in its query).
func describe(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
		return "timeout"
	}
	return err.Error()
}

// redactURL is u without user info, query or fragment.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(invalid URL)"
	}
	u.User, u.RawQuery, u.Fragment, u.RawFragment, u.ForceQuery = nil, "", "", "", false
	return u.String()
}
