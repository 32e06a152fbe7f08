package commands

import (
	"io"
	"time"

	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/store/credential"
	"github.com/xmppgate/xmppgate/store/sealbox"
	"go.uber.org/zap"
)

// Env is what handlers run against.
type Env struct {
	Store  *store.Store
	Box    *sealbox.Box
	Worker *queue.Worker
	// Live is the running XMPP server (nil if none).
	Live Live
	// Control is the server process (nil when no server runs).
	Control Control
	Log     *zap.Logger
	// TokenMaxAge: tokens of batches finished longer ago answer too_old.
	TokenMaxAge time.Duration
	// DataDir is the data directory: backups and XEP-0227 files are read
	// and written under it ("" refuses those commands).
	DataDir string
	// TransferDirs are the directories where the operator's absolute file
	// paths may point (config transfer_dirs; empty: DATA/transfer/). See
	// paths.go.
	TransferDirs []string
	// Rand is where OAuth tokens come from; nil is crypto/rand (tests set
	// a seeded source so golden files can show the tokens).
	Rand io.Reader
	// Requests is told of every dialect request (metrics); nil: no one.
	Requests RequestObserver
	// Certs is the ACME certificate manager (nil unless acme is on).
	Certs Certificates
	// SCRAM are the families a new password gets keys for (config
	// scram_hashes; zero is both).
	SCRAM credential.Families
}
