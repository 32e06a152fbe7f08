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
	s.pushRemote(c.bare, contact)
	it, err := s.st.RosterItemWithShared(context.Background(), c.user, contact)
	if err != nil || !it.Visible {
		s.pushRoster(c.bare, store.RosterItem{Contact: contact}, true, ver)
		return
	}
	s.pushRoster(c.bare, it, false, ver)
}

// sharedPresence follows a roster change of user u (bare) for contact:
// when the contact is a shared contact now, its available resources'
// presence is sent to the user at once, as a new subscription would; when
// the contact left the user's roster, the user learns it is unavailable. Pushes come for both sides of a shared
// membership change, so presence flows both ways.
func (s *Server) sharedPresence(ctx context.Context, u store.User, bare, contact string, visible bool) {
	if len(s.availableOf(bare)) == 0 || (len(s.availableOf(contact)) == 0 && len(s.remoteAvailable(contact)) == 0) {
		return
	}
	shared, err := s.st.SharedContacts(ctx, u)
	if err != nil {
		return
	}
	for _, sc := range shared {
		if sc.JID == contact {
			s.copyPresence(contact, bare, false)
			return
		}
	}
	if !visible {
		s.copyPresence(contact, bare, true)
	}
}
