package transcode

import (
	"context"
	"errors"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBudgets (issue 19): the kernel stops an ffmpeg that goes over its CPU time or address space,
// and the error says which, so the video fails with a plain reason.
func TestBudgets(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("no ffmpeg")
	}
	t.Parallel()
	heavy := []string{"-v", "error", "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30:duration=30",
		"-c:v", "libx264", "-preset", "medium", "-f", "null", "-"}
	cpu, err := runFFmpegWith(context.Background(), "ffmpeg", budget{cpuSeconds: 1}, heavy)
	require.True(t, errors.Is(err, errCPUBudget), "%v", err)
	require.Less(t, cpu.CPU, 8.0, "stopped near its budget")
	require.Contains(t, overBudget(err).Reason, "CPU time")

	_, err = runFFmpegWith(context.Background(), "ffmpeg", budget{memory: 80 << 20}, heavy)
	require.True(t, errors.Is(err, errMemoryBudget), "%v", err)
	require.Contains(t, overBudget(err).Reason, "memory")

	_, err = runFFmpegWith(context.Background(), "ffmpeg", budget{cpuSeconds: 60, memory: 4 << 30},
		[]string{"-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30:duration=1", "-c:v", "libx264", "-f", "null", "-"})
	require.NoError(t, err, "a video within its budgets is untouched")
}
