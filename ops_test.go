package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"
)

// scrape fetches url's /metrics and parses it with Prometheus' own text
// parser.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(base + pathMetrics)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return fams
}

// sample is the value of the series of family name whose labels include
// want (nil: no such series).
func sample(fams map[string]*dto.MetricFamily, name string, want map[string]string) *float64 {
	f := fams[name]
	if f == nil {
		return nil
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		var v float64
		switch {
		case m.Counter != nil:
			v = m.GetCounter().GetValue()
		case m.Gauge != nil:
			v = m.GetGauge().GetValue()
		case m.Histogram != nil:
			v = float64(m.GetHistogram().GetSampleCount())
		default:
			v = m.GetUntyped().GetValue()
		}
		return &v
	}
	return nil
}

// TestMetricsAfterWorkload runs provisioning requests (one failing, one
// naming no command), a batch, XMPP logins with an independent client (one
// with a wrong password) and a message to an offline user through the real
// server, then scrapes both listeners and checks the figures.
func TestMetricsAfterWorkload(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(c *Config) { c.MetricsAddr = "127.0.0.1:0" })
	require.NotEmpty(t, s.metricsURL)
	k := s.boot.Key

	s.dh(k, "jabber-add_user", "username", "alice", "domain", "localhost", "password", "wonder land").token(t)
	s.dh(k, "jabber-add_user", "username", "bob", "domain", "localhost", "password", "builder").token(t)
	failed := s.dh(k, "jabber-add_user", "username", "carol", "domain", "not-ours.example", "password", "x")
	require.NotEqual(t, "success", failed.Result)
	failCode := strings.TrimSpace(string(failed.Data))
	require.NoError(t, json.Unmarshal(failed.Data, &failCode), string(failed.Data))
	unknown := s.dh(k, "jabber-no_such_command_"+strings.Repeat("x", 8))
	require.Equal(t, "error", unknown.Result)
	require.Equal(t, "<result>ok</result>\n", s.userService("type=add&username=dave&password=pw"))
	s.runWorker()

	alice, err := s.xmppLogin("alice@localhost", "wonder land", "SCRAM-SHA-256")
	require.NoError(t, err)
	defer alice.Close()
	_, err = s.xmppLogin("alice@localhost", "wrong", "SCRAM-SHA-256")
	require.Error(t, err)
	_, err = alice.Send(goxmpp.Chat{Remote: "bob@localhost", Type: "chat", Text: "while you were out"})
	require.NoError(t, err)

	// The message is stored asynchronously of the send: poll the figure.
	var fams map[string]*dto.MetricFamily
	deadline := time.Now().Add(20 * time.Second)
	for {
		fams = scrape(t, s.metricsURL)
		if v := sample(fams, "xmppgate_offline_messages", nil); v != nil && *v == 1 {
			break
		}
		require.True(t, time.Now().Before(deadline), "the offline message was not counted")
		time.Sleep(50 * time.Millisecond)
	}

	atLeast := func(name string, labels map[string]string, min float64) {
		t.Helper()
		v := sample(fams, name, labels)
		require.NotNil(t, v, "%s%v missing", name, labels)
		require.GreaterOrEqual(t, *v, min, "%s%v", name, labels)
	}
	exactly := func(name string, labels map[string]string, want float64) {
		t.Helper()
		v := sample(fams, name, labels)
		require.NotNil(t, v, "%s%v missing", name, labels)
		require.Equal(t, want, *v, "%s%v", name, labels)
	}
	dh := map[string]string{"dialect": "dreamhost", "command": "jabber-add_user"}
	exactly("xmppgate_requests_total", map[string]string{"dialect": "dreamhost", "command": "jabber-add_user", "result": "success"}, 2)
	exactly("xmppgate_requests_total", map[string]string{"dialect": "dreamhost", "command": "jabber-add_user", "result": failCode}, 1)
	exactly("xmppgate_requests_total", map[string]string{"dialect": "dreamhost", "command": "unknown"}, 1)
	exactly("xmppgate_requests_total", map[string]string{"dialect": "openfire", "command": "add", "result": "ok"}, 1)
	exactly("xmppgate_request_duration_seconds", dh, 3)
	atLeast("xmppgate_queue_batch_apply_duration_seconds", map[string]string{"status": "success"}, 1)
	exactly("xmppgate_queue_depth", nil, 0)
	atLeast("xmppgate_queue_batches", map[string]string{"status": "success"}, 2)
	atLeast("xmppgate_queue_changes", map[string]string{"status": "applied"}, 3)
	exactly("xmppgate_xmpp_sessions", map[string]string{"domain": "localhost", "transport": "c2s"}, 1)
	atLeast("xmppgate_xmpp_logins_total", map[string]string{"result": "ok"}, 1)
	atLeast("xmppgate_xmpp_logins_total", map[string]string{"result": "failed"}, 1)
	atLeast("xmppgate_xmpp_stanzas_total", map[string]string{"kind": "message"}, 1)
	atLeast("xmppgate_xmpp_stanzas_total", map[string]string{"kind": "iq"}, 1)
	exactly("xmppgate_archive_messages", map[string]string{"kind": "room"}, 0)
	atLeast("xmppgate_store_operation_duration_seconds", map[string]string{"op": "write"}, 3)
	atLeast("xmppgate_store_operation_duration_seconds", map[string]string{"op": "commit"}, 1)
	atLeast("go_goroutines", nil, 1)
	atLeast("process_start_time_seconds", nil, 1)
	for name := range fams {
		if strings.HasSuffix(name, "_total") {
			require.Equal(t, dto.MetricType_COUNTER, fams[name].GetType(), name)
		}
	}

	// The main listener serves the same registry to a loopback peer.
	main := scrape(t, strings.TrimSuffix(s.url, "/"))
	require.Contains(t, main, "xmppgate_requests_total")
}

// TestMetricsLoopbackOnly: the main listener's /metrics refuses a peer
// that is not on loopback.
func TestMetricsLoopbackOnly(t *testing.T) {
	t.Parallel()
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	for i, c := range []struct {
		remote string
		want   int
	}{
		0: {"127.0.0.1:4000", http.StatusOK},
		1: {"[::1]:4000", http.StatusOK},
		2: {"[::ffff:127.0.0.1]:4000", http.StatusOK},
		3: {"192.0.2.7:4000", http.StatusForbidden},
		4: {"[2001:db8::1]:4000", http.StatusForbidden},
		5: {"garbage", http.StatusForbidden},
	} {
		r := httptest.NewRequest(http.MethodGet, pathMetrics, nil)
		r.RemoteAddr = c.remote
		w := httptest.NewRecorder()
		loopbackOnly(ok).ServeHTTP(w, r)
		require.Equal(t, c.want, w.Code, "%d: %s", i, c.remote)
	}
}

// TestHealthAndReadiness probes a real server: alive and ready, then not
// ready with the failing check named once its worker stopped.
func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	// Every listener counts, the s2s ones too (as a default start has them).
	s := startServer(t, func(c *Config) {
		c.MetricsAddr, c.S2SAddr, c.S2STLSAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	})
	get := func(base, path string) (int, healthBody) {
		t.Helper()
		resp, err := http.Get(base + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		var b healthBody
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&b))
		return resp.StatusCode, b
	}
	main := strings.TrimSuffix(s.url, "/")
	allOK := map[string]string{checkStore: "ok", checkListeners: "ok", checkWorker: "ok"}
	for _, base := range []string{main, s.metricsURL} {
		status, b := get(base, pathHealthz)
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "ok", b.Status)
		require.NotEmpty(t, b.Version)

		status, b = get(base, pathReadyz)
		require.Equal(t, http.StatusOK, status, "%+v", b)
		require.Equal(t, healthBody{Status: "ok", Checks: allOK}, b)
	}

	s.app.env.Worker.Stop()
	for _, base := range []string{main, s.metricsURL} {
		status, b := get(base, pathReadyz)
		require.Equal(t, http.StatusServiceUnavailable, status)
		require.Equal(t, "unavailable", b.Status)
		require.Equal(t, []string{checkWorker}, b.Failed)
		require.Equal(t, "worker not running", b.Checks[checkWorker])
		require.Equal(t, "ok", b.Checks[checkStore])
		// Alive all the same: a supervisor must not restart it for this.
		status, _ = get(base, pathHealthz)
		require.Equal(t, http.StatusOK, status)
	}
}
