package app

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// ffmpegRun runs ffmpeg for a test fixture.
func ffmpegRun(t testing.TB, args ...string) {
	t.Helper()
	cmd := exec.Command("ffmpeg", append([]string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y"}, args...)...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "ffmpeg %s: %s", strings.Join(args, " "), out)
}

// clip generates a tiny test clip with lavfi sources. kind picks the variant.
// clip returns a generated test clip of a kind. Each kind is made once per test binary and
// shared (tests only read it): every ffmpeg start costs ~0.1-0.2 CPU s here before any work, and
// the suite asks for clips ~90 times.
func clip(t testing.TB, kind string) string {
	t.Helper()
	e, _ := clips.LoadOrStore(kind, &clipEntry{})
	c := e.(*clipEntry)
	c.once.Do(func() {
		dir, err := os.MkdirTemp(clipsDir(t), kind+"-")
		require.NoError(t, err)
		c.path = makeClip(t, kind, dir)
	})
	if c.path == "" {
		t.Fatalf("clip %q could not be made (see the test that made it first)", kind)
	}
	return c.path
}

type clipEntry struct {
	once sync.Once
	path string
}

var (
	clips        sync.Map // kind → *clipEntry
	clipsDirOnce sync.Once
	clipsRoot    string
)

// clipsDir is where shared clips live: removed by TestMain when the binary ends.
func clipsDir(t testing.TB) string {
	clipsDirOnce.Do(func() {
		var err error
		clipsRoot, err = os.MkdirTemp("", "vod-clips-")
		require.NoError(t, err)
	})
	return clipsRoot
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedChromium.stop != nil {
		sharedChromium.stop()
	}
	if clipsRoot != "" {
		_ = os.RemoveAll(clipsRoot)
	}
	os.Exit(code)
}

func makeClip(t testing.TB, kind, dir string) string {
	src := func(size string, rate, dur string) []string {
		return []string{"-f", "lavfi", "-i", "testsrc2=size=" + size + ":rate=" + rate + ":duration=" + dur}
	}
	tone := []string{"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=3"}
	enc := []string{"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"}
	out := filepath.Join(dir, "clip")
	switch kind {
	case "mp4":
		out += ".mp4"
		ffmpegRun(t, append(append(append(src("854x480", "25", "3"), tone...), enc...), "-c:a", "aac", "-shortest", out)...)
	case "mov":
		out += ".mov"
		ffmpegRun(t, append(append(append(src("640x360", "30", "3"), tone...), enc...), "-c:a", "aac", "-shortest", out)...)
	case "mkv-subs", "e2e":
		en := filepath.Join(dir, "en.srt")
		fr := filepath.Join(dir, "fr.ass")
		require.NoError(t, os.WriteFile(en, []byte("1\n00:00:00,200 --> 00:00:01,500\nHello from the test clip\n\n2\n00:00:01,600 --> 00:00:02,800\nSecond English line\n"), 0o644))
		srtFr := filepath.Join(dir, "fr.srt")
		require.NoError(t, os.WriteFile(srtFr, []byte("1\n00:00:00,300 --> 00:00:01,400\nBonjour depuis le clip\n\n2\n00:00:01,500 --> 00:00:02,700\nDeuxième réplique\n"), 0o644))
		ffmpegRun(t, "-i", srtFr, fr)
		out += ".mkv"
		size, dur := "640x360", "3"
		if kind == "e2e" {
			size, dur = "854x480", "6"
			tone = []string{"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=6"}
		}
		ffmpegRun(t, append(append(append(src(size, "30", dur), tone...), "-i", en, "-i", fr, "-map", "0", "-map", "1", "-map", "2", "-map", "3"), append(enc,
			"-c:a", "aac", "-c:s:0", "srt", "-c:s:1", "ass", "-metadata:s:s:0", "language=eng", "-metadata:s:s:1", "language=fre", out)...)...)
	case "portrait":
		out += ".mp4"
		ffmpegRun(t, append(append(append(src("360x640", "30", "3"), tone...), enc...), "-c:a", "aac", "-shortest", out)...)
	case "noaudio":
		out += ".mp4"
		ffmpegRun(t, append(append(src("640x360", "30", "3"), enc...), out)...)
	case "odd":
		out += ".mkv"
		ffmpegRun(t, append(append(append(src("322x242", "30", "3"), tone...), "-vf", "scale=321:241", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv444p"), "-c:a", "aac", "-shortest", out)...)
	case "vfr":
		out += ".mkv"
		ffmpegRun(t, "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30:duration=1.5", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=12:duration=1.5",
			"-filter_complex", "[0:v][1:v]concat=n=2:v=1[v]", "-map", "[v]", "-fps_mode", "vfr", "-c:v", "libx264", "-preset", "ultrafast", out)
	case "rotated":
		base := filepath.Join(dir, "base.mp4")
		ffmpegRun(t, append(append(append(src("640x360", "30", "3"), tone...), enc...), "-c:a", "aac", "-shortest", base)...)
		out += ".mp4"
		ffmpegRun(t, "-i", base, "-c", "copy", "-metadata:s:v:0", "rotate=90", out)
	case "lying":
		// 12 s of frames in a Matroska file whose header says 2 s.
		out += ".mkv"
		ffmpegRun(t, append(append(src("320x240", "25", "12"), enc...), out)...)
		b, err := os.ReadFile(out)
		require.NoError(t, err)
		i := bytes.Index(b, []byte{0x44, 0x89, 0x88}) // Segment Info's Duration, an 8-byte float (ms)
		require.Positive(t, i)
		binary.BigEndian.PutUint64(b[i+3:], math.Float64bits(2000))
		require.NoError(t, os.WriteFile(out, b, 0o644))
	case "two-audio":
		// English (440 Hz, the default, in 5.1) and French (880 Hz, mono) audio, 8 s.
		out += ".mkv"
		ffmpegRun(t, append(append(src("640x360", "25", "8"),
			"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=8",
			"-f", "lavfi", "-i", "sine=frequency=880:sample_rate=48000:duration=8",
			"-map", "0:v", "-map", "1:a", "-map", "2:a"), append(enc, "-c:a", "aac", "-ac:a:0", "6",
			"-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fre", "-metadata:s:a:1", "title=Français",
			"-disposition:a:0", "default", "-disposition:a:1", "0", out)...)...)
	case "anamorphic":
		// DVD-style 720x480 with 32:27 pixels: shown at 16:9.
		out += ".mp4"
		ffmpegRun(t, append(append(src("720x480", "30", "4"), "-vf", "setsar=32/27"), append(enc, out)...)...)
	case "live":
		// 480p for 60 s: two rungs, encoded faster than real time but not in an instant, so that
		// a viewer starts while it processes.
		out += ".mp4"
		ffmpegRun(t, append(append(append(src("854x480", "30", "60"), "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=60"), enc...), "-c:a", "aac", "-shortest", out)...)
	case "live-short":
		// The same for 36 s: long enough that four viewers start while it processes (30 s was
		// ready 15.4 s after the upload on 2 cores, the last player starting at 10.5 s), short
		// enough that watching it to the end in real time costs the suite under a minute.
		out += ".mp4"
		ffmpegRun(t, append(append(append(src("854x480", "30", "36"), "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=36"), enc...), "-c:a", "aac", "-shortest", out)...)
	case "sparse":
		// Three frames over ten minutes.
		out += ".mkv"
		ffmpegRun(t, append(append(src("320x240", "1/200", "600"), enc...), out)...)
	case "heavy":
		// 20 s of 1080p with sound: four rungs, ~27 CPU seconds of encoding here.
		out += ".mp4"
		ffmpegRun(t, append(append(append(src("1920x1080", "30", "20"), "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=20"), enc...), "-c:a", "aac", "-shortest", out)...)
	case "long":
		out += ".mp4"
		ffmpegRun(t, append(append(append(src("640x360", "30", "30"), "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=30"), enc...), "-c:a", "aac", "-shortest", out)...)
	default:
		t.Fatalf("unknown clip %q", kind)
	}
	return out
}
