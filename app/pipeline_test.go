package app

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"vod/app/apiclient"
	"vod/app/db"
	"vod/app/storage"
)

// upload posts a file as multipart, streaming it from disk.
func (a *testApp) upload(token, path string, fields map[string]string) response {
	a.t.Helper()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		for k, v := range fields {
			_ = mw.WriteField(k, v)
		}
		fw, err := mw.CreateFormFile("file", filepath.Base(path))
		if err == nil {
			var f *os.File
			if f, err = os.Open(path); err == nil {
				_, err = io.Copy(fw, f)
				f.Close()
			}
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequest("POST", a.URL+"/api/v1/videos", pr)
	require.NoError(a.t, err)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(a.t, err)
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return response{Status: res.StatusCode, Header: res.Header, Body: body}
}

// waitFor polls a video through the generated client until it is ready or failed.
func (a *testApp) waitFor(id, token string, timeout time.Duration) apiclient.Video {
	a.t.Helper()
	return a.waitVideo(id, token, timeout)
}

// uploadReady uploads a file and waits, through the generated client, until its video is ready.
func (a *testApp) uploadReady(token, path string, fields map[string]string) apiclient.Video {
	a.t.Helper()
	return a.uploadReadyAll(token, fileUpload{path, fields})[0]
}

// fileUpload is one file for uploadReadyAll, with its form fields.
type fileUpload struct {
	path   string
	fields map[string]string
}

// uploadReadyAll uploads every file, then waits until each video is ready: their pipelines run side
// by side instead of one after the other's.
func (a *testApp) uploadReadyAll(token string, files ...fileUpload) []apiclient.Video {
	a.t.Helper()
	var ids []string
	for _, f := range files {
		r := a.upload(token, f.path, f.fields)
		require.Equal(a.t, http.StatusAccepted, r.Status, "%s", r.Body)
		v := r.JSON(a.t)["video"].(map[string]any)
		requireAccepted(a.t, v)
		ids = append(ids, v["id"].(string))
	}
	var out []apiclient.Video
	for _, id := range ids {
		got := a.waitFor(id, token, 3*time.Minute)
		require.Equal(a.t, apiclient.Ready, got.Status, "error: %s", errOf(got))
		out = append(out, got)
	}
	return out
}

// requireAccepted checks a 202 reply's video: the reply reads the video after the commit that
// queued its job, and on PostgreSQL a worker can have picked the job up by then.
func requireAccepted(t testing.TB, v map[string]any) {
	t.Helper()
	require.Contains(t, []string{"queued", "processing"}, v["status"])
}

func str(v any) string { s, _ := v.(string); return s }

// decodes checks ffmpeg can read a manifest over HTTP from the app and decode its first frames.
func decodes(t *testing.T, url string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-v", "error", "-nostdin", "-i", url,
		"-map", "0:v:0", "-frames:v", "10", "-f", "null", "-").CombinedOutput()
	require.NoError(t, err, "decode %s: %s", url, out)
}

func TestPipelineFormats(t *testing.T) {
	t.Parallel()
	a := setup(t)
	tok := a.token("uploader")
	cases := []struct {
		kind          string
		width, height int
		rungs         [][2]int
		audio         bool
		subs          []string
	}{
		{"mp4", 854, 480, [][2]int{{640, 360}, {854, 480}}, true, nil},
		{"mov", 640, 360, [][2]int{{640, 360}}, true, nil},
		{"mkv-subs", 640, 360, [][2]int{{640, 360}}, true, []string{"en", "fr"}},
		{"portrait", 360, 640, [][2]int{{360, 640}}, true, nil},
		{"noaudio", 640, 360, [][2]int{{640, 360}}, false, nil},
		{"odd", 321, 241, [][2]int{{320, 240}}, true, nil},
		{"vfr", 640, 360, [][2]int{{640, 360}}, false, nil},
		{"rotated", 360, 640, [][2]int{{360, 640}}, true, nil},
	}
	for _, tc := range cases {
		t.Run(tc.kind, func(t *testing.T) {
			// Side by side: each case mostly waits on its video's job hand-offs, and one after the
			// other they made this the suite's longest test (103 s on PostgreSQL), finishing alone.
			t.Parallel()
			v := a.uploadReady(tok, clip(t, tc.kind), map[string]string{"title": "clip " + tc.kind})
			require.EqualValues(t, tc.width, deref(v.Width))
			require.EqualValues(t, tc.height, deref(v.Height))
			require.InDelta(t, 3.0, deref(v.DurationSeconds), 0.3)
			rends := deref(v.Renditions)
			require.Len(t, rends, len(tc.rungs))
			for i, r := range rends {
				require.EqualValues(t, tc.rungs[i][0], r.Width)
				require.EqualValues(t, tc.rungs[i][1], r.Height)
				require.Positive(t, r.Bandwidth)
				require.True(t, strings.HasPrefix(r.Codecs, "avc1."))
			}
			pb := map[string]any{"dash": dashOf(v), "hls": hlsOf(v), "mp4": mp4Of(v)}
			mpd := a.do("GET", str(pb["dash"]), nil, "")
			require.Equal(t, 200, mpd.Status)
			require.Equal(t, "application/dash+xml", mpd.Header.Get("Content-Type"))
			hls := a.do("GET", str(pb["hls"]), nil, "")
			require.Equal(t, 200, hls.Status)
			require.Equal(t, tc.audio, strings.Contains(string(mpd.Body), `contentType="audio"`))
			require.Equal(t, tc.audio, strings.Contains(string(hls.Body), "TYPE=AUDIO"))
			require.NotContains(t, string(hls.Body), "BANDWIDTH=0")

			decodes(t, a.URL+str(pb["dash"]))
			decodes(t, a.URL+str(pb["hls"]))

			// Every rung's segments exist.
			segs := int((float64(deref(v.DurationSeconds)) + 3.999) / 4)
			base := str(pb["dash"])[:strings.LastIndex(str(pb["dash"]), "/")+1]
			for rep := range len(tc.rungs) {
				require.Equal(t, 200, a.do("HEAD", fmt.Sprintf("%sinit-%d.m4s", base, rep), nil, "").Status)
				for n := 1; n <= segs; n++ {
					require.Equal(t, 200, a.do("HEAD", fmt.Sprintf("%sseg-%d-%05d.m4s", base, rep, n), nil, "").Status, "rep %d seg %d", rep, n)
				}
			}
			subs := deref(v.Subtitles)
			require.Len(t, subs, len(tc.subs))
			for i, lang := range tc.subs {
				sm := subs[i]
				require.Equal(t, lang, sm.Lang)
				require.Equal(t, "embedded", string(sm.Source))
				require.Contains(t, string(mpd.Body), `lang="`+lang+`"`)
				require.Contains(t, string(hls.Body), `TYPE=SUBTITLES,GROUP-ID="subs"`)
				require.Contains(t, string(hls.Body), `LANGUAGE="`+lang+`"`)
				vtt := a.do("GET", sm.Url, nil, "")
				require.Equal(t, 200, vtt.Status)
				require.True(t, strings.HasPrefix(string(vtt.Body), "WEBVTT"))
			}
			if len(tc.subs) > 0 {
				require.Contains(t, string(a.do("GET", subs[0].Url, nil, "").Body), "Hello from the test clip")
				require.Contains(t, string(a.do("GET", subs[1].Url, nil, "").Body), "Bonjour depuis le clip")
			}
			poster := a.do("GET", deref(v.Thumbnails.Poster), nil, "")
			require.Equal(t, 200, poster.Status)
			require.Equal(t, "image/jpeg", poster.Header.Get("Content-Type"))
			sb := a.do("GET", deref(v.Thumbnails.Storyboard), nil, "")
			require.Contains(t, string(sb.Body), "storyboard-0.jpg#xywh=0,0,")
			mp4 := a.do("GET", str(pb["mp4"]), nil, "", "Range", "bytes=0-99")
			require.Equal(t, 206, mp4.Status)
			require.Len(t, mp4.Body, 100)
		})
	}
}

func TestPosterIsNotBlack(t *testing.T) {
	t.Parallel()
	a := setup(t)
	tok := a.token("poster")
	dir := t.TempDir()
	// One black second, then colour: the poster must come from the colour part.
	p := filepath.Join(dir, "fade.mp4")
	ffmpegRun(t, "-f", "lavfi", "-i", "color=black:size=320x240:rate=25:duration=1", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=9",
		"-filter_complex", "[0:v][1:v]concat=n=2:v=1[v]", "-map", "[v]", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", p)
	v := a.uploadReady(tok, p, nil)
	img := a.do("GET", deref(v.Thumbnails.Poster), nil, "")
	f := filepath.Join(dir, "poster.jpg")
	require.NoError(t, os.WriteFile(f, img.Body, 0o644))
	out, err := exec.Command("ffprobe", "-v", "error", "-f", "lavfi", "-i", "movie="+f+",signalstats", "-show_entries", "frame_tags=lavfi.signalstats.YAVG", "-of", "csv=p=0").Output()
	require.NoError(t, err)
	var yavg float64
	_, _ = fmt.Sscanf(strings.TrimSpace(string(out)), "%f", &yavg)
	require.Greater(t, yavg, 40.0, "poster luma %s", out)
}

func TestUploadRejections(t *testing.T) {
	t.Parallel()
	a := setup(t)
	tok := a.token("rejector")
	dir := t.TempDir()

	// A loopback listener that must never be contacted.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	var hits atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			hits.Add(1)
			c.Close()
		}
	}()
	secret := filepath.Join(dir, "secret.mp4")
	good := clip(t, "mp4")
	data, _ := os.ReadFile(good)
	require.NoError(t, os.WriteFile(secret, data, 0o644))
	loop := "http://" + ln.Addr().String() + "/x.mp4"

	truncated := filepath.Join(dir, "truncated.mp4")
	ffmpegRun(t, "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=2", "-c:v", "libx264", "-preset", "ultrafast", filepath.Join(dir, "whole.mp4"))
	whole, _ := os.ReadFile(filepath.Join(dir, "whole.mp4"))
	require.NoError(t, os.WriteFile(truncated, whole[:len(whole)/2], 0o644))
	image := filepath.Join(dir, "image.mp4")
	ffmpegRun(t, "-f", "lavfi", "-i", "testsrc2=size=320x240", "-frames:v", "1", "-f", "image2", "-c:v", "png", image)
	audio := filepath.Join(dir, "audio.mp4")
	ffmpegRun(t, "-f", "lavfi", "-i", "sine=duration=2", "-c:a", "aac", "-f", "mp4", audio)

	files := map[string]string{
		"text.mp4":          "this is not a video at all\n",
		"hls-local.mp4":     "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n" + secret + "\n#EXT-X-ENDLIST\n",
		"hls-loopback.mp4":  "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n" + loop + "\n#EXT-X-ENDLIST\n",
		"concat-local.mp4":  "ffconcat version 1.0\nfile '" + secret + "'\n",
		"concat-remote.mp4": "ffconcat version 1.0\nfile '" + loop + "'\n",
		"empty.mp4":         "",
	}
	for name, body := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	for _, f := range []string{"text.mp4", "hls-local.mp4", "hls-loopback.mp4", "concat-local.mp4", "concat-remote.mp4", "empty.mp4"} {
		r := a.upload(tok, filepath.Join(dir, f), map[string]string{"title": f})
		require.Equal(t, 422, r.Status, "%s: %s", f, r.Body)
		require.Equal(t, "unreadable_media", r.errCode(t))
	}
	// Files people upload by mistake are named (issue 19): a song with its cover, an animated image.
	cover := filepath.Join(dir, "cover.png")
	ffmpegRun(t, "-f", "lavfi", "-i", "testsrc2=size=64x64", "-frames:v", "1", cover)
	mp3 := filepath.Join(dir, "song.mp3")
	ffmpegRun(t, "-f", "lavfi", "-i", "sine=duration=2", "-i", cover, "-map", "0", "-map", "1", "-c:a", "libmp3lame", "-c:v", "png", "-disposition:v", "attached_pic", "-id3v2_version", "3", mp3)
	m4a := filepath.Join(dir, "song.m4a")
	ffmpegRun(t, "-f", "lavfi", "-i", "sine=duration=2", "-i", cover, "-map", "0", "-map", "1", "-c:a", "aac", "-c:v", "png", "-disposition:v", "attached_pic", m4a)
	gif := filepath.Join(dir, "anim.gif")
	ffmpegRun(t, "-f", "lavfi", "-i", "testsrc2=size=64x64:rate=5:duration=1", gif)
	for path, want := range map[string]string{image: "an image (PNG), not a video", audio: "only audio", truncated: "not a video",
		mp3: "audio (MP3), perhaps with a cover picture", m4a: "audio with a cover picture", gif: "an animated image (GIF)"} {
		r := a.upload(tok, path, nil)
		require.Equal(t, 422, r.Status, "%s: %s", path, r.Body)
		require.Contains(t, string(r.Body), want)
	}
	require.Zero(t, hits.Load(), "no request may reach the loopback URL")

	// Nothing was kept: no video rows and no objects.
	list := a.do("GET", "/api/v1/videos?owner=rejector", nil, tok)
	require.Empty(t, list.JSON(t)["items"])
	require.Empty(t, a.storedKeys(t, "videos/"))

	// Other bad requests.
	require.Equal(t, 401, a.upload("", good, nil).Status)
	r := a.do("POST", "/api/v1/videos", `{"title":"x"}`, tok)
	require.Equal(t, 415, r.Status)
	r = a.upload(tok, good, map[string]string{"visibility": "secret"})
	require.Equal(t, 422, r.Status)
	require.Equal(t, "validation_failed", r.errCode(t))
	require.Empty(t, a.storedKeys(t, "videos/"), "a rejected form leaves no object")
}

func TestUploadSizeLimit(t *testing.T) {
	t.Parallel()
	a := setup(t, map[string]string{"VOD_UPLOAD_MAX_BYTES": "100000"})
	tok := a.token("big")
	r := a.upload(tok, clip(t, "long"), nil)
	require.Equal(t, 413, r.Status, "%s", r.Body)
	require.Equal(t, "too_large", r.errCode(t))
	require.Empty(t, a.storedKeys(t, "videos/"))
}

// storage opens the app's storage through its own configuration.
func (a *testApp) storage(t *testing.T) storage.Storage {
	t.Helper()
	cfg, err := loadFor(t, nil, a.Env)
	require.NoError(t, err)
	st, err := openStorage(context.Background(), cfg)
	require.NoError(t, err)
	return st
}

// storedKeys lists objects through the app's own storage configuration.
func (a *testApp) storedKeys(t *testing.T, prefix string) []string {
	t.Helper()
	var keys []string
	require.NoError(t, a.storage(t).List(context.Background(), prefix, func(o storageObject) error {
		keys = append(keys, o.Key)
		return nil
	}))
	return keys
}

func TestProcessingEventsAndDelete(t *testing.T) {
	t.Parallel()
	a := setup(t)
	tok := a.token("watcher")
	r := a.upload(tok, clip(t, "mkv-subs"), map[string]string{"title": "events", "visibility": "private"})
	require.Equal(t, 202, r.Status)
	id := str(r.JSON(t)["video"].(map[string]any)["id"])

	// Others cannot see a private video at all.
	other := a.token("other")
	require.Equal(t, 404, a.do("GET", "/api/v1/videos/"+id+"/events", nil, other).Status)

	req, _ := http.NewRequest("GET", a.URL+"/api/v1/videos/"+id+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, "text/event-stream", res.Header.Get("Content-Type"))
	var events []string
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			events = append(events, d)
		}
	}
	res.Body.Close()
	require.GreaterOrEqual(t, len(events), 2)
	require.Contains(t, events[len(events)-1], `"status":"ready"`, "the stream ends at ready")

	v := a.do("GET", "/api/v1/videos/"+id, nil, tok).JSON(t)["video"].(map[string]any)
	dash := str(v["playback"].(map[string]any)["dash"])
	require.Contains(t, dash, "/media/s/", "private media URLs are signed")
	require.Equal(t, 200, a.do("GET", dash, nil, "").Status)
	unsigned := "/media/" + dash[strings.Index(dash, "videos/"):]
	require.Equal(t, 404, a.do("GET", unsigned, nil, "").Status, "private media needs the signature")
	require.NotEmpty(t, a.storedKeys(t, "videos/"+id+"/"))

	require.Equal(t, 404, a.do("DELETE", "/api/v1/videos/"+id, nil, other).Status, "private: not even visible")
	require.Equal(t, 204, a.do("DELETE", "/api/v1/videos/"+id, nil, tok).Status)
	require.Equal(t, 404, a.do("GET", "/api/v1/videos/"+id, nil, tok).Status)
	require.Empty(t, a.storedKeys(t, "videos/"+id+"/"), "objects are gone")
	require.Equal(t, 404, a.do("GET", dash, nil, "").Status)
}

// TestPixelBudget (issue 19): a frame larger than transcode.max_pixels is refused before anything
// is kept, with the figures in the reason.
func TestPixelBudget(t *testing.T) {
	t.Parallel()
	a := setup(t, map[string]string{"VOD_TRANSCODE_MAX_PIXELS": "100000"})
	tok := a.token("pixels")
	r := a.upload(tok, clip(t, "mp4"), nil)
	require.Equal(t, 422, r.Status, "%s", r.Body)
	require.Contains(t, string(r.Body), "megapixels a frame); at most 0.1 are accepted")
}

// TestSparseFrames (issue 19): three frames over ten minutes cost what ten minutes of a slideshow
// cost (one frame a second), not what a crafted frame rate of 1/200 makes of the segmenting.
func TestSparseFrames(t *testing.T) {
	t.Parallel()
	a := setup(t, map[string]string{"VOD_METRICS_TOKEN": metricsToken})
	tok := a.token("sparse")
	v := a.uploadReady(tok, clip(t, "sparse"), nil)
	require.InDelta(t, 600, deref(v.DurationSeconds), 1)
	// Chunks of a usual chunk's work, not its length: 6 for ten minutes at a frame a second, where
	// 20 s chunks made 34 (an ffmpeg start each for a few frames).
	m := string(a.do("GET", "/metrics", nil, metricsToken).Body)
	require.LessOrEqual(t, metricValue(t, m, `vod_jobs_total\{kind="transcode.chunk",outcome="completed"\}`), 8.0)
	mpd := string(a.do("GET", dashOf(v), nil, "").Body)
	require.Contains(t, mpd, `mediaPresentationDuration="PT600.000S"`)
	require.Contains(t, mpd, `<S t="0" d="4000" r="149"/>`, "one keyframed segment every 4 s to the end")
	require.Contains(t, string(a.do("GET", hlsOf(v), nil, "").Body), "FRAME-RATE=1.000")
}

// TestCPUBudget (issue 19): a video whose encode takes more CPU than its length allows fails with
// the plain reason, and nothing is published. The budget is tiny here; the default is ~13 times
// what the ladder needs.
func TestCPUBudget(t *testing.T) {
	t.Parallel()
	// Two 10 s chunks, each over its 6 s budget: the 4 s chunks of the default segments mostly
	// finished within it first, costing the suite ~22 CPU s for one failure.
	a := setup(t, map[string]string{"VOD_TRANSCODE_CPU_PER_SECOND": "0.01", "VOD_TRANSCODE_SEGMENT_SECONDS": "10", "VOD_TRANSCODE_CHUNK_SECONDS": "10"})
	tok := a.token("cpu")
	r := a.upload(tok, clip(t, "heavy"), nil)
	require.Equal(t, 202, r.Status, "%s", r.Body)
	id := str(r.JSON(t)["video"].(map[string]any)["id"])
	v := a.waitFor(id, tok, 3*time.Minute)
	require.Equal(t, apiclient.Failed, v.Status)
	require.Contains(t, errOf(v), "more CPU time than a video of its length may")
	require.Empty(t, dashOf(v), "nothing published")
}

// TestMemoryBudget (issue 19): an encode that needs more address space than transcode.max_memory
// fails with the plain reason (the kernel refuses the allocation; nothing is polled).
func TestMemoryBudget(t *testing.T) {
	t.Parallel()
	a := setup(t, map[string]string{"VOD_TRANSCODE_MAX_MEMORY": "300MiB"})
	tok := a.token("memory")
	r := a.upload(tok, clip(t, "heavy"), nil)
	require.Equal(t, 202, r.Status, "%s", r.Body)
	id := str(r.JSON(t)["video"].(map[string]any)["id"])
	v := a.waitFor(id, tok, 3*time.Minute)
	require.Equal(t, apiclient.Failed, v.Status)
	require.Contains(t, errOf(v), "more memory than allowed")
	require.Empty(t, dashOf(v), "nothing published")
}

// TestLyingDuration (issue 19): a file whose header understates its duration (2 s said, 12 s of
// frames) fails with a reason once decoding goes past the stated end, and publishes nothing.
func TestLyingDuration(t *testing.T) {
	t.Parallel()
	a := setup(t)
	tok := a.token("liar")
	r := a.upload(tok, clip(t, "lying"), nil)
	require.Equal(t, 202, r.Status, "%s", r.Body)
	id := str(r.JSON(t)["video"].(map[string]any)["id"])
	v := a.waitFor(id, tok, 2*time.Minute)
	require.Equal(t, apiclient.Failed, v.Status)
	require.Contains(t, errOf(v), "goes on past that")
	require.Empty(t, dashOf(v), "nothing published")
	require.Zero(t, deref(v.AvailableSeconds))
}

// TestLegacyJobsRestart (issue 13): a pipeline v1 job left in the queue by an upgrade
// ("transcode.encode", whose arguments carried the probe and the ladder) starts its video over as
// v2 instead of failing as an unknown kind, and the video becomes ready.
func TestLegacyJobsRestart(t *testing.T) {
	t.Parallel()
	a := setup(t, map[string]string{"VOD_ROLE": "api"}) // no workers: the probe job stays queued
	tok := a.token("upgrader")
	r := a.upload(tok, clip(t, "mp4"), nil)
	require.Equal(t, 202, r.Status, "%s", r.Body)
	id := str(r.JSON(t)["video"].(map[string]any)["id"])
	require.NoError(t, a.stop())

	ctx := context.Background()
	d, err := db.Open(ctx, a.Env["VOD_DATABASE_URL"], 1)
	require.NoError(t, err)
	args := fmt.Sprintf(`{"video_id":%q,"generation":1,"probe":{"duration":3,"width":854,"height":480},"renditions":[{"width":854,"height":480,"kbps":1200}]}`, id)
	res := d.Gorm.Exec(`UPDATE river_job SET kind = 'transcode.encode', args = ? WHERE kind = 'transcode.probe'`, args)
	require.NoError(t, res.Error)
	require.EqualValues(t, 1, res.RowsAffected)
	require.NoError(t, d.Close())

	a.Env["VOD_ROLE"] = "all"
	a = a.restart()
	v := a.waitFor(id, tok, 2*time.Minute)
	require.Equal(t, apiclient.Ready, v.Status, "error: %v", errOf(v))
	require.Contains(t, a.logs.String(), "pipeline v1 job restarted as v2")
}
