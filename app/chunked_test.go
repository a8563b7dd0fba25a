package app

import (
	"bufio"
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"vod/app/apiclient"
)

// fetch GETs a URL of the app (absolute or relative) and returns the body.
func (a *testApp) fetch(t testing.TB, u string) []byte {
	t.Helper()
	if strings.HasPrefix(u, "/") {
		u = a.URL + u
	}
	res, err := http.Get(u)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Equal(t, 200, res.StatusCode, "%s: %s", u, b)
	return b
}

// hlsTrack reads an HLS media playlist: its tags, its init segment and its segments with durations.
type hlsTrack struct {
	text     string
	init     string
	segments []string
	extinf   []float64
}

func readHLS(t testing.TB, body []byte) hlsTrack {
	var h hlsTrack
	h.text = string(body)
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(l, "#EXT-X-MAP:URI="):
			h.init = strings.Trim(strings.TrimPrefix(l, "#EXT-X-MAP:URI="), `"`)
		case strings.HasPrefix(l, "#EXTINF:"):
			v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimPrefix(l, "#EXTINF:"), ","), 64)
			require.NoError(t, err)
			h.extinf = append(h.extinf, v)
		case l != "" && !strings.HasPrefix(l, "#"):
			h.segments = append(h.segments, l)
		}
	}
	return h
}

// assemble downloads a track's init and media segments into one file.
func (a *testApp) assemble(t testing.TB, base string, h hlsTrack, path string) {
	t.Helper()
	var buf bytes.Buffer
	buf.Write(a.fetch(t, base+h.init))
	for _, s := range h.segments {
		buf.Write(a.fetch(t, base+s))
	}
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
}

func ffprobeLines(t testing.TB, args ...string) []string {
	t.Helper()
	out, err := exec.Command("ffprobe", append([]string{"-v", "error"}, args...)...).Output()
	require.NoError(t, err)
	return strings.FieldsFunc(string(out), func(r rune) bool { return r == ',' || r == '\n' || r == ' ' || r == '\r' })
}

// TestChunkedOutput reads a chunked encode back as a player would: a 12 s clip whose audio starts
// 0.5 s after its video, cut into three 4 s chunks of two 2 s segments. Every rung has every frame
// once with keyframes at the same times, the manifests list exactly the stored segments with their
// real durations, and the audio keeps its offset to within a frame.
func TestChunkedOutput(t *testing.T) {
	t.Parallel()
	a := setup(t, map[string]string{"VOD_TRANSCODE_CHUNK_SECONDS": "4", "VOD_TRANSCODE_SEGMENT_SECONDS": "2"})
	tok := a.token("chunky")
	dir := t.TempDir()
	src := filepath.Join(dir, "delayed.mkv")
	ffmpegRun(t, "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30:duration=12",
		"-itsoffset", "0.5", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=11.5",
		"-map", "0", "-map", "1", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", src)
	v := a.uploadReady(tok, src, nil)
	require.InDelta(t, 12.0, float64(deref(v.DurationSeconds)), 0.05, "the video stream's duration")

	hls := strings.TrimPrefix(hlsOf(v), a.URL)
	base := hls[:strings.LastIndex(hls, "/")+1]
	master := string(a.fetch(t, hls))
	require.Contains(t, master, "#EXT-X-VERSION:7")
	variants := regexp.MustCompile(`(?m)^(media_\d+\.m3u8)$`).FindAllString(master, -1)
	require.NotEmpty(t, variants, master)
	audioURI := regexp.MustCompile(`TYPE=AUDIO[^\n]*URI="([^"]+)"`).FindStringSubmatch(master)
	require.NotNil(t, audioURI, master)

	var keyTimes []string
	for i, name := range variants {
		h := readHLS(t, a.fetch(t, base+name))
		require.Contains(t, h.text, "#EXT-X-PLAYLIST-TYPE:VOD")
		require.Contains(t, h.text, "#EXT-X-VERSION:7")
		require.Contains(t, h.text, "#EXT-X-ENDLIST")
		require.Len(t, h.segments, 6, "three chunks of two segments")
		sum := 0.0
		for _, d := range h.extinf {
			require.InDelta(t, 2.0, d, 0.001)
			sum += d
		}
		require.InDelta(t, 12.0, sum, 0.001)
		file := filepath.Join(dir, name+".mp4")
		a.assemble(t, base, h, file)
		frames := ffprobeLines(t, "-count_frames", "-select_streams", "v", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", file)
		require.Equal(t, []string{"360"}, frames, "every frame of the source once, none duplicated")
		keys := ffprobeLines(t, "-select_streams", "v", "-skip_frame", "nokey", "-show_entries", "frame=pts_time", "-of", "csv=p=0", file)
		if i == 0 {
			keyTimes = keys
			require.Len(t, keys, 6)
			for k, kt := range keys {
				f, _ := strconv.ParseFloat(kt, 64)
				require.InDelta(t, float64(2*k), f, 0.001, "keyframe %d on its segment boundary: %v", k, keys)
			}
		} else {
			require.Equal(t, keyTimes, keys, "keyframes at the same times in every rung")
		}
	}

	// The audio: its own segments, and the source's half second of delay kept as silence.
	ah := readHLS(t, a.fetch(t, base+audioURI[1]))
	afile := filepath.Join(dir, "audio.mp4")
	a.assemble(t, base, ah, afile)
	first := ffprobeLines(t, "-select_streams", "a", "-show_entries", "packet=pts_time", "-read_intervals", "%+#1", "-of", "csv=p=0", afile)
	require.NotEmpty(t, first)
	f0, _ := strconv.ParseFloat(first[0], 64)
	require.InDelta(t, 0.0, f0, 0.001, "audio starts with the video")
	out, err := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-i", afile, "-af", "silencedetect=n=-40dB:d=0.2", "-f", "null", "-").CombinedOutput()
	require.NoError(t, err, "%s", out)
	m := regexp.MustCompile(`silence_end: ([0-9.]+)`).FindStringSubmatch(string(out))
	require.NotNil(t, m, "%s", out)
	end, _ := strconv.ParseFloat(m[1], 64)
	require.InDelta(t, 0.5, end, 1.0/30, "the tone starts half a second in, within one frame")
	asum := 0.0
	for _, d := range ah.extinf {
		asum += d
	}
	require.InDelta(t, 12.0, asum, 0.1, "no stray audio tail")

	// DASH: the same segments, the duration rounded up, not down.
	mpd := string(a.fetch(t, dashOf(v)))
	dm := regexp.MustCompile(`mediaPresentationDuration="PT([0-9.]+)S"`).FindStringSubmatch(mpd)
	require.NotNil(t, dm, mpd)
	d, _ := strconv.ParseFloat(dm[1], 64)
	require.GreaterOrEqual(t, d, 12.0)
	require.Less(t, d, 12.1)
	require.Contains(t, mpd, "<SegmentTimeline>")
	decodes(t, a.URL+strings.TrimPrefix(dashOf(v), a.URL))

	// The storyboard: taken by the chunks from the frames they decode, one row of thumbnails each.
	checkStoryboard(t, a, deref(v.Thumbnails.Storyboard), src, 12)

	// Honest figures: one encode run per chunk and the audio, no more.
	body := string(a.do("GET", "/metrics", nil, metricsToken).Body)
	require.Equal(t, 5.0, metricValue(t, body, `vod_encode_runs_total`), "4 chunks (2, 2, 4 and 4 s) + 1 audio")
}

// checkStoryboard reads a video's storyboard as a player does: a cue a second, each naming an image
// (relative to the WebVTT file) and a tile in it, and checks that every tile shows the source's
// frame at the cue's start, closer to it than to the frame half a second later.
func checkStoryboard(t *testing.T, a *testApp, vttURL, src string, seconds int) {
	t.Helper()
	vtt := string(a.fetch(t, vttURL))
	cues := regexp.MustCompile(`(\d\d):(\d\d):(\d\d)\.(\d\d\d) --> \S+\n(\S+)#xywh=(\d+),(\d+),(\d+),(\d+)`).FindAllStringSubmatch(vtt, -1)
	require.Len(t, cues, seconds, "a thumbnail a second: %s", vtt)
	base := vttURL[:strings.LastIndex(vttURL, "/")+1]
	images := map[string]image.Image{}
	// The source's frames every half second (the first at or after each), at the tiles' size, in
	// gray, from one ffmpeg run: frame(k) is the one at k/2 s.
	w, h := atoi(cues[0][8]), atoi(cues[0][9])
	out, err := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-i", src,
		"-vf", fmt.Sprintf("select='isnan(prev_selected_t)+gte(t-prev_selected_t,0.499)',scale=%d:%d,format=gray", w, h),
		"-fps_mode", "passthrough", "-f", "rawvideo", "-").Output()
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(out), 2*seconds*w*h, "a frame every half second")
	frame := func(at float64) []byte {
		k := int(math.Round(at * 2))
		return out[k*w*h : (k+1)*w*h]
	}
	for i, c := range cues {
		at := float64(atoi(c[1])*3600+atoi(c[2])*60+atoi(c[3])) + float64(atoi(c[4]))/1000
		require.InDelta(t, float64(i), at, 0.001, "cue %d", i)
		img, ok := images[c[5]]
		if !ok {
			var err error
			img, err = jpeg.Decode(bytes.NewReader(a.fetch(t, base+c[5])))
			require.NoError(t, err, "image %s", c[5])
			images[c[5]] = img
		}
		x, y := atoi(c[6]), atoi(c[7])
		require.Equal(t, []int{w, h}, []int{atoi(c[8]), atoi(c[9])}, "tile %d's size", i)
		require.True(t, image.Rect(x, y, x+w, y+h).In(img.Bounds()), "tile %d inside %s", i, c[5])
		diff := func(want []byte) float64 {
			var sum float64
			for yy := range h {
				for xx := range w {
					g := color.GrayModel.Convert(img.At(x+xx, y+yy)).(color.Gray).Y
					sum += math.Abs(float64(g) - float64(want[yy*w+xx]))
				}
			}
			return sum / float64(w*h)
		}
		now, later := diff(frame(at)), diff(frame(at+0.5))
		require.Less(t, now, later, "thumbnail %d shows the frame at %.0fs", i, at)
	}
	require.Greater(t, len(images), 1, "the chunks' rows of thumbnails")
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return n
}

// TestSubtitlesFollowTheVideo: when a source's video starts after zero, the published timeline
// starts at its first frame, and embedded subtitle cues move with it (they used to land late by the
// video's start time).
func TestSubtitlesFollowTheVideo(t *testing.T) {
	t.Parallel()
	a := setup(t)
	tok := a.token("subtimer")
	dir := t.TempDir()
	srt := filepath.Join(dir, "en.srt")
	require.NoError(t, os.WriteFile(srt, []byte("1\n00:00:01,000 --> 00:00:02,000\nHalf a second into the picture\n"), 0o644))
	src := filepath.Join(dir, "late.mkv")
	// The audio starts at 0, the video half a second later, the cue a second in.
	ffmpegRun(t, "-itsoffset", "0.5", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=4",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=4.5", "-i", srt,
		"-map", "0", "-map", "1", "-map", "2", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
		"-c:s", "srt", "-metadata:s:s:0", "language=eng", src)
	v := a.uploadReady(tok, src, nil)
	subs := deref(v.Subtitles)
	require.Len(t, subs, 1)
	vtt := string(a.fetch(t, strings.TrimPrefix(subs[0].Url, a.URL)))
	m := regexp.MustCompile(`(\d\d):(\d\d)\.(\d\d\d) -->`).FindStringSubmatch(vtt)
	require.NotNil(t, m, vtt)
	sec, _ := strconv.Atoi(m[2])
	ms, _ := strconv.Atoi(m[3])
	require.InDelta(t, 0.5, float64(sec)+float64(ms)/1000, 0.041, "the cue is half a second after the first frame: %s", vtt)
}

// TestSegmentsStoredWhileEncoding: a chunk's first segments are in storage while its ffmpeg is still
// running, not only after the chunk is done.
func TestSegmentsStoredWhileEncoding(t *testing.T) {
	t.Parallel()
	a := setup(t, map[string]string{"VOD_TRANSCODE_CHUNK_SECONDS": "28", "VOD_TRANSCODE_SEGMENT_SECONDS": "2"})
	if a.Env["VOD_STORAGE_BACKEND"] == "s3" {
		t.Skip("watches the local storage directory")
	}
	tok := a.token("streamer")
	r := a.upload(tok, clip(t, "long"), nil)
	require.Equal(t, 202, r.Status, "%s", r.Body)
	id := str(r.JSON(t)["video"].(map[string]any)["id"])
	// The first chunks are short (one segment, so that playback can start early): 2, 2, 4 and 6 s;
	// c4 holds the other 16 s, segments 8 to 15.
	seg := filepath.Join(a.Env["VOD_DATA_DIR"], "media", "videos", id, "g1", "seg-0-00008.m4s")
	require.Eventually(t, func() bool {
		_, err := os.Stat(seg)
		if err != nil {
			return false
		}
		// The chunk is still encoding: its scratch output is still being written, and its last
		// segment does not exist yet.
		running, _ := filepath.Glob(filepath.Join(a.Env["VOD_DATA_DIR"], "work", id, "c4-*", "r0.mp4"))
		_, lastErr := os.Stat(strings.Replace(seg, "00008", "00015", 1))
		return len(running) > 0 && os.IsNotExist(lastErr)
	}, 60*time.Second, 10*time.Millisecond, "the first segment was stored during the encode")
	a.waitFor(id, tok, 2*time.Minute)
}

// TestAnamorphicSquarePixels (issue 19): a source with non-square pixels (720x480 at 32:27, shown
// at 16:9) is published at its display size with square pixels on every rung, and the API reports
// the display dimensions.
func TestAnamorphicSquarePixels(t *testing.T) {
	t.Parallel()
	a := setup(t)
	tok := a.token("dvd")
	v := a.uploadReady(tok, clip(t, "anamorphic"), nil)
	require.Equal(t, 854, deref(v.Width), "display width")
	require.Equal(t, 480, deref(v.Height))
	var sizes []string
	for _, r := range deref(v.Renditions) {
		sizes = append(sizes, fmt.Sprintf("%dx%d", r.Width, r.Height))
	}
	require.Equal(t, []string{"640x360", "854x480"}, sizes)
	hls := hlsOf(v)
	base := hls[:strings.LastIndex(hls, "/")+1]
	for _, id := range []string{"0", "1"} {
		h := readHLS(t, a.fetch(t, base+"media_"+id+".m3u8"))
		dir := t.TempDir()
		a.assemble(t, a.URL+base, h, filepath.Join(dir, "r.mp4"))
		out := ffprobeLines(t, "-select_streams", "v:0", "-show_entries", "stream=sample_aspect_ratio", "-of", "csv=p=0", filepath.Join(dir, "r.mp4"))
		require.Equal(t, []string{"1:1"}, out, "square pixels")
	}
}

// TestEveryAudioLanguage (issue 19): a source with English (5.1) and French audio publishes both as
// audio renditions with their languages and names, the source's default first, in both manifests
// and in the API; each track decodes on its own; the 5.1 track also keeps a 5.1 rendition.
func TestEveryAudioLanguage(t *testing.T) {
	t.Parallel()
	a := setup(t)
	tok := a.token("bilingual")
	v := a.uploadReady(tok, clip(t, "two-audio"), nil)
	var tracks []string
	for _, tr := range deref(v.AudioTracks) {
		tracks = append(tracks, fmt.Sprintf("%s %s %v %d", tr.Lang, tr.Label, tr.Default, tr.Channels))
	}
	require.Equal(t, []string{"en English true 2", "fr Français false 2", "en English (5.1) false 6"}, tracks)
	pb := map[string]any{"dash": dashOf(v), "hls": hlsOf(v)}
	mpd := string(a.fetch(t, str(pb["dash"])))
	require.Regexp(t, `contentType="audio"[^>]*selectionPriority="3" lang="en">\s*<Label>English</Label>\s*<Role schemeIdUri="urn:mpeg:dash:role:2011" value="main"/>`, mpd)
	require.Regexp(t, `contentType="audio"[^>]*selectionPriority="2" lang="fr">\s*<Label>Français</Label>\s*<Role schemeIdUri="urn:mpeg:dash:role:2011" value="alternate"/>`, mpd)
	require.Regexp(t, `selectionPriority="1" lang="en">\s*<Label>English \(5.1\)</Label>\s*<Role[^>]*/>\s*<Representation[^>]*>\s*<AudioChannelConfiguration [^>]*value="6"/>`, mpd)
	hls := str(pb["hls"])
	master := string(a.fetch(t, hls))
	require.Contains(t, master, `#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2"`)
	require.Contains(t, master, `#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="Français",LANGUAGE="fr",DEFAULT=NO,AUTOSELECT=YES,CHANNELS="2"`)
	// The multichannel group: English in 5.1, French (which has no 5.1) in stereo.
	require.Contains(t, master, `#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud-mc",NAME="English (5.1)",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="6"`)
	require.Contains(t, master, `#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud-mc",NAME="Français",LANGUAGE="fr",DEFAULT=NO,AUTOSELECT=YES,CHANNELS="2"`)
	require.Equal(t, 2*len(deref(v.Renditions)), strings.Count(master, "#EXT-X-STREAM-INF"), "every variant once per audio group")
	require.Contains(t, master, `AUDIO="aud-mc"`)
	base := hls[:strings.LastIndex(hls, "/")+1]
	ids := regexp.MustCompile(`GROUP-ID="aud",[^\n]*URI="media_(\d+)\.m3u8"|GROUP-ID="aud-mc",[^\n]*CHANNELS="6",URI="media_(\d+)\.m3u8"`).FindAllStringSubmatch(master, -1)
	require.Len(t, ids, 3)
	for i, m := range ids {
		h := readHLS(t, a.fetch(t, base+"media_"+m[1]+m[2]+".m3u8"))
		f := filepath.Join(t.TempDir(), "a.mp4")
		a.assemble(t, a.URL+base, h, f)
		out := ffprobeLines(t, "-select_streams", "a:0", "-show_entries", "stream=codec_name,channels", "-of", "csv=p=0", f)
		want := []string{"aac", "2"}
		if i == 2 {
			want = []string{"aac", "6"}
		}
		require.Equal(t, want, out)
	}
}

// TestOneFrameVideo (issue 19): a video of a single frame is published with a valid frame rate in
// its manifests (it once said frameRate="0/0").
func TestOneFrameVideo(t *testing.T) {
	t.Parallel()
	a := setup(t)
	tok := a.token("oneframe")
	f := filepath.Join(t.TempDir(), "one.mp4")
	ffmpegRun(t, "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-frames:v", "1", "-c:v", "libx264", "-pix_fmt", "yuv420p", f)
	r := a.upload(tok, f, nil)
	require.Equal(t, 202, r.Status, "%s", r.Body)
	v := a.waitFor(str(r.JSON(t)["video"].(map[string]any)["id"]), tok, 2*time.Minute)
	if v.Status == apiclient.Failed {
		require.NotEmpty(t, errOf(v), "a refusal says why")
		return
	}
	require.Equal(t, apiclient.Ready, v.Status)
	mpd := string(a.fetch(t, dashOf(v)))
	require.NotContains(t, mpd, "0/0")
	require.NotRegexp(t, `frameRate="0`, mpd)
	master := string(a.fetch(t, hlsOf(v)))
	for _, m := range regexp.MustCompile(`FRAME-RATE=([0-9.]+)`).FindAllStringSubmatch(master, -1) {
		fr, _ := strconv.ParseFloat(m[1], 64)
		require.Greater(t, fr, 0.0)
	}
}
