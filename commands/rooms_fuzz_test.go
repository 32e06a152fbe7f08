package commands

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/xmppgate/xmppgate/store"
)

// FuzzParseRoomsFile: any bytes as a rooms file: no panic; what it
// accepts is one room JID (name@service, a bare JID) per non-blank line.
func FuzzParseRoomsFile(f *testing.F) {
	for _, s := range []string{"a@conference.example\n", "\n\n", "a@b\r\nc@d", "no room\n", "@x\n", "a@b/c\n", "a@b@c\n",
		"é@conférence.example\n", strings.Repeat("a", 70000) + "@b\n", "a@b\x00\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		jids, err := ParseRoomsFile(data)
		if err != nil {
			return
		}
		require.LessOrEqual(t, len(jids), strings.Count(string(data), "\n")+1)
		for _, j := range jids {
			name, service, ok := strings.Cut(j, "@")
			require.True(t, ok && name != "" && service != "", j)
			_, err := ParseBareJID(j)
			require.NoError(t, err, j)
		}
	})
}

// FuzzPairs: any JSON value or text for a list of {name, value} tuples:
// no panic; a refusal is a wrong type or malformed text naming the
// argument; each item accepted splits back into its two fields.
func FuzzPairs(f *testing.F) {
	for _, s := range []string{`[{"name":"a","value":"b"}]`, `{"a":"b","c":"d"}`, `[]`, `{}`, `[{"name":"a"}]`,
		`[{"name":"a","value":"b","x":"y"}]`, `[{"name":1,"value":"b"}]`, `{"a":1}`, `"a=b;c=d"`, `[["a","b"]]`,
		`[{"name":"a\u0000","value":"b"}]`, `{"a":"b"`, `a=b=c;;d`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a := Arg{Name: "options", Type: List, Pairs: [2]string{"name", "value"}, Sep: ";"}
		var got any
		var err error
		if json.Valid([]byte(s)) {
			got, err = fromJSON(a, 0, json.RawMessage(s))
		} else {
			got, err = parseList(a, s)
		}
		if err != nil {
			e := AsError(err)
			require.Equal(t, "options", e.Arg)
			require.Contains(t, []Reason{ReasonWrongType, ReasonMalformed}, e.Reason)
			return
		}
		items, ok := got.([]string)
		require.True(t, ok, "%T", got)
		for _, it := range items {
			first, second := SplitPair(it)
			require.Equal(t, it, PairItem(first, second))
			require.NotContains(t, first, "\x00")
		}
	})
}

// FuzzRoomOption: any option name and value through change_room_option's
// setter: no panic; an accepted value shows back as given (a boolean or a
// number in its canonical form), and the configuration stays one the
// service reads back unchanged.
func FuzzRoomOption(f *testing.F) {
	for _, o := range roomOptions {
		f.Add(o.name, "true")
		f.Add(o.name, "17")
		f.Add(o.name, "[moderator]")
	}
	f.Add("password", "")
	f.Add("max_users", "0")
	f.Add("bogus", "x")
	f.Fuzz(func(t *testing.T, name, val string) {
		d := store.Domain{FQDN: "example.com", Settings: json.RawMessage(`{}`)}
		cfg := newRoomConfig(d)
		if err := setRoomOption(cfg, name, val); err != nil {
			require.Equal(t, ReasonBadValue, AsError(err).Reason)
			return
		}
		back := decodeRoomConfig(cfg.Encode(), d)
		require.True(t, back.Equal(*cfg), "stored form reads back the same")
		o, _ := lookupOption(name)
		switch {
		case name == "password" || name == "password_protected":
			// Two options for one password; checked by the API test.
		case o.kind == optBool || o.kind == optText && o.mapped || !o.mapped:
			require.Equal(t, val, getRoomOption(back, o))
		}
	})
}
