package commands

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSplitGroups(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{}, SplitGroups(""))
	require.Equal(t, []string{}, SplitGroups(","))
	require.Equal(t, []string{"a", " b ", "c"}, SplitGroups("a,, b ,a,c,"))
}

func TestParseBareJID(t *testing.T) {
	t.Parallel()
	for i, tc := range []struct{ in, want string }{
		0: {"Carol@Example.COM/phone", "carol@example.com"},
		1: {"example.com", "example.com"},
		2: {"example.com.", "example.com"},
		3: {"a@b@c", ""},
		4: {"@example.com", ""},
		5: {"carol@", ""},
		6: {"carol@example.com/", ""},
		7: {"car ol@example.com", ""},
		8: {"", ""},
		9: {"carol@exa_mple.com", ""},
	} {
		got, err := ParseBareJID(tc.in)
		if tc.want == "" {
			require.Error(t, err, "row %d: %q gave %q", i, tc.in, got)
			continue
		}
		require.NoError(t, err, "row %d", i)
		require.Equal(t, tc.want, got, "row %d", i)
	}
}

// An applier's *Error survives its failed change: the structured code
// kept with it reads back as the same error.
func TestChangeCodeRoundTrip(t *testing.T) {
	t.Parallel()
	for i, e := range []*Error{
		Errorf(NotFound, ReasonNoUser, "username", "user a@b does not exist"),
		Errorf(Conflict, ReasonRosterItemExists, "contact", "c: is in"),
		Errorf(Invalid, ReasonSharedGroup, "groups", `"x" is a shared group: (y) z`),
		{Kind: NotFound, Arg: "x", Msg: "m"},
	} {
		got := errorFromCode(e.ChangeCode())
		require.NotNil(t, got, "row %d", i)
		require.Equal(t, e, got, "row %d", i)
	}
	require.Nil(t, errorFromCode((&Error{Kind: Internal, Msg: "boom"}).ChangeCode()))
	require.Nil(t, errorFromCode("user a@b is gone"))
	require.Nil(t, errorFromCode(""))
}
