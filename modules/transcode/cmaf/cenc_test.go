package cmaf

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEncryptKeepsTheFileWellFormed: the encrypted init segment and segments still parse, carry
// their protection boxes, keep their timing, and store no sample in the clear; ffmpeg decrypts each
// segment with -decryption_key into exactly the frames of the clear one, and fails or decodes
// garbage without the key; DecryptInit and DecryptSegment give the clear file back. (ffmpeg 5.1
// decrypts one fragment at a time: with several it reads ahead and loses track of which fragment's
// IVs apply. TestCENCPlaysInPlayers in app/ plays the output in Chromium's ClearKey CDM.)
func TestEncryptKeepsTheFileWellFormed(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed")
	}
	dir := t.TempDir()
	var k Key
	copy(k.ID[:], []byte("0123456789abcdef"))
	copy(k.Key[:], []byte("fedcba9876543210"))
	frag := []string{"-movflags", "+frag_keyframe+empty_moov+default_base_moof", "-use_editlist", "0"}
	cases := []struct {
		name   string
		args   []string
		nalLen int
		entry  string
	}{
		{"video", append([]string{"-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=4", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-bf", "0"}, frag...), 4, "encv"},
		{"audio", append([]string{"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=4", "-c:a", "aac", "-frag_duration", "1000000"}, frag...), 0, "enca"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clear := filepath.Join(dir, c.name+".mp4")
			run(t, "ffmpeg", append(append([]string{"-v", "error", "-y"}, c.args...), clear)...)
			raw, err := os.ReadFile(clear)
			require.NoError(t, err)
			f, err := Parse(raw)
			require.NoError(t, err)
			require.Greater(t, len(f.Segments), 1)
			init, err := EncryptInit(f.Init, k)
			require.NoError(t, err)
			for _, box := range []string{c.entry, "sinf", "frma", "schm", "tenc", "pssh"} {
				require.Contains(t, string(init), box)
			}
			require.Contains(t, string(init), string(ClearKeySystemID[:]))
			var enc bytes.Buffer
			enc.Write(init)
			first := uint64(0)
			for _, s := range f.Segments {
				e, err := EncryptSegment(s, k, 1<<40, first, c.nalLen)
				require.NoError(t, err)
				require.Greater(t, len(e.Data), len(s.Data), "senc, saiz and saio added")
				enc.Write(e.Data)
				first += uint64(s.Samples)
			}
			g, err := Parse(enc.Bytes())
			require.NoError(t, err, "still a well-formed fragmented MP4")
			require.Len(t, g.Segments, len(f.Segments))
			for i := range f.Segments {
				require.Equal(t, f.Segments[i].DecodeTime, g.Segments[i].DecodeTime)
				require.Equal(t, f.Segments[i].Duration, g.Segments[i].Duration)
				require.Equal(t, f.Segments[i].Samples, g.Segments[i].Samples)
			}
			last := f.Segments[0].Data
			require.NotContains(t, enc.String(), string(last[len(last)-64:]), "the samples are not stored in the clear")

			// ffmpeg, a decrypter we did not write, one segment at a time.
			hexKey := fmt.Sprintf("%x", k.Key[:])
			for i, e := range g.Segments {
				clearOne := filepath.Join(dir, fmt.Sprintf("%s-clear-%d.mp4", c.name, i))
				encOne := filepath.Join(dir, fmt.Sprintf("%s-enc-%d.mp4", c.name, i))
				require.NoError(t, os.WriteFile(clearOne, append(append([]byte{}, f.Init...), f.Segments[i].Data...), 0o644))
				require.NoError(t, os.WriteFile(encOne, append(append([]byte{}, init...), e.Data...), 0o644))
				want := frames(t, clearOne)
				require.NotEmpty(t, want)
				require.Equal(t, want, frames(t, encOne, "-decryption_key", hexKey), "segment %d decrypts to the clear frames", i)
				require.NotEqual(t, want, frames(t, encOne), "segment %d does not decode without the key", i)
			}

			// And back, for the progressive download.
			back, err := DecryptInit(init)
			require.NoError(t, err)
			require.Equal(t, f.Init, back)
			for i, e := range g.Segments {
				d, err := DecryptSegment(e.Data, k)
				require.NoError(t, err)
				clearOne := filepath.Join(dir, fmt.Sprintf("%s-back-%d.mp4", c.name, i))
				require.NoError(t, os.WriteFile(clearOne, append(append([]byte{}, back...), d...), 0o644))
				require.Equal(t, frames(t, filepath.Join(dir, fmt.Sprintf("%s-clear-%d.mp4", c.name, i))), frames(t, clearOne))
			}
		})
	}
}

// frames decodes a file with ffmpeg and returns the checksum of every decoded frame; a file that
// does not decode gives what ffmpeg managed (often nothing).
func frames(t *testing.T, file string, opts ...string) []string {
	t.Helper()
	args := append(append([]string{"-v", "quiet"}, opts...), "-i", file, "-f", "framemd5", "-")
	out, _ := exec.Command("ffmpeg", args...).Output()
	var sums []string
	for _, l := range bytes.Split(out, []byte("\n")) {
		if len(l) > 0 && l[0] != '#' {
			f := bytes.Split(l, []byte(","))
			sums = append(sums, string(bytes.TrimSpace(f[len(f)-1])))
		}
	}
	return sums
}

// BenchmarkEncryptSegment: what encryption costs per segment of H.264 (a 4 s, 1080p-sized segment
// of the test pattern), in MB/s of media.
func BenchmarkEncryptSegment(b *testing.B) {
	dir := b.TempDir()
	clear := filepath.Join(dir, "v.mp4")
	out, err := exec.Command("ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30:duration=4",
		"-c:v", "libx264", "-preset", "ultrafast", "-b:v", "4800k", "-g", "120", "-bf", "0",
		"-movflags", "+frag_keyframe+empty_moov+default_base_moof", clear).CombinedOutput()
	if err != nil {
		b.Fatalf("%v: %s", err, out)
	}
	raw, _ := os.ReadFile(clear)
	f, err := Parse(raw)
	if err != nil || len(f.Segments) == 0 {
		b.Fatal(err)
	}
	seg := f.Segments[0]
	var k Key
	b.SetBytes(int64(len(seg.Data)))
	b.ResetTimer()
	for range b.N {
		if _, err := EncryptSegment(seg, k, 1, 0, 4); err != nil {
			b.Fatal(err)
		}
	}
}
