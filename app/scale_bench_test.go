package app

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
	"vod/app/testenv"

	"github.com/stretchr/testify/require"

	"vod/app/apiclient"
)

// scaleRun is one video processed by an installation of 1 API and n worker processes.
type scaleRun struct {
	wall       time.Duration
	cpu        float64
	chunks     int
	chunkSecs  []float64
	encodeRuns int
}

var (
	encodeDoneRe = regexp.MustCompile(`msg="encode finished".*chunks=(\d+) encode_cpu_seconds=([0-9.]+)`)
	chunkDoneRe  = regexp.MustCompile(`msg="part done".*part=c\d+ cpu_seconds=[0-9.]+ (?:peak_rss_mb=\d+ )?seconds=([0-9.]+)`)
	partDoneRe   = regexp.MustCompile(`msg="part done".*part=(c\d+|audio) `)
)

// runScale processes src on a fresh installation with n worker processes and reads the figures back
// from the workers' logs.
func runScale(b *testing.B, src string, n int) scaleRun {
	base := clusterBase(b)
	productionLengths(base)
	base["VOD_QUEUE_WORKERS"] = "2"
	// The workers share this machine's cores as n machines of 1/n of them would: each gets its share
	// of encode slots, one x264 thread each (one worker: the defaults). With the defaults, n workers
	// on one machine would run n times as many encodes as cores, and the CPU seconds would grow with
	// the contention, not with the work (VOD_BENCH_OVERSUBSCRIBE=1 measures that).
	if os.Getenv("VOD_BENCH_OVERSUBSCRIBE") == "" {
		base["VOD_TRANSCODE_ENCODE_JOBS"] = strconv.Itoa(max(1, runtime.NumCPU()/n))
		base["VOD_TRANSCODE_ENCODER_THREADS"] = "1"
	}
	a, api, workers := startCluster(b, base, n)
	tok := a.token("scale")
	r := a.upload(tok, src, nil)
	require.Equal(b, 202, r.Status, "%s", r.Body)
	t0 := time.Now()
	id := str(r.JSON(b)["video"].(map[string]any)["id"])
	v := a.waitFor(id, tok, 2*time.Hour)
	require.Equal(b, apiclient.Ready, v.Status, "%v", errOf(v))
	out := scaleRun{wall: time.Since(t0)}
	for _, w := range workers {
		raw, _ := os.ReadFile(w.logs)
		logs := string(raw)
		if m := encodeDoneRe.FindStringSubmatch(logs); m != nil {
			out.chunks, _ = strconv.Atoi(m[1])
			out.cpu, _ = strconv.ParseFloat(m[2], 64)
		}
		for _, m := range chunkDoneRe.FindAllStringSubmatch(logs, -1) {
			s, _ := strconv.ParseFloat(m[1], 64)
			out.chunkSecs = append(out.chunkSecs, s)
		}
		out.encodeRuns += len(partDoneRe.FindAllString(logs, -1))
	}
	for _, p := range append(workers, api) {
		p.kill(b)
	}
	return out
}

func sum(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	return sum(xs) / float64(len(xs))
}

// BenchmarkScale: the 60 s 1080p clip with one and with two worker processes (PostgreSQL + MinIO,
// real processes on this one 2-core machine): wall time upload-complete → ready, encode CPU seconds
// per video (which must not grow with the workers: no duplicate work), per-chunk times. With
// VOD_BENCH_LONG_MINUTES (make bench sets 10), the same for a source of that many minutes.
func BenchmarkScale(b *testing.B) {
	if !testenv.Postgres() || !testenv.S3() {
		b.Skip("needs PostgreSQL and S3 (make bench)")
	}
	dir := b.TempDir()
	mk := func(name string, seconds int) string {
		p := filepath.Join(dir, name)
		ffmpegRun(b, "-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=1920x1080:rate=30:duration=%d", seconds),
			"-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=440:sample_rate=48000:duration=%d", seconds),
			"-c:v", "libx264", "-preset", "ultrafast", "-crf", "20", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", p)
		return p
	}
	sources := map[string]string{"60s": mk("60s.mp4", 60)}
	order := []string{"60s"}
	if m, _ := strconv.Atoi(os.Getenv("VOD_BENCH_LONG_MINUTES")); m > 0 {
		name := fmt.Sprintf("%dmin", m)
		sources[name] = mk(name+".mp4", m*60)
		order = append(order, name)
	}
	b.ResetTimer()
	for _, name := range order {
		one := runScale(b, sources[name], 1)
		two := runScale(b, sources[name], 2)
		// Chunks differ in length (the ramp, the end): their time per second of video is what a
		// machine added takes off.
		fmt.Printf("%s 1080p: 1 worker %s (%.1f encode CPU s, %d chunks, %d encode runs, chunk %.1fs on average, %.1fs of chunk time in all); 2 workers %s (%.1f encode CPU s, %d chunks, %d encode runs, chunk %.1fs, %.1fs in all); CPU ratio %.3f\n",
			name, one.wall.Round(100*time.Millisecond), one.cpu, one.chunks, one.encodeRuns, mean(one.chunkSecs), sum(one.chunkSecs),
			two.wall.Round(100*time.Millisecond), two.cpu, two.chunks, two.encodeRuns, mean(two.chunkSecs), sum(two.chunkSecs), two.cpu/one.cpu)
		key := strings.ReplaceAll(name, " ", "")
		b.ReportMetric(one.wall.Seconds(), key+"-1worker-s")
		b.ReportMetric(two.wall.Seconds(), key+"-2workers-s")
		b.ReportMetric(two.cpu/one.cpu, key+"-cpu-ratio")
	}
}
