package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/store/sealbox"
)

// Files in the data directory.
const (
	dbFile        = "xmppgate.db"
	secretFile    = "secret.key"
	bootstrapFile = "bootstrap.json"
)

// app is the opened data directory: store, secrets, registry.
type app struct {
	cfg Config
	env *commands.Env
	reg *commands.Registry
	log *zap.Logger
}

func newLogger(level string) (*zap.Logger, zap.AtomicLevel, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, zap.AtomicLevel{}, fmt.Errorf("config: log_level: %w", err)
	}
	zc := zap.NewProductionConfig()
	zc.Level = zap.NewAtomicLevelAt(lvl)
	zc.Sampling = nil
	zc.EncoderConfig.TimeKey = "time"
	zc.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	log, err := zc.Build()
	return log, zc.Level, err
}

func openApp(ctx context.Context, cfg Config, log *zap.Logger) (*app, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return nil, err
	}
	box, err := sealbox.LoadOrCreate(filepath.Join(cfg.Data, secretFile))
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, storeLocation(cfg), store.Options{Synchronous: strings.ToUpper(cfg.Synchronous)})
	if err != nil {
		return nil, err
	}
	reg, err := commands.New(commands.All()...)
	if err != nil {
		st.Close()
		return nil, err
	}
	env := &commands.Env{Store: st, Box: box, Log: log, TokenMaxAge: cfg.TokenMaxAge, DataDir: cfg.Data, TransferDirs: cleanDirs(cfg.TransferDirs),
		SCRAM: cfg.scramFamilies()}
	return &app{cfg: cfg, env: env, reg: reg, log: log}, nil
}

// storeLocation is what store.Open opens: the PostgreSQL URL of the store
// setting, or else the SQLite file in the data directory.
func storeLocation(cfg Config) string {
	if cfg.Store != "" {
		return cfg.Store
	}
	return filepath.Join(cfg.Data, dbFile)
}

func (a *app) Close() error { return a.env.Store.Close() }

// accountFilter returns nil (all accounts) unless one was asked for.
func (a *app) accountFilter(ctx context.Context, set bool, id int64) ([]int64, error) {
	if !set {
		return nil, nil
	}
	return a.env.Store.AccountTree(ctx, id)
}

// Bootstrap is DATA/bootstrap.json: the first account's credentials for
// every dialect. Field names are a contract with scripts and tests.
type Bootstrap struct {
	Account int64  `json:"account"`
	Key     string `json:"key"`
	Domain  string `json:"domain"`
	// OpenfireSecret is the User Service secret, bound to Domain.
	OpenfireSecret string `json:"openfire_secret"`
	// RESTUser and RESTPassword are the REST API's HTTP Basic credentials.
	RESTUser     string `json:"rest_user"`
	RESTPassword string `json:"rest_password"`
	// AdminJID and AdminPassword authenticate ejabberd API calls (HTTP Basic).
	AdminJID      string `json:"admin_jid"`
	AdminPassword string `json:"admin_password"`
}

// bootstrap creates the bootstrap account, key and domain on an empty data
// directory and writes bootstrap.json; later starts read it back.
func (a *app) bootstrap(ctx context.Context, stdout io.Writer) (Bootstrap, error) {
	path := filepath.Join(a.cfg.Data, bootstrapFile)
	var b Bootstrap
	if raw, err := os.ReadFile(path); err == nil {
		return b, json.Unmarshal(raw, &b)
	} else if !errors.Is(err, os.ErrNotExist) {
		return b, err
	}
	acc, err := a.env.Store.AccountByName(ctx, "admin")
	if errors.Is(err, store.ErrNotFound) {
		acc, err = commands.CreateAccount(ctx, a.env, "admin", 0, true)
	}
	if err != nil {
		return b, fmt.Errorf("bootstrap account: %w", err)
	}
	key, _, err := commands.CreateKey(ctx, a.env, commands.KeySpec{Account: acc.ID, Cmds: []string{"*"}, Comment: "bootstrap"})
	if err != nil {
		return b, fmt.Errorf("bootstrap key: %w", err)
	}
	domain, err := commands.NormalizeDomain(a.cfg.BootstrapDomain)
	if err != nil {
		return b, fmt.Errorf("bootstrap domain %q: %w", a.cfg.BootstrapDomain, err)
	}
	if _, err := a.env.Store.DomainByFQDN(ctx, domain); errors.Is(err, store.ErrNotFound) {
		if _, err := commands.CreateDomain(ctx, a.env, domain, acc.ID); err != nil {
			return b, fmt.Errorf("bootstrap domain: %w", err)
		}
	} else if err != nil {
		return b, err
	}
	secret, err := commands.BootstrapOpenfireSecret(ctx, a.env, acc.ID)
	if err != nil {
		return b, fmt.Errorf("bootstrap openfire secret: %w", err)
	}
	restUser, restPassword, err := commands.BootstrapREST(ctx, a.env, acc.ID)
	if err != nil {
		return b, fmt.Errorf("bootstrap REST credentials: %w", err)
	}
	adminJID, adminPassword, err := commands.BootstrapAdmin(ctx, a.env, a.reg, acc.ID, domain)
	if err != nil {
		return b, fmt.Errorf("bootstrap ejabberd admin: %w", err)
	}
	b = Bootstrap{Account: acc.ID, Key: key, Domain: domain, OpenfireSecret: secret, RESTUser: restUser, RESTPassword: restPassword,
		AdminJID: adminJID, AdminPassword: adminPassword}
	raw, _ := json.MarshalIndent(b, "", "  ")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(raw, '\n'), 0o600); err != nil {
		return b, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return b, err
	}
	fmt.Fprintf(stdout, "xmppgate: first start, bootstrap credentials written to %s:\n%s\n", path, raw)
	return b, nil
}

// cleanDirs cleans the configured directories (Validate made sure they
// are absolute).
func cleanDirs(dirs []string) []string {
	out := make([]string, len(dirs))
	for i, d := range dirs {
		out[i] = filepath.Clean(d)
	}
	return out
}
