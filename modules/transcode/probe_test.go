package transcode

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestValidateSourceDecodes: a source whose video decodes is accepted by ffprobe's one run (its
// first packets are decoded beside the description), and one whose container is whole but whose
// video data is not is refused as damaged by the ffmpeg check that follows.
func TestValidateSourceDecodes(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg is not installed")
	}
	b := setup(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.mp4")
	out, err := exec.Command("ffmpeg", "-hide_banner", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=2",
		"-f", "lavfi", "-i", "sine=duration=2", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
		"-movflags", "+faststart", good).CombinedOutput()
	require.NoError(t, err, "%s", out)

	p, err := ProbeFile(context.Background(), b.svc.cfg.FFprobe, good, b.svc.cfg.Limits)
	require.NoError(t, err)
	require.True(t, p.decoded, "the first video frame decodes within ffprobe's run")
	reason, probe, err := b.svc.ValidateSource(context.Background(), good)
	require.NoError(t, err)
	require.Empty(t, reason)
	require.NotEmpty(t, probe)

	// The same file with its media data zeroed: ffprobe still describes it, nothing decodes.
	data, err := os.ReadFile(good)
	require.NoError(t, err)
	i := bytes.Index(data, []byte("mdat"))
	require.Positive(t, i)
	clear(data[i+4:])
	damaged := filepath.Join(dir, "damaged.mp4")
	require.NoError(t, os.WriteFile(damaged, data, 0o644))
	p, err = ProbeFile(context.Background(), b.svc.cfg.FFprobe, damaged, b.svc.cfg.Limits)
	require.NoError(t, err)
	require.False(t, p.decoded)
	reason, probe, err = b.svc.ValidateSource(context.Background(), damaged)
	require.NoError(t, err)
	require.Contains(t, reason, "could not be decoded")
	require.Nil(t, probe)
}
