package app

import (
	"context"
	"net/http"
	"os/exec"
	"runtime"
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
	// The first readiness probe runs ffmpeg and ffprobe once (toolCheck); an orchestrator probes
	// from the start, before the machine is busy, and so does this test.
	require.Equal(t, 200, a.do("GET", "/readyz", nil, "").Status)
	// Burners: an ffmpeg encode a core for the whole test (with the server's encodes beside them,
	// more runnable work than cores).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var burners sync.WaitGroup
	for range runtime.NumCPU() {
		burners.Go(func() {
			_ = exec.CommandContext(ctx, "ffmpeg", "-v", "quiet", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
				"-c:v", "libx264", "-preset", "medium", "-f", "null", "-").Run()
		})
	}
	defer burners.Wait()
	defer cancel()
	// Six seconds of 480p in two chunks, with audio and subtitles: every kind of job, slowed by the
	// burners for as long as the readiness probes need, which cost the suite two cores for the
	// whole encode (a 30 s clip kept them busy for 25 s in each pass).
	r := a.upload(tok, clip(t, "e2e"), nil)
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

// TestQueuePosition (issue 20): with one job at a time, the third of three uploads waits behind the
// other two and its queue_position counts down from 2 to 0, never up, then goes null when it is
// ready.
func TestQueuePosition(t *testing.T) {
	t.Parallel()
	a := setup(t, map[string]string{"VOD_QUEUE_WORKERS": "1"})
	tok := a.token("patient")
	// Three-second videos: with one job at a time each takes its few jobs' turns, long enough to
	// watch the third's place count down (30 s clips cost ~20 CPU s for the same sight).
	src := clip(t, "mp4")
	var ids []string
	for range 3 {
		r := a.upload(tok, src, nil)
		require.Equal(t, 202, r.Status, "%s", r.Body)
		ids = append(ids, str(r.JSON(t)["video"].(map[string]any)["id"]))
	}
	var seen []int
	deadline := time.Now().Add(4 * time.Minute)
	for time.Now().Before(deadline) {
		v := a.do("GET", "/api/v1/videos/"+ids[2], nil, tok).JSON(t)["video"].(map[string]any)
		if v["status"] == "ready" || v["status"] == "failed" {
			require.Equal(t, "ready", v["status"], "error: %v", v["error"])
			require.Nil(t, v["queue_position"], "not waiting any more")
			break
		}
		if p, ok := v["queue_position"].(float64); ok && (len(seen) == 0 || seen[len(seen)-1] != int(p)) {
			seen = append(seen, int(p))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("queue positions seen: %v", seen)
	require.NotEmpty(t, seen)
	require.Equal(t, 2, seen[0], "it waited behind the first two uploads")
	require.Equal(t, 0, seen[len(seen)-1], "then it was processed")
	for i := 1; i < len(seen); i++ {
		require.Less(t, seen[i], seen[i-1], "it only counts down")
	}
}
