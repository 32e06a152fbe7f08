package commands

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestParseRosterFile(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, src string
		want      []rosterEntry
		err       string
	}{
		{name: "reference binaries", src: `[{<<"user1">>, <<"localhost">>, <<"Workers">>, <<"User 1">>}, {<<"user2">>, <<"localhost">>, <<"Workers">>, <<"User 2">>}].`,
			want: []rosterEntry{{"user1", "localhost", "Workers", "User 1"}, {"user2", "localhost", "Workers", "User 2"}}},
		{name: "reference utf8", src: `[{<<"user2">>, <<"localhost">>, <<"Workers"/utf8>>, <<"Usér 2"/utf8>>}].` + "\n",
			want: []rosterEntry{{"user2", "localhost", "Workers", "Usér 2"}}},
		{name: "strings", src: "[{\"bob\", \"example.org\", \"workers\", \"Bob\"},\n {\"mart\", \"example.org\", \"workers\", \"Mart\"}].\n",
			want: []rosterEntry{{"bob", "example.org", "workers", "Bob"}, {"mart", "example.org", "workers", "Mart"}}},
		{name: "mixed, comments, layout", src: "% template\n[ { \"a\" , <<\"h\">> , << >> , <<\"\">> } % one\n ] .\r\n%% end\n",
			want: []rosterEntry{{"a", "h", "", ""}}},
		{name: "empty list", src: "[].", want: []rosterEntry{}},
		{name: "escapes", src: `[{"a\"b", "h", "x\\y\ty\s", "\x41\x{e9}\101\^A\e"}].`,
			want: []rosterEntry{{`a"b`, "h", "x\\y\ty ", "Aé" + "A\x01\x1b"}}},
		{name: "utf8 slash with space", src: `[{<<"u">>, <<"h">>, <<"g" / utf8>>, <<"n">>}].`, want: []rosterEntry{{"u", "h", "g", "n"}}},
		{name: "no full stop", src: `[{"u","h","g","n"}]`, err: "expected '.', found the end"},
		{name: "two terms", src: `[]. [].`, err: "exactly one term"},
		{name: "stop glued", src: `[].x`, err: "after '.'"},
		{name: "three fields", src: `[{"u","h","g"}].`, err: "expected ','"},
		{name: "five fields", src: `[{"u","h","g","n","x"}].`, err: "expected '}'"},
		{name: "atom", src: `[{user,"h","g","n"}].`, err: "a string or a binary"},
		{name: "integer", src: `[{1,"h","g","n"}].`, err: "a string or a binary"},
		{name: "not a list", src: `{"u","h","g","n"}.`, err: "expected '['"},
		{name: "unterminated string", src: `[{"u`, err: "closing"},
		{name: "trailing comma", src: `[{"u","h","g","n"},].`, err: "expected '{'"},
		{name: "binary two segments", src: `[{<<"u","v">>,"h","g","n"}].`, err: "'>>'"},
		{name: "binary latin1", src: `[{<<"u"/latin1>>,"h","g","n"}].`, err: "utf8 after"},
		{name: "bad hex", src: `[{"\xZZ","h","g","n"}].`, err: "hexadecimal"},
		{name: "surrogate", src: `[{"\x{d800}","h","g","n"}].`, err: "hexadecimal"},
		{name: "not utf8", src: "[{\"\xff\",\"h\",\"g\",\"n\"}].", err: "not UTF-8"},
		{name: "line number", src: "[\n\n{x}].", err: "line 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseRosterFile([]byte(tc.src))
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestParseRosterFileTooMany(t *testing.T) {
	t.Parallel()
	src := "[" + strings.Repeat(`{"u","h","g","n"},`, maxRosterEntries) + `{"u","h","g","n"}].`
	_, err := parseRosterFile([]byte(src))
	require.ErrorContains(t, err, "more than")
}

// FuzzParseRosterFile: the parser never panics, and what it accepts is
// valid UTF-8 text.
func FuzzParseRosterFile(f *testing.F) {
	for _, s := range []string{`[].`, `[{<<"u">>,<<"h">>,<<"g"/utf8>>,<<"n">>}].`, `[{"a\x{41}\101\^a","h","",""}].`, "%c\n[{<<>>,\"\",\"\",\"\"}] .\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		es, err := parseRosterFile(src)
		if err != nil {
			return
		}
		for _, e := range es {
			for _, s := range []string{e.User, e.Server, e.Group, e.Nick} {
				if !utf8.ValidString(s) {
					t.Fatalf("invalid UTF-8 %q from %q", s, src)
				}
			}
		}
	})
}
