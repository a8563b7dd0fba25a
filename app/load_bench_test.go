package app

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// loadStats collects what a load run saw.
type loadStats struct {
	mu        sync.Mutex
	segLat    []time.Duration
	manLat    []time.Duration
	requests  atomic.Int64
	status5xx atomic.Int64
	otherBad  atomic.Int64
	netErrs   atomic.Int64
}

func (s *loadStats) record(kind string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if kind == "segment" {
		s.segLat = append(s.segLat, d)
	} else {
		s.manLat = append(s.manLat, d)
	}
}

func pct(l []time.Duration, p int) time.Duration {
	if len(l) == 0 {
		return 0
	}
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	return l[min(len(l)-1, len(l)*p/100)]
}

// hlsSegments reads a master playlist (a path on the app) and returns the URLs a viewer of its first
// variant fetches: the master, the media playlist, the init segment and every media segment.
func hlsSegments(b *testing.B, a *testApp, master string) []string {
	base := a.URL + master[:strings.LastIndex(master, "/")+1]
	variants := readHLS(b, a.fetch(b, master)).segments
	require.NotEmpty(b, variants)
	media := readHLS(b, a.fetch(b, base+variants[0]))
	require.NotEmpty(b, media.segments)
	out := []string{a.URL + master, base + variants[0], base + media.init}
	for _, seg := range media.segments {
		out = append(out, base+seg)
	}
	return out
}

// viewer plays videos at playback pace: the manifests, then one segment every pace, looping.
func viewer(stats *loadStats, client *http.Client, playlists [][]string, pace time.Duration, stop time.Time, seed int) {
	pl := playlists[seed%len(playlists)]
	i := seed % len(pl)
	next := time.Now()
	for time.Now().Before(stop) {
		u := pl[i%len(pl)]
		kind := "segment"
		if strings.HasSuffix(u, ".m3u8") {
			kind = "manifest"
		}
		t0 := time.Now()
		res, err := client.Get(u)
		stats.requests.Add(1)
		if err != nil {
			stats.netErrs.Add(1)
		} else {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			switch {
			case res.StatusCode >= 500:
				stats.status5xx.Add(1)
			case res.StatusCode != 200:
				stats.otherBad.Add(1)
			default:
				stats.record(kind, time.Since(t0))
			}
		}
		i++
		if kind == "segment" {
			next = next.Add(pace)
			time.Sleep(time.Until(next))
		}
	}
}

// slowLoris holds a connection open by sending a request body one byte every 5 s, reconnecting
// whenever the server cuts it off.
func slowLoris(addr string, stop time.Time, cut *atomic.Int64) {
	for time.Now().Before(stop) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			time.Sleep(time.Second)
			continue
		}
		fmt.Fprintf(c, "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
		for time.Now().Before(stop) {
			_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Write([]byte(" ")); err != nil {
				cut.Add(1)
				break
			}
			time.Sleep(5 * time.Second)
		}
		c.Close()
	}
}

// BenchmarkLoad: 200 viewers fetching HLS manifests and segments at playback pace plus 10 users
// uploading back to back for 60 s, then the same with 200 slow-loris connections alongside. It runs
// on whatever the environment selects (make bench: PostgreSQL + MinIO). Every accepted upload must end
// ready (none lost), and no response may be a 5xx.
func BenchmarkLoad(b *testing.B) {
	env := testEnv(b)
	env["VOD_LOG_LEVEL"] = "warn"
	env["VOD_RATELIMIT_API"] = "100000000/1s"
	env["VOD_RATELIMIT_UPLOAD"] = "100000000/1s"
	a := start(b, env)
	dur := 60 * time.Second
	if s := os.Getenv("VOD_BENCH_LOAD_SECONDS"); s != "" {
		d, err := time.ParseDuration(s + "s")
		require.NoError(b, err)
		dur = d
	}
	dir := b.TempDir()
	long := filepath.Join(dir, "long.mp4")
	ffmpegRun(b, "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30:duration=40", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=40",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", long)
	small := filepath.Join(dir, "small.mp4")
	ffmpegRun(b, "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=2", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", small)
	owner := a.token("loadowner")
	var playlists [][]string
	for range 3 {
		v := a.uploadReady(owner, long, nil)
		playlists = append(playlists, hlsSegments(b, a, strings.TrimPrefix(str(v["playback"].(map[string]any)["hls"]), a.URL)))
	}
	uploaders := make([]string, 10)
	for i := range uploaders {
		uploaders[i] = a.token(fmt.Sprintf("uploader%d", i))
	}

	run := func(name string, loris int) {
		stats := &loadStats{}
		tr := &http.Transport{MaxIdleConns: 400, MaxIdleConnsPerHost: 400}
		client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
		defer tr.CloseIdleConnections()
		stop := time.Now().Add(dur)
		var cut atomic.Int64
		var wg sync.WaitGroup
		for i := range loris {
			wg.Add(1)
			go func() { defer wg.Done(); _ = i; slowLoris(strings.TrimPrefix(a.URL, "http://"), stop, &cut) }()
		}
		for i := range 200 {
			wg.Add(1)
			go func() { defer wg.Done(); viewer(stats, client, playlists, 2*time.Second, stop, i) }()
		}
		var mu sync.Mutex
		var accepted []string
		var upload5xx, uploadOther atomic.Int64
		for _, tok := range uploaders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(stop) {
					r := (&testApp{t: b, URL: a.URL}).upload(tok, small, map[string]string{"title": "load"})
					switch {
					case r.Status == 202:
						mu.Lock()
						accepted = append(accepted, str(r.JSON(b)["video"].(map[string]any)["id"])+"|"+tok)
						mu.Unlock()
					case r.Status >= 500:
						upload5xx.Add(1)
					default:
						uploadOther.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		// Every accepted upload must come out ready: none lost, even with the machine saturated.
		lost := 0
		drain := time.Now()
		for _, e := range accepted {
			id, tok, _ := strings.Cut(e, "|")
			if v := a.waitFor(id, tok, 15*time.Minute); v["status"] != "ready" {
				lost++
			}
		}
		seg, man := stats.segLat, stats.manLat
		fmt.Printf("%s (%s, %d slow-loris): %d viewer requests, %d 5xx, %d other non-200, %d network errors; segments %d p50 %s p99 %s; manifests p99 %s; uploads accepted %d (5xx %d, refused %d), lost %d, all processed %s after the run; slow-loris connections cut %d\n",
			name, dur, loris, stats.requests.Load(), stats.status5xx.Load(), stats.otherBad.Load(), stats.netErrs.Load(),
			len(seg), pct(seg, 50).Round(100*time.Microsecond), pct(seg, 99).Round(100*time.Microsecond), pct(man, 99).Round(100*time.Microsecond),
			len(accepted), upload5xx.Load(), uploadOther.Load(), lost, time.Since(drain).Round(time.Second), cut.Load())
		b.ReportMetric(float64(pct(seg, 99).Microseconds())/1000, name+"-segment-p99-ms")
		b.ReportMetric(float64(stats.status5xx.Load()+upload5xx.Load()), name+"-5xx")
		b.ReportMetric(float64(lost), name+"-lost-uploads")
	}
	b.ResetTimer()
	run("plain", 0)
	run("slowloris", 200)
}
