package app

import (
	"context"
	"net/http"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestReadyWhileSaturated (issue 20): with every core busy (ffmpeg processes beside the server, and
// the server's own encodes), /readyz answers 200 every time and quickly, and the encode, slowed by
// the busy machine, is not retried: it finishes on its first attempt.
func TestReadyWhileSaturated(t *testing.T) {
	t.Parallel()
	a := setup(t, map[string]string{"VOD_METRICS_TOKEN": metricsToken})
	tok := a.token("busy")
	// Burners: enough ffmpeg encodes to keep two cores busy for the whole test.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var burners sync.WaitGroup
	for range 3 {
		burners.Go(func() {
			_ = exec.CommandContext(ctx, "ffmpeg", "-v", "quiet", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
				"-c:v", "libx264", "-preset", "medium", "-f", "null", "-").Run()
		})
	}
	defer burners.Wait()
	defer cancel()
	r := a.upload(tok, clip(t, "long"), nil)
	require.Equal(t, 202, r.Status, "%s", r.Body)
	id := str(r.JSON(t)["video"].(map[string]any)["id"])

	client := &http.Client{Timeout: 10 * time.Second}
	var probes, bad int
	var slowest time.Duration
	deadline := time.Now().Add(4 * time.Minute)
	for time.Now().Before(deadline) {
		t0 := time.Now()
		res, err := client.Get(a.URL + "/readyz")
		probes++
		if err != nil || res.StatusCode != 200 {
			bad++
		}
		if res != nil {
			res.Body.Close()
		}
		slowest = max(slowest, time.Since(t0))
		if probes%10 == 0 {
			if v := a.do("GET", "/api/v1/videos/"+id, nil, tok).JSON(t)["video"].(map[string]any); v["status"] != "processing" && v["status"] != "uploaded" {
				require.Equal(t, "ready", v["status"], "error: %v", v["error"])
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%d readiness probes while encoding on a saturated machine, slowest %s", probes, slowest)
	require.Greater(t, probes, 20)
	require.Zero(t, bad, "readiness never failed")
	require.Less(t, slowest, 2*time.Second)
	m := string(a.do("GET", "/metrics", nil, metricsToken).Body)
	require.Greater(t, metricValue(t, m, `vod_jobs_total\{kind="transcode.chunk",outcome="completed"\}`), 0.0)
	require.Zero(t, metricValue(t, m, `vod_jobs_total\{kind="transcode.chunk",outcome="error"\}`), "no chunk was retried")
	require.Zero(t, metricValue(t, m, `vod_jobs_total\{kind="transcode.audio",outcome="error"\}`))
}
