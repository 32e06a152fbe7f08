package smacks_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/xmppcore/smacks"
)

func TestAckDropsInOrder(t *testing.T) {
	t.Parallel()
	var s smacks.State
	for _, b := range []string{"a", "b", "c"} {
		s.Sent([]byte(b))
	}
	require.NoError(t, s.Ack(2))
	require.Equal(t, [][]byte{[]byte("c")}, s.Pending())
	require.NoError(t, s.Ack(2), "the same h again changes nothing")
	require.Equal(t, 1, s.Unacked())
	require.ErrorIs(t, s.Ack(4), smacks.ErrTooHigh)
	require.ErrorIs(t, s.Ack(1), smacks.ErrTooHigh, "h going backwards")
	require.Equal(t, 1, s.Unacked())
	require.NoError(t, s.Ack(3))
	require.Nil(t, s.Pending())
}

func TestCountersWrap(t *testing.T) {
	t.Parallel()
	s := smacks.State{Out: math.MaxUint32 - 1}
	s.Sent([]byte("x")) // number 4294967295
	s.Sent([]byte("y")) // number 0
	s.Sent([]byte("z")) // number 1
	require.Equal(t, uint32(1), s.Out)
	require.NoError(t, s.Ack(math.MaxUint32))
	require.Equal(t, [][]byte{[]byte("y"), []byte("z")}, s.Pending())
	require.NoError(t, s.Ack(0))
	require.ErrorIs(t, s.Ack(2), smacks.ErrTooHigh)
	require.NoError(t, s.Ack(1))
	require.Zero(t, s.Unacked())
	s.In = math.MaxUint32
	s.In++
	require.Zero(t, s.In)
}

func TestTakeEmpties(t *testing.T) {
	t.Parallel()
	var s smacks.State
	require.Nil(t, s.Take())
	s.Sent([]byte("a"))
	require.Equal(t, [][]byte{[]byte("a")}, s.Take())
	require.Zero(t, s.Unacked())
	require.Equal(t, uint32(1), s.Acked(), "taken stanzas count as settled")
}

func TestNewIDUnique(t *testing.T) {
	t.Parallel()
	require.NotEqual(t, smacks.NewID(), smacks.NewID())
	require.Len(t, smacks.NewID(), 22)
}
