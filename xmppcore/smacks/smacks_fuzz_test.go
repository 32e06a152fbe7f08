package smacks

import (
	"encoding/binary"
	"errors"
	"strconv"
	"testing"
)

// FuzzAck runs any sequence of sends and client acks (any h, as <a h=”/>
// carries it) from any starting count, near the 32-bit wrap included,
// against a model that numbers every stanza: an ack drops exactly the
// stanzas up to h, in order, or is ErrTooHigh and changes nothing;
// Acked()+Unacked() is always Out; Take hands over the rest in order.
func FuzzAck(f *testing.F) {
	f.Add(uint32(0), []byte{0, 0, 0, 1, 0, 0, 0, 0, 2})
	f.Add(uint32(0xFFFFFFFE), []byte{0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add(uint32(5), []byte{0, 1, 0, 0, 0, 9, 1, 0, 0, 0, 4, 2})
	f.Fuzz(func(t *testing.T, start uint32, ops []byte) {
		s := &State{Out: start}
		var model []uint32 // the unacked stanzas' numbers, oldest first
		next := start
		for len(ops) > 0 {
			op := ops[0]
			ops = ops[1:]
			switch op % 3 {
			case 0: // a stanza goes out
				next++
				s.Sent([]byte(strconv.FormatUint(uint64(next), 10)))
				model = append(model, next)
			case 1: // the client acks h
				if len(ops) < 4 {
					return
				}
				h := binary.BigEndian.Uint32(ops)
				ops = ops[4:]
				before, out := s.Acked(), s.Out
				err := s.Ack(h)
				n := -1 // how many of the model's stanzas h covers
				for i, num := range model {
					if num == h {
						n = i + 1
					}
				}
				if h == before {
					n = 0
				}
				switch {
				case n < 0:
					if !errors.Is(err, ErrTooHigh) || s.Acked() != before || s.Out != out || s.Unacked() != len(model) {
						t.Fatalf("h=%d beyond [%d, %d]: %v, acked %d", h, before, out, err, s.Acked())
					}
				case err != nil:
					t.Fatalf("h=%d within [%d, %d] refused: %v", h, before, out, err)
				default:
					model = model[n:]
				}
			case 2: // the session ends or resumes
				if op%2 == 0 {
					check(t, s.Pending(), model)
					continue
				}
				check(t, s.Take(), model)
				if s.Unacked() != 0 {
					t.Fatalf("%d stanzas left after Take", s.Unacked())
				}
				model = nil
			}
			if s.Acked()+uint32(s.Unacked()) != s.Out || s.Out != next || s.Unacked() != len(model) {
				t.Fatalf("counts: acked %d + unacked %d, out %d; model %d unacked of %d", s.Acked(), s.Unacked(), s.Out, len(model), next)
			}
		}
		check(t, s.Pending(), model)
	})
}

func check(t *testing.T, got [][]byte, want []uint32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d stanzas pending, the model has %d", len(got), len(want))
	}
	for i, b := range got {
		if string(b) != strconv.FormatUint(uint64(want[i]), 10) {
			t.Fatalf("pending stanza %d is %s, the model's %d", i, b, want[i])
		}
	}
}
