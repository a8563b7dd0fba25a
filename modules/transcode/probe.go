package transcode

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Demuxers ffmpeg may use on an upload. Playlists (hls, concat), image sequences and raw formats are
// absent on purpose: a file that needs them is not a video we accept, and they could make ffmpeg
// open other files or URLs.
const formatWhitelist = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,flv,mpegts,mpeg,asf,ogg"

// Stream is one probed stream.
type Stream struct {
	Index    int    `json:"index"`
	Type     string `json:"type"`
	Codec    string `json:"codec"`
	Language string `json:"language,omitempty"`
	Title    string `json:"title,omitempty"`
	Bitmap   bool   `json:"bitmap,omitempty"`
}

// Probe is what ffprobe found in a source.
type Probe struct {
	Duration float64 `json:"duration"`
	Size     int64   `json:"size"`
	Width    int     `json:"width"`  // as displayed, rotation applied
	Height   int     `json:"height"` // as displayed, rotation applied
	FPS      float64 `json:"fps"`
	// Sparse: under a frame a second in the source (a slideshow, or a crafted file of a few frames
	// over hours). A chunk may then start where no frame is, and shows the one before.
	Sparse     bool     `json:"sparse,omitempty"`
	VideoCodec string   `json:"video_codec"`
	AudioCodec string   `json:"audio_codec,omitempty"`
	Rotation   int      `json:"rotation"`
	Format     string   `json:"format"`
	Streams    []Stream `json:"streams"`
	// VideoStart and AudioStart are the first timestamps of the video and the first audio stream:
	// their difference is the A/V offset the encode must keep.
	VideoStart float64 `json:"video_start"`
	AudioStart float64 `json:"audio_start"`
	// Start is the container's start: ffmpeg counts every output from it.
	Start float64 `json:"start"`
	// Audio is every audio track published (up to Limits.MaxAudioTracks), the default first.
	Audio []AudioTrack `json:"audio,omitempty"`
	// decoded: a frame of the video stream decoded among the first packets ffprobe read (see
	// ProbeFile). Unset, whether it decodes at all is not yet known.
	decoded bool
}

// AudioTrack is one audio track of the source, published as its own rendition.
type AudioTrack struct {
	// Stream is its number among the source's audio streams (ffmpeg's 0:a:N).
	Stream   int     `json:"stream"`
	Language string  `json:"language,omitempty"`
	Title    string  `json:"title,omitempty"`
	Start    float64 `json:"start"`
	Channels int     `json:"channels,omitempty"`
}

// audioTracks returns the tracks to encode: those probed, or (a probe recorded before tracks were
// listed) the first audio stream.
func (p *Probe) audioTracks() []AudioTrack {
	if len(p.Audio) > 0 {
		return p.Audio
	}
	if p.HasAudio() {
		return []AudioTrack{{Stream: 0, Start: p.AudioStart}}
	}
	return nil
}

// audioRendition is one audio rendition to encode: a track of the source, in stereo (Channels 2)
// or, for a 5.1 or 7.1 source, also in its multichannel layout (6 or 8), which players that can
// play it pick by capability.
type audioRendition struct {
	Track    int // place in audioTracks()
	Channels int
}

// audioRenditions lists every track in stereo, the default first, then the multichannel ones:
// a rendition's place in the list is its audio part's number, so the stereo ones keep the numbers
// they had before multichannel renditions were made.
func (p *Probe) audioRenditions() []audioRendition {
	tracks := p.audioTracks()
	var out []audioRendition
	for k := range tracks {
		out = append(out, audioRendition{Track: k, Channels: 2})
	}
	for k, t := range tracks {
		switch {
		case t.Channels >= 8:
			out = append(out, audioRendition{Track: k, Channels: 8})
		case t.Channels >= 6:
			out = append(out, audioRendition{Track: k, Channels: 6})
		}
	}
	return out
}

// AudioOffset is how much later than the video the audio starts.
func (p *Probe) AudioOffset() float64 { return p.AudioStart - p.VideoStart }

// MediaError is a problem with the uploaded media itself: permanent, and safe to show the uploader.
type MediaError struct{ Reason string }

func (e *MediaError) Error() string { return e.Reason }

func mediaErr(format string, args ...any) error {
	return &MediaError{Reason: fmt.Sprintf(format, args...)}
}

// Limits bound what a source may be.
type Limits struct {
	MaxDuration  time.Duration
	MaxDimension int
	// MaxPixels bounds a frame's area: what one decoded frame, and so an encode, costs in memory.
	MaxPixels  int
	MaxStreams int
	// MaxMemory bounds each ffmpeg's address space (RLIMIT_AS, bytes); CPUPerSecond its CPU time,
	// in CPU seconds per second of media it encodes (RLIMIT_CPU).
	MaxMemory    uint64
	CPUPerSecond float64
	// MaxAudioTracks: audio tracks beyond it are not published.
	MaxAudioTracks int
}

var textSubtitleCodecs = map[string]bool{"subrip": true, "srt": true, "ass": true, "ssa": true, "mov_text": true, "webvtt": true, "text": true}

// protocolsFor allows exactly the protocols needed to read input: the file protocol for a path,
// HTTP(S) for a presigned storage URL.
func protocolsFor(input string) string {
	if strings.HasPrefix(input, "http://") || strings.HasPrefix(input, "https://") {
		return "http,https,tcp,tls,crypto"
	}
	return "file"
}

// sniff names what a file (a local path or a presigned storage URL) is when it is not a video we
// read, from its first bytes: a person who uploaded a song or an image should be told so. Empty
// when unknown.
func sniff(ctx context.Context, input string) string {
	var r io.ReadCloser
	if strings.HasPrefix(input, "http://") || strings.HasPrefix(input, "https://") {
		// A presigned URL of our own storage (never a client's): its first bytes.
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, input, nil)
		if err != nil {
			return ""
		}
		req.Header.Set("Range", "bytes=0-15")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return ""
		}
		r = res.Body
	} else {
		f, err := os.Open(input)
		if err != nil {
			return ""
		}
		r = f
	}
	defer r.Close()
	b := make([]byte, 16)
	n, _ := io.ReadFull(r, b)
	b = b[:n]
	switch {
	case bytes.HasPrefix(b, []byte("GIF87a")) || bytes.HasPrefix(b, []byte("GIF89a")):
		return "an animated image (GIF)"
	case bytes.HasPrefix(b, []byte("ID3")) || (len(b) > 1 && b[0] == 0xff && b[1]&0xe0 == 0xe0):
		return "audio (MP3), perhaps with a cover picture"
	case bytes.HasPrefix(b, []byte("fLaC")):
		return "audio (FLAC)"
	case bytes.HasPrefix(b, []byte("RIFF")) && len(b) >= 12 && string(b[8:12]) == "WAVE":
		return "audio (WAV)"
	case bytes.HasPrefix(b, []byte("RIFF")) && len(b) >= 12 && string(b[8:12]) == "WEBP":
		return "an image (WebP)"
	case bytes.HasPrefix(b, []byte("\x89PNG")):
		return "an image (PNG)"
	case bytes.HasPrefix(b, []byte{0xff, 0xd8, 0xff}):
		return "an image (JPEG)"
	}
	return ""
}

// sparseFPS is the rate a sparse source is encoded at, usualFPS the rate of the sources the
// configured chunk length is meant for (and the rate assumed when a source gives none).
const (
	sparseFPS = 1
	usualFPS  = 30
)

// probePackets is how many packets of the source (all streams together) ffprobe decodes beside
// describing it: in an interleaved file the first video frame is among them, and a source whose
// video decodes needs no second process to show it (ValidateSource).
const probePackets = 16

// ProbeFile runs ffprobe on a local path or a presigned URL and validates the result.
func ProbeFile(ctx context.Context, ffprobe, input string, lim Limits) (*Probe, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ffprobe, "-v", "error", "-hide_banner",
		"-protocol_whitelist", protocolsFor(input), "-format_whitelist", formatWhitelist,
		"-show_format", "-show_streams", "-show_entries", "frame=stream_index,media_type",
		"-read_intervals", fmt.Sprintf("%%+#%d", probePackets), "-of", "json", "-i", input)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("ffprobe timed out: %w", ctx.Err())
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if kind := sniff(ctx, input); kind != "" {
				return nil, mediaErr("the file is %s, not a video: upload a video file (MP4, MOV, MKV, WebM, ...)", kind)
			}
			return nil, mediaErr("the file is not a video we can read (unknown, damaged or unsupported format)")
		}
		return nil, fmt.Errorf("ffprobe: %w", err)
	}
	return parseProbe(out, lim)
}

type ffprobeFrame struct {
	StreamIndex int    `json:"stream_index"`
	MediaType   string `json:"media_type"`
}

type ffprobeOut struct {
	Streams []struct {
		Index        int               `json:"index"`
		CodecType    string            `json:"codec_type"`
		CodecName    string            `json:"codec_name"`
		Width        int               `json:"width"`
		Height       int               `json:"height"`
		SAR          string            `json:"sample_aspect_ratio"`
		Channels     int               `json:"channels"`
		AvgFrameRate string            `json:"avg_frame_rate"`
		RFrameRate   string            `json:"r_frame_rate"`
		Duration     string            `json:"duration"`
		StartTime    string            `json:"start_time"`
		Tags         map[string]string `json:"tags"`
		Disposition  map[string]int    `json:"disposition"`
		SideData     []struct {
			Rotation float64 `json:"rotation"`
		} `json:"side_data_list"`
	} `json:"streams"`
	// Frames decoded from the first probePackets packets; ffprobe lists only those that decoded.
	Frames []ffprobeFrame `json:"frames"`
	Format struct {
		FormatName string `json:"format_name"`
		StartTime  string `json:"start_time"`
		Duration   string `json:"duration"`
		Size       string `json:"size"`
	} `json:"format"`
}

func parseRate(s string) float64 {
	n, d, ok := strings.Cut(s, "/")
	if !ok {
		f, _ := strconv.ParseFloat(s, 64)
		return f
	}
	a, _ := strconv.ParseFloat(n, 64)
	b, _ := strconv.ParseFloat(d, 64)
	if b == 0 {
		return 0
	}
	return a / b
}

func parseProbe(raw []byte, lim Limits) (*Probe, error) {
	var o ffprobeOut
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, fmt.Errorf("ffprobe output: %w", err)
	}
	if lim.MaxStreams > 0 && len(o.Streams) > lim.MaxStreams {
		return nil, mediaErr("the file has %d streams; at most %d are accepted", len(o.Streams), lim.MaxStreams)
	}
	p := &Probe{Format: o.Format.FormatName}
	p.Start, _ = strconv.ParseFloat(o.Format.StartTime, 64)
	p.Size, _ = strconv.ParseInt(o.Format.Size, 10, 64)
	p.Duration, _ = strconv.ParseFloat(o.Format.Duration, 64)
	videoFound, coverArt := false, false
	audioN, defaultAudio := 0, -1
	for _, s := range o.Streams {
		st := Stream{Index: s.Index, Type: s.CodecType, Codec: s.CodecName, Language: s.Tags["language"], Title: s.Tags["title"]}
		switch s.CodecType {
		case "video":
			if s.Disposition["attached_pic"] == 1 || videoFound {
				coverArt = coverArt || s.Disposition["attached_pic"] == 1
				continue // cover art, or a second video stream we do not use
			}
			if s.CodecName == "" || s.Width <= 0 || s.Height <= 0 {
				continue
			}
			videoFound = true
			p.decoded = slices.ContainsFunc(o.Frames, func(f ffprobeFrame) bool { return f.StreamIndex == s.Index && f.MediaType == "video" })
			p.VideoCodec = s.CodecName
			p.Width, p.Height = s.Width, s.Height
			// Non-square pixels (anamorphic DVD and broadcast video: 720x480 shown at 16:9) are
			// described at their display size; every rung is scaled to square pixels.
			if sar := parseRate(strings.ReplaceAll(s.SAR, ":", "/")); sar > 0 && math.Abs(sar-1) > 0.01 && sar < 10 && sar > 0.1 {
				p.Width = even(float64(s.Width) * sar)
			}
			p.FPS = parseRate(s.AvgFrameRate)
			if p.FPS <= 0 || p.FPS > 240 {
				p.FPS = parseRate(s.RFrameRate)
			}
			rot := 0.0
			if r, err := strconv.ParseFloat(s.Tags["rotate"], 64); err == nil {
				rot = r
			}
			for _, sd := range s.SideData {
				if sd.Rotation != 0 {
					rot = sd.Rotation
				}
			}
			p.Rotation = ((int(math.Round(rot))%360 + 360) % 360)
			if p.Rotation == 90 || p.Rotation == 270 {
				p.Width, p.Height = p.Height, p.Width
			}
			p.VideoStart, _ = strconv.ParseFloat(s.StartTime, 64)
			// The video stream's own duration when the container gives one: a subtitle or audio
			// track that runs longer must not stretch the video (and divide its bitrates).
			if d, err := strconv.ParseFloat(s.Duration, 64); err == nil && d > 0 {
				p.Duration = d
			}
		case "audio":
			n := audioN
			audioN++
			if s.CodecName == "" || (lim.MaxAudioTracks > 0 && len(p.Audio) >= lim.MaxAudioTracks) {
				break
			}
			if p.AudioCodec == "" {
				p.AudioCodec = s.CodecName
			}
			start, _ := strconv.ParseFloat(s.StartTime, 64)
			if s.Disposition["default"] == 1 && defaultAudio < 0 {
				defaultAudio = len(p.Audio)
			}
			p.Audio = append(p.Audio, AudioTrack{Stream: n, Language: s.Tags["language"], Title: s.Tags["title"], Start: start, Channels: s.Channels})
		case "subtitle":
			st.Bitmap = !textSubtitleCodecs[s.CodecName]
		default:
			continue
		}
		p.Streams = append(p.Streams, st)
	}
	// The source's default track comes first: players start with the first.
	if defaultAudio > 0 {
		d := p.Audio[defaultAudio]
		p.Audio = slices.Insert(slices.Delete(p.Audio, defaultAudio, defaultAudio+1), 0, d)
	}
	if len(p.Audio) > 0 {
		p.AudioStart = p.Audio[0].Start
	}
	switch {
	case !videoFound && p.AudioCodec != "" && coverArt:
		return nil, mediaErr("the file is audio with a cover picture, not a video: a video stream is required")
	case !videoFound && p.AudioCodec != "":
		return nil, mediaErr("the file has only audio; a video stream is required")
	case !videoFound:
		return nil, mediaErr("the file has no video stream")
	case p.Duration <= 0 || math.IsNaN(p.Duration):
		return nil, mediaErr("the video has no duration (empty, truncated or a still image)")
	case lim.MaxDuration > 0 && p.Duration > lim.MaxDuration.Seconds():
		return nil, mediaErr("the video lasts %s; the limit is %s", time.Duration(p.Duration*float64(time.Second)).Round(time.Second), lim.MaxDuration)
	case lim.MaxDimension > 0 && (p.Width > lim.MaxDimension || p.Height > lim.MaxDimension):
		return nil, mediaErr("the video is %dx%d; at most %d pixels on a side are accepted", p.Width, p.Height, lim.MaxDimension)
	case lim.MaxPixels > 0 && p.Width*p.Height > lim.MaxPixels:
		return nil, mediaErr("the video is %dx%d (%.1f megapixels a frame); at most %.1f are accepted", p.Width, p.Height,
			float64(p.Width*p.Height)/1e6, float64(lim.MaxPixels)/1e6)
	}
	switch {
	case p.FPS <= 0 || p.FPS > 240:
		p.FPS = usualFPS
	case p.FPS < 1:
		// A few frames spread over hours (a slideshow, or a crafted file) is encoded at one frame a
		// second: every segment starts with a keyframe, and the cost follows the duration, which the
		// CPU budget is proportional to.
		p.FPS, p.Sparse = sparseFPS, true
	}
	return p, nil
}

// TextSubtitles are the subtitle streams that can become WebVTT.
func (p *Probe) TextSubtitles() []Stream {
	var out []Stream
	for _, s := range p.Streams {
		if s.Type == "subtitle" && !s.Bitmap {
			out = append(out, s)
		}
	}
	return out
}

// HasAudio reports whether there is an audio stream to map.
func (p *Probe) HasAudio() bool { return p.AudioCodec != "" }
