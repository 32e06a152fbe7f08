package commands

import (
	"context"
	"errors"
	"strings"

	"github.com/xmppgate/xmppgate/store"
)

// CreateAccount adds an account (an operator action, not queued); operator
// makes it one of the server's operators (Caller.Operator).
func CreateAccount(ctx context.Context, env *Env, name string, parent int64, operator bool) (store.Account, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return store.Account{}, Errorf(Invalid, ReasonMissing, "name", "account name is empty")
	}
	var a store.Account
	err := env.Store.Write(ctx, func(tx *store.Tx) (err error) {
		a, err = tx.InsertAccount(ctx, name, parent)
		switch {
		case errors.Is(err, store.ErrDuplicate):
			return Errorf(Conflict, "", "name", "account %q exists", name)
		case errors.Is(err, store.ErrNotFound):
			return Errorf(NotFound, "", "parent", "no account %d", parent)
		case err != nil:
			return err
		}
		if operator {
			if err := tx.SetOperator(ctx, a.ID, true); err != nil {
				return err
			}
			a.Operator = true
		}
		return tx.Audit(ctx, a.ID, "cli", "account add", name)
	})
	return a, err
}
