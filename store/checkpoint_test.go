package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A WriteApart's commit leaves the WAL to the checkpointer, which copies
// it into the database file soon after; a plain Write's small commit
// leaves it in the WAL (its automatic checkpoint waits for 10,000 pages),
// and the writer's automatic checkpoint is back on after the big write.
func TestWriteApartCheckpointsAfterCommit(t *testing.T) {
	t.Parallel()
	if onPG {
		t.Skip("SQLite's WAL only")
	}
	b := setup(t)
	insert := func(name string) func(*Tx) error {
		return func(tx *Tx) error {
			_, err := tx.InsertAccount(b.ctx, name, 0)
			return err
		}
	}
	// inFile: whether the database file alone, without its WAL, holds
	// account name.
	inFile := func(name string) bool {
		t.Helper()
		body, err := os.ReadFile(b.loc)
		require.NoError(t, err)
		cp := filepath.Join(t.TempDir(), "copy.db")
		require.NoError(t, os.WriteFile(cp, body, 0o600))
		db, err := sql.Open("sqlite3", cp)
		require.NoError(t, err)
		defer db.Close()
		var n int
		// Until a checkpoint, the file may not even hold the schema.
		err = db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE name = 'accounts'`).Scan(&n)
		require.NoError(t, err)
		if n == 0 {
			return false
		}
		require.NoError(t, db.QueryRow(`SELECT count(*) FROM accounts WHERE name = ?`, name).Scan(&n))
		return n == 1
	}
	require.NoError(t, b.st.Write(b.ctx, insert("plain")))
	require.False(t, inFile("plain"), "a small commit is not checkpointed")

	require.NoError(t, b.st.WriteApart(b.ctx, insert("apart")))
	deadline := time.Now().Add(30 * time.Second)
	for !(inFile("plain") && inFile("apart")) {
		require.True(t, time.Now().Before(deadline), "the checkpointer did not copy the WAL into the file")
		time.Sleep(10 * time.Millisecond)
	}
	var pages int
	require.NoError(t, b.st.w.QueryRowContext(context.Background(), `PRAGMA wal_autocheckpoint`).Scan(&pages))
	require.Equal(t, walAutocheckpoint, fmt.Sprint(pages))
}
