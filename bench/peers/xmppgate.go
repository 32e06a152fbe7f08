package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/xmppgate/xmppgate/internal/peer"
	"github.com/xmppgate/xmppgate/store"

	"github.com/xmppgate/xmppgate/bench/benchproc"
)

// xmppgate is our server: bin/xmppgate serve as a separate process (through
// bench/benchproc) on a throw-away data directory, with the same
// certificate as the peers and every listener on loopback.
type xmppgate struct {
	bin      string
	data     string
	domain   string
	cert     peer.Cert
	schedule string // worker schedule
	pprof    string // XMPPGATE_PPROF_ADDR, empty for none
	// companion is tls_ecdsa_companion: with "auto" xmppgate serves a
	// generated ECDSA certificate beside the shared RSA one to the
	// clients that offer ECDSA (#17's login lever), and says so in the table.
	companion string
	// scram is scram_hashes ("" for the default, both families).
	scram   string
	c2sPort int
	port    func() (int, error)
	proc    *benchproc.Proc
	batches chan batchLine
}

// batchLine is the worker's "batch applied" log line.
type batchLine struct {
	Changes  int     `json:"changes"`
	Duration float64 `json:"duration"` // seconds
	Status   string  `json:"status"`
}

func newXmppgate(bin, data, domain string, cert peer.Cert, schedule, pprof string, port func() (int, error)) (*xmppgate, error) {
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, err
	}
	c2s, err := port()
	if err != nil {
		return nil, err
	}
	return &xmppgate{bin: bin, data: data, domain: domain, cert: cert, schedule: schedule, pprof: pprof,
		c2sPort: c2s, port: port, batches: make(chan batchLine, 64)}, nil
}

func (x *xmppgate) Name() string    { return "xmppgate" }
func (x *xmppgate) C2SAddr() string { return "127.0.0.1:" + strconv.Itoa(x.c2sPort) }
func (x *xmppgate) HTTP() string    { return "http://" + x.proc.Addr }

// WSURL and BOSHURL are the web client endpoints on the HTTP listener.
func (x *xmppgate) WSURL() string   { return "ws://" + x.proc.Addr + "/ws" }
func (x *xmppgate) BOSHURL() string { return "http://" + x.proc.Addr + "/http-bind" }
func (x *xmppgate) Boot() benchproc.Bootstrap {
	return x.proc.Boot
}

func (x *xmppgate) PID() int {
	if x.proc == nil {
		return 0
	}
	return x.proc.PID()
}

// Start runs the server; its HTTP API is up when Start returns, the c2s
// listener is waited for too.
func (x *xmppgate) Start(ctx context.Context) error {
	tlsPort, err := x.port()
	if err != nil {
		return err
	}
	p, err := benchproc.Start(x.bin, x.data, func(line []byte) {
		var l struct {
			Msg string `json:"msg"`
			batchLine
		}
		if json.Unmarshal(line, &l) == nil && l.Msg == "batch applied" {
			select {
			case x.batches <- l.batchLine:
			default:
			}
		}
	},
		"XMPPGATE_C2S_ADDR="+x.C2SAddr(), "XMPPGATE_C2STLS_ADDR=127.0.0.1:"+strconv.Itoa(tlsPort), "XMPPGATE_S2S_ADDR=", "XMPPGATE_S2STLS_ADDR=",
		"XMPPGATE_WORKER_SCHEDULE="+x.schedule, "XMPPGATE_BOOTSTRAP_DOMAIN="+x.domain,
		"XMPPGATE_CERT_FILE="+x.cert.Cert, "XMPPGATE_KEY_FILE="+x.cert.Key,
		"XMPPGATE_PPROF_ADDR="+x.pprof, "XMPPGATE_TLS_ECDSA_COMPANION="+x.companion, "XMPPGATE_SCRAM_HASHES="+x.scram)
	if err != nil {
		return err
	}
	x.proc = p
	if p.Boot.Domain != x.domain {
		return fmt.Errorf("xmppgate: bootstrap domain %q, want %q (%s)", p.Boot.Domain, x.domain, filepath.Join(x.data, "bootstrap.json"))
	}
	return peer.WaitPort(ctx, x.C2SAddr(), 30*time.Second)
}

// Stop ends the server (SIGTERM, then waits).
func (x *xmppgate) Stop() {
	if x.proc != nil {
		x.proc.Stop()
		x.proc = nil
	}
}

// nextBatch waits for the worker's next "batch applied" line.
func (x *xmppgate) nextBatch(ctx context.Context, d time.Duration) (batchLine, error) {
	select {
	case b := <-x.batches:
		return b, nil
	case <-time.After(d):
		return batchLine{}, fmt.Errorf("xmppgate: no batch applied within %s", d)
	case <-ctx.Done():
		return batchLine{}, ctx.Err()
	}
}

// setMAM switches the bench domain's archive (moduleConfig.modMam) in the
// stopped server's database, keeping its other settings.
func (x *xmppgate) setMAM(on bool) error {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(x.data, "xmppgate.db"), store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	d, err := st.DomainByFQDN(ctx, x.domain)
	if err != nil {
		return err
	}
	settings := map[string]any{}
	if len(d.Settings) > 0 {
		if err := json.Unmarshal(d.Settings, &settings); err != nil {
			return err
		}
	}
	mc, _ := settings["moduleConfig"].(map[string]any)
	if mc == nil {
		mc = map[string]any{}
	}
	mc["modMam"] = map[string]any{"enabled": on}
	settings["moduleConfig"] = mc
	raw, err := json.Marshal(settings)
	if err != nil {
		return err
	}
	return st.Write(ctx, func(tx *store.Tx) error { return tx.SetDomainSettings(ctx, d.ID, raw) })
}
