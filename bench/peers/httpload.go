package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xmppgate/xmppgate/internal/peer"
)

// httpClient keeps connections alive: provisioning clients of every server
// reuse them, so the figure is the API's, not TCP set-up's.
var httpClient = &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 128, MaxConnsPerHost: 128}}

// loadResult is one HTTP run.
type loadResult struct {
	N       int
	Elapsed time.Duration
	Lat     []time.Duration
	Errors  int
	First   error
}

// runHTTP calls do(i) for i in [0,n) with conc workers.
func runHTTP(ctx context.Context, n, conc int, do func(i int) error) loadResult {
	res := loadResult{N: n, Lat: make([]time.Duration, 0, n)}
	var (
		next atomic.Int64
		mu   sync.Mutex
		wg   sync.WaitGroup
	)
	t0 := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			errs := 0
			var first error
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					break
				}
				s := time.Now()
				if err := do(i); err != nil {
					errs++
					if first == nil {
						first = err
					}
					continue
				}
				mine = append(mine, time.Since(s))
			}
			mu.Lock()
			res.Lat = append(res.Lat, mine...)
			res.Errors += errs
			if res.First == nil {
				res.First = first
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(t0)
	if missed := n - len(res.Lat) - res.Errors; missed > 0 { // stopped by ctx
		res.Errors += missed
		if res.First == nil {
			res.First = ctx.Err()
		}
	}
	return res
}

// post sends body and returns the status and answer.
func post(u, contentType string, body []byte, auth [2]string) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", contentType)
	if auth[0] != "" {
		req.SetBasicAuth(auth[0], auth[1])
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

// ejabberdRegister is `POST <api>/register` of ejabberd's mod_http_api, the
// same request for ejabberd itself (loopback needs no auth there) and for
// our ejabberd dialect (HTTP Basic with the bootstrap admin).
func ejabberdRegister(api, host, user, password string, auth [2]string) error {
	body, _ := json.Marshal(map[string]string{"user": user, "host": host, "password": password})
	code, out, err := post(api+"/register", "application/json", body, auth)
	if err != nil {
		return err
	}
	if code != 200 || !bytes.Contains(out, []byte("successfully registered")) {
		return fmt.Errorf("register %s@%s: HTTP %d %.200s", user, host, code, out)
	}
	return nil
}

// dreamhost calls our DreamHost dialect (format=json) and returns "data".
func dreamhost(base, key string, v url.Values) (json.RawMessage, error) {
	v.Set("key", key)
	v.Set("format", "json")
	code, out, err := post(base+"/", "application/x-www-form-urlencoded", []byte(v.Encode()), [2]string{})
	if err != nil {
		return nil, err
	}
	var r struct {
		Result string          `json:"result"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(out, &r); err != nil || code != 200 || r.Result != "success" {
		return nil, fmt.Errorf("%s: HTTP %d %.200s", v.Get("cmd"), code, out)
	}
	return r.Data, nil
}

// dreamhostQueue sends one mutating DreamHost command and returns its token.
func dreamhostQueue(base, key string, v url.Values) (string, error) {
	data, err := dreamhost(base, key, v)
	if err != nil {
		return "", err
	}
	var rows []struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(data, &rows); err != nil || len(rows) != 1 || rows[0].Token == "" {
		return "", fmt.Errorf("%s: no token in %.200s", v.Get("cmd"), data)
	}
	return rows[0].Token, nil
}

// waitTokens polls services-progress for every token until each reports
// success (any other final state is an error).
func waitTokens(ctx context.Context, base, key string, tokens []string, d time.Duration) error {
	end := time.Now().Add(d)
	for _, t := range tokens {
		for {
			data, err := dreamhost(base, key, url.Values{"cmd": {"services-progress"}, "token": {t}})
			if err != nil {
				return err
			}
			var rows []struct {
				Status string `json:"status"`
			}
			if err := json.Unmarshal(data, &rows); err != nil || len(rows) != 1 {
				return fmt.Errorf("services-progress: %.200s", data)
			}
			switch strings.ToLower(rows[0].Status) {
			case "success":
			case "waiting", "running":
				if time.Now().After(end) {
					return fmt.Errorf("token %s still %s after %s", t, rows[0].Status, d)
				}
				if err := peer.Sleep(ctx, 10*time.Millisecond); err != nil {
					return err
				}
				continue
			default:
				return fmt.Errorf("token %s ended %s", t, rows[0].Status)
			}
			break
		}
	}
	return nil
}
