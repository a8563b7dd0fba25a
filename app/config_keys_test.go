package app

import (
	"fmt"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/spf13/viper"
	"github.com/stretchr/testify/require"
)

// TestConfigYAMLListsEveryKey pins config.yaml to the code: every key the code reads is listed
// there with the default the code uses (the module Config's own where a module owns it), and the
// file lists no key the code ignores.
func TestConfigYAMLListsEveryKey(t *testing.T) {
	t.Parallel()
	f, err := os.Open("../config.yaml")
	require.NoError(t, err)
	defer f.Close()
	v := viper.New()
	v.SetConfigType("yaml")
	require.NoError(t, v.ReadConfig(f))

	defs := defaults()
	var inFile []string
	for _, k := range v.AllKeys() {
		inFile = append(inFile, k)
	}
	var inCode []string
	for k := range defs {
		inCode = append(inCode, k)
	}
	sort.Strings(inFile)
	sort.Strings(inCode)
	require.Equal(t, inCode, inFile, "config.yaml and the code list the same keys")

	for k, want := range defs {
		got := v.Get(k)
		require.Equal(t, normalise(want), normalise(got), "config.yaml shows %s with the default the code uses", k)
	}
}

// normalise makes a YAML value and a Go default comparable: durations as parsed, numbers as
// float64, lists as string slices.
func normalise(x any) any {
	switch v := x.(type) {
	case time.Duration:
		return v.String()
	case string:
		if d, err := time.ParseDuration(v); err == nil && v != "" {
			return d.String()
		}
		return v
	case []string:
		return fmt.Sprint(v)
	case []any:
		s := make([]string, len(v))
		for i := range v {
			s[i] = fmt.Sprint(v[i])
		}
		return fmt.Sprint(s)
	case int:
		return float64(v)
	case int64:
		return float64(v)
	case uint32:
		return float64(v)
	case float64:
		return v
	}
	return x
}
