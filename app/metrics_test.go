package app

import (
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

func metricValue(t testing.TB, body, pattern string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + pattern + ` ([0-9.e+-]+)$`).FindStringSubmatch(body)
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(m[1], 64)
	require.NoError(t, err)
	return v
}

func TestMetricsMove(t *testing.T) {
	t.Parallel()
	a := setup(t)
	tok := a.token("metered")
	require.Equal(t, 404, a.do("GET", "/metrics", nil, "").Status, "metrics are not public")
	require.Equal(t, 404, a.do("GET", "/metrics", nil, "wrong-token").Status)
	before := string(a.do("GET", "/metrics", nil, metricsToken).Body)
	require.Contains(t, before, "go_goroutines")
	require.Contains(t, before, `vod_queue_jobs{state="available"}`)

	a.uploadReady(tok, clip(t, "noaudio"), nil)
	require.Equal(t, 404, a.do("GET", "/api/v1/videos/00000000-0000-0000-0000-000000000000", nil, "").Status)
	after := string(a.do("GET", "/metrics", nil, metricsToken).Body)
	require.Greater(t, metricValue(t, after, `vod_http_requests_total\{method="POST",route="/api/v1/videos",status="202"\}`), 0.0)
	require.Greater(t, metricValue(t, after, `vod_http_requests_total\{method="GET",route="/api/v1/videos/:id",status="404"\}`), 0.0)
	require.Greater(t, metricValue(t, after, `vod_jobs_total\{kind="transcode.chunk",outcome="completed"\}`), 0.0)
	require.Greater(t, metricValue(t, after, `vod_transcode_speed_ratio_count`), 0.0)
	require.Greater(t, metricValue(t, after, `vod_encode_runs_total`), 0.0)
	require.Greater(t, metricValue(t, after, `vod_encode_cpu_seconds_total`), 0.0)
	require.Greater(t, metricValue(t, after, `vod_video_encode_cpu_seconds_count`), 0.0)
	// Peak RSS per video (issue 19): a real ffmpeg resides in more than 10 MB.
	require.Greater(t, metricValue(t, after, `vod_video_encode_peak_rss_bytes_sum`), float64(10<<20))
	require.Greater(t, metricValue(t, after, `vod_upload_bytes_total`), 0.0)
	require.Greater(t, metricValue(t, after, `vod_storage_operation_duration_seconds_count\{backend="[a-z0-9]+",op="put"\}`), 0.0)
}
