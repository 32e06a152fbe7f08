package xmppcore

import (
	"context"

	"github.com/xmppgate/xmppgate/store"
)

// Shared roster groups (docs/shared-groups.md): the store lays the contacts
// a user sees through shared groups over the stored roster
// (store.RosterWithShared) as items with subscription both. The roster get,
// presence broadcast and probes, last activity and roster pushes all read
// that merged roster, so shared contacts exchange presence as if
// subscribed. Shared items are not stored rows: a client may rename or
// regroup one (that stores a row, merged with the shared one), but
// removing one that has no stored row answers item-not-found.

// pushMerged pushes contact's item of c's user as the merged roster has it
// after a roster set or remove: a shared contact stays, with its shared
// groups, when the stored row goes.
func (s *Server) pushMerged(c *conn, contact string, ver int64) {
	it, err := s.st.RosterItemWithShared(context.Background(), c.user, contact)
	if err != nil || !it.Visible {
		s.pushRoster(c.bare, store.RosterItem{Contact: contact}, true, ver)
		return
	}
	s.pushRoster(c.bare, it, false, ver)
}
