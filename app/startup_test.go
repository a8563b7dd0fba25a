package app

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCrowdStartup: processes started together on an empty database all come up; one applies the
// migrations (River's and every module's) and the others find them done. Before the schema lock,
// 3 of 4 failed with duplicate pg_type rows or "relation river_migration already exists".
func TestCrowdStartup(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	const n = 6
	outs := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out strings.Builder
			<-gate
			errs[i] = RunIO(context.Background(), []string{"vod", "migrate"}, func(k string) string { return env[k] }, nil, &out, &strings.Builder{})
			outs[i] = out.String()
		}()
	}
	close(gate)
	wg.Wait()
	total, nonzero := 0, 0
	for i := range n {
		require.NoError(t, errs[i], "process %d", i)
		m := regexp.MustCompile(`migrations applied: (\d+)`).FindStringSubmatch(outs[i])
		require.NotNil(t, m, outs[i])
		k, _ := strconv.Atoi(m[1])
		total += k
		if k > 0 {
			nonzero++
		}
	}
	require.Equal(t, 1, nonzero, "one process migrated, the others waited and found nothing to do: %v", outs)
	require.Positive(t, total)
	a := start(t, env)
	require.Equal(t, 200, a.do("GET", "/readyz", nil, "").Status)
}
