package dreamhost

import (
	"fmt"
	"sync"
	"time"

	"github.com/xmppgate/xmppgate/commands"
)

// Limit allows Max successful calls of the commands matching Cmds (a grant
// pattern such as "jabber-*") per key in each Window.
type Limit struct {
	Cmds   string        `yaml:"cmds"`
	Max    int           `yaml:"max"`
	Window time.Duration `yaml:"window"`
}

func (l Limit) detail() string {
	w := l.Window.String()
	switch l.Window {
	case time.Minute:
		w = "minute"
	case time.Hour:
		w = "hour"
	case 24 * time.Hour:
		w = "day"
	}
	return fmt.Sprintf("%s: %d per %s", l.Cmds, l.Max, w)
}

// limiter counts successes in fixed windows per (key, limit).
type limiter struct {
	limits []Limit
	now    func() time.Time
	mu     sync.Mutex
	counts map[counter]int
}

type counter struct {
	key    int64
	limit  int
	window int64
}

func newLimiter(limits []Limit, now func() time.Time) *limiter {
	return &limiter{limits: limits, now: now, counts: map[counter]int{}}
}

// set replaces the limits (a configuration reload). The counts go with
// them: they are kept by limit index, which the new list reorders.
func (l *limiter) set(limits []Limit) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.limits, l.counts = limits, map[counter]int{}
}

func (l *limiter) each(cmd string, f func(i int, lim Limit, window int64)) {
	t := l.now().UnixNano()
	for i, lim := range l.limits {
		if lim.Max <= 0 || lim.Window <= 0 || !commands.Grants([]string{lim.Cmds}).Allows(cmd) {
			continue
		}
		f(i, lim, t/int64(lim.Window))
	}
}

// allow reports whether key may call cmd now, and if not the limit's detail.
func (l *limiter) allow(key int64, cmd string) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	detail := ""
	l.each(cmd, func(i int, lim Limit, w int64) {
		if detail == "" && l.counts[counter{key, i, w}] >= lim.Max {
			detail = lim.detail()
		}
	})
	return detail, detail == ""
}

// record counts one success.
func (l *limiter) record(key int64, cmd string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.each(cmd, func(i int, lim Limit, w int64) {
		c := counter{key, i, w}
		if l.counts[c] == 0 {
			// A new window: forget the key's older windows of this limit.
			for old := range l.counts {
				if old.key == key && old.limit == i && old.window < w {
					delete(l.counts, old)
				}
			}
		}
		l.counts[c]++
	})
}
