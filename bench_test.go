package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func benchServer(b *testing.B) (*testServer, string, string) {
	s := startServerTB(b, func(c *Config) { c.Synchronous = benchSync(); c.LogLevel = "error" })
	boot := readBootstrapTB(b, s.data)
	return s, boot.Key, boot.Domain
}

// BenchmarkAddUserHTTP: acknowledged jabber-add_user requests through the
// real HTTP server, 16 concurrent clients (-cpu decides GOMAXPROCS).
func BenchmarkAddUserHTTP(b *testing.B) {
	s, key, domain := benchServer(b)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var n atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			v := url.Values{"key": {key}, "cmd": {"jabber-add_user"}, "username": {fmt.Sprintf("u%d", i)}, "domain": {domain}, "password": {"pw"}}
			resp, err := client.PostForm(s.url, v)
			if err != nil {
				b.Error(err)
				return
			}
			var buf [64]byte
			k, _ := resp.Body.Read(buf[:])
			resp.Body.Close()
			if !strings.HasPrefix(string(buf[:k]), "success") {
				b.Errorf("%q", buf[:k])
				return
			}
		}
	})
}

func queueDirect(b *testing.B, s *testServer, key string, n int, mk func(i int) url.Values) {
	b.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	sem := make(chan struct{}, 16)
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			v := mk(i)
			v.Set("key", key)
			resp, err := client.PostForm(s.url, v)
			if err != nil {
				errs <- err
				return
			}
			resp.Body.Close()
		}()
	}
	for i := 0; i < cap(sem); i++ {
		sem <- struct{}{}
	}
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

// BenchmarkApplyAddUser: the worker applying one batch of 2,000 add_user
// changes, SCRAM derivation included. Reports accounts/s.
func BenchmarkApplyAddUser(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s, key, domain := benchServer(b)
		queueDirect(b, s, key, 2000, func(j int) url.Values {
			return url.Values{"cmd": {"jabber-add_user"}, "username": {fmt.Sprintf("u%d", j)}, "domain": {domain}, "password": {"pw"}}
		})
		b.StartTimer()
		t0 := time.Now()
		if _, err := s.app.env.Worker.RunOnce(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(2000/time.Since(t0).Seconds(), "accounts/s")
	}
}

// BenchmarkApplyStatus: the worker applying one batch of 10,000 status
// changes (half deactivate, half remove).
func BenchmarkApplyStatus(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s, key, domain := benchServer(b)
		queueDirect(b, s, key, 10000, func(j int) url.Values {
			return url.Values{"cmd": {"jabber-add_user"}, "username": {fmt.Sprintf("u%d", j)}, "domain": {domain}, "password": {"pw"}}
		})
		if _, err := s.app.env.Worker.RunOnce(context.Background()); err != nil {
			b.Fatal(err)
		}
		cmds := []string{"jabber-deactivate_user", "jabber-remove_user"}
		queueDirect(b, s, key, 10000, func(j int) url.Values {
			return url.Values{"cmd": {cmds[j%2]}, "username": {fmt.Sprintf("u%d", j)}, "domain": {domain}}
		})
		b.StartTimer()
		t0 := time.Now()
		if _, err := s.app.env.Worker.RunOnce(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(t0).Seconds(), "s/batch")
	}
}

func benchSync() string {
	if s := os.Getenv("BENCH_SYNCHRONOUS"); s != "" {
		return s
	}
	return "FULL"
}
