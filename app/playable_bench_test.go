package app

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"vod/app/apiclient"

	"vod/app/testenv"
)

var masterURIRe = regexp.MustCompile(`(?m)^(media_\d+\.m3u8)$|URI="(media_\d+\.m3u8)"`)

// playableNow says whether a video can be started by a player right now: its manifests, and the
// init and first segment of every rung and of the audio, answer over HTTP.
func playableNow(a *testApp, hls string) bool {
	get := func(u string) ([]byte, bool) {
		res, err := http.Get(a.URL + u)
		if err != nil {
			return nil, false
		}
		defer res.Body.Close()
		b := make([]byte, 0, 4096)
		buf := make([]byte, 32<<10)
		for {
			n, err := res.Body.Read(buf)
			b = append(b, buf[:n]...)
			if err != nil {
				break
			}
		}
		return b, res.StatusCode == 200
	}
	master, ok := get(hls)
	if !ok {
		return false
	}
	dir := hls[:strings.LastIndex(hls, "/")+1]
	n := 0
	for _, m := range masterURIRe.FindAllStringSubmatch(string(master), -1) {
		name := m[1] + m[2]
		pl, ok := get(dir + name)
		if !ok {
			return false
		}
		h := readHLSLoose(string(pl))
		if h.init == "" || len(h.segments) == 0 {
			return false
		}
		if _, ok := get(dir + h.init); !ok {
			return false
		}
		if _, ok := get(dir + h.segments[0]); !ok {
			return false
		}
		n++
	}
	return n > 1
}

// readHLSLoose is readHLS without a test to fail: the playlist may not be there yet.
func readHLSLoose(text string) hlsTrack {
	var h hlsTrack
	for _, l := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(l, `#EXT-X-MAP:URI="`):
			h.init = strings.TrimSuffix(strings.TrimPrefix(l, `#EXT-X-MAP:URI="`), `"`)
		case l != "" && !strings.HasPrefix(l, "#"):
			h.segments = append(h.segments, l)
		}
	}
	return h
}

// BenchmarkPlayable (issue 14): time from the end of an upload to playable (manifests and every
// rung's and the audio's first segment fetchable over HTTP) for 1080p30 sources of 1, 10 and 60
// minutes, one worker process beside the API (PostgreSQL + MinIO, the production chunk lengths),
// and the time to ready of the 1-minute one. The long sources are one minute of lavfi pattern
// repeated (concatenated without encoding): only their start is encoded here.
func BenchmarkPlayable(b *testing.B) {
	if !testenv.Postgres() || !testenv.S3() {
		b.Skip("needs PostgreSQL and S3 (make bench)")
	}
	dir := b.TempDir()
	one := filepath.Join(dir, "1min.mp4")
	ffmpegRun(b, "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30:duration=60",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=60",
		"-c:v", "libx264", "-preset", "ultrafast", "-b:v", "2M", "-g", "60", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", one)
	repeat := func(minutes int) string {
		list := filepath.Join(dir, fmt.Sprintf("list-%d.txt", minutes))
		require.NoError(b, os.WriteFile(list, []byte(strings.Repeat("file '"+one+"'\n", minutes)), 0o644))
		out := filepath.Join(dir, fmt.Sprintf("%dmin.mp4", minutes))
		ffmpegRun(b, "-f", "concat", "-safe", "0", "-i", list, "-c", "copy", out)
		return out
	}
	sources := []struct {
		name string
		path string
	}{{"1min", one}, {"10min", repeat(10)}, {"60min", repeat(60)}}
	b.ResetTimer()
	for _, src := range sources {
		base := clusterBase(b)
		productionLengths(base)
		base["VOD_QUEUE_WORKERS"] = "2"
		a, api, workers := startCluster(b, base, 1)
		tok := a.token("bench")
		r := a.upload(tok, src.path, nil)
		require.Equal(b, 202, r.Status, "%s", r.Body)
		t0 := time.Now()
		id := str(r.JSON(b)["video"].(map[string]any)["id"])
		var playable time.Duration
		var avail float64
		for deadline := time.Now().Add(10 * time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			v := a.do("GET", "/api/v1/videos/"+id, nil, tok).JSON(b)["video"].(map[string]any)
			if hls := str(v["playback"].(map[string]any)["hls"]); hls != "" && playableNow(a, hls) {
				playable, avail = time.Since(t0), v["available_seconds"].(float64)
				break
			}
		}
		require.NotZero(b, playable, "%s never became playable", src.name)
		line := fmt.Sprintf("%s 1080p30: playable %.2fs after the upload (%.0fs available then)", src.name, playable.Seconds(), avail)
		b.ReportMetric(playable.Seconds(), src.name+"-playable-s")
		if src.name == "1min" {
			v := a.waitFor(id, tok, 30*time.Minute)
			require.Equal(b, apiclient.Ready, v.Status)
			ready := time.Since(t0)
			line += fmt.Sprintf(", ready %.1fs", ready.Seconds())
			b.ReportMetric(ready.Seconds(), "1min-ready-s")
		} else {
			a.do("DELETE", "/api/v1/videos/"+id, nil, tok)
		}
		fmt.Println(line)
		for _, p := range append(workers, api) {
			p.kill(b)
		}
	}
}
