package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmlel"
)

// The purge family for offline messages and old accounts
// (ejabberd_admin, mod_admin_extra). ejabberd purges every vhost it
// serves; here a caller purges the domains of its accounts (the operator:
// every domain). Deletions are queued changes like every mutation: the
// one-shot commands answer once theirs is applied, the batch command's
// background task queues and applies one change per batch.

// purgeDefs is the purge family.
var purgeDefs = []*Def{DeleteOldMessages, DeleteExpiredMessages, DeleteOldMessagesBatch, DeleteOldMessagesStatus,
	AbortDeleteOldMessages, DeleteOldUsers, DeleteOldUsersVhost}

// ReasonInProgress: a batch deletion already runs on the host.
const ReasonInProgress Reason = "in_progress"

var argDays = Arg{Name: "days", Type: Int, Doc: "Age in days."}

// purgeCutoff is the bound of "older than days days": messages are stored
// with whole seconds, so one stored in the cutoff's second counts as older
// (days 0 deletes every message, as ejabberd's microsecond cutoff does).
func purgeCutoff(c *Call, days int64) time.Time {
	return c.Env.Store.Now().Add(-time.Duration(days) * 24 * time.Hour).Truncate(time.Second).Add(time.Second)
}

func domainIDs(ds []store.Domain) []int64 {
	out := make([]int64, 0, len(ds))
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}

// offlinePurge is the change record of delete_old_messages (Before) and
// delete_expired_messages (IDs).
type offlinePurge struct {
	DomainIDs []int64 `json:"domain_ids,omitempty"`
	Before    string  `json:"before,omitempty"`
	IDs       []int64 `json:"ids,omitempty"`
}

func queuePurge(ctx context.Context, c *Call, p offlinePurge) (Receipt, error) {
	return c.Mutate(ctx, func(*store.Tx) (store.Change, error) {
		return changeOf(0, p)
	})
}

// DeleteOldMessages is ejabberd's delete_old_messages.
var DeleteOldMessages = &Def{
	Name: "delete_old_messages",
	Doc: "Deletes the offline messages stored more than days days ago for the users of the caller's domains (the " +
		"operator: every domain), applied before it answers 0. days 0 deletes every stored message.",
	Args:    []Arg{argDays},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "delete_old_messages"},
	Handle:  deleteOldMessages,
	Apply:   applyDeleteOldMessages,
}

func deleteOldMessages(ctx context.Context, c *Call) (any, error) {
	ds, err := callerDomains(ctx, c)
	if err != nil || len(ds) == 0 {
		return StatusOK, err
	}
	before := purgeCutoff(c, c.Args.Int("days"))
	return queuePurge(ctx, c, offlinePurge{DomainIDs: domainIDs(ds), Before: before.UTC().Format(time.RFC3339)})
}

func applyDeleteOldMessages(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
	var p offlinePurge
	if err := json.Unmarshal(w.Args, &p); err != nil {
		return err
	}
	before, err := time.Parse(time.RFC3339, p.Before)
	if err != nil {
		return err
	}
	_, err = tx.DeleteOldOffline(ctx, p.DomainIDs, before)
	return err
}

const (
	nsXExpire = "jabber:x:expire"
	nsAMP     = "http://jabber.org/protocol/amp"
)

// expiry is when a stored message expires: jabber:x:expire (XEP-0023,
// what ejabberd's mod_offline honours) counts seconds from when it was
// stored; an XEP-0079 expire-at rule gives the time. ok is false for a
// message that never expires.
func expiry(m store.OfflineMessage) (t time.Time, ok bool) {
	el, err := xmlel.Parse(m.Stanza)
	if err != nil {
		return t, false
	}
	if x := el.Child(nsXExpire, "x"); x != nil {
		if s, err := strconv.ParseInt(x.Get("seconds"), 10, 64); err == nil && s >= 0 {
			t, ok = m.Created.Add(time.Duration(s)*time.Second), true
		}
	}
	if amp := el.Child(nsAMP, "amp"); amp != nil {
		for _, r := range amp.Elements() {
			if r.Name.Local != "rule" || r.Get("condition") != "expire-at" {
				continue
			}
			if at, err := time.Parse(time.RFC3339, r.Get("value")); err == nil && (!ok || at.Before(t)) {
				t, ok = at, true
			}
		}
	}
	return t, ok
}

// DeleteExpiredMessages is ejabberd's delete_expired_messages.
var DeleteExpiredMessages = &Def{
	Name: "delete_expired_messages",
	Doc: "Deletes the offline messages of the caller's domains (the operator: every domain) whose expiry has " +
		"passed: a jabber:x:expire (XEP-0023) seconds counted from when the message was stored, or an XEP-0079 " +
		"expire-at rule. Messages without either never expire. Applied before it answers 0.",
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "delete_expired_messages"},
	Handle:  deleteExpiredMessages,
	Apply:   applyDeleteExpiredMessages,
}

func deleteExpiredMessages(ctx context.Context, c *Call) (any, error) {
	ds, err := callerDomains(ctx, c)
	if err != nil || len(ds) == 0 {
		return StatusOK, err
	}
	ms, err := c.Env.Store.OfflineExpiryCandidates(ctx, domainIDs(ds))
	if err != nil {
		return nil, err
	}
	now := c.Env.Store.Now()
	var ids []int64
	for _, m := range ms {
		if t, ok := expiry(m); ok && !now.Before(t) {
			ids = append(ids, m.ID)
		}
	}
	if len(ids) == 0 {
		return StatusOK, nil
	}
	return queuePurge(ctx, c, offlinePurge{IDs: ids})
}

func applyDeleteExpiredMessages(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
	var p offlinePurge
	if err := json.Unmarshal(w.Args, &p); err != nil {
		return err
	}
	_, err := tx.DeleteOfflineIDs(ctx, p.IDs)
	return err
}

// purgeTask is one host's batch deletion, as ejabberd_batch keeps it:
// working, then completed, aborted or failed, with the messages deleted
// so far. It lives in the process: a restart forgets it (as ejabberd does).
type purgeTask struct {
	mu    sync.Mutex
	state string // working, completed, aborted, failed
	done  int64
	err   string
	stop  chan struct{}
}

type purgeKey struct {
	st     *store.Store
	domain int64
	kind   string // "" offline messages, "mam" the message archive
}

var purgeTasks = struct {
	sync.Mutex
	m map[purgeKey]*purgeTask
	// counts holds what each applied batch change deleted, by change id,
	// until its task reads it.
	counts map[int64]int64
}{m: map[purgeKey]*purgeTask{}, counts: map[int64]int64{}}

func (t *purgeTask) status() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch t.state {
	case "working":
		return fmt.Sprintf("Operation in progress, deleted %d messages", t.done)
	case "completed":
		return fmt.Sprintf("Operation was completed after deleting %d messages", t.done)
	case "aborted":
		return fmt.Sprintf("Operation was aborted after deleting %d messages", t.done)
	}
	return fmt.Sprintf("Operation failed after deleting %d messages with error %s", t.done, t.err)
}

// finish moves a working task to state; false if it was no longer working
// (aborted meanwhile).
func (t *purgeTask) finish(state, errText string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.state != "working" {
		return false
	}
	t.state, t.err = state, errText
	return true
}

// purgeBatch is the change record of one batch of delete_old_messages_batch.
type purgeBatch struct {
	Domain string  `json:"domain"`
	IDs    []int64 `json:"ids"`
}

// runPurge deletes the host's old messages batch by batch, each batch a
// queued change applied at once, pacing itself to rate messages a minute
// (ejabberd's work_loop: sleep until done/rate minutes have passed).
func runPurge(c *Call, t *purgeTask, d store.Domain, days, size, rate int64, step purgeStepFunc) {
	ctx := context.Background()
	start := time.Now()
	var total int64
	for {
		select {
		case <-t.stop:
			return
		default:
		}
		before := purgeCutoff(c, days)
		n, err := step(ctx, c, d, before, int(size))
		if err != nil {
			t.finish("failed", err.Error())
			return
		}
		if n == 0 {
			t.finish("completed", "")
			return
		}
		t.mu.Lock()
		if t.state == "working" {
			t.done += n
		}
		t.mu.Unlock()
		total += n
		wait := time.Duration(float64(total)/float64(rate)*float64(time.Minute)) - time.Since(start)
		if wait > 0 {
			select {
			case <-t.stop:
				return
			case <-time.After(wait):
			}
		}
	}
}

// purgeStepFunc deletes one batch of at most size messages older than
// before; it returns how many it deleted (0: none left).
type purgeStepFunc func(ctx context.Context, c *Call, d store.Domain, before time.Time, size int) (int64, error)

// purgeStep queues and applies one batch of offline messages.
func purgeStep(ctx context.Context, c *Call, d store.Domain, before time.Time, size int) (int64, error) {
	ids, err := c.Env.Store.OldOfflineIDs(ctx, d.ID, before, size)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	return applyPurgeBatch(ctx, c, purgeBatch{Domain: d.FQDN, IDs: ids})
}

// applyPurgeBatch queues rec, the call's change deleting one batch, applies
// it at once and returns what it deleted (its Apply counts it in
// purgeTasks.counts).
func applyPurgeBatch(ctx context.Context, c *Call, rec any) (int64, error) {
	q, err := c.Mutate(ctx, func(*store.Tx) (store.Change, error) {
		return changeOf(0, rec)
	})
	if err != nil {
		return 0, err
	}
	chs, err := c.flush(ctx, []Receipt{q})
	if err != nil {
		return 0, err
	}
	ch := chs[0]
	purgeTasks.Lock()
	n := purgeTasks.counts[q.changeID]
	delete(purgeTasks.counts, q.changeID)
	purgeTasks.Unlock()
	if ch.Status == store.ChangeFailed {
		return 0, errors.New(ch.Error)
	}
	// Messages delivered meanwhile are gone too: never report 0 for a
	// batch that found messages, or the task would stop early.
	return max(n, 1), nil
}

// DeleteOldMessagesBatch is ejabberd's delete_old_messages_batch.
var DeleteOldMessagesBatch = &Def{
	Name: "delete_old_messages_batch",
	Doc: "Starts a background task deleting the host's offline messages older than days days, batch_size at a time " +
		"(each batch a queued change applied at once), at most rate messages a minute; answers \"\" at once. " +
		"delete_old_messages_status reports its progress, abort_delete_old_messages stops it. A task already working " +
		"on the host: 400 \"Operation in progress\". batch_size or rate below 1: 400 \"Invalid 'batch_size'\" / " +
		"\"Invalid 'rate'\" (ejabberd's task would fail). Tasks live in the process: a restart forgets them.",
	Args: []Arg{argDomain, {Name: "days", Type: Int, Doc: "Days to keep messages."},
		{Name: "batch_size", Type: Int, Doc: "Messages deleted per batch."},
		{Name: "rate", Type: Int, Doc: "Messages deleted per minute, at most."}},
	Result:  Result{Kind: ResultMessage},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "delete_old_messages_batch"},
	Handle:  deleteOldMessagesBatch,
	Apply:   applyDeleteOldMessagesBatch,
}

func deleteOldMessagesBatch(ctx context.Context, c *Call) (any, error) {
	return startPurge(c, "", purgeStep)
}

// startPurge starts the host's batch deletion of kind, one step at a time.
func startPurge(c *Call, kind string, step purgeStepFunc) (any, error) {
	size, rate := c.Args.Int("batch_size"), c.Args.Int("rate")
	if size < 1 {
		return nil, Errorf(Invalid, ReasonMalformed, "batch_size", "below 1")
	}
	if rate < 1 {
		return nil, Errorf(Invalid, ReasonMalformed, "rate", "below 1")
	}
	if c.Env.Worker == nil {
		return nil, fmt.Errorf("commands: %s needs Env.Worker", c.Def.Name)
	}
	d := c.Args.Domain("domain")
	key := purgeKey{c.Env.Store, d.ID, kind}
	purgeTasks.Lock()
	defer purgeTasks.Unlock()
	if old := purgeTasks.m[key]; old != nil {
		old.mu.Lock()
		working := old.state == "working"
		old.mu.Unlock()
		if working {
			return nil, Errorf(Invalid, ReasonInProgress, "", "Operation in progress")
		}
	}
	t := &purgeTask{state: "working", stop: make(chan struct{})}
	purgeTasks.m[key] = t
	bg := *c
	bg.UniqueID = nil
	go runPurge(&bg, t, d, c.Args.Int("days"), size, rate, step)
	return "", nil
}

func applyDeleteOldMessagesBatch(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
	var p purgeBatch
	if err := json.Unmarshal(w.Args, &p); err != nil {
		return err
	}
	n, err := tx.DeleteOfflineIDs(ctx, p.IDs)
	if err != nil {
		return err
	}
	purgeTasks.Lock()
	purgeTasks.counts[w.ID] = n
	purgeTasks.Unlock()
	return nil
}

// domainPurge is the batch deletion task of the call's host, nil if none
// was started since the process began.
func domainPurgeOf(c *Call, kind string) *purgeTask {
	purgeTasks.Lock()
	defer purgeTasks.Unlock()
	return purgeTasks.m[purgeKey{c.Env.Store, c.Args.Domain("domain").ID, kind}]
}

// purgeStatus answers a *_status command for the host's task of kind.
func purgeStatus(c *Call, kind string) (any, error) {
	t := domainPurgeOf(c, kind)
	if t == nil {
		return "Operation not started", nil
	}
	return t.status(), nil
}

// purgeAbort answers an abort_* command for the host's task of kind.
func purgeAbort(c *Call, kind string) (any, error) {
	t := domainPurgeOf(c, kind)
	if t == nil || !t.finish("aborted", "") {
		return "No task running", nil
	}
	close(t.stop)
	return "Operation aborted", nil
}

// DeleteOldMessagesStatus is ejabberd's delete_old_messages_status.
var DeleteOldMessagesStatus = &Def{
	Name: "delete_old_messages_status",
	Doc: "Reports the host's batch deletion as ejabberd does: \"Operation not started\", \"Operation in progress, " +
		"deleted N messages\", \"Operation was completed after deleting N messages\", \"Operation was aborted after " +
		"deleting N messages\" or \"Operation failed after deleting N messages with error E\".",
	Args:   []Arg{argDomain},
	Result: Result{Kind: ResultString, Name: "status"},
	Names:  map[Dialect]string{Ejabberd: "delete_old_messages_status"},
	Handle: deleteOldMessagesStatus,
}

func deleteOldMessagesStatus(ctx context.Context, c *Call) (any, error) { return purgeStatus(c, "") }

// AbortDeleteOldMessages is ejabberd's abort_delete_old_messages.
var AbortDeleteOldMessages = &Def{
	Name: "abort_delete_old_messages",
	Doc: "Stops the host's working batch deletion (\"Operation aborted\"; what was deleted stays deleted), or " +
		"answers \"No task running\".",
	Args:   []Arg{argDomain},
	Result: Result{Kind: ResultString, Name: "status"},
	Names:  map[Dialect]string{Ejabberd: "abort_delete_old_messages"},
	Handle: abortDeleteOldMessages,
}

func abortDeleteOldMessages(ctx context.Context, c *Call) (any, error) { return purgeAbort(c, "") }

// ErlangBytes writes s as Erlang's ~w shows a binary: <<b1,b2,...>>, the
// bytes in decimal (<<102,105,118,101>> for "five").
func ErlangBytes(s string) string {
	var b strings.Builder
	b.WriteString("<<")
	for i := 0; i < len(s); i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(s[i])))
	}
	b.WriteString(">>")
	return b.String()
}

// erlBinary writes s as Erlang's ~p shows a binary: <<"text">> when every
// byte is printable Latin-1, else <<b1,b2,...>>.
func erlBinary(s string) string {
	printable := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 32 && c <= 126 || c >= 160 || strings.IndexByte("\n\r\t\v\b\f\x1b", c) >= 0) {
			printable = false
			break
		}
	}
	if !printable {
		return ErlangBytes(s)
	}
	var b strings.Builder
	b.WriteString("<<")
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\v':
			b.WriteString(`\v`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case 0x1b:
			b.WriteString(`\e`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteString(`">>`)
	return b.String()
}

// erlUserList writes a list of {User, Server} binaries as io_lib:format's
// ~p does when it starts at column col: on one line if it fits, else one
// tuple a line, a tuple that does not fit split after its comma (the line
// limit, checked against Erlang/OTP, is 78 columns counting the closing
// bracket of the last element).
func erlUserList(users [][2]string, col int) string {
	const limit = 78
	tuples := make([]string, len(users))
	for i, u := range users {
		tuples[i] = "{" + erlBinary(u[0]) + "," + erlBinary(u[1]) + "}"
	}
	flat := "[" + strings.Join(tuples, ",") + "]"
	if col+len(flat) <= limit {
		return flat
	}
	ind := strings.Repeat(" ", col+1)
	var b strings.Builder
	b.WriteByte('[')
	for i, u := range users {
		if i > 0 {
			b.WriteString(",\n" + ind)
		}
		tail := 0
		if i == len(users)-1 {
			tail = 1
		}
		if col+1+len(tuples[i])+tail <= limit {
			b.WriteString(tuples[i])
		} else {
			b.WriteString("{" + erlBinary(u[0]) + ",\n" + ind + " " + erlBinary(u[1]) + "}")
		}
	}
	b.WriteByte(']')
	return b.String()
}

// deletedUsers is delete_old_users' answer text.
func deletedUsers(users [][2]string) string {
	head := fmt.Sprintf("Deleted %d users: ", len(users))
	return head + erlUserList(users, len(head))
}

// removeOldUsers queues the removal of the users of ds that are not online,
// hold no API permission (ejabberd's protect_old_users for admins) and were
// last seen (or, never seen, created) at least days days ago; each removal
// is a remove_user change, applied before it answers the removed users.
func removeOldUsers(ctx context.Context, c *Call, ds []store.Domain, days int64) (string, error) {
	cutoff := c.Env.Store.Now().Add(-time.Duration(days) * 24 * time.Hour)
	type victim struct {
		u    store.User
		name [2]string
	}
	var vs []victim
	for _, d := range ds {
		users, err := c.Env.Store.DomainUsers(ctx, d.ID)
		if err != nil {
			return "", err
		}
		seen, err := c.Env.Store.DomainLastSeen(ctx, d.ID)
		if err != nil {
			return "", err
		}
		admins, err := c.Env.Store.DomainAPIUsers(ctx, d.ID)
		if err != nil {
			return "", err
		}
		online := map[string]bool{}
		if c.Env.Live != nil {
			for _, s := range c.Env.Live.Sessions(d.FQDN, "") {
				online[s.Username] = true
			}
		}
		for _, u := range users {
			last, ok := seen[u.ID]
			if !ok {
				last = u.Created
			}
			if u.Status.Pending() || admins[u.ID] || online[u.Username] || last.After(cutoff) {
				continue
			}
			vs = append(vs, victim{u, [2]string{u.Username, d.FQDN}})
		}
	}
	if len(vs) == 0 {
		return deletedUsers(nil), nil
	}
	if c.Env.Worker == nil {
		return "", errors.New("commands: delete_old_users needs Env.Worker")
	}
	var names [][2]string
	qs, err := c.MutateEach(ctx, func(tx *store.Tx, add func(store.Change) error) error {
		names = names[:0]
		for _, v := range vs {
			u, err := tx.UserByID(ctx, v.u.ID)
			if errors.Is(err, store.ErrNotFound) || err == nil && u.Status.Pending() {
				continue // gone or changing meanwhile: not ours to remove
			}
			if err != nil {
				return err
			}
			if err := tx.SetUserStatus(ctx, u.ID, store.StatusPendingDelete); err != nil {
				return err
			}
			ch, err := changeFor(u, nil)
			if err != nil {
				return err
			}
			ch.Command = RemoveUser.Name
			if err := add(ch); err != nil {
				return err
			}
			names = append(names, v.name)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	chs, err := c.flush(ctx, qs)
	if err != nil {
		return "", err
	}
	var removed [][2]string
	for i, ch := range chs {
		if ch.Status == store.ChangeApplied {
			removed = append(removed, names[i])
		}
	}
	return deletedUsers(removed), nil
}

const deleteOldUsersDoc = " Users online, users being changed and the API's admin JIDs (what ejabberd's protect_old_users " +
	"rule is for) are kept; a user never seen counts from its creation (ejabberd deletes it whatever its age). Each " +
	"removal is a queued remove_user change, applied before the answer \"Deleted N users: [{<<\\\"u\\\">>,<<\\\"h\\\">>}]\" " +
	"(Erlang's ~p text of the removed users)."

// DeleteOldUsers is ejabberd's delete_old_users.
var DeleteOldUsers = &Def{
	Name: "delete_old_users",
	Doc: "Removes the users of every domain of the caller's accounts (the operator: every domain) that have not " +
		"logged in for days days." + deleteOldUsersDoc,
	Args:    []Arg{{Name: "days", Type: Int, Doc: "Last login age in days of the accounts to remove."}},
	Result:  Result{Kind: ResultMessage},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "delete_old_users"},
	Handle:  deleteOldUsers,
	Apply:   applyRemoveOldUser,
}

func deleteOldUsers(ctx context.Context, c *Call) (any, error) {
	ds, err := callerDomains(ctx, c)
	if err != nil {
		return nil, err
	}
	return removeOldUsers(ctx, c, ds, c.Args.Int("days"))
}

// applyRemoveOldUser is the applier of delete_old_users(_vhost). Their
// removals are queued as remove_user changes, which RemoveUser applies; a
// change under their own name would be applied the same way.
func applyRemoveOldUser(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
	return RemoveUser.Apply(ctx, env, tx, w)
}

// DeleteOldUsersVhost is ejabberd's delete_old_users_vhost.
var DeleteOldUsersVhost = &Def{
	Name:    "delete_old_users_vhost",
	Doc:     "Removes the users of one domain that have not logged in for days days." + deleteOldUsersDoc,
	Args:    []Arg{argDomain, {Name: "days", Type: Int, Doc: "Last login age in days of the accounts to remove."}},
	Result:  Result{Kind: ResultMessage},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "delete_old_users_vhost"},
	Handle:  deleteOldUsersVhost,
	Apply:   applyRemoveOldUser,
}

func deleteOldUsersVhost(ctx context.Context, c *Call) (any, error) {
	return removeOldUsers(ctx, c, []store.Domain{c.Args.Domain("domain")}, c.Args.Int("days"))
}
