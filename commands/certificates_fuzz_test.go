package commands

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzParseDomainList: request_certificate's domains never panic the
// parser; what it accepts is "all" (nil) or a list of distinct domains
// that are already normal (normalising again changes nothing).
func FuzzParseDomainList(f *testing.F) {
	for _, seed := range []string{"all", " all ", "a.example", "a.example,b.example", "A.Example, a.example",
		"", ",", "a.example,,b.example", "xn--bcher-kva.example", "bücher.example", "a b.example", "all,a.example"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		got, err := parseDomainList(spec)
		if err != nil {
			require.Equal(t, Invalid, AsError(err).Kind)
			return
		}
		if strings.TrimSpace(spec) == "all" {
			require.Nil(t, got)
			return
		}
		require.NotEmpty(t, got)
		for i, d := range got {
			again, err := NormalizeDomain(d)
			require.NoError(t, err)
			require.Equal(t, d, again)
			require.False(t, slices.Contains(got[:i], d), "duplicate %q", d)
		}
	})
}

// TestParseDomainList: the request_certificate spellings ejabberd
// documents, and what is refused.
func TestParseDomainList(t *testing.T) {
	t.Parallel()
	for i, c := range []struct {
		spec string
		want []string
		bad  bool
	}{
		0: {spec: "all"},
		1: {spec: "a.example", want: []string{"a.example"}},
		2: {spec: "A.example, conference.a.example,a.example", want: []string{"a.example", "conference.a.example"}},
		3: {spec: "", bad: true},
		4: {spec: "a.example,,b.example", bad: true},
		5: {spec: "all,a.example", want: []string{"all", "a.example"}}, // "all" alone means every domain
	} {
		got, err := parseDomainList(c.spec)
		if c.bad {
			require.Error(t, err, "%d", i)
			continue
		}
		require.NoError(t, err, "%d", i)
		require.Equal(t, c.want, got, "%d", i)
	}
}
