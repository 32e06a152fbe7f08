package commands

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/store/credential"
)

// PurposeRESTPassword seals REST API passwords (kept only so bootstrap.json
// can be written again).
const PurposeRESTPassword = "rest-api-password"

// NewUUID returns a random (version 4) UUID in its lower-case hyphenated form.
func NewUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("commands: no randomness: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// SetRESTPassword sets the REST API password of account (a fresh random one
// if password is empty) and returns it. It is shown only now.
func SetRESTPassword(ctx context.Context, env *Env, account int64, password string) (string, error) {
	if password == "" {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return "", err
		}
		password = hex.EncodeToString(b)
	}
	cred, err := credential.New(password)
	if err != nil {
		return "", Errorf(Invalid, ReasonMalformed, "password", "not allowed by the OpaqueString profile of RFC 8265")
	}
	c := store.RESTCredential{AccountID: account, Salt: cred.Salt, Iterations: cred.Iterations, StoredKey: cred.SHA256Stored,
		PasswordSealed: env.Box.Seal([]byte(password), PurposeRESTPassword)}
	err = env.Store.Write(ctx, func(tx *store.Tx) error {
		if err := tx.PutRESTCredential(ctx, c); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return Errorf(NotFound, "", "account", "no account %d", account)
			}
			return err
		}
		return tx.Audit(ctx, account, "cli", "rest password", "set")
	})
	return password, err
}

// RESTPassword opens the stored copy of account's REST API password.
func RESTPassword(ctx context.Context, env *Env, account int64) (string, error) {
	c, err := env.Store.RESTCredential(ctx, account)
	if err != nil {
		return "", err
	}
	p, err := env.Box.Open(c.PasswordSealed, PurposeRESTPassword)
	if err != nil {
		return "", fmt.Errorf("open REST password of account %d: %w", account, err)
	}
	return string(p), nil
}
