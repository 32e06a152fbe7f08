package xmppcore

import (
	"bytes"
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmlel"
	"github.com/xmppgate/xmppgate/xmppcore/archive"
	"github.com/xmppgate/xmppgate/xmppcore/modcfg"
	"github.com/xmppgate/xmppgate/xmppcore/muc"
)

// XEP-0313 archives of rooms: one row per groupchat message a room
// broadcasts, written in batches by an archive.Writer as the users'
// archive is; the row's ID is the room's XEP-0359 stanza-id. A room
// archives when its configuration says so (on by default where the
// domain's modMam is on); modMam's retentionDays applies.

func (s *Server) newRoomArchive() error {
	last, err := s.st.RoomArchiveMaxID(context.Background())
	if err != nil {
		return err
	}
	log := s.log.Named("muc.archive")
	s.muc.arch = archive.NewWriter(func(rows []store.RoomArchiveRow) func() error {
		ctx := context.Background()
		return s.st.WriteAsync(ctx, func(tx *store.Tx) error { return tx.InsertRoomArchive(ctx, rows) })
	}, func(r *store.RoomArchiveRow, id int64) { r.ID = id }, archive.WriterOptions{
		LastID:  last,
		OnError: func(err error, n int) { log.Error("room archive batch lost", zap.Int("rows", n), zap.Error(err)) },
	})
	go s.roomArchiveRetention(log)
	return nil
}

// mucArchive archives a groupchat message of occupant o (m as the room
// broadcasts it, without its stanza-id) and returns the stanza-id the
// room gives it. r.mu is held.
func (s *Server) mucArchive(r *room, o *occupant, m *xmlel.Element, now time.Time, d modcfg.Domain) string {
	if !r.cfg.Archive || !d.On(modcfg.Mam) || s.muc.arch == nil || m.Child(nsClient, "body") == nil {
		return newID()
	}
	rid := r.id.Load()
	if rid == 0 {
		// The archive names the room's row: a temporary room gets it with
		// its first archived message (once; the batch does not take r.mu).
		s.askRowLocked(r)
		if rid = r.waitRow(); rid == 0 {
			return newID()
		}
	}
	id := s.muc.arch.Add(now, store.RoomArchiveRow{RoomID: rid, Nick: o.nick, Sender: o.bare, Stanza: m.Bytes("")})
	if id == 0 {
		return newID()
	}
	return archive.FormatID(id)
}

// mucMAM answers a XEP-0313 query to a room: what the room archived, for
// those who may enter it (members and above in a members-only room).
func (s *Server) mucMAM(r *room, c *conn, iq, q *xmlel.Element, d modcfg.Domain) (*xmlel.Element, *stanzaErr) {
	r.mu.Lock()
	// A room without a row has archived nothing (mucArchive writes it first).
	cfg, aff, id := r.cfg, r.affOf(c.bare), r.id.Load()
	r.mu.Unlock()
	switch {
	case !cfg.Archive || !d.On(modcfg.Mam) || s.muc.arch == nil:
		return nil, &errFeatureNotImpl
	case aff == muc.Outcast || !s.mucMayEnter(c, d):
		return nil, &errForbidden
	case cfg.MembersOnly && muc.Rank(aff) < muc.Rank(muc.Member):
		return nil, &errForbidden
	}
	if iq.Get("type") == "get" {
		return archive.Form(q.Name.Space), nil
	}
	req, err := archive.ParseQuery(q)
	if err != nil {
		return nil, &errBadRequest
	}
	ctx := context.Background()
	f := store.RoomArchiveFilter{RoomID: id, IDs: req.ArchiveIDs()}
	if req.With != "" {
		// A room's archive is with its occupants (room@service/nick), or
		// with the room as a whole.
		if req.With != r.jid {
			return archive.Fin(req.NS, true, 0, 0), nil
		}
		f.Nick = req.WithResource
	}
	lo, hi := req.Bounds()
	s.muc.arch.Sync()
	rows, first, last, complete, serr := mamPage(req, lo, hi,
		func(n int64) (bool, error) { return s.st.RoomArchiveHas(ctx, id, n) },
		func(lo, hi int64, lastRows bool, limit int) ([]store.RoomArchiveRow, error) {
			f.MinID, f.MaxID, f.Last, f.Limit = lo, hi, lastRows, limit
			rows, err := s.st.RoomArchive(ctx, f)
			if err != nil {
				s.log.Warn("room archive query", zap.Error(err))
			}
			return rows, err
		}, func(row store.RoomArchiveRow) int64 { return row.ID })
	if serr != nil {
		return nil, serr
	}
	var buf bytes.Buffer
	to := c.full.String()
	for _, row := range rows {
		buf.Reset()
		resultMessage(&buf, req.NS, req.QueryID, r.jid, to, store.ArchiveRow{ID: row.ID, Stanza: row.Stanza})
		c.send(bytes.Clone(buf.Bytes()))
	}
	return archive.Fin(req.NS, complete, first, last), nil
}

// roomArchiveRetention purges, every archiveRetentionEvery, the room
// messages older than their domain's modMam.retentionDays.
func (s *Server) roomArchiveRetention(log *zap.Logger) {
	t := time.NewTicker(archiveRetentionEvery)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		s.PurgeRoomArchive(context.Background(), time.Now())
	}
}

// PurgeRoomArchive applies each domain's retention to its rooms' archives.
func (s *Server) PurgeRoomArchive(ctx context.Context, now time.Time) int64 {
	s.muc.mu.RLock()
	fqdns := map[string]bool{}
	for _, r := range s.muc.rooms {
		fqdns[r.fqdn] = true
	}
	s.muc.mu.RUnlock()
	var n int64
	for fqdn := range fqdns {
		d, ok := s.hosted(fqdn)
		if !ok || d.MamRetentionDays <= 0 {
			continue
		}
		before := now.Add(-time.Duration(d.MamRetentionDays) * 24 * time.Hour).UnixMicro()
		_ = s.st.Write(ctx, func(tx *store.Tx) error {
			k, err := tx.DeleteOldRoomArchive(ctx, d.ID, before)
			n += k
			return err
		})
	}
	return n
}
