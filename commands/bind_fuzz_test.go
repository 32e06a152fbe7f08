package commands

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzFromJSON: any JSON value against each argument type and API
// version: no panic; a refusal is a wrong type (or, for a list, malformed
// text) naming the argument; an integer accepted parses, a list is a
// []string, a boolean a bool, anything else a string.
func FuzzFromJSON(f *testing.F) {
	for _, s := range []string{`"x"`, `1`, `1.5`, `"12"`, `-0`, `1e400`, `[]`, `["a","b"]`, `[1]`, `{}`, `null`, `true`,
		`"\u00ff\ud800"`, `"` + "\xff" + `"`, `"a;b"`, `""`} {
		for typ := range 8 {
			f.Add(uint8(typ), uint8(0), []byte(s))
			f.Add(uint8(typ), uint8(1), []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, typ, version uint8, v []byte) {
		if !json.Valid(v) {
			return
		}
		a := Arg{Name: "x", Type: Type(typ % 8), Sep: ";", EjabberdListSince: 1}
		got, err := fromJSON(a, int(version%2), v)
		if err != nil {
			e := AsError(err)
			require.Equal(t, "x", e.Arg)
			require.Contains(t, []Reason{ReasonWrongType, ReasonMalformed}, e.Reason)
			return
		}
		switch a.Type {
		case Int:
			_, err := strconv.ParseInt(got.(string), 10, 64)
			require.NoError(t, err)
		case List:
			require.IsType(t, []string{}, got)
		case Bool:
			require.IsType(t, true, got)
		default:
			require.IsType(t, "", got)
		}
	})
}
