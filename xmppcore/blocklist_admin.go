package xmppcore

import (
	"context"

	"mellium.im/xmpp/jid"

	"github.com/xmppgate/xmppgate/xmlel"
)

// BlocklistChanged makes a user's live sessions follow a block list changed
// in the store by an admin command (ejabberd's privacy_set): the cached list
// is re-read, resources that asked for the block list get the block and
// unblock pushes of XEP-0191 section 3.3/3.4, and newly blocked entities
// see the user go offline, as if a client had sent the change.
func (s *Server) BlocklistChanged(domain, username string) {
	bare := username + "@" + domain
	s.mu.RLock()
	a := s.accounts[bare]
	var old []string
	if a != nil {
		old = append(old, a.blocked...)
	}
	s.mu.RUnlock()
	if a == nil {
		return // loaded from the store at the next bind
	}
	list, err := s.st.BlockList(context.Background(), a.userID)
	if err != nil {
		return
	}
	s.setBlocked(bare, list)
	had, has := map[string]bool{}, map[string]bool{}
	for _, j := range old {
		had[j] = true
	}
	for _, j := range list {
		has[j] = true
	}
	block, unblock := xmlel.New(nsBlocking, "block"), xmlel.New(nsBlocking, "unblock")
	var added []string
	for _, j := range list {
		if !had[j] {
			added = append(added, j)
			block.Add(xmlel.New(nsBlocking, "item", "jid", j))
		}
	}
	for _, j := range old {
		if !has[j] {
			unblock.Add(xmlel.New(nsBlocking, "item", "jid", j))
		}
	}
	for _, j := range added {
		tj, err := jid.Parse(j)
		if err != nil || tj.Localpart() == "" {
			continue
		}
		for _, src := range s.availableOf(bare) {
			p := xmlel.New(nsClient, "presence", "type", "unavailable", "from", src.full.String(), "to", j).Bytes(nsClient)
			if tj.Resourcepart() != "" {
				if t := s.session(tj); t != nil {
					t.send(p)
				}
				continue
			}
			for _, t := range s.availableOf(j) {
				t.send(p)
			}
		}
	}
	for _, t := range s.sessionsOf(bare) {
		t.smu.Lock()
		want := t.blockReq
		t.smu.Unlock()
		if !want {
			continue
		}
		for _, push := range []*xmlel.Element{block, unblock} {
			if len(push.Children) > 0 {
				t.sendEl(xmlel.New(nsClient, "iq", "type", "set", "id", "push-"+newID(), "to", t.full.String()).Add(push))
			}
		}
	}
}
