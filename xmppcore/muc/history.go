package muc

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/xmppgate/xmppgate/xmlel"
)

// Entry is one message of a room's discussion history.
type Entry struct {
	Time time.Time
	Nick string
	// Stanza is the message as the room sent it, without to and with its
	// XEP-0203 delay already in place, so a join copies it as it is.
	Stanza []byte
	// Chars counts the characters maxchars limits (the stanza's length,
	// XEP-0045 7.2.15).
	Chars int
}

// History is a room's last messages, a ring of at most its configured length.
type History struct {
	ring  []Entry
	start int
	n     int
}

// Add appends e, dropping the oldest beyond limit entries.
func (h *History) Add(e Entry, limit int) {
	if limit <= 0 {
		h.ring, h.start, h.n = nil, 0, 0
		return
	}
	if len(h.ring) != limit {
		h.resize(limit)
	}
	if h.n < limit {
		h.ring[(h.start+h.n)%limit] = e
		h.n++
		return
	}
	h.ring[h.start] = e
	h.start = (h.start + 1) % limit
}

func (h *History) resize(limit int) {
	all := h.All()
	if len(all) > limit {
		all = all[len(all)-limit:]
	}
	h.ring = make([]Entry, limit)
	copy(h.ring, all)
	h.start, h.n = 0, len(all)
}

// All lists the history oldest first.
func (h *History) All() []Entry {
	out := make([]Entry, 0, h.n)
	for i := 0; i < h.n; i++ {
		out = append(out, h.ring[(h.start+i)%len(h.ring)])
	}
	return out
}

// Len is the number of messages held.
func (h *History) Len() int { return h.n }

// Request is a joining occupant's <history/> (XEP-0045 7.2.15); a field
// below zero is absent.
type Request struct {
	MaxStanzas, MaxChars, Seconds int
	Since                         time.Time
}

// NoLimit is the request of a join without <history/>.
var NoLimit = Request{MaxStanzas: -1, MaxChars: -1, Seconds: -1}

// ErrBadHistory: a <history/> attribute is not a number or date.
var ErrBadHistory = errors.New("muc: bad history request")

// ParseHistory reads a <history/> element; nil gives NoLimit.
func ParseHistory(h *xmlel.Element) (Request, error) {
	r := NoLimit
	if h == nil {
		return r, nil
	}
	for _, a := range []struct {
		name string
		dst  *int
	}{{"maxstanzas", &r.MaxStanzas}, {"maxchars", &r.MaxChars}, {"seconds", &r.Seconds}} {
		v := strings.TrimSpace(h.Get(a.name))
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return NoLimit, ErrBadHistory
		}
		*a.dst = n
	}
	if v := strings.TrimSpace(h.Get("since")); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return NoLimit, ErrBadHistory
		}
		r.Since = t
	}
	return r, nil
}

// Select picks the entries a join asking r gets at now: the newest ones
// satisfying every limit given, oldest first.
func (h *History) Select(r Request, now time.Time) []Entry {
	all := h.All()
	first := 0
	if r.MaxStanzas >= 0 && len(all) > r.MaxStanzas {
		first = len(all) - r.MaxStanzas
	}
	for first < len(all) {
		e := all[first]
		if (r.Seconds >= 0 && now.Sub(e.Time) > time.Duration(r.Seconds)*time.Second) ||
			(!r.Since.IsZero() && e.Time.Before(r.Since)) {
			first++
			continue
		}
		break
	}
	all = all[first:]
	if r.MaxChars >= 0 {
		total, i := 0, len(all)
		for i > 0 && total+all[i-1].Chars <= r.MaxChars {
			total += all[i-1].Chars
			i--
		}
		all = all[i:]
	}
	return all
}
