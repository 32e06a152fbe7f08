package store

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

const (
	qHealthWrite = `INSERT INTO health (id, checked) VALUES (1, ?)
		ON CONFLICT (id) DO UPDATE SET checked = excluded.checked`
	qBatchCounts  = `SELECT status, count(*) FROM batches GROUP BY status`
	qChangeCounts = `SELECT status, count(*) FROM changes GROUP BY status`
	// count(*) walks the smallest index of the table: linear in its rows,
	// which is why Gauges is read once per scrape, not per request.
	qOfflineCount    = `SELECT count(*) FROM offline_messages`
	qArchiveCount    = `SELECT count(*) FROM archive`
	qMUCArchiveCount = `SELECT count(*) FROM muc_archive`
)

// Probe commits a one-row write: it fails when the database cannot be
// written (read-only file system, full disk, store closed).
func (s *Store) Probe(ctx context.Context) error {
	return s.Write(ctx, func(tx *Tx) error {
		_, err := tx.q.ExecContext(ctx, qHealthWrite, tx.now().UTC().Format(TimeLayout))
		return err
	})
}

// Gauges are the sizes the metrics endpoint shows.
type Gauges struct {
	Batches map[BatchStatus]int64
	Changes map[ChangeStatus]int64
	// Offline, Archive and MUCArchive are stored messages: waiting for
	// their user, in users' XEP-0313 archives, in rooms' archives.
	Offline, Archive, MUCArchive int64
}

// Gauges counts batches and changes by state and the stored messages.
func (r Reader) Gauges(ctx context.Context) (Gauges, error) {
	g := Gauges{Batches: map[BatchStatus]int64{}, Changes: map[ChangeStatus]int64{}}
	for _, q := range []struct {
		sql string
		put func(string, int64)
	}{
		{qBatchCounts, func(k string, n int64) { g.Batches[BatchStatus(k)] = n }},
		{qChangeCounts, func(k string, n int64) { g.Changes[ChangeStatus(k)] = n }},
	} {
		rows, err := r.q.QueryContext(ctx, q.sql)
		if err != nil {
			return g, fmt.Errorf("store: gauges: %w", err)
		}
		for rows.Next() {
			var k string
			var n int64
			if err := rows.Scan(&k, &n); err != nil {
				rows.Close()
				return g, err
			}
			q.put(k, n)
		}
		if err := rows.Close(); err != nil {
			return g, err
		}
	}
	for _, c := range []struct {
		sql string
		n   *int64
	}{{qOfflineCount, &g.Offline}, {qArchiveCount, &g.Archive}, {qMUCArchiveCount, &g.MUCArchive}} {
		if err := r.q.QueryRowContext(ctx, c.sql).Scan(c.n); err != nil {
			return g, fmt.Errorf("store: gauges: %w", err)
		}
	}
	return g, nil
}

// Operation kinds an Observer is told about.
const (
	// OpWrite is one Write (or WriteAsync) call, from queueing to its
	// durable outcome: what a caller waits for.
	OpWrite = "write"
	// OpCommit is one group commit: the transaction of the functions
	// sharing it and its COMMIT. The WAL fsync of Synchronous FULL runs
	// after it, overlapping the next group; OpWrite includes it.
	OpCommit = "commit"
)

// Observer is told how long each operation of a kind took (for metrics;
// it must be cheap and must not call the store). Reads are not observed:
// they run lazily as the caller scans rows, so their time is part of the
// request that asked.
type Observer func(op string, took time.Duration)

type observerBox struct{ fn atomic.Pointer[Observer] }

func (b *observerBox) observe(op string, start time.Time) {
	if fn := b.fn.Load(); fn != nil {
		(*fn)(op, time.Since(start))
	}
}

// SetObserver installs o (nil removes it); safe while the store is used.
func (s *Store) SetObserver(o Observer) {
	if o == nil {
		s.obs.fn.Store(nil)
		return
	}
	s.obs.fn.Store(&o)
}
