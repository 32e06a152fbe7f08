// Package queue is xmppgate's service queue: mutations become change rows in
// the caller account's open batch (whose token they share), and a worker
// applies each batch in one transaction.
//
// # Lifecycle
//
// A batch is waiting while it collects changes, running once the worker has
// claimed it, then success or failure (see docs/state_machine.md). Because a
// batch's changes, their results and its final state are written in one
// transaction, a crash while running leaves the batch running with none of its
// changes applied; the worker simply applies it again after a restart, or,
// when several nodes share the store, another node does once the crashed
// node's lease has passed (node.go, docs/scale-out.md).
package queue

import (
	"context"
	"crypto/rand"
	"errors"
	"time"

	"github.com/xmppgate/xmppgate/store"
)

// TokenLen is the length of a batch token (DreamHost's example token has 19).
const TokenLen = 19

const tokenAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// Errors of Progress.
var (
	ErrInvalidToken = errors.New("queue: invalid token")
	ErrTooOld       = errors.New("queue: token too old")
)

// NewToken mints a random token of TokenLen alphanumerics. The first is a
// letter, so no format (YAML in particular) ever reads a token as a number.
func NewToken() string {
	out := make([]byte, 0, TokenLen)
	b := make([]byte, 2*TokenLen)
	for len(out) < TokenLen {
		if _, err := rand.Read(b); err != nil {
			panic("queue: no randomness: " + err.Error())
		}
		for _, c := range b {
			alphabet := tokenAlphabet
			if len(out) == 0 {
				alphabet = tokenAlphabet[:52]
			}
			// Reject the top values so every character is equally likely.
			if int(c) < 256-256%len(alphabet) && len(out) < TokenLen {
				out = append(out, alphabet[int(c)%len(alphabet)])
			}
		}
	}
	return string(out)
}

// Queued is the receipt of an enqueued change.
type Queued struct {
	Token    string
	BatchID  int64
	ChangeID int64
}

// EnqueueTx appends change c to the open batch of account in tx. The token is
// valid only once tx commits; store.Write's nil return says so.
func EnqueueTx(ctx context.Context, tx *store.Tx, account int64, c store.Change) (Queued, error) {
	b, err := tx.OpenBatch(ctx, account, NewToken())
	if err != nil {
		return Queued{}, err
	}
	c.BatchID = b.ID
	c, err = tx.InsertChange(ctx, c)
	if err != nil {
		return Queued{}, err
	}
	return Queued{Token: b.Token, BatchID: b.ID, ChangeID: c.ID}, nil
}

// BatchReader finds a batch by token: the store's Reader, or a Worker,
// which knows the batches it applies without asking the store.
type BatchReader interface {
	BatchByToken(ctx context.Context, token string) (store.Batch, error)
}

// Progress returns the batch of token if one of accounts owns it. A token of
// a batch finished longer than maxAge ago is ErrTooOld (maxAge 0: never).
func Progress(ctx context.Context, r BatchReader, token string, accounts []int64, maxAge time.Duration, now time.Time) (store.Batch, error) {
	if token == "" || len(token) > 64 {
		return store.Batch{}, ErrInvalidToken
	}
	b, err := r.BatchByToken(ctx, token)
	if errors.Is(err, store.ErrNotFound) {
		return b, ErrInvalidToken
	}
	if err != nil {
		return b, err
	}
	owned := false
	for _, a := range accounts {
		owned = owned || a == b.AccountID
	}
	if !owned {
		// Another account's token is indistinguishable from an unknown one.
		return store.Batch{}, ErrInvalidToken
	}
	if maxAge > 0 && !b.Finished.IsZero() && now.Sub(b.Finished) > maxAge {
		return store.Batch{}, ErrTooOld
	}
	return b, nil
}
