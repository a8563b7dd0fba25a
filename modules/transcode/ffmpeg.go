package transcode

import (
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
)

// EncodeSpec is the single-pass encode (every rung, the subtitles, the poster and the storyboard
// from one decode): the baseline the pipeline benchmark compares the chunked encode with, and the
// home of the storyboard and poster geometry the assets job uses.
type EncodeSpec struct {
	FFmpeg     string
	Input      string
	OutDir     string
	Probe      *Probe
	Renditions []Rendition
	SegmentSec int
	Preset     string
	CRF        int
	// Threads of the x264 encoders (0: x264's own choice).
	Threads int
	// Storyboard tiles: one sprite of up to 10x10 thumbnails.
	ThumbWidth int
}

// Storyboard geometry, derived from the probe so that the WebVTT track can be written without
// reading the image back.
type Storyboard struct {
	Interval float64 `json:"interval"`
	Width    int     `json:"width"`
	Height   int     `json:"height"`
	Columns  int     `json:"columns"`
	Count    int     `json:"count"`
}

func (s *EncodeSpec) fps() float64 {
	f := s.Probe.FPS
	if f > 60 {
		f = 60
	}
	// Round odd NTSC-like rates to 3 decimals; a CFR output keeps every rung's keyframes aligned.
	return math.Round(f*1000) / 1000
}

func (s *EncodeSpec) storyboard() Storyboard {
	d := s.Probe.Duration
	interval := math.Max(1, math.Ceil(d/100))
	count := int(math.Min(100, math.Ceil(d/interval)))
	w := s.ThumbWidth
	h := even(float64(w) * float64(s.Probe.Height) / float64(s.Probe.Width))
	if s.Probe.Height > s.Probe.Width {
		h = w
		w = even(float64(h) * float64(s.Probe.Width) / float64(s.Probe.Height))
	}
	return Storyboard{Interval: interval, Width: w, Height: h, Columns: 10, Count: max(count, 1)}
}

// posterAt picks the poster time: a tenth into the video, past fades from black.
func (s *EncodeSpec) posterAt() float64 { return math.Min(s.Probe.Duration*0.1, 30) }

// Args builds the ffmpeg argument list. No shell is involved; the input is read with the same
// protocol and demuxer whitelists as the probe.
func (s *EncodeSpec) Args() []string {
	n := len(s.Renditions)
	fps := strconv.FormatFloat(s.fps(), 'f', -1, 64)
	sb := s.storyboard()
	var g strings.Builder
	fmt.Fprintf(&g, "[0:v]fps=%s,split=%d", fps, n+2)
	for i := range n {
		fmt.Fprintf(&g, "[s%d]", i)
	}
	g.WriteString("[sb][sp];")
	for i, r := range s.Renditions {
		fmt.Fprintf(&g, "[s%d]scale=w=%d:h=%d:flags=bicubic,setsar=1,format=yuv420p[v%d];", i, r.Width, r.Height, i)
	}
	fmt.Fprintf(&g, "[sb]fps=1/%s,scale=w=%d:h=%d,tile=%dx%d[sbo];", strconv.FormatFloat(sb.Interval, 'f', -1, 64),
		sb.Width, sb.Height, sb.Columns, (sb.Count+sb.Columns-1)/sb.Columns)
	pw, ph := s.Renditions[n-1].Width, s.Renditions[n-1].Height
	// A bounded trim ends the poster branch after the 25 frames thumbnail picks the poster from
	// (the chunks' choice) instead of carrying every frame.
	fmt.Fprintf(&g, "[sp]trim=start=%.3f:duration=2,trim=end_frame=25,thumbnail=25,scale=w=%d:h=%d[po]", s.posterAt(), pw, ph)

	segFrames := int(math.Round(s.fps() * float64(s.SegmentSec)))
	args := []string{"-hide_banner", "-nostdin", "-y", "-loglevel", "error",
		"-protocol_whitelist", protocolsFor(s.Input), "-format_whitelist", formatWhitelist,
		"-i", s.Input, "-filter_complex", g.String()}
	for i := range n {
		args = append(args, "-map", fmt.Sprintf("[v%d]", i))
	}
	if s.Probe.HasAudio() {
		args = append(args, "-map", "0:a:0")
	}
	// The rate control and GOP are the chunks' (ChunkSpec), so that this single pass is the
	// reference a chunked encode is measured against.
	args = append(args, "-c:v", "libx264", "-preset", s.Preset, "-profile:v", "high", "-bf", "0", "-crf", strconv.Itoa(s.CRF),
		"-threads", strconv.Itoa(s.Threads),
		"-g", strconv.Itoa(segFrames), "-keyint_min", strconv.Itoa(segFrames), "-sc_threshold", "0",
		"-x264-params", "scenecut=0:open_gop=0",
		"-force_key_frames", fmt.Sprintf("expr:gte(t,n_forced*%d)", s.SegmentSec))
	for i, r := range s.Renditions {
		args = append(args,
			fmt.Sprintf("-maxrate:v:%d", i), fmt.Sprintf("%dk", r.Kbps*107/100),
			fmt.Sprintf("-bufsize:v:%d", i), fmt.Sprintf("%dk", r.Kbps*3/2))
	}
	// A rung per adaptation set: ffmpeg's DASH muxer refuses one set whose rungs' aspect ratios
	// differ by rounding (854x480 next to 1280x720).
	var sets []string
	for i := range n {
		sets = append(sets, fmt.Sprintf("id=%d,streams=%d", i, i))
	}
	if s.Probe.HasAudio() {
		args = append(args, "-c:a", "aac", "-b:a", "128k", "-ac", "2", "-ar", "48000")
		sets = append(sets, fmt.Sprintf("id=%d,streams=a", n))
	}
	args = append(args, "-f", "dash", "-seg_duration", strconv.Itoa(s.SegmentSec),
		"-use_template", "1", "-use_timeline", "0", "-hls_playlist", "1",
		"-init_seg_name", "init-$RepresentationID$.m4s",
		"-media_seg_name", "seg-$RepresentationID$-$Number%05d$.m4s",
		"-adaptation_sets", strings.Join(sets, " "),
		filepath.Join(s.OutDir, "stream.mpd"))
	args = append(args, "-map", "[sbo]", "-frames:v", "1", "-update", "1", "-q:v", "5", filepath.Join(s.OutDir, "storyboard.jpg"))
	args = append(args, "-map", "[po]", "-frames:v", "1", "-update", "1", "-q:v", "3", filepath.Join(s.OutDir, "poster.jpg"))
	for i, st := range s.Probe.TextSubtitles() {
		args = append(args, "-map", fmt.Sprintf("0:%d", st.Index), "-c:s", "webvtt", "-f", "webvtt",
			filepath.Join(s.OutDir, fmt.Sprintf("sub-%d.vtt", i)))
	}
	return args
}

// tailBuffer keeps the last 4 KiB of ffmpeg's stderr for error messages.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 4096 {
		t.b = t.b[len(t.b)-4096:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return strings.TrimSpace(string(t.b)) }

// LadderArgs is the bare ladder encode, DASH and HLS only, without thumbnails or subtitles: the
// baseline the pipeline benchmark compares itself with.
func (s *EncodeSpec) LadderArgs() []string {
	all := s.Args()
	var out []string
	for i := 0; i < len(all); i++ {
		if all[i] == "-filter_complex" {
			g := all[i+1]
			g = g[:strings.Index(g, ";[sb]")]
			g = strings.Replace(g, fmt.Sprintf("split=%d", len(s.Renditions)+2), fmt.Sprintf("split=%d", len(s.Renditions)), 1)
			g = strings.Replace(g, "[sb][sp]", "", 1)
			out = append(out, all[i], g)
			i++
			continue
		}
		out = append(out, all[i])
		if strings.HasSuffix(all[i], "stream.mpd") {
			break
		}
	}
	return out
}
