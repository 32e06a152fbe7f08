package commands

import (
	"context"
	"encoding/json"
	"errors"

	"mellium.im/xmpp/jid"

	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmlel"
)

// ejabberd's privacy_set sends a jabber:iq:privacy (XEP-0016) IQ set on the
// user's behalf. The XMPP server has no privacy lists, only the blocking
// command (XEP-0191), which ejabberd itself keeps as the user's default
// privacy list named "Blocked contacts" (mod_blocking). privacy_set is
// therefore applied to that one list: a list of that name whose items all
// deny a JID every kind of stanza replaces the block list; making it the
// default or active list is what it already is. Everything else has no
// block-list meaning and fails as the IQ would on a server without that
// list (ejabberd answers 1 when the IQ fails): other list names, allow or
// group/subscription items, items for some stanza kinds only, removing the
// default list or declining it.

const nsPrivacy = "jabber:iq:privacy"

// BlockListName is the privacy list the block list is shown as.
const BlockListName = "Blocked contacts"

// blocklistEffects is the worker effect that makes live sessions follow a
// changed block list (xmppcore implements it; without it the sessions
// read the new list at their next login).
type blocklistEffects interface {
	BlocklistChanged(domain, username string)
}

// blockChange is the change record of privacy_set.
type blockChange struct {
	Username string   `json:"username"`
	Domain   string   `json:"domain"`
	JIDs     []string `json:"jids"`
}

// privacyBlockList reads a privacy query; it returns the JIDs to block
// (set true) when the query replaces the block list, set false and ok
// true when it asks for what already holds, ok false when it cannot be
// applied. A query that is not jabber:iq:privacy XML is an error.
func privacyBlockList(raw string) (jids []string, set, ok bool, err error) {
	q, perr := xmlel.Parse([]byte(raw))
	if perr != nil || q.Name.Space != nsPrivacy || q.Name.Local != "query" {
		return nil, false, false, Errorf(Invalid, ReasonMalformed, "xmlquery", "not a jabber:iq:privacy query")
	}
	kids := q.Elements()
	if len(kids) != 1 {
		return nil, false, false, nil // bad-request
	}
	el := kids[0]
	name := el.Get("name")
	switch el.Name.Local {
	case "active":
		return nil, false, name == BlockListName || name == "", nil
	case "default":
		return nil, false, name == BlockListName, nil
	case "list":
	default:
		return nil, false, false, nil
	}
	items := el.Elements()
	if name != BlockListName || len(items) == 0 {
		return nil, false, false, nil
	}
	seen := map[string]bool{}
	jids = []string{}
	for _, it := range items {
		if it.Name.Local != "item" || it.Get("type") != "jid" || it.Get("action") != "deny" {
			return nil, false, false, nil
		}
		if kinds := it.Elements(); len(kinds) != 0 {
			all := map[string]bool{}
			for _, k := range kinds {
				all[k.Name.Local] = true
			}
			if len(all) != 4 || !all["message"] || !all["iq"] || !all["presence-in"] || !all["presence-out"] {
				return nil, false, false, nil
			}
		}
		j, err := jid.Parse(it.Get("value"))
		if err != nil || it.Get("value") == "" {
			return nil, false, false, nil
		}
		if s := j.String(); !seen[s] {
			seen[s] = true
			jids = append(jids, s)
		}
	}
	return jids, true, true, nil
}

// PrivacySet is ejabberd's privacy_set, over the block list.
var PrivacySet = &Def{
	Name: "privacy_set",
	Doc: "Applies a jabber:iq:privacy set to the user's block list (XEP-0191), which is the one privacy list xmppgate " +
		"has, named \"" + BlockListName + "\" and always the default: <list name='" + BlockListName + "'> whose " +
		"items all have type jid and action deny (blocking every stanza kind) replaces the blocked JIDs, applied " +
		"through the queue and pushed to the user's sessions; <default/> or <active/> naming that list answers 0. " +
		"Anything else answers 1 and changes nothing, as the IQ fails (other lists, allow/group/subscription items, " +
		"partial stanza kinds, removing or declining the list), as does a user that does not exist. XML that is not " +
		"a jabber:iq:privacy query: 400 \"Invalid 'xmlquery'\".",
	Args: []Arg{argUsername, argDomain,
		{Name: "xmlquery", Type: String, Doc: "The <query xmlns='jabber:iq:privacy'> element of the IQ set."}},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "privacy_set"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		jids, set, ok, err := privacyBlockList(c.Args.String("xmlquery"))
		if err != nil {
			return nil, err
		}
		if _, exists, err := existing(ctx, c); err != nil || !exists || !ok {
			return StatusFailed, err
		}
		if !set {
			return StatusOK, nil
		}
		d := c.Args.Domain("domain")
		ch := blockChange{Username: c.Args.String("username"), Domain: d.FQDN, JIDs: jids}
		q, err := c.Mutate(ctx, func(tx *store.Tx) (store.Change, error) {
			u, err := usableUser(ctx, tx, d, ch.Username)
			if err != nil {
				return store.Change{}, err
			}
			args, err := json.Marshal(ch)
			return store.Change{UserID: u.ID, Args: args}, err
		})
		if AsError(err).Reason == ReasonNoUser {
			return StatusFailed, nil
		}
		return q, err
	},
	Apply: func(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
		var ch blockChange
		if err := json.Unmarshal(w.Args, &ch); err != nil {
			return err
		}
		if _, err := tx.UserByID(ctx, w.UserID); errors.Is(err, store.ErrNotFound) {
			return Errorf(NotFound, ReasonNoUser, "username", "user %s@%s does not exist", ch.Username, ch.Domain)
		} else if err != nil {
			return err
		}
		if err := tx.Unblock(ctx, w.UserID, nil); err != nil {
			return err
		}
		if err := tx.Block(ctx, w.UserID, ch.JIDs); err != nil {
			return err
		}
		w.After(func(e queue.Effects) {
			if b, ok := e.(blocklistEffects); ok {
				b.BlocklistChanged(ch.Domain, ch.Username)
			}
		})
		return nil
	},
}
