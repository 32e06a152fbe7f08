package store

import (
	"context"
	"io/fs"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPgSQL(t *testing.T) {
	t.Parallel()
	for i, tc := range []struct {
		in     string
		idArgs []bool // which arguments are ids lists
		want   string
	}{
		0: {`SELECT a FROM t WHERE b = ? AND c = ?`, nil, `SELECT a FROM t WHERE b = $1 AND c = $2`},
		1: {`SELECT '?' || ? FROM t`, nil, `SELECT '?' || $1 FROM t`},
		2: {`SELECT x FROM t WHERE a = ?2 AND b = ?1`, nil, `SELECT x FROM t WHERE a = $2 AND b = $1`},
		3: {`DELETE FROM t WHERE id IN (SELECT value FROM json_each(?))`, []bool{true},
			`DELETE FROM t WHERE id IN (SELECT value::bigint FROM json_array_elements_text($1::text::json))`},
		4: {`SELECT 1 FROM t WHERE u.domain_id NOT IN (SELECT value FROM json_each(?)) AND name IN (SELECT value FROM json_each(?))`, []bool{true, false},
			`SELECT 1 FROM t WHERE u.domain_id NOT IN (SELECT value::bigint FROM json_array_elements_text($1::text::json)) AND name IN (SELECT value::text FROM json_array_elements_text($2::text::json))`},
		5: {`SELECT 1 FROM i WHERE item_id IN (SELECT value FROM json_each(?))`, nil,
			`SELECT 1 FROM i WHERE item_id IN (SELECT value::text FROM json_array_elements_text($1::text::json))`},
		7: {`SELECT 1 FROM a WHERE (?1 IS NULL OR account_id IN (SELECT value FROM json_each(?1))) AND instr(actor, ?2) > 0`, []bool{true, false},
			`SELECT 1 FROM a WHERE ($1::text IS NULL OR account_id IN (SELECT value::bigint FROM json_array_elements_text($1::text::json))) AND strpos(actor, $2) > 0`},
		6: {`SELECT json_extract(c, '$.a') FROM t WHERE id = ?`, nil, `SELECT json_extract(c, '$.a') FROM t WHERE id = $1`},
		// The argument's type decides, not the column's name, and a ? in a
		// literal is no placeholder.
		8: {`SELECT '?' FROM t WHERE a = ? AND id IN (SELECT value FROM json_each(?)) AND b_id IN (SELECT value FROM json_each(?))`, []bool{false, true, false},
			`SELECT '?' FROM t WHERE a = $1 AND id IN (SELECT value::bigint FROM json_array_elements_text($2::text::json)) AND b_id IN (SELECT value::text FROM json_array_elements_text($3::text::json))`},
	} {
		require.Equal(t, tc.want, pgSQL(tc.in, tc.idArgs), "case %d", i)
	}
}

// pgQuery passes an ids list as its text and the ids NULL as NULL, and
// rewrites the query for the kinds of lists it was given.
func TestPgQueryArgs(t *testing.T) {
	t.Parallel()
	const q = `SELECT 1 FROM t WHERE (?1 IS NULL OR a_id IN (SELECT value FROM json_each(?1))) AND ok = ?2`
	want := `SELECT 1 FROM t WHERE ($1::text IS NULL OR a_id IN (SELECT value::bigint FROM json_array_elements_text($1::text::json))) AND ok = $2`
	for i, tc := range []struct {
		arg  any
		want any
	}{
		0: {idList([]int64{3, 4}), "[3,4]"},
		1: {noIDs, nil},
	} {
		got, args := pgQuery(q, []any{tc.arg, true})
		require.Equal(t, want, got, "case %d", i)
		require.Equal(t, []any{tc.want, int64(1)}, args, "case %d", i)
	}
}

// Each PostgreSQL migration says which SQLite migration's schema it
// completes, and the last one reaches SQLite's last: dumps and backups
// compare schema versions across engines.
func TestMigrationSetsMatch(t *testing.T) {
	t.Parallel()
	last := func(dir string) (int, []int) {
		names, err := fs.Glob(migrationFS, dir+"/*.sql")
		require.NoError(t, err)
		var all []int
		for _, n := range names {
			num, _, _ := strings.Cut(strings.TrimPrefix(n, dir+"/"), "_")
			v, err := strconv.Atoi(num)
			require.NoError(t, err, n)
			all = append(all, v)
		}
		return all[len(all)-1], all
	}
	sqliteLast, _ := last("migrations")
	pgLast, pgAll := last("migrations_pg")
	for _, v := range pgAll {
		require.Contains(t, pgLevel, v, "migrations_pg/%04d has no line in pgLevel", v)
	}
	require.Equal(t, sqliteLast, pgLevel[pgLast], "the last PostgreSQL migration must complete SQLite's last")
}

// On PostgreSQL several nodes claim from one queue: two stores on one
// database claiming at once take every batch exactly once.
func TestClaimBatchesExactlyOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const accounts = 40
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		for i := range accounts {
			a, err := tx.InsertAccount(b.ctx, "acc"+strconv.Itoa(i), 0)
			if err != nil {
				return err
			}
			if _, err := tx.OpenBatch(b.ctx, a.ID, "tok"+strconv.Itoa(i)); err != nil {
				return err
			}
		}
		return nil
	}))
	stores := b.nodes(t, 1) // on PostgreSQL a second node on the same database
	var mu sync.Mutex
	seen := map[int64]int{}
	var wg sync.WaitGroup
	for _, st := range stores {
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					var got []Batch
					err := st.Write(context.Background(), func(tx *Tx) error {
						var err error
						got, err = tx.ClaimBatches(context.Background(), "", 3)
						return err
					})
					if err != nil {
						t.Error(err)
						return
					}
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, bt := range got {
						seen[bt.ID]++
					}
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	require.Len(t, seen, accounts)
	for id, n := range seen {
		require.Equal(t, 1, n, "batch %d claimed %d times", id, n)
	}
}

// A taken name fails alone: the transaction goes on, on both engines (on
// PostgreSQL the insert runs in a savepoint of its own).
func TestDuplicateLeavesTransactionUsable(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var dup error
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		a, err := tx.InsertAccount(b.ctx, "acme", 0)
		if err != nil {
			return err
		}
		_, dup = tx.InsertAccount(b.ctx, "acme", 0)
		_, err = tx.InsertDomain(b.ctx, a.ID, "a.example")
		return err
	}))
	require.ErrorIs(t, dup, ErrDuplicate)
	d, err := b.st.DomainByFQDN(b.ctx, "a.example")
	require.NoError(t, err)
	require.NotZero(t, d.ID)
}
