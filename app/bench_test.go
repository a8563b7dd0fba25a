package app

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"math"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"vod/app/apiclient"

	"vod/modules/transcode"
)

// benchApp starts the app for a benchmark on the embedded default, through the tests' harness.
func benchApp(b *testing.B) *testApp {
	env := testEnv(b)
	env["VOD_LOG_LEVEL"] = "warn"
	if l := os.Getenv("VOD_LOG_LEVEL"); l != "" {
		env["VOD_LOG_LEVEL"] = l // a timeline of the stages: VOD_LOG_LEVEL=info
	}
	env["VOD_QUEUE_POLL_INTERVAL"] = "50ms"
	// The load comes from one IP: a limit that never binds keeps the limiter on the measured path.
	env["VOD_RATELIMIT_API"] = "100000000/1s"
	// The pipeline's settings may be varied from the environment (VOD_TRANSCODE_CHUNK_SECONDS=8 ...).
	for _, kv := range os.Environ() {
		if k, v, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "VOD_TRANSCODE_") {
			env[k] = v
		}
	}
	return start(b, env)
}

// BenchmarkPipeline: a 60 s 1080p30 clip with audio and a subtitle track, upload-complete → ready,
// against the bare ffmpeg ladder command on the same clip in the same run.
func BenchmarkPipeline(b *testing.B) {
	dir := b.TempDir()
	srt := filepath.Join(dir, "en.srt")
	require.NoError(b, os.WriteFile(srt, []byte("1\n00:00:01,000 --> 00:00:04,000\nBenchmark subtitle\n\n2\n00:00:30,000 --> 00:00:33,000\nHalfway there\n"), 0o644))
	src := filepath.Join(dir, "bench.mkv")
	ffmpegRun(b, "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30:duration=60", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=60",
		"-i", srt, "-map", "0", "-map", "1", "-map", "2", "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-c:s", "srt", "-metadata:s:s:0", "language=eng", src)

	// The bare ladder: one ffmpeg, every rung, DASH + HLS, nothing else.
	probe, err := transcode.ProbeFile(context.Background(), "ffprobe", src, transcode.Limits{})
	require.NoError(b, err)
	ladder, _ := transcode.ParseLadder("360:800,480:1200,720:2400,1080:4800")
	// The chunks' encoder settings (the app's defaults), with x264 choosing its threads as a
	// single pass would.
	tc := transcode.Config{}.WithDefaults()
	spec := &transcode.EncodeSpec{FFmpeg: "ffmpeg", Input: src, OutDir: filepath.Join(dir, "bare"), Probe: probe,
		Renditions: transcode.PlanLadder(probe.Width, probe.Height, ladder), SegmentSec: tc.SegmentSeconds, Preset: tc.Preset, CRF: tc.CRF,
		ThumbWidth: 160}
	require.NoError(b, os.MkdirAll(spec.OutDir, 0o755))
	// This machine's speed drifts by a quarter from one minute to the next (the same ffmpeg took
	// 63 and 86 CPU seconds): the bare ladder runs right before and right after the pipeline and
	// the ratio is against their mean.
	runBare := func() (wall, cpu time.Duration) {
		t0 := time.Now()
		cmd := exec.Command("ffmpeg", spec.LadderArgs()...)
		out, err := cmd.CombinedOutput()
		require.NoError(b, err, "%s", out)
		return time.Since(t0), cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	bare1, bareCPU1 := runBare()

	a := benchApp(b)
	tok := a.token("bencher")
	fi, _ := os.Stat(src)
	r := a.do("POST", "/api/v1/uploads", map[string]any{"title": "bench", "filename": "bench.mkv", "size": fi.Size()}, tok)
	require.Equal(b, 201, r.Status, "%s", r.Body)
	up := r.JSON(b)
	f, _ := os.Open(src)
	put, _ := http.NewRequest("PUT", a.URL+up["upload_url"].(string), f)
	put.ContentLength = fi.Size()
	res, err := http.DefaultClient.Do(put)
	require.NoError(b, err)
	res.Body.Close()
	f.Close()

	b.ResetTimer()
	// The app runs in this process: its own CPU (HTTP, jobs, storing segments, the database) is
	// this process's, its ffmpeg runs' is in the metrics.
	self0 := selfCPU()
	t0 := time.Now()
	r = a.do("POST", "/api/v1/uploads/"+up["upload_id"].(string)+"/complete", nil, tok)
	require.Equal(b, 202, r.Status, "%s", r.Body)
	v := a.waitFor(up["video_id"].(string), tok, 10*time.Minute)
	require.Equal(b, apiclient.Ready, v.Status, "error: %v", errOf(v))
	wall := time.Since(t0)
	appCPU := selfCPU() - self0
	b.StopTimer()
	ffmpegCPU := metricValue(b, string(a.do("GET", "/metrics", nil, metricsToken).Body), `vod_encode_cpu_seconds_total`)
	bare2, bareCPU2 := runBare()
	bare, bareCPU := (bare1+bare2)/2, (bareCPU1+bareCPU2)/2
	b.ReportMetric(wall.Seconds(), "pipeline-s")
	b.ReportMetric(bare.Seconds(), "bare-ffmpeg-s")
	b.ReportMetric(wall.Seconds()/bare.Seconds(), "ratio")
	b.ReportMetric(60/wall.Seconds(), "x-realtime")
	b.ReportMetric(ffmpegCPU, "ffmpeg-cpu-s")
	b.ReportMetric(appCPU.Seconds(), "app-cpu-s")
	fmt.Printf("CPU: the pipeline's ffmpeg runs %.1f s, the app itself %.1f s; the bare ladder %.1f s\n", ffmpegCPU, appCPU.Seconds(), bareCPU.Seconds())
	fmt.Printf("pipeline: upload-complete→ready %.2fs, bare ladder ffmpeg %.2fs (before %.2fs, after %.2fs; %.1f CPU s), ratio %.3f, %.2fx realtime\n",
		wall.Seconds(), bare.Seconds(), bare1.Seconds(), bare2.Seconds(), bareCPU.Seconds(), wall.Seconds()/bare.Seconds(), 60/wall.Seconds())
	if os.Getenv("VOD_LOG_LEVEL") != "" {
		fmt.Println(a.logs.String())
	}
	if os.Getenv("QUICK") != "" {
		return
	}

	// Quality cost of chunking: the chunked 1080p rung against the single-pass one.
	hls := strings.TrimPrefix(hlsOf(v), a.URL)
	base := hls[:strings.LastIndex(hls, "/")+1]
	top := fmt.Sprint(len(spec.Renditions) - 1)
	chunked := filepath.Join(dir, "chunked.mp4")
	a.assemble(b, base, readHLS(b, a.fetch(b, base+"media_"+top+".m3u8")), chunked)
	// A single pass of the top rung alone, with the chunks' settings or with x264's default
	// B-frames, joined into one file.
	singlePass := func(name string, threads int, bframes bool) string {
		one := *spec
		one.OutDir, one.Renditions, one.Threads = filepath.Join(dir, name), spec.Renditions[len(spec.Renditions)-1:], threads
		require.NoError(b, os.MkdirAll(one.OutDir, 0o755))
		var args []string
		for all, i := one.LadderArgs(), 0; i < len(all); i++ {
			if bframes && all[i] == "-bf" {
				i++ // and its value
				continue
			}
			args = append(args, all[i])
		}
		out, err := exec.Command("ffmpeg", args...).CombinedOutput()
		require.NoError(b, err, "%s", out)
		segs, _ := filepath.Glob(filepath.Join(one.OutDir, "seg-0-*.m4s"))
		sort.Strings(segs)
		var joined []byte
		for _, p := range append([]string{filepath.Join(one.OutDir, "init-0.m4s")}, segs...) {
			raw, err := os.ReadFile(p)
			require.NoError(b, err)
			joined = append(joined, raw...)
		}
		file := filepath.Join(dir, name+".mp4")
		require.NoError(b, os.WriteFile(file, joined, 0o644))
		return file
	}
	// The seams are what differs from a single pass with the same settings, threads included:
	// x264's rate control depends on its thread count, which would read as a chunking cost.
	single := singlePass("single", tc.EncoderThreads, false)
	// Frames are paired by their number: the psnr filter pairs them by timestamp, and two inputs of
	// different timescales then meet one frame apart now and then, which reads as a 25 dB frame.
	psnr := func(x, y string) (avg float64, frames []float64) {
		pairs := "[0:v]settb=AVTB,setpts=N/30/TB[a];[1:v]settb=AVTB,setpts=N/30/TB[b];[a][b]"
		if y == src {
			// The source's millisecond timestamps pair by time; the outputs' frames by number.
			pairs = "[0:v][1:v]"
		}
		stats := filepath.Join(dir, "psnr.log")
		out, err := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-i", x, "-i", y, "-lavfi",
			pairs+"psnr=stats_file="+stats, "-f", "null", "-").CombinedOutput()
		require.NoError(b, err, "%s", out)
		m := regexp.MustCompile(`PSNR .*average:([0-9.]+)`).FindStringSubmatch(string(out))
		require.NotNil(b, m, "%s", out)
		avg, _ = strconv.ParseFloat(m[1], 64)
		raw, err := os.ReadFile(stats)
		require.NoError(b, err)
		for _, m := range regexp.MustCompile(`mse_avg:([0-9.]+)`).FindAllStringSubmatch(string(raw), -1) {
			mse, _ := strconv.ParseFloat(m[1], 64)
			frames = append(frames, mse)
		}
		return avg, frames
	}
	// The PSNR of a range of frames, from their mean squared error.
	rangePSNR := func(mse []float64, from, to int) float64 {
		var sum float64
		for _, e := range mse[from:to] {
			sum += e
		}
		return 10 * math.Log10(255*255/(sum/float64(to-from)))
	}
	between, mse := psnr(chunked, single)
	require.GreaterOrEqual(b, len(mse), 1800, "frames of the chunked rung")
	// Seams would show in the second either side of a chunk boundary. Chunks start on segment
	// boundaries (4, 8, 16, 28, 44 and 56 s on 2 slots): the worst second around any segment
	// boundary bounds the worst seam.
	seam := math.Inf(1)
	for at := 4 * 30; at+30 <= len(mse); at += 4 * 30 {
		seam = math.Min(seam, rangePSNR(mse, at-30, at+30))
	}
	chunkedSrc, _ := psnr(chunked, src)
	singleSrc, _ := psnr(single, src)
	// The chunks have no B-frames (docs/PIPELINE.md says why); what that costs is measured against a
	// single pass of the same rung with x264's default B-frames.
	bframes := singlePass("bframes", 0, true)
	vsB, _ := psnr(chunked, bframes)
	bSrc, _ := psnr(bframes, src)
	size := func(p string) float64 {
		fi, err := os.Stat(p)
		require.NoError(b, err)
		return float64(fi.Size()*8) / 60 / 1000
	}
	fmt.Printf("PSNR of the 1080p rung: chunked vs single-pass %.2f dB (lowest second around a segment or chunk boundary %.2f dB); against the source: chunked %.2f dB, single-pass %.2f dB\n",
		between, seam, chunkedSrc, singleSrc)
	fmt.Printf("with B-frames in one pass: %.2f dB against the source, chunked vs it %.2f dB; kb/s chunked %.0f, single-pass %.0f, with B-frames %.0f\n",
		bSrc, vsB, size(chunked), size(single), size(bframes))
	b.ReportMetric(between, "psnr-vs-single-dB")
	b.ReportMetric(seam, "psnr-seam-dB")
	b.ReportMetric(chunkedSrc, "psnr-chunked-src-dB")
	b.ReportMetric(singleSrc, "psnr-single-src-dB")
	b.ReportMetric(vsB, "psnr-vs-bframes-dB")
}

// BenchmarkUploadRSS streams 2 GiB through a real vod process and reports its peak resident memory.
func BenchmarkUploadRSS(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "vod")
	out, err := exec.Command("go", "build", "-o", bin, "..").CombinedOutput()
	require.NoError(b, err, "%s", out)
	dir := b.TempDir()
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), "VOD_DATA_DIR="+dir, "VOD_HTTP_ADDR=127.0.0.1:0", "VOD_HTTP_ADDR_FILE="+dir+"/addr", "VOD_LOG_LEVEL=warn")
	require.NoError(b, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() }()
	var url string
	for i := 0; i < 600 && url == ""; i++ {
		if raw, err := os.ReadFile(dir + "/addr"); err == nil && len(raw) > 0 {
			url = "http://" + string(raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
	tok := (&testApp{t: b, URL: url}).token("rss")
	const size = 2 << 30
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		fw, _ := mw.CreateFormFile("file", "big.mp4")
		buf := make([]byte, 1<<20)
		_, _ = rand.Read(buf)
		for n := 0; n < size; n += len(buf) {
			if _, err := fw.Write(buf); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		_ = mw.Close()
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", url+"/api/v1/videos", pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+tok)
	t0 := time.Now()
	res, err := http.DefaultClient.Do(req)
	require.NoError(b, err)
	res.Body.Close()
	took := time.Since(t0)
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	var hwm int
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			hwm, _ = strconv.Atoi(strings.Fields(l)[1])
		}
	}
	b.ReportMetric(float64(hwm)/1024, "peak-rss-MiB")
	fmt.Printf("upload 2 GiB: status %d (random bytes are refused after storing, as expected), %.1fs (%.0f MiB/s), server peak RSS %.1f MiB\n",
		res.StatusCode, took.Seconds(), float64(size>>20)/took.Seconds(), float64(hwm)/1024)
}

type loadResult struct {
	rps float64
	p99 time.Duration
}

// load runs GETs of url from conns goroutines for d and reports throughput and p99 latency.
// A token, when given, is sent as the bearer (a logged-in viewer).
func load(b *testing.B, url string, conns int, d time.Duration, token ...string) loadResult {
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}
	client := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	var mu sync.Mutex
	var lat []time.Duration
	var n atomic.Int64
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for time.Now().Before(stop) {
				t0 := time.Now()
				req, _ := http.NewRequest(http.MethodGet, url, nil)
				if len(token) > 0 {
					req.Header.Set("Authorization", "Bearer "+token[0])
				}
				res, err := client.Do(req)
				if err != nil {
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					b.Errorf("GET %s: %d", url, res.StatusCode)
					return
				}
				mine = append(mine, time.Since(t0))
				n.Add(1)
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return loadResult{rps: float64(n.Load()) / d.Seconds(), p99: lat[len(lat)*99/100]}
}

// BenchmarkDelivery compares GET /api/v1/videos/{id} with a bare echo handler and a 2 MB segment GET
// with a plain file server, at 64 concurrent connections on loopback.
func BenchmarkDelivery(b *testing.B) {
	a := benchApp(b)
	tok := a.token("deliver")
	dir := b.TempDir()
	clipPath := filepath.Join(dir, "c.mp4")
	ffmpegRun(b, "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30:duration=3", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", clipPath)
	id := a.uploadReady(tok, clipPath, nil).Id
	videoJSON := a.do("GET", "/api/v1/videos/"+id, nil, "").Body
	// A 2 MB segment in the video's storage, and the same file for the plain file server.
	seg := make([]byte, 2<<20)
	_, _ = rand.Read(seg)
	segKey := "videos/" + id + "/g1/seg-bench.m4s"
	require.NoError(b, os.WriteFile(filepath.Join(a.Env["VOD_DATA_DIR"], "media", filepath.FromSlash(segKey)), seg, 0o644))
	plainDir := b.TempDir()
	require.NoError(b, os.WriteFile(filepath.Join(plainDir, "seg.m4s"), seg, 0o644))

	bare := echo.New()
	bare.HideBanner, bare.HidePort = true, true
	bare.GET("/v", func(c echo.Context) error { return c.JSONBlob(200, videoJSON) })
	bsrv := &http.Server{Handler: bare}
	fsrv := &http.Server{Handler: http.FileServer(http.Dir(plainDir))}
	for _, s := range []*http.Server{bsrv, fsrv} {
		ln, err := listenLoopback()
		require.NoError(b, err)
		s.Addr = ln.Addr().String()
		go func() { _ = s.Serve(ln) }()
		defer s.Close()
	}
	b.ResetTimer()
	const conns, d = 64, 5 * time.Second
	meta := load(b, a.URL+"/api/v1/videos/"+id, conns, d)
	// A logged-in viewer (not the owner): the token is verified and the account's state looked up
	// on every request.
	metaViewer := load(b, a.URL+"/api/v1/videos/"+id, conns, d, a.token("viewer"))
	metaBare := load(b, "http://"+bsrv.Addr+"/v", conns, d)
	segApp := load(b, a.URL+"/media/"+segKey, conns, d)
	segPlain := load(b, "http://"+fsrv.Addr+"/seg.m4s", conns, d)
	b.StopTimer()
	b.ReportMetric(meta.rps/metaBare.rps, "metadata-ratio")
	b.ReportMetric(metaViewer.rps/metaBare.rps, "metadata-viewer-ratio")
	b.ReportMetric(segApp.rps/segPlain.rps, "segment-ratio")
	fmt.Printf("GET /api/v1/videos/{id}: %.0f req/s p99 %s; bare echo %.0f req/s p99 %s; ratio %.2f\n", meta.rps, meta.p99, metaBare.rps, metaBare.p99, meta.rps/metaBare.rps)
	fmt.Printf("GET /api/v1/videos/{id} as a logged-in viewer: %.0f req/s p99 %s; ratio %.2f\n", metaViewer.rps, metaViewer.p99, metaViewer.rps/metaBare.rps)
	fmt.Printf("2 MB segment: %.0f req/s p99 %s; plain file server %.0f req/s p99 %s; ratio %.2f\n", segApp.rps, segApp.p99, segPlain.rps, segPlain.p99, segApp.rps/segPlain.rps)
}

func listenLoopback() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

// selfCPU is the CPU time of this process (all its threads, not its children).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
