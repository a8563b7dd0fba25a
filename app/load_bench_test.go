package app

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/stretchr/testify/require"

	"vod/app/apiclient"
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

// BenchmarkLoad (issues 17 and 20): one real process of the binary with every role, on whatever
// the environment selects (make bench runs it on SQLite + local storage and on PostgreSQL + MinIO).
// Three 40 s videos are published; then for 60 s 200 viewers play them over HLS at one segment
// every 2 s while 10 users upload an 8 MB clip back to back and /readyz is polled twice a second;
// then every accepted upload is followed to ready (none may be lost or fail). Reported: non-2xx
// viewer responses, p50/p99 per request kind, /readyz failures, the server's peak RSS, and, after
// the drain, segment GETs through vod ÷ GETs of the same objects straight from the storage at the
// same concurrency (64 clients, unpaced). VOD_BENCH_LORIS=1 adds 200 slow-loris connections.
func BenchmarkLoad(b *testing.B) {
	env := testEnv(b)
	productionLengths(env)
	env["VOD_LOG_LEVEL"] = "warn"
	env["VOD_RATELIMIT_API"] = "100000000/1s"
	env["VOD_RATELIMIT_UPLOAD"] = "100000000/1s"
	env["VOD_ROLE"] = "all"
	delete(env, "VOD_RUNTIME_MEMORY_LIMIT") // the default, as deployed
	p := startProc(b, env)
	p.wait(b)
	a := &testApp{t: b, URL: p.url, Env: env}
	backend := "SQLite + local"
	if env["VOD_STORAGE_BACKEND"] == "s3" {
		backend = "PostgreSQL + MinIO"
	}
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
	// 8 MB in 4 s: a high bitrate, so the upload is large and the encode short.
	upClip := filepath.Join(dir, "upload.mp4")
	ffmpegRun(b, "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=4", "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "16M",
		"-minrate", "16M", "-maxrate", "16M", "-bufsize", "8M", "-pix_fmt", "yuv420p", upClip)
	owner := a.token("loadowner")
	var playlists [][]string
	for range 3 {
		v := a.uploadReady(owner, long, nil)
		playlists = append(playlists, hlsSegments(b, a, strings.TrimPrefix(hlsOf(v), a.URL)))
	}
	uploaders := make([]string, 10)
	for i := range uploaders {
		uploaders[i] = a.token(fmt.Sprintf("uploader%d", i))
	}
	// The server's peak resident memory, sampled (VmHWM is the kernel's own high-water mark).
	peakRSS := func() int64 {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
		require.NoError(b, err)
		for _, l := range strings.Split(string(raw), "\n") {
			if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
				var kb int64
				fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
				return kb << 10
			}
		}
		return 0
	}
	b.ResetTimer()

	stats := &loadStats{}
	tr := &http.Transport{MaxIdleConns: 400, MaxIdleConnsPerHost: 400}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	defer tr.CloseIdleConnections()
	stop := time.Now().Add(dur)
	var wg sync.WaitGroup
	var cut atomic.Int64
	if os.Getenv("VOD_BENCH_LORIS") != "" {
		for range 200 {
			wg.Go(func() { slowLoris(strings.TrimPrefix(a.URL, "http://"), stop, &cut) })
		}
	}
	for i := range 200 {
		wg.Go(func() { viewer(stats, client, playlists, 2*time.Second, stop, i) })
	}
	var ready struct {
		sync.Mutex
		lat      []time.Duration
		bad      int
		lastBody string
	}
	wg.Go(func() {
		for time.Now().Before(stop) {
			t0 := time.Now()
			res, err := client.Get(a.URL + "/readyz")
			ready.Lock()
			ready.lat = append(ready.lat, time.Since(t0))
			if err != nil || res.StatusCode != 200 {
				ready.bad++
				if res != nil {
					body, _ := io.ReadAll(res.Body)
					ready.lastBody = string(body)
				}
			}
			ready.Unlock()
			if res != nil {
				res.Body.Close()
			}
			time.Sleep(500 * time.Millisecond)
		}
	})
	var mu sync.Mutex
	var accepted []string
	var upLat []time.Duration
	var upload5xx, uploadOther atomic.Int64
	for _, tok := range uploaders {
		wg.Go(func() {
			for time.Now().Before(stop) {
				t0 := time.Now()
				r := (&testApp{t: b, URL: a.URL}).upload(tok, upClip, map[string]string{"title": "load"})
				switch {
				case r.Status == 202:
					mu.Lock()
					accepted = append(accepted, str(r.JSON(b)["video"].(map[string]any)["id"])+"|"+tok)
					upLat = append(upLat, time.Since(t0))
					mu.Unlock()
				case r.Status >= 500:
					upload5xx.Add(1)
				default:
					uploadOther.Add(1)
				}
			}
		})
	}
	wg.Wait()
	rssLoad := peakRSS()
	// Every accepted upload must come out ready: none lost, none failed, on a saturated machine.
	lost := 0
	drain := time.Now()
	for _, e := range accepted {
		id, tok, _ := strings.Cut(e, "|")
		if v := a.waitFor(id, tok, 30*time.Minute); v.Status != apiclient.Ready {
			lost++
		}
	}
	drained := time.Since(drain)
	rssDrain := peakRSS()
	b.StopTimer()

	// Unpaced segment GETs at the same concurrency, through vod and straight from the storage.
	var segs, direct []string
	for _, pl := range playlists {
		for _, u := range pl {
			if strings.Contains(u, "/seg-") {
				segs = append(segs, u)
				direct = append(direct, directURL(b, env, strings.TrimPrefix(u[strings.Index(u, "/media/"):], "/media/")))
			}
		}
	}
	vodRate, vodP99 := hammer(b, segs, 64, 5*time.Second)
	directRate, directP99 := hammer(b, direct, 64, 5*time.Second)
	// The presigned-redirect mode, on S3: a second process of the same installation answering media
	// GETs with a redirect to the bucket, which the clients follow.
	redirect := ""
	if env["VOD_STORAGE_BACKEND"] == "s3" {
		renv := clusterEnv(b, env, "api")
		renv["VOD_MEDIA_REDIRECT_TO_STORAGE"] = "true"
		rp := startProc(b, renv)
		rp.wait(b)
		var via []string
		for _, u := range segs {
			via = append(via, rp.url+u[strings.Index(u, "/media/"):])
		}
		rRate, rP99 := hammer(b, via, 64, 5*time.Second)
		redirect = fmt.Sprintf("; with media.redirect_to_storage (a 302, then the bucket) %.0f/s (p99 %s)", rRate, rP99.Round(100*time.Microsecond))
	}

	seg, man := stats.segLat, stats.manLat
	fmt.Printf("load on %s (%s, 200 viewers, 10 uploaders, %d slow-loris cut): %d viewer requests, %d 5xx, %d other non-2xx, %d network errors\n",
		backend, dur, cut.Load(), stats.requests.Load(), stats.status5xx.Load(), stats.otherBad.Load(), stats.netErrs.Load())
	fmt.Printf("  segments %d: p50 %s p99 %s; manifests %d: p50 %s p99 %s; uploads accepted %d (5xx %d, refused %d): p50 %s p99 %s\n",
		len(seg), pct(seg, 50).Round(100*time.Microsecond), pct(seg, 99).Round(100*time.Microsecond),
		len(man), pct(man, 50).Round(100*time.Microsecond), pct(man, 99).Round(100*time.Microsecond),
		len(accepted), upload5xx.Load(), uploadOther.Load(), pct(upLat, 50).Round(time.Millisecond), pct(upLat, 99).Round(time.Millisecond))
	fmt.Printf("  /readyz: %d probes, %d not 200 (%s), p50 %s p99 %s\n", len(ready.lat), ready.bad, ready.lastBody,
		pct(ready.lat, 50).Round(100*time.Microsecond), pct(ready.lat, 99).Round(100*time.Microsecond))
	fmt.Printf("  drain: every accepted upload processed %s after the run, %d lost or failed; server peak RSS %d MiB (%d MiB at the end of the load)\n",
		drained.Round(time.Second), lost, rssDrain>>20, rssLoad>>20)
	fmt.Printf("  unpaced segment GETs, 64 clients: through vod %.0f/s (p99 %s), straight from storage %.0f/s (p99 %s): ratio %.2f%s\n",
		vodRate, vodP99.Round(100*time.Microsecond), directRate, directP99.Round(100*time.Microsecond), vodRate/directRate, redirect)
	b.ReportMetric(float64(pct(seg, 99).Microseconds())/1000, "segment-p99-ms")
	b.ReportMetric(float64(stats.status5xx.Load()+stats.otherBad.Load()+upload5xx.Load()), "non-2xx")
	b.ReportMetric(float64(lost), "lost-uploads")
	b.ReportMetric(float64(ready.bad), "readyz-failures")
	b.ReportMetric(float64(rssDrain>>20), "peak-rss-MiB")
	b.ReportMetric(vodRate/directRate, "vod/direct")
}

// directURL is where the same object is fetched without vod: a presigned GET on S3, a plain file
// server over the media directory on local storage.
func directURL(b *testing.B, env map[string]string, key string) string {
	if env["VOD_STORAGE_BACKEND"] == "s3" {
		c, err := minio.New(env["VOD_S3_ENDPOINT"], &minio.Options{Creds: credentials.NewStaticV4(env["VOD_S3_ACCESS_KEY"], env["VOD_S3_SECRET_KEY"], "")})
		require.NoError(b, err)
		u, err := c.PresignedGetObject(context.Background(), env["VOD_S3_BUCKET"], key, time.Hour, nil)
		require.NoError(b, err)
		return u.String()
	}
	directFiles.Do(func() {
		srv := httptest.NewServer(http.FileServer(http.Dir(filepath.Join(env["VOD_DATA_DIR"], "media"))))
		b.Cleanup(srv.Close)
		directFiles.url = srv.URL
	})
	return directFiles.url + "/" + key
}

var directFiles struct {
	sync.Once
	url string
}

// hammer GETs urls round-robin from n clients for d and returns the rate and the p99.
func hammer(b *testing.B, urls []string, n int, d time.Duration) (float64, time.Duration) {
	tr := &http.Transport{MaxIdleConns: n, MaxIdleConnsPerHost: n}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var mu sync.Mutex
	var lat []time.Duration
	var bad atomic.Int64
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			for k := i; time.Now().Before(stop); k += n {
				t0 := time.Now()
				res, err := client.Get(urls[k%len(urls)])
				if err != nil || res.StatusCode != 200 {
					bad.Add(1)
				}
				if res != nil {
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
				}
				mu.Lock()
				lat = append(lat, time.Since(t0))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Zero(b, bad.Load(), "every GET answered 200")
	return float64(len(lat)) / d.Seconds(), pct(lat, 99)
}
