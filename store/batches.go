package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// BatchStatus is the lifecycle state of a queue batch; see docs/state_machine.md.
type BatchStatus string

// Batch states, as services-progress reports them.
const (
	// BatchWaiting: open, collecting the account's changes; its token is shared.
	BatchWaiting BatchStatus = "waiting"
	// BatchRunning: claimed by the worker; new changes go to a new batch.
	BatchRunning BatchStatus = "running"
	// BatchSuccess: every change applied.
	BatchSuccess BatchStatus = "success"
	// BatchFailure: applied, but at least one change failed (see its error).
	BatchFailure BatchStatus = "failure"
)

// ChangeStatus is the state of one change inside a batch.
type ChangeStatus string

// Change states.
const (
	ChangePending ChangeStatus = "pending"
	ChangeApplied ChangeStatus = "applied"
	ChangeFailed  ChangeStatus = "failed"
)

// Batch is a group of changes of one account applied together.
type Batch struct {
	ID        int64
	Token     string
	AccountID int64
	Status    BatchStatus
	Scheduled time.Time
	Executed  time.Time // zero until claimed
	Finished  time.Time // zero until final
	// ClaimedBy is the node that claimed the batch ("" if none did, or a
	// worker that has no node name).
	ClaimedBy string
}

// Change is one queued mutation. Args never hold a plain secret.
type Change struct {
	ID      int64
	BatchID int64
	Command string
	UserID  int64
	Args    json.RawMessage
	Status  ChangeStatus
	Error   string
	// ErrorCode is the structured form of Error for the dialects (see
	// queue.CodedError); "" if the error had none.
	ErrorCode string
	// Actor is who queued the change ("key:12", an admin JID, "cli" ...).
	Actor string
}

const changeCols = `id, batch_id, command, COALESCE(user_id, 0), args, status, error, error_code, actor`

const batchCols = `id, token, account_id, status, scheduled, executed, finished, COALESCE(claimed_by, '')`

func scanBatch(row interface{ Scan(...any) error }) (Batch, error) {
	var b Batch
	var sch, exe, fin sql.NullString
	err := row.Scan(&b.ID, &b.Token, &b.AccountID, &b.Status, &sch, &exe, &fin, &b.ClaimedBy)
	if errors.Is(err, sql.ErrNoRows) {
		return b, ErrNotFound
	}
	b.Scheduled, b.Executed, b.Finished = parseTime(sch), parseTime(exe), parseTime(fin)
	return b, err
}

func scanChange(row rowScanner) (Change, error) {
	var c Change
	var args string
	err := row.Scan(&c.ID, &c.BatchID, &c.Command, &c.UserID, &args, &c.Status, &c.Error, &c.ErrorCode, &c.Actor)
	if errors.Is(err, sql.ErrNoRows) {
		return c, ErrNotFound
	}
	c.Args = json.RawMessage(args)
	return c, err
}

// The account's waiting batch. On PostgreSQL it is read FOR SHARE: a
// node's claim must not take the batch between this read and the commit of
// the change added to it, or the claimer would apply the batch without
// that change (SQLite's single writer orders them anyway). The change's
// foreign key alone locks the row only FOR KEY SHARE, which the cron
// claim's FOR UPDATE respects but a synchronous caller's ClaimBatch (an
// UPDATE of non-key columns) does not.
// A new one is inserted unless another node's insert won the partial
// unique index meanwhile; then that one is read again.
const (
	qWaitingBatch   = `SELECT ` + batchCols + ` FROM batches WHERE account_id = ? AND status = 'waiting'`
	qWaitingBatchPG = qWaitingBatch + ` FOR SHARE`
	qInsertWaiting  = `INSERT INTO batches (token, account_id, status, scheduled) VALUES (?, ?, 'waiting', ?)
		ON CONFLICT (account_id) WHERE status = 'waiting' DO NOTHING RETURNING ` + batchCols
)

// openBatchTries bounds OpenBatch's rounds: each lost one means another
// node inserted, or claimed, the account's waiting batch in between.
const openBatchTries = 20

// OpenBatch returns the account's waiting batch, creating it with token if
// there is none. The partial unique index keeps it one per account, also
// when nodes sharing a PostgreSQL store open it at the same moment.
func (t *Tx) OpenBatch(ctx context.Context, accountID int64, token string) (Batch, error) {
	for try := 1; ; try++ {
		b, err := scanBatch(t.q.QueryRowContext(ctx, t.pick(qWaitingBatch, qWaitingBatchPG), accountID))
		if !errors.Is(err, ErrNotFound) {
			return b, err
		}
		err = t.guard(ctx, func() error {
			b, err = scanBatch(t.q.QueryRowContext(ctx, qInsertWaiting, token, accountID, t.stamp()))
			return err
		})
		// ErrNotFound: the insert met another's waiting batch; a deadlock
		// (two nodes' groups each waiting on the other's new batch): this
		// one was chosen to give way, and its savepoint has.
		retry := errors.Is(err, ErrNotFound) || pgCode(err) == "40P01"
		if !retry || try == openBatchTries {
			if retry {
				err = fmt.Errorf("store: no waiting batch for account %d after %d tries: %w", accountID, try, err)
			}
			return b, err
		}
	}
}

// InsertChange appends a change to a batch.
func (t *Tx) InsertChange(ctx context.Context, c Change) (Change, error) {
	if len(c.Args) == 0 {
		c.Args = json.RawMessage("{}")
	}
	var user any
	if c.UserID != 0 {
		user = c.UserID
	}
	id, err := t.insertID(ctx, `INSERT INTO changes (batch_id, command, user_id, args, actor) VALUES (?, ?, ?, ?, ?)`,
		c.BatchID, c.Command, user, string(c.Args), c.Actor)
	if err != nil {
		return c, err
	}
	c.ID = id
	c.Status = ChangePending
	return c, nil
}

// BatchByToken finds a batch by its token.
func (r Reader) BatchByToken(ctx context.Context, token string) (Batch, error) {
	return scanBatch(r.q.QueryRowContext(ctx, `SELECT `+batchCols+` FROM batches WHERE token = ?`, token))
}

// Batch returns a batch by id.
func (r Reader) Batch(ctx context.Context, id int64) (Batch, error) {
	return scanBatch(r.q.QueryRowContext(ctx, `SELECT `+batchCols+` FROM batches WHERE id = ?`, id))
}

// The claim: SQLite has one writer, so the oldest waiting batches are
// simply taken; on PostgreSQL several nodes claim at once, and each skips
// the rows another's claim has locked, so a batch is claimed exactly once.
// The claimer's name goes with the batch, for recovery.
const (
	qClaimBatches = `UPDATE batches SET status = 'running', executed = ?, claimed_by = ?
		WHERE id IN (SELECT id FROM batches WHERE status = 'waiting' ORDER BY id LIMIT ?)
		RETURNING ` + batchCols
	qClaimBatchesPG = `UPDATE batches SET status = 'running', executed = ?, claimed_by = ?
		WHERE id IN (SELECT id FROM batches WHERE status = 'waiting' ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED)
		RETURNING ` + batchCols
)

// ClaimBatches moves up to limit waiting batches to running for node,
// oldest first, in one statement, and returns them.
func (t *Tx) ClaimBatches(ctx context.Context, node string, limit int) ([]Batch, error) {
	return t.batches(ctx, t.pick(qClaimBatches, qClaimBatchesPG), t.stamp(), node, limit)
}

// ClaimBatch moves one waiting batch to running for node; ErrNotFound if
// it is not waiting.
func (t *Tx) ClaimBatch(ctx context.Context, id int64, node string) (Batch, error) {
	return scanBatch(t.q.QueryRowContext(ctx, `UPDATE batches SET status = 'running', executed = ?, claimed_by = ?
		WHERE id = ? AND status = 'waiting' RETURNING `+batchCols, t.stamp(), node, id))
}

// Recovery: a running batch is node's to apply again if node claimed it
// (a crash of this node, or of its earlier run) or, with orphans, if no
// live node did (its claimer's lease passed, or it never had one). One
// statement takes it, so of two survivors only one recovers a dead node's
// batch: on PostgreSQL the second skips the row the first has locked, or
// re-reads it after the first committed and finds it claimed by a live node.
const (
	qRecoverBatches = `UPDATE batches SET claimed_by = ?1
		WHERE id IN (SELECT id FROM batches WHERE status = 'running' AND (?4 = 0 OR id = ?4)
			AND (COALESCE(claimed_by, '') = ?1 OR (?2 = 1 AND (claimed_by IS NULL
				OR claimed_by NOT IN (SELECT name FROM nodes WHERE lease_until > ?3))))
			ORDER BY id LIMIT ?5` + `%s)
		RETURNING ` + batchCols
)

var (
	qRecoverBatchesSQLite = fmt.Sprintf(qRecoverBatches, "")
	qRecoverBatchesPG     = fmt.Sprintf(qRecoverBatches, " FOR UPDATE SKIP LOCKED")
)

// RecoverBatches takes for node up to limit running batches that node
// must apply again (see above; id > 0: that batch only), oldest first.
func (t *Tx) RecoverBatches(ctx context.Context, node string, orphans bool, id int64, limit int) ([]Batch, error) {
	now, err := t.NodeClock(ctx)
	if err != nil {
		return nil, err
	}
	return t.batches(ctx, t.pick(qRecoverBatchesSQLite, qRecoverBatchesPG), node, orphans, now.UnixMilli(), id, limit)
}

// HoldBatch checks, inside the transaction that applies batch id, that node
// still holds it, and on PostgreSQL locks it until that transaction ends,
// so no other node recovers it meanwhile. ErrNotFound: another node took
// the batch over (this node's lease passed), which applies it instead.
func (t *Tx) HoldBatch(ctx context.Context, id int64, node string) error {
	var got int64
	err := t.q.QueryRowContext(ctx, t.pick(qHoldBatch, qHoldBatch+` FOR NO KEY UPDATE`), id, node).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("batch %d is no longer held by node %q: %w", id, node, ErrNotFound)
	}
	return err
}

const qHoldBatch = `SELECT id FROM batches WHERE id = ? AND status = 'running' AND COALESCE(claimed_by, '') = ?`

// RunningBatches lists batches left running, e.g. by a crash, oldest first.
func (r Reader) RunningBatches(ctx context.Context) ([]Batch, error) {
	return r.batches(ctx, `SELECT `+batchCols+` FROM batches WHERE status = 'running' ORDER BY id`)
}

func (r Reader) batches(ctx context.Context, q string, args ...any) ([]Batch, error) {
	return queryAll(ctx, r.q, scanBatch, q, args...)
}

// Changes lists a batch's changes in the order they were queued.
func (r Reader) Changes(ctx context.Context, batchID int64) ([]Change, error) {
	return queryAll(ctx, r.q, scanChange, `SELECT `+changeCols+`
		FROM changes WHERE batch_id = ? ORDER BY id`, batchID)
}

// QueuedChange is a change as the worker applies it, with the keys
// derived ahead for it (nil if none were).
type QueuedChange struct {
	Change
	Derived []byte
}

// qChangesToApply is Changes with the keys derived ahead, in one pass:
// a second query over a batch of 100,000 changes for the keys cost a
// tenth of the apply. It leaves out the error columns, empty while a
// change is pending (each column read is a few cgo calls per row), and
// the columns are scanned into plain types, which the driver's values
// convert to without reflection (bench/batch).
const qChangesToApply = `SELECT id, command, COALESCE(user_id, 0), args, status, actor, derived
	FROM changes WHERE batch_id = ? ORDER BY id`

// ChangesToApply lists a batch's changes in the order they were queued,
// each with the keys derived ahead for it: what the worker needs to apply
// the pending ones. A change already final comes without its Error and
// ErrorCode (Changes has them).
func (r Reader) ChangesToApply(ctx context.Context, batchID int64) ([]QueuedChange, error) {
	rows, err := r.q.QueryContext(ctx, qChangesToApply, batchID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []QueuedChange
	for rows.Next() {
		c := QueuedChange{Change: Change{BatchID: batchID}}
		var args []byte
		var status string
		if err := rows.Scan(&c.ID, &c.Command, &c.UserID, &args, &status, &c.Actor, &c.Derived); err != nil {
			return nil, err
		}
		c.Args, c.Status = args, ChangeStatus(status)
		out = append(out, c)
	}
	return out, rows.Err()
}

// FinishChange records a change's outcome.
func (t *Tx) FinishChange(ctx context.Context, id int64, status ChangeStatus, errText, errCode string) error {
	return mustAffect(t.q.ExecContext(ctx, `UPDATE changes SET status = ?, error = ?, error_code = ?, derived = NULL WHERE id = ?`, status, errText, errCode, id))
}

// FinishBatch records a batch's final state and time.
func (t *Tx) FinishBatch(ctx context.Context, id int64, status BatchStatus) error {
	return mustAffect(t.q.ExecContext(ctx, `UPDATE batches SET status = ?, finished = ? WHERE id = ? AND status = 'running'`,
		status, t.stamp(), id))
}

// FinishPendingChanges marks every still pending change of a batch applied.
func (t *Tx) FinishPendingChanges(ctx context.Context, batchID int64) error {
	_, err := t.q.ExecContext(ctx, `UPDATE changes SET status = 'applied', derived = NULL WHERE batch_id = ? AND status = 'pending'`, batchID)
	return err
}

// WaitingChanges lists the changes of every waiting batch, oldest first.
func (r Reader) WaitingChanges(ctx context.Context) ([]Change, error) {
	return queryAll(ctx, r.q, scanChange, `SELECT c.id, c.batch_id, c.command, COALESCE(c.user_id, 0), c.args, c.status, c.error, c.error_code, c.actor
		FROM changes c JOIN batches b ON b.id = c.batch_id WHERE b.status = 'waiting' ORDER BY c.id`)
}

const (
	qChangeByID   = `SELECT ` + changeCols + ` FROM changes WHERE id = ?`
	qOpenBatchIDs = `SELECT id FROM batches WHERE account_id = ? AND status IN ('waiting', 'running') ORDER BY id`
)

// ChangeByID returns one change by id.
func (r Reader) ChangeByID(ctx context.Context, id int64) (Change, error) {
	c, err := scanChange(r.q.QueryRowContext(ctx, qChangeByID, id))
	if err != nil {
		return Change{}, err
	}
	return c, nil
}

// OpenBatchIDs lists an account's batches that are not final yet (waiting
// or running), oldest first.
func (r Reader) OpenBatchIDs(ctx context.Context, account int64) ([]int64, error) {
	return queryAll(ctx, r.q, scanColumn[int64], qOpenBatchIDs, account)
}

// BatchSummary is a batch with the count of its changes and of those that
// failed.
type BatchSummary struct {
	Batch
	Changes, Failed int
}

const qRecentBatches = `SELECT b.id, b.token, b.account_id, b.status, b.scheduled, b.executed, b.finished,
	(SELECT count(*) FROM changes c WHERE c.batch_id = b.id),
	(SELECT count(*) FROM changes c WHERE c.batch_id = b.id AND c.status = 'failed')
	FROM batches b
	WHERE (?1 IS NULL OR b.account_id IN (SELECT value FROM json_each(?1))) AND (?2 = '' OR b.status = ?2)
	ORDER BY b.id DESC LIMIT ?3`

// RecentBatches lists the newest limit batches of accounts (nil: all) in
// status ("" any), newest first.
func (r Reader) RecentBatches(ctx context.Context, accounts []int64, status BatchStatus, limit int) ([]BatchSummary, error) {
	return queryAll(ctx, r.q, func(row rowScanner) (BatchSummary, error) {
		var s BatchSummary
		var sch, exe, fin sql.NullString
		err := row.Scan(&s.ID, &s.Token, &s.AccountID, &s.Status, &sch, &exe, &fin, &s.Changes, &s.Failed)
		s.Scheduled, s.Executed, s.Finished = parseTime(sch), parseTime(exe), parseTime(fin)
		return s, err
	}, qRecentBatches, accountsArg(accounts), string(status), limit)
}

// FailedChange is a failed change with its batch's token, account and
// finishing time.
type FailedChange struct {
	Change
	Token     string
	AccountID int64
	Finished  time.Time
}

const qFailedChanges = `SELECT c.id, c.batch_id, c.command, COALESCE(c.user_id, 0), c.args, c.status, c.error, c.error_code, c.actor,
	b.token, b.account_id, b.finished
	FROM changes c JOIN batches b ON b.id = c.batch_id
	WHERE c.status = 'failed' AND (?1 IS NULL OR b.account_id IN (SELECT value FROM json_each(?1)))
	ORDER BY c.id DESC LIMIT ?2`

// FailedChanges lists the newest limit failed changes of accounts (nil:
// all), newest first.
func (r Reader) FailedChanges(ctx context.Context, accounts []int64, limit int) ([]FailedChange, error) {
	return queryAll(ctx, r.q, func(row rowScanner) (FailedChange, error) {
		var f FailedChange
		var args string
		var fin sql.NullString
		err := row.Scan(&f.ID, &f.BatchID, &f.Command, &f.UserID, &args, &f.Status, &f.Error, &f.ErrorCode, &f.Actor,
			&f.Token, &f.AccountID, &fin)
		f.Args, f.Finished = json.RawMessage(args), parseTime(fin)
		return f, err
	}, qFailedChanges, accountsArg(accounts), limit)
}

// QueueDepth is how much work the queue holds.
type QueueDepth struct {
	Waiting, Running int // batches
	Pending          int // changes not applied yet
}

const qQueueDepth = `SELECT
	(SELECT count(*) FROM batches WHERE status = 'waiting' AND (?1 IS NULL OR account_id IN (SELECT value FROM json_each(?1)))),
	(SELECT count(*) FROM batches WHERE status = 'running' AND (?1 IS NULL OR account_id IN (SELECT value FROM json_each(?1)))),
	(SELECT count(*) FROM changes c JOIN batches b ON b.id = c.batch_id
		WHERE b.status IN ('waiting', 'running') AND c.status = 'pending' AND (?1 IS NULL OR b.account_id IN (SELECT value FROM json_each(?1))))`

// Depth counts the waiting and running batches of accounts (nil: all) and
// their pending changes.
func (r Reader) Depth(ctx context.Context, accounts []int64) (QueueDepth, error) {
	var d QueueDepth
	err := r.q.QueryRowContext(ctx, qQueueDepth, accountsArg(accounts)).Scan(&d.Waiting, &d.Running, &d.Pending)
	return d, err
}

// accountsArg is accounts for a "?1 IS NULL OR … json_each(?1)" clause:
// NULL (every account) for nil, an ids NULL so PostgreSQL still reads
// the list as ids.
func accountsArg(accounts []int64) any {
	if accounts == nil {
		return noIDs
	}
	return idList(accounts)
}

// Keys derived ahead (queue.Worker's deriver): read and written only by the
// worker, never part of Change, so no command can show them.

// ChangesToDerive lists up to limit pending changes after id after, of
// waiting batches, with no keys derived yet, oldest first.
func (r Reader) ChangesToDerive(ctx context.Context, after int64, limit int) ([]Change, error) {
	return queryAll(ctx, r.q, scanChange, `SELECT c.id, c.batch_id, c.command, COALESCE(c.user_id, 0), c.args, c.status, c.error, c.error_code, c.actor
		FROM changes c JOIN batches b ON b.id = c.batch_id
		WHERE c.id > ? AND b.status = 'waiting' AND c.status = 'pending' AND c.derived IS NULL ORDER BY c.id LIMIT ?`, after, limit)
}

// FirstWaitingChange returns the id of the oldest change of a waiting
// batch, 0 if there is none: where the deriver starts after a restart
// instead of reading the whole history.
func (r Reader) FirstWaitingChange(ctx context.Context) (int64, error) {
	var id int64
	err := r.q.QueryRowContext(ctx, `SELECT COALESCE(min(c.id), 0) FROM changes c
		WHERE c.batch_id IN (SELECT id FROM batches WHERE status = 'waiting')`).Scan(&id)
	return id, err
}

// SetDerived stores keys derived ahead for a change still pending; a
// change already final keeps none.
func (t *Tx) SetDerived(ctx context.Context, id int64, keys []byte) error {
	_, err := t.q.ExecContext(ctx, `UPDATE changes SET derived = ? WHERE id = ? AND status = 'pending'`, keys, id)
	return err
}

// DerivedKeys returns the keys derived ahead for a batch's changes, by change id.
func (r Reader) DerivedKeys(ctx context.Context, batchID int64) (map[int64][]byte, error) {
	type row struct {
		id   int64
		keys []byte
	}
	rows, err := queryAll(ctx, r.q, func(s rowScanner) (row, error) {
		var x row
		err := s.Scan(&x.id, &x.keys)
		return x, err
	}, `SELECT id, derived FROM changes WHERE batch_id = ? AND derived IS NOT NULL`, batchID)
	if err != nil {
		return nil, err
	}
	m := make(map[int64][]byte, len(rows))
	for _, x := range rows {
		m[x.id] = x.keys
	}
	return m, nil
}
