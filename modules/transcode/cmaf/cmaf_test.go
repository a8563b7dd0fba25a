package cmaf

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	require.NoError(t, err, "%s %v: %s", name, args, out)
	return string(out)
}

// TestChunksJoinIntoOneTrack: a 12 s clip encoded in three separate 4 s chunks (as three workers
// would) becomes one continuous track when each chunk's segments are moved to their place on the
// timeline: every frame is there once, timestamps rise without gaps or overlaps, and keyframes fall
// exactly on the 2 s segment boundaries.
func TestChunksJoinIntoOneTrack(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "src.mkv")
	run(t, "ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=12", "-c:v", "libx264", "-preset", "ultrafast", src)
	const chunk, seg, fps, ts = 4, 2, 25, 12800
	var parts []*File
	for c := range 3 {
		out := filepath.Join(dir, fmt.Sprintf("c%d.mp4", c))
		// Input seeking decodes from the keyframe before the start and drops frames until it:
		// the chunk's first frame is the first at or after its start.
		run(t, "ffmpeg", "-v", "error", "-ss", strconv.Itoa(c*chunk), "-i", src, "-t", strconv.Itoa(chunk), "-an",
			"-c:v", "libx264", "-preset", "veryfast", "-g", strconv.Itoa(seg*fps), "-keyint_min", strconv.Itoa(seg*fps),
			"-sc_threshold", "0", "-video_track_timescale", strconv.Itoa(ts),
			"-movflags", "+frag_keyframe+empty_moov+default_base_moof", "-use_editlist", "0", out)
		raw, err := os.ReadFile(out)
		require.NoError(t, err)
		f, err := Parse(raw)
		require.NoError(t, err)
		require.EqualValues(t, ts, f.Timescale)
		require.Len(t, f.Segments, chunk/seg, "one segment per keyframe interval")
		require.Zero(t, f.Segments[0].DecodeTime, "each chunk starts at zero on its own")
		codecs, err := Codecs(f.Init)
		require.NoError(t, err)
		require.Regexp(t, `^avc1\.64[0-9a-f]{4}$`, codecs, "High profile")
		parts = append(parts, f)
	}
	var joined bytes.Buffer
	joined.Write(parts[0].Init)
	seq := uint32(1)
	var at uint64
	for _, f := range parts {
		for _, s := range f.Segments {
			require.EqualValues(t, seg*ts, s.Duration, "segment durations are read from the samples")
			moved, err := Shift(s, at, seq)
			require.NoError(t, err)
			require.Len(t, moved.Data, len(s.Data))
			joined.Write(moved.Data)
			at += s.Duration
			seq++
		}
	}
	out := filepath.Join(dir, "joined.mp4")
	require.NoError(t, os.WriteFile(out, joined.Bytes(), 0o644))
	again, err := Parse(joined.Bytes())
	require.NoError(t, err)
	require.Len(t, again.Segments, 6)
	require.EqualValues(t, 10*ts, again.Segments[5].DecodeTime)

	probe := run(t, "ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "packet=pts_time,flags", "-of", "csv=p=0", out)
	lines := strings.Fields(probe)
	require.Len(t, lines, 12*fps, "every frame once")
	// Packets come in decode order; pictures are checked in presentation order. With B-frames every
	// chunk's pictures start a constant reorder delay after its decode time; the delay is the same in
	// every chunk, so the joined track stays continuous (the audio is shifted by the same delay).
	var pts []float64
	keys := map[int]bool{}
	for _, l := range lines {
		v, flags, _ := strings.Cut(l, ",")
		p, err := strconv.ParseFloat(v, 64)
		require.NoError(t, err)
		pts = append(pts, p)
		if strings.HasPrefix(flags, "K") {
			keys[int(math.Round(p*1000))] = true
		}
	}
	sort.Float64s(pts)
	delay := pts[0]
	require.LessOrEqual(t, delay, 3.0/fps, "at most a few frames of reorder delay")
	for i, p := range pts {
		require.InDelta(t, float64(i)/fps+delay, p, 0.001, "frame %d on the timeline", i)
	}
	require.Len(t, keys, 6, "one keyframe per segment")
	for k := range 6 {
		require.True(t, keys[int(math.Round((float64(k*seg)+delay)*1000))], "keyframe at %ds", k*seg)
	}
}

func TestParseRefusesGarbage(t *testing.T) {
	_, err := Parse([]byte("not an mp4 at all"))
	require.Error(t, err)
	_, err = Parse([]byte{0, 0, 0, 8, 'f', 't', 'y', 'p'})
	require.Error(t, err, "no moov")
	_, err = Parse([]byte{0, 0, 1, 0, 'm', 'o', 'o', 'v'})
	require.Error(t, err, "a size past the end")
}

// TestSplitterFollowsAGrowingFile: fed a file a few bytes at a time, the splitter yields the same
// init and segments as parsing the whole file, each as soon as it is complete.
func TestSplitterFollowsAGrowingFile(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed")
	}
	out := filepath.Join(t.TempDir(), "f.mp4")
	run(t, "ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=6", "-c:v", "libx264", "-preset", "ultrafast",
		"-g", "50", "-keyint_min", "50", "-sc_threshold", "0", "-movflags", "+frag_keyframe+empty_moov+default_base_moof", "-use_editlist", "0", out)
	raw, err := os.ReadFile(out)
	require.NoError(t, err)
	whole, err := Parse(raw)
	require.NoError(t, err)
	var sp Splitter
	var got []Segment
	for i := 0; i < len(raw); i += 777 {
		sp.Write(raw[i:min(i+777, len(raw))])
		segs, err := sp.Next()
		require.NoError(t, err)
		got = append(got, segs...)
	}
	require.Equal(t, whole.Init, sp.Init)
	require.Equal(t, whole.Timescale, sp.Timescale)
	require.Len(t, got, len(whole.Segments))
	for i := range got {
		require.Equal(t, whole.Segments[i], got[i])
	}
	var bad Splitter
	bad.Write([]byte{0, 0, 0, 3, 'b', 'a', 'd', '!'})
	_, err = bad.Next()
	require.Error(t, err)
}
