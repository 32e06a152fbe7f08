package main

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// TestSampleConfigHasEveryKey: contrib/xmppgate.yaml names every key of
// Config, and with every setting uncommented it loads (known keys only,
// right types, valid values). A new config field fails here until the
// sample documents it.
func TestSampleConfigHasEveryKey(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("contrib", "xmppgate.yaml"))
	require.NoError(t, err)
	// "#key: value" and its indented continuation lines are settings;
	// "# text" and a bare "#" are explanations.
	setting := regexp.MustCompile(`^#[^ \n]|^#  `)
	var uncommented []string
	for _, line := range strings.Split(string(raw), "\n") {
		if setting.MatchString(line) {
			uncommented = append(uncommented, line[1:])
		}
	}
	doc := strings.Join(uncommented, "\n")
	var set map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(doc), &set))

	ct := reflect.TypeOf(Config{})
	for i := range ct.NumField() {
		f := ct.Field(i)
		key := f.Tag.Get("yaml")
		if !f.IsExported() || key == "" || key == "-" {
			continue
		}
		require.Contains(t, set, key, "contrib/xmppgate.yaml lacks config key %q (field %s)", key, f.Name)
	}

	file := filepath.Join(t.TempDir(), "all.yaml")
	require.NoError(t, os.WriteFile(file, []byte(doc), 0o600))
	_, err = LoadConfig(file, nil)
	require.NoError(t, err, "the sample with every setting uncommented:\n%s", doc)

	// As shipped, with everything commented, it is the defaults.
	got, err := LoadConfig(filepath.Join("contrib", "xmppgate.yaml"), nil)
	require.NoError(t, err)
	got.source = nil
	require.Equal(t, DefaultConfig(), got)
}
