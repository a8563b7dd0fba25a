package transcode

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// videoTimescale is the timescale of a video track: a whole number of ticks per frame at the output
// rate (fps x 1000, fps having three decimals), so that a chunk's place on the timeline is exact.
func videoTimescale(fps float64) uint32 { return uint32(math.Round(fps * 1000)) }

// ChunkSpec is one chunk's encode: its time range of the source decoded once and every rung
// encoded from it, each into a fragmented MP4 with one fragment per segment.
type ChunkSpec struct {
	FFmpeg     string
	Input      string
	OutDir     string
	Probe      *Probe
	Renditions []Rendition
	SegmentSec int
	Preset     string
	CRF        int
	Start      float64
	Duration   float64
	// Overrun lets the last chunk decode past the video's stated end, so that a header that
	// understates the duration is noticed (the chunk then produces more than planned).
	Overrun float64
	// Threads of each x264 encoder (0: x264's own choice, 1.5 per core).
	Threads int
	// Stills the chunk takes from the frames it decodes anyway, so that nothing decodes the source
	// a second time: Thumbs are the chunk's frame numbers (from 0) of its storyboard thumbnails,
	// tiled in a row of ThumbW x ThumbH; PosterAt (seconds into the chunk, negative: none) is
	// where the poster's two seconds of candidates start.
	Thumbs           []int
	ThumbW, ThumbH   int
	PosterAt         float64
	PosterW, PosterH int
}

// StoryboardOutput is the chunk's row of storyboard thumbnails; PosterOutput its poster.
func (s *ChunkSpec) StoryboardOutput() string { return filepath.Join(s.OutDir, "storyboard.jpg") }
func (s *ChunkSpec) PosterOutput() string     { return filepath.Join(s.OutDir, "poster.jpg") }

func (s *ChunkSpec) fps() float64 {
	return (&EncodeSpec{Probe: s.Probe}).fps()
}

// Output is the file of rung i.
func (s *ChunkSpec) Output(i int) string { return filepath.Join(s.OutDir, fmt.Sprintf("r%d.mp4", i)) }

// Args builds the argument list. Input seeking (-ss before -i) decodes from the keyframe before the
// start and drops what precedes it, so the chunk's first frame is the first at or after its start.
// B-frames are off: with them every chunk's pictures would start a reorder delay after the chunk's
// decode time, and the audio, encoded in its own job, would have to know that delay (see
// docs/PIPELINE.md).
func (s *ChunkSpec) Args() []string {
	n := len(s.Renditions)
	fps := strconv.FormatFloat(s.fps(), 'f', -1, 64)
	// A sparse source's chunk may start between two frames seconds apart: the seek keeps the frames
	// before the start (at negative times) and the fps filter, counting from the start, repeats the
	// last of them until the next. Chunks start on whole seconds, so at one frame a second the
	// ticks are the same either way.
	seek, startAt := []string{}, ""
	if s.Probe.Sparse {
		seek, startAt = []string{"-noaccurate_seek"}, ":start_time=0"
	}
	stills := 0
	if len(s.Thumbs) > 0 {
		stills++
	}
	if s.PosterAt >= 0 {
		stills++
	}
	var g strings.Builder
	fmt.Fprintf(&g, "[0:v]fps=%s%s,split=%d", fps, startAt, n+stills)
	for i := range n {
		fmt.Fprintf(&g, "[s%d]", i)
	}
	if len(s.Thumbs) > 0 {
		g.WriteString("[sb]")
	}
	if s.PosterAt >= 0 {
		g.WriteString("[sp]")
	}
	g.WriteString(";")
	for i, r := range s.Renditions {
		if i > 0 {
			g.WriteString(";")
		}
		fmt.Fprintf(&g, "[s%d]scale=w=%d:h=%d:flags=bicubic,setsar=1,format=yuv420p[v%d]", i, r.Width, r.Height, i)
	}
	// The stills' branches end with the chunk's frames (trim), so that a frame that never comes
	// cannot keep ffmpeg decoding past the chunk.
	frames := int(math.Ceil((s.Duration + s.Overrun) * s.fps()))
	if len(s.Thumbs) > 0 {
		pick := make([]string, len(s.Thumbs))
		for i, n := range s.Thumbs {
			pick[i] = fmt.Sprintf("eq(n,%d)", n)
		}
		fmt.Fprintf(&g, ";[sb]trim=end_frame=%d,select='%s',scale=w=%d:h=%d,setsar=1,tile=%dx1[sbo]",
			frames, strings.Join(pick, "+"), s.ThumbW, s.ThumbH, len(s.Thumbs))
	}
	if s.PosterAt >= 0 {
		// thumbnail picks the poster from its first batch of 25 frames (the output takes one
		// frame): the 35 after them were histogrammed for nothing.
		fmt.Fprintf(&g, ";[sp]trim=end_frame=%d,trim=start=%.3f:duration=2,trim=end_frame=25,thumbnail=25,scale=w=%d:h=%d,setsar=1[po]",
			frames, s.PosterAt, s.PosterW, s.PosterH)
	}
	segFrames := int(math.Round(s.fps() * float64(s.SegmentSec)))
	args := append([]string{"-hide_banner", "-nostdin", "-y", "-loglevel", "error",
		"-protocol_whitelist", protocolsFor(s.Input), "-format_whitelist", formatWhitelist}, seek...)
	if s.Threads == 1 {
		// A chunk of one encoder thread has a core of its own (encode_jobs x encoder_threads is the
		// cores): its decoding and scaling run in ffmpeg's one thread too, between the encoder's
		// frames, instead of in threads of their own that contend with the next slot's chunk.
		args = append(args, "-threads", "1", "-filter_complex_threads", "1")
	}
	args = append(args, "-ss", strconv.FormatFloat(s.Start, 'f', 6, 64), "-i", s.Input,
		"-filter_complex", g.String())
	for i, r := range s.Renditions {
		args = append(args, "-map", fmt.Sprintf("[v%d]", i), "-an", "-sn", "-dn",
			"-t", strconv.FormatFloat(s.Duration+s.Overrun, 'f', 6, 64),
			"-c:v", "libx264", "-preset", s.Preset, "-profile:v", "high", "-bf", "0",
			"-threads", strconv.Itoa(s.Threads),
			"-g", strconv.Itoa(segFrames), "-keyint_min", strconv.Itoa(segFrames), "-sc_threshold", "0",
			"-x264-params", "scenecut=0:open_gop=0",
			"-force_key_frames", fmt.Sprintf("expr:gte(t,n_forced*%d)", s.SegmentSec),
			"-crf", strconv.Itoa(s.CRF), "-maxrate:v", fmt.Sprintf("%dk", r.Kbps*107/100), "-bufsize:v", fmt.Sprintf("%dk", r.Kbps*3/2),
			"-video_track_timescale", strconv.Itoa(int(videoTimescale(s.fps()))),
			"-movflags", "+frag_keyframe+empty_moov+default_base_moof", "-use_editlist", "0",
			"-f", "mp4", s.Output(i))
	}
	if len(s.Thumbs) > 0 {
		args = append(args, "-map", "[sbo]", "-frames:v", "1", "-update", "1", "-q:v", "5", s.StoryboardOutput())
	}
	if s.PosterAt >= 0 {
		args = append(args, "-map", "[po]", "-frames:v", "1", "-update", "1", "-q:v", "3", s.PosterOutput())
	}
	return args
}

// chunkStills plans which storyboard thumbnails and whether the poster come from chunk c: the
// thumbnails at every sb.Interval seconds of the video that fall in the chunk, as the chunk's frame
// numbers, with the video-wide number of the first (from).
func chunkStills(sb Storyboard, posterAt, fps, duration float64, c chunkPlan) (thumbs []int, from int, poster float64) {
	first := math.Ceil(c.Start*fps - 1e-6)
	end := c.Start + c.Duration
	if c.Last {
		end = math.Inf(1)
	}
	from = -1
	for i := 0; i < sb.Count; i++ {
		t := float64(i) * sb.Interval
		if t >= duration || t >= end {
			break
		}
		if t < c.Start-1e-9 {
			continue
		}
		if from < 0 {
			from = i
		}
		thumbs = append(thumbs, int(math.Ceil(t*fps-1e-6)-first))
	}
	poster = -1
	if posterAt >= c.Start-1e-9 && (posterAt < end || c.Last) {
		poster = posterAt - c.Start
	}
	return thumbs, max(from, 0), poster
}

// AudioSpec encodes a whole audio track (splitting audio leaves gaps at the joins) into one
// fragmented MP4 with a fragment per segment duration. Offset is how much later than the video the
// audio starts in the source (negative: earlier): it is padded or trimmed so that the track starts
// with the video, never left to an edit list, which players ignore.
type AudioSpec struct {
	FFmpeg     string
	Input      string
	Output     string
	Stream     int // audio stream number (0:a:N)
	SegmentSec int
	Offset     float64
	Duration   float64
	// Channels: 2 (stereo, 128 kb/s), or 6 or 8 for a multichannel rendition (64 kb/s a channel).
	Channels int
}

// Args builds the argument list.
func (s *AudioSpec) Args() []string {
	ch, rate := 2, "128k"
	if s.Channels > 2 {
		ch, rate = s.Channels, fmt.Sprintf("%dk", 64*s.Channels)
	}
	filter := "aresample=48000"
	switch {
	case s.Offset > 0.0005:
		filter = fmt.Sprintf("adelay=delays=%d:all=1,aresample=48000", int(math.Round(s.Offset*1000)))
	case s.Offset < -0.0005:
		filter = fmt.Sprintf("atrim=start=%.6f,asetpts=PTS-STARTPTS,aresample=48000", -s.Offset)
	}
	return []string{"-hide_banner", "-nostdin", "-y", "-loglevel", "error",
		"-protocol_whitelist", protocolsFor(s.Input), "-format_whitelist", formatWhitelist,
		"-i", s.Input, "-map", fmt.Sprintf("0:a:%d", s.Stream), "-vn", "-sn", "-dn",
		"-af", filter, "-t", strconv.FormatFloat(s.Duration, 'f', 6, 64),
		"-c:a", "aac", "-b:a", rate, "-ac", strconv.Itoa(ch), "-ar", "48000",
		"-frag_duration", strconv.Itoa(s.SegmentSec * 1_000_000),
		"-movflags", "+empty_moov+default_base_moof", "-use_editlist", "0",
		"-f", "mp4", s.Output}
}

// runFFmpeg runs one ffmpeg and returns the CPU seconds it used (user + system), which the
// per-video figures add up. While it runs, tick (when given) is called every interval: the chunk
// job uses it to store segments as they are finished.
func runFFmpeg(ctx context.Context, ffmpeg string, args []string, tick ...func() error) (usage, error) {
	return runFFmpegWith(ctx, ffmpeg, budget{}, args, tick...)
}

// usage is what ffmpeg runs took: CPU seconds (user and system, summed over runs) and the
// largest resident set of any of them, in bytes. They are logged per part and per video and exported
// in /metrics, so the budgets below can be set from what videos really cost.
type usage struct {
	CPU     float64
	PeakRSS uint64
}

// add sums the CPU and keeps the larger peak.
func (u usage) add(o usage) usage {
	return usage{CPU: u.CPU + o.CPU, PeakRSS: max(u.PeakRSS, o.PeakRSS)}
}

// budget is what one ffmpeg may take, enforced by the kernel (setrlimit on the child), not by
// polling: a crafted or pathological file fails its video instead of starving the machine.
type budget struct {
	// nice > 0 lowers the CPU priority: work no viewer waits for (the assets) yields the cores to
	// the chunks and the audio, and still uses them when idle.
	nice int
	// cpuSeconds (RLIMIT_CPU) and memory (RLIMIT_AS, bytes of address space); 0 is no limit.
	cpuSeconds int
	memory     uint64
}

var (
	errCPUBudget    = errors.New("transcode: ffmpeg went over its CPU-time budget")
	errMemoryBudget = errors.New("transcode: ffmpeg went over its memory budget")
)

func runFFmpegWith(ctx context.Context, ffmpeg string, b budget, args []string, tick ...func() error) (usage, error) {
	cmd := execCommand(ctx, ffmpeg, args...)
	var stderr tailBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return usage{}, fmt.Errorf("start ffmpeg: %w", err)
	}
	// Set at once, before ffmpeg has read its input and started its threads, which inherit them.
	pid := cmd.Process.Pid
	if b.nice > 0 {
		_ = syscall.Setpriority(syscall.PRIO_PROCESS, pid, b.nice)
	}
	if b.cpuSeconds > 0 {
		lim := uint64(b.cpuSeconds)
		_ = unix.Prlimit(pid, unix.RLIMIT_CPU, &unix.Rlimit{Cur: lim, Max: lim + 5}, nil)
	}
	if b.memory > 0 {
		_ = unix.Prlimit(pid, unix.RLIMIT_AS, &unix.Rlimit{Cur: b.memory, Max: b.memory}, nil)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	var err, tickErr error
	for waiting := true; waiting; {
		select {
		case err = <-done:
			waiting = false
		case <-t.C:
			for _, f := range tick {
				if e := f(); e != nil && tickErr == nil {
					tickErr = e
					_ = cmd.Process.Kill()
				}
			}
		}
	}
	var cpu usage
	if st := cmd.ProcessState; st != nil {
		if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
			cpu.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
			cpu.PeakRSS = uint64(ru.Maxrss) << 10 // Linux reports KiB
		}
	}
	if tickErr != nil {
		return cpu, tickErr
	}
	if err != nil {
		if ctx.Err() != nil {
			return cpu, ctx.Err()
		}
		// ffmpeg catches SIGXCPU and exits with 255 on its own; past the hard limit the kernel
		// kills it. On a loaded machine the kernel charges the limit more than the CPU time rusage
		// reports afterwards (a 6 s limit stopped ffmpeg at 5.3 s by rusage beside two busy
		// encoders), so that exit near the limit is the budget too; nothing else sends ffmpeg a
		// signal it catches (a cancelled job's ffmpeg is killed).
		caught := cmd.ProcessState != nil && cmd.ProcessState.ExitCode() == 255
		if b.cpuSeconds > 0 && (cpu.CPU >= float64(b.cpuSeconds)*0.98 || caught && cpu.CPU >= float64(b.cpuSeconds)*0.75) {
			return cpu, fmt.Errorf("%w (%d s)", errCPUBudget, b.cpuSeconds)
		}
		// Out of address space, ffmpeg (or the loader, or a library) says so in its own words
		// ("Cannot allocate memory", x264's "malloc of size 5235840 failed"), or crashes on a
		// failed allocation.
		msg := stderr.String()
		low := strings.ToLower(msg)
		crashed := false
		if st, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && st.Signaled() {
			crashed = st.Signal() == syscall.SIGSEGV || st.Signal() == syscall.SIGABRT || st.Signal() == syscall.SIGBUS
		}
		if b.memory > 0 && (crashed || strings.Contains(low, "memory") || strings.Contains(low, "allocat") || strings.Contains(low, "malloc") || strings.Contains(low, "map segment") || strings.Contains(low, "bad_alloc")) {
			return cpu, fmt.Errorf("%w (%d MiB): %s", errMemoryBudget, b.memory>>20, msg)
		}
		return cpu, fmt.Errorf("ffmpeg: %w: %s", err, stderr.String())
	}
	return cpu, nil
}
