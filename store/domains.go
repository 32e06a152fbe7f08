package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"
)

// Domain is an XMPP domain (virtual host) owned by one account.
type Domain struct {
	ID        int64
	AccountID int64
	FQDN      string
	Enabled   bool
	// Settings is the domain's JSON settings object (moduleConfig and the
	// REST API's fields); "{}" when none were set.
	Settings json.RawMessage
	Created  time.Time
}

// InsertDomain creates a domain; ErrDuplicate if any account has it already.
func (t *Tx) InsertDomain(ctx context.Context, accountID int64, fqdn string) (Domain, error) {
	t.dirDirty = true
	d := Domain{AccountID: accountID, FQDN: fqdn, Enabled: true, Settings: json.RawMessage("{}")}
	id, err := t.insertUnique(ctx, `INSERT INTO domains (account_id, fqdn, created) VALUES (?, ?, ?)`, accountID, fqdn, t.stamp())
	if err != nil {
		return d, constraintErr(err)
	}
	d.ID = id
	d.Created = t.now().UTC().Truncate(time.Second)
	return d, nil
}

// SetDomainEnabled switches a domain on or off.
func (t *Tx) SetDomainEnabled(ctx context.Context, id int64, enabled bool) error {
	t.dirDirty = true
	return mustAffect(t.q.ExecContext(ctx, `UPDATE domains SET enabled = ? WHERE id = ?`, enabled, id))
}

// SetDomainSettings replaces a domain's settings object.
func (t *Tx) SetDomainSettings(ctx context.Context, id int64, settings json.RawMessage) error {
	t.dirDirty = true
	return mustAffect(t.q.ExecContext(ctx, `UPDATE domains SET settings = ? WHERE id = ?`, string(settings), id))
}

const domainCols = `id, account_id, fqdn, enabled, settings, created`

func scanDomain(row interface{ Scan(...any) error }) (Domain, error) {
	var d Domain
	var settings string
	var created sql.NullString
	err := row.Scan(&d.ID, &d.AccountID, &d.FQDN, &d.Enabled, &settings, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return d, ErrNotFound
	}
	d.Settings = json.RawMessage(settings)
	d.Created = parseTime(created)
	return d, err
}

// DomainByFQDN returns a domain by name (already lower-cased by the caller).
func (r Reader) DomainByFQDN(ctx context.Context, fqdn string) (Domain, error) {
	return scanDomain(r.q.QueryRowContext(ctx, `SELECT `+domainCols+` FROM domains WHERE fqdn = ?`, fqdn))
}

// Domains lists the domains of the given accounts by name; nil accounts means all.
func (r Reader) Domains(ctx context.Context, accounts []int64) ([]Domain, error) {
	where, args := ofAccounts("account_id", accounts)
	return queryAll(ctx, r.q, scanDomain, `SELECT `+domainCols+` FROM domains`+where+` ORDER BY fqdn`, args...)
}

const (
	qDeleteDomainUsers = `DELETE FROM users WHERE domain_id = ?`
	qDeleteDomain      = `DELETE FROM domains WHERE id = ?`
	qCountDomainUsers  = `SELECT count(*) FROM users WHERE domain_id = ?`
)

// DeleteDomain removes a domain with its users (whose data goes by ON
// DELETE CASCADE) and everything else hanging off the domain.
// ErrNotFound if it does not exist.
func (t *Tx) DeleteDomain(ctx context.Context, id int64) error {
	t.dirDirty = true
	if _, err := t.q.ExecContext(ctx, qDeleteDomainUsers, id); err != nil {
		return err
	}
	return mustAffect(t.q.ExecContext(ctx, qDeleteDomain, id))
}

// CountDomainUsers counts a domain's users in every state.
func (r Reader) CountDomainUsers(ctx context.Context, domainID int64) (int, error) {
	var n int
	err := r.q.QueryRowContext(ctx, qCountDomainUsers, domainID).Scan(&n)
	return n, err
}
