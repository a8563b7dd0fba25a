package transcode

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"vod/app/db"
	"vod/app/queue"
	"vod/app/storage"
	"vod/app/vodtype"
	"vod/modules/transcode/cmaf"
)

// partBase is what every part of a run knows.
type partBase struct {
	VideoID    string      `json:"video_id"`
	Generation int         `json:"generation"`
	Probe      *Probe      `json:"probe"`
	Renditions []Rendition `json:"renditions"`
	// KID is the content key id (hex) of a protected video: its parts encrypt what they store
	// with the key they unwrap from the database (never carried in the job's arguments).
	KID string `json:"kid,omitempty"`
}

type chunkArgs struct {
	partBase
	Chunk chunkPlan `json:"chunk"`
}

func (chunkArgs) Kind() string { return "transcode.chunk" }

type audioArgs struct {
	partBase
	// Track is the rendition's place in Probe.audioRenditions(): the stereo of every track (the
	// default first, so the same number as the track's), then the multichannel ones.
	Track int `json:"track,omitempty"`
}

func (audioArgs) Kind() string { return "transcode.audio" }

type assetsArgs struct{ partBase }

func (assetsArgs) Kind() string { return "transcode.assets" }

type finishArgs struct {
	partBase
	// DoneAt is when the last part finished: since then the manifests of the processing video
	// list every segment.
	DoneAt time.Time `json:"done_at"`
}

func (finishArgs) Kind() string { return "transcode.finish" }

// audioID is the representation id of audio track k: after the rungs.
func audioID(b partBase, k int) string { return fmt.Sprint(len(b.Renditions) + k) }

// source returns what ffmpeg reads the source from: the stored file itself on local storage, a
// presigned URL on S3 (ffmpeg reads the ranges it needs; no worker's disk is involved).
func (s *Service) source(ctx context.Context, v vodtype.PipelineVideo) (string, error) {
	if p, ok := storage.LocalPath(s.store, v.SourceKey); ok {
		return p, nil
	}
	return s.store.PresignGet(ctx, v.SourceKey, 6*time.Hour)
}

// begin is how every part starts: its video still current, where ffmpeg reads the source, and a
// scratch directory the caller removes with done.
func (s *Service) begin(ctx context.Context, b partBase, part string) (in, dir string, done func(), err error) {
	v, err := s.stale(ctx, b.VideoID, b.Generation)
	if err != nil {
		return "", "", nil, err
	}
	if in, err = s.source(ctx, v); err != nil {
		return "", "", nil, err
	}
	dir, done, err = s.scratch(b.VideoID, part)
	return in, dir, done, err
}

// workPart runs a part's work and records its result, or hands its error to fail.
func workPart[T river.JobArgs](ctx context.Context, s *Service, job *river.Job[T], b partBase, part string, work func() (partResult, usage, error)) error {
	started := time.Now()
	res, cpu, err := work()
	if err != nil {
		return s.fail(ctx, b.VideoID, job.Attempt, job.MaxAttempts, err)
	}
	return completePart(ctx, s, job, b, part, res, cpu, started)
}

// budget is what one ffmpeg of a part may take: its priority, CPU time in proportion to the
// seconds of media it encodes, and the memory limit.
func (s *Service) budget(nice int, seconds float64) budget {
	return budget{nice: nice, cpuSeconds: int(math.Ceil(5 + seconds*s.cfg.Limits.CPUPerSecond)), memory: s.cfg.Limits.MaxMemory}
}

// overBudget turns an ffmpeg stopped by its budget into the video's failure reason.
func overBudget(err error) *MediaError {
	switch {
	case errors.Is(err, errCPUBudget):
		return &MediaError{Reason: "processing the video took more CPU time than a video of its length may (transcode.cpu_per_second)"}
	case errors.Is(err, errMemoryBudget):
		return &MediaError{Reason: "processing the video needed more memory than allowed (transcode.max_memory)"}
	}
	return nil
}

// partTimeout sizes a part's timeout from the seconds of media it encodes.
func (s *Service) partTimeout(seconds float64) time.Duration {
	return max(s.cfg.TimeoutMin, time.Duration(seconds*s.cfg.TimeoutFactor*float64(time.Second)))
}

// --- chunk ---

type chunkWorker struct {
	river.WorkerDefaults[chunkArgs]
	s *Service
}

func (w *chunkWorker) Timeout(job *river.Job[chunkArgs]) time.Duration {
	return w.s.partTimeout(job.Args.Chunk.Duration)
}

func (w *chunkWorker) Work(ctx context.Context, job *river.Job[chunkArgs]) error {
	a := job.Args
	return workPart(ctx, w.s, job, a.partBase, chunkPart(a.Chunk.Index), func() (partResult, usage, error) { return w.s.encodeChunk(ctx, a) })
}

// encodeChunk encodes one chunk of every rung and stores its segments at their place on the video's
// timeline.
func (s *Service) encodeChunk(ctx context.Context, a chunkArgs) (partResult, usage, error) {
	in, dir, done, err := s.begin(ctx, a.partBase, chunkPart(a.Chunk.Index))
	if err != nil {
		return partResult{}, usage{}, err
	}
	defer done()
	spec := &ChunkSpec{FFmpeg: s.cfg.FFmpeg, Input: in, OutDir: dir, Probe: a.Probe, Renditions: a.Renditions,
		SegmentSec: s.cfg.SegmentSeconds, Preset: s.cfg.Preset, CRF: s.cfg.CRF, Start: a.Chunk.Start, Duration: a.Chunk.Duration, Threads: s.cfg.EncoderThreads}
	if a.Chunk.Last {
		spec.Overrun = float64(s.cfg.SegmentSeconds) + 1
		// The last chunk is short and starts last (see planChunks): it takes every slot's
		// threads, which would otherwise idle while it ends the video.
		spec.Threads = s.cfg.EncodeJobs * s.cfg.EncoderThreads
	}
	stills := &EncodeSpec{Probe: a.Probe, Renditions: a.Renditions, ThumbWidth: 160}
	sb := stills.storyboard()
	thumbsFrom := 0
	spec.Thumbs, thumbsFrom, spec.PosterAt = chunkStills(sb, stills.posterAt(), spec.fps(), a.Probe.Duration, a.Chunk)
	spec.ThumbW, spec.ThumbH = sb.Width, sb.Height
	top := a.Renditions[len(a.Renditions)-1]
	spec.PosterW, spec.PosterH = top.Width, top.Height
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// A deleted or superseded video stops the encode.
	go func() {
		t := time.NewTicker(s.cfg.ProgressEvery * 2)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if _, err := s.stale(ctx, a.VideoID, a.Generation); err != nil && ctx.Err() == nil {
					cancel(err)
					return
				}
			}
		}
	}()
	fps := spec.fps()
	ts := videoTimescale(fps)
	// The chunk's first frame is the first at or after its start: its place on the timeline in whole
	// frames.
	firstFrame := uint64(math.Ceil(a.Chunk.Start*fps - 1e-6))
	frameTicks := uint64(math.Round(float64(ts) / fps))
	prefix := vodtype.GenerationPrefix(a.VideoID, a.Generation)
	key, err := s.keyOf(ctx, a.partBase)
	if err != nil {
		return partResult{}, usage{}, err
	}
	rungs := make([]*rungOutput, len(a.Renditions))
	for i := range rungs {
		rungs[i] = &rungOutput{path: spec.Output(i), at: firstFrame * frameTicks, next: a.Chunk.FirstSegment,
			track: trackResult{ID: fmt.Sprint(i), Timescale: ts}}
		if key != nil {
			rungs[i].crypt = newTrackCrypt(*key, rungs[i].track.ID)
		}
	}
	// Segments go to storage as ffmpeg finishes them, not after the chunk: the first ones are
	// playable while the rest encode.
	pump := func() error {
		for _, r := range rungs {
			if err := s.pumpRung(ctx, r, prefix, a.Chunk.Index == 0); err != nil {
				return err
			}
		}
		return nil
	}
	started := time.Now()
	cpu, err := runFFmpegWith(ctx, s.cfg.FFmpeg, s.budget(0, a.Chunk.Duration), spec.Args(), pump)
	s.cfg.OnEncodeRun(cpu.CPU)
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return partResult{}, cpu, cause
	}
	if me := overBudget(err); me != nil {
		return partResult{}, cpu, me
	}
	if err != nil {
		if ctx.Err() == nil && !errors.Is(err, errStore) {
			return partResult{}, cpu, &MediaError{Reason: "the video could not be decoded: the file may be damaged"}
		}
		return partResult{}, cpu, err
	}
	if err := pump(); err != nil {
		return partResult{}, cpu, err
	}
	if d := time.Since(started).Seconds(); d > 0 {
		s.cfg.OnEncoded(a.Chunk.Duration / d)
	}
	// Limits hold on what is decoded: video past the stated end means the header lies (a
	// Matroska file saying 2 s over 7 hours of frames), and the plan, the duration limit and the
	// bandwidths would all be wrong. Nothing is published.
	if got := trackSeconds(&rungs[0].track); a.Chunk.Last && got > a.Chunk.Duration+float64(s.cfg.SegmentSeconds)/2 {
		return partResult{}, cpu, &MediaError{Reason: fmt.Sprintf("the file says it lasts %s, but its video goes on past that: the file is damaged or its header is wrong",
			time.Duration((a.Chunk.Start+a.Chunk.Duration)*float64(time.Second)).Round(100*time.Millisecond))}
	}
	var res partResult
	// The stills are extras: a chunk without them still plays.
	put := s.putter(ctx, prefix)
	if b, err := os.ReadFile(spec.StoryboardOutput()); err == nil && len(spec.Thumbs) > 0 && len(b) > 0 {
		name := fmt.Sprintf("storyboard-%d.jpg", a.Chunk.Index)
		if err := put(name, b); err != nil {
			return partResult{}, cpu, err
		}
		res.Storyboard = &stillsRow{Image: name, From: thumbsFrom, Count: len(spec.Thumbs)}
	}
	if b, err := os.ReadFile(spec.PosterOutput()); err == nil && spec.PosterAt >= 0 && len(b) > 0 {
		if err := put("poster.jpg", b); err != nil {
			return partResult{}, cpu, err
		}
		res.PosterKey = prefix + "poster.jpg"
	}
	for _, r := range rungs {
		if len(r.track.Segments) == 0 {
			return partResult{}, cpu, &MediaError{Reason: fmt.Sprintf("no video could be decoded between %.1fs and %.1fs: the file may be damaged", a.Chunk.Start, a.Chunk.Start+a.Chunk.Duration)}
		}
		res.Tracks = append(res.Tracks, r.track)
	}
	return res, cpu, nil
}

// rungOutput follows one rung's output file while ffmpeg writes it.
type rungOutput struct {
	path  string
	read  int64
	split cmaf.Splitter
	init  bool
	at    uint64 // where the next segment starts on the video's timeline
	next  int    // its number
	track trackResult
	// The audio: one encode of the whole track, stored as it is (no move), and its last completed
	// segment held back until another follows or the encode ends, since a last sliver is dropped.
	asIs, holdLast bool
	held           *cmaf.Segment
	// crypt encrypts a protected video's segments and init segment as they are stored.
	crypt *trackCrypt
}

var errStore = errors.New("transcode: storing a segment failed")

// putter stores media objects under a generation's prefix.
func (s *Service) putter(ctx context.Context, prefix string) func(key string, data []byte) error {
	return func(key string, data []byte) error {
		if _, err := s.store.Put(ctx, prefix+key, bytes.NewReader(data), int64(len(data)), storage.PutOptions{ContentType: vodtype.ContentType(key)}); err != nil {
			return fmt.Errorf("%w: %s: %v", errStore, key, err)
		}
		return nil
	}
}

// pumpRung reads what ffmpeg added to a rung's file and stores every segment completed since, moved
// to its place on the timeline; the first chunk also stores the init segment.
func (s *Service) pumpRung(ctx context.Context, r *rungOutput, prefix string, first bool) error {
	f, err := os.Open(r.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Seek(r.read, io.SeekStart); err != nil {
		return err
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return err
	}
	r.read += int64(len(b))
	r.split.Write(b)
	segs, err := r.split.Next()
	if err != nil {
		return err
	}
	put := s.putter(ctx, prefix)
	if c := r.crypt; c != nil && c.nalLen < 0 && r.split.Timescale != 0 {
		if c.nalLen, err = cmaf.NALLengthSize(r.split.Init); err != nil {
			return err
		}
	}
	if first && !r.init && r.split.Timescale != 0 {
		if r.track.Codecs, err = cmaf.Codecs(r.split.Init); err != nil {
			return err
		}
		init := r.split.Init
		if r.crypt != nil {
			if init, err = cmaf.EncryptInit(init, r.crypt.key); err != nil {
				return err
			}
		}
		if err := put("init-"+r.track.ID+".m4s", init); err != nil {
			return err
		}
		r.init = true
	}
	if r.holdLast {
		if r.held != nil {
			segs = append([]cmaf.Segment{*r.held}, segs...)
			r.held = nil
		}
		if len(segs) > 0 {
			r.held = &segs[len(segs)-1]
			segs = segs[:len(segs)-1]
		}
	}
	for _, seg := range segs {
		if err := r.store(seg, put); err != nil {
			return err
		}
	}
	return nil
}

// store puts one segment at its place and number.
func (r *rungOutput) store(seg cmaf.Segment, put func(key string, data []byte) error) error {
	out, at := seg, seg.DecodeTime
	if !r.asIs {
		moved, err := cmaf.Shift(seg, r.at, uint32(r.next))
		if err != nil {
			return err
		}
		out, at = moved, r.at
	}
	if c := r.crypt; c != nil {
		if c.nalLen < 0 {
			return errors.New("transcode: a segment came before its init segment")
		}
		enc, err := cmaf.EncryptSegment(out, c.key, c.ivBase, at, c.nalLen)
		if err != nil {
			return err
		}
		out = enc
	}
	data := out.Data
	if err := put(fmt.Sprintf("seg-%s-%05d.m4s", r.track.ID, r.next), data); err != nil {
		return err
	}
	r.track.Segments = append(r.track.Segments, segInfo{Number: r.next, Duration: seg.Duration, Size: len(data)})
	r.at += seg.Duration
	r.next++
	return nil
}

// --- audio ---

type audioWorker struct {
	river.WorkerDefaults[audioArgs]
	s *Service
}

func (w *audioWorker) Timeout(job *river.Job[audioArgs]) time.Duration {
	// AAC encodes at tens of times real time.
	return w.s.partTimeout(job.Args.Probe.Duration / 10)
}

func (w *audioWorker) Work(ctx context.Context, job *river.Job[audioArgs]) error {
	a := job.Args
	return workPart(ctx, w.s, job, a.partBase, audioPart(a.Track), func() (partResult, usage, error) { return w.s.encodeAudio(ctx, a) })
}

// audioLang is a track's language as a valid BCP 47 tag ("und" when unknown).
func audioLang(at AudioTrack) string {
	if lang := vodtype.LanguageTag(at.Language); vodtype.ValidLanguage(lang) {
		return lang
	}
	return "und"
}

// audioLabel is the name players show for an audio track: its title in the source, else its
// language's name, else its number.
func audioLabel(at AudioTrack, k int) string {
	if t := strings.TrimSpace(vodtype.StripControl(at.Title)); t != "" {
		return t
	}
	if lang := audioLang(at); lang != "und" {
		return vodtype.LanguageLabel(lang)
	}
	return fmt.Sprintf("Audio %d", k+1)
}

// encodeAudio encodes the whole track once and stores its segments as ffmpeg finishes them,
// recording how far it got every second or so: the video is playable as soon as the audio covers
// its first chunk, not when the whole track is done.
func (s *Service) encodeAudio(ctx context.Context, a audioArgs) (partResult, usage, error) {
	rends := a.Probe.audioRenditions()
	if a.Track >= len(rends) {
		return partResult{}, usage{}, &MediaError{Reason: "an audio track of the file is missing"}
	}
	ar := rends[a.Track]
	at := a.Probe.audioTracks()[ar.Track]
	part := audioPart(a.Track)
	in, dir, done, err := s.begin(ctx, a.partBase, part)
	if err != nil {
		return partResult{}, usage{}, err
	}
	defer done()
	spec := &AudioSpec{FFmpeg: s.cfg.FFmpeg, Input: in, Output: filepath.Join(dir, "audio.mp4"), SegmentSec: s.cfg.SegmentSeconds,
		Stream: at.Stream, Offset: at.Start - a.Probe.VideoStart, Duration: a.Probe.Duration, Channels: ar.Channels}
	prefix := vodtype.GenerationPrefix(a.VideoID, a.Generation)
	r := &rungOutput{path: spec.Output, next: 1, asIs: true, holdLast: true, track: trackResult{ID: audioID(a.partBase, a.Track), Codecs: "mp4a.40.2",
		Lang: audioLang(at), Label: audioLabel(at, ar.Track), Default: a.Track == 0}}
	if ar.Channels > 2 {
		r.track.Channels = ar.Channels
		r.track.Label += map[int]string{6: " (5.1)", 8: " (7.1)"}[ar.Channels]
	}
	key, err := s.keyOf(ctx, a.partBase)
	if err != nil {
		return partResult{}, usage{}, err
	}
	if key != nil {
		r.crypt = newTrackCrypt(*key, r.track.ID)
	}
	reported, last := 0, time.Now()
	pump := func() error {
		if err := s.pumpRung(ctx, r, prefix, true); err != nil {
			return err
		}
		r.track.Timescale = r.split.Timescale
		if n := len(r.track.Segments); n > reported && time.Since(last) >= s.cfg.ProgressEvery {
			reported, last = n, time.Now()
			return s.recordProgress(ctx, a.partBase, part, partResult{Tracks: []trackResult{r.track}})
		}
		return nil
	}
	cpu, err := runFFmpegWith(ctx, s.cfg.FFmpeg, s.budget(0, a.Probe.Duration), spec.Args(), pump)
	s.cfg.OnEncodeRun(cpu.CPU)
	if me := overBudget(err); me != nil {
		return partResult{}, cpu, me
	}
	if err != nil {
		if ctx.Err() == nil && !errors.Is(err, errStore) {
			return partResult{}, cpu, &MediaError{Reason: "the audio could not be decoded: the file may be damaged"}
		}
		return partResult{}, cpu, err
	}
	if err := s.pumpRung(ctx, r, prefix, true); err != nil {
		return partResult{}, cpu, err
	}
	r.track.Timescale = r.split.Timescale
	// A last fragment of a frame or two is noise that DASH players never ask for: it is dropped
	// when it is under 100 ms.
	if h := r.held; h != nil && (len(r.track.Segments) == 0 || float64(h.Duration)/float64(r.track.Timescale) >= 0.1) {
		if err := r.store(*h, s.putter(ctx, prefix)); err != nil {
			return partResult{}, cpu, err
		}
	}
	if len(r.track.Segments) == 0 {
		return partResult{}, cpu, &MediaError{Reason: "the audio could not be decoded: the file may be damaged"}
	}
	return partResult{Tracks: []trackResult{r.track}}, cpu, nil
}

// --- assets: subtitles, poster, storyboard ---

type assetsWorker struct {
	river.WorkerDefaults[assetsArgs]
	s *Service
}

func (w *assetsWorker) Timeout(job *river.Job[assetsArgs]) time.Duration {
	return w.s.partTimeout(job.Args.Probe.Duration / 2)
}

func (w *assetsWorker) Work(ctx context.Context, job *river.Job[assetsArgs]) error {
	a := job.Args
	return workPart(ctx, w.s, job, a.partBase, partAssets, func() (partResult, usage, error) { return w.s.makeAssets(ctx, a) })
}

// assetArgs extracts the text subtitles as WebVTT: no video is decoded (the chunks take the
// poster and the storyboard from the frames they decode).
func assetArgs(in string, p *Probe, dir string) []string {
	args := []string{"-hide_banner", "-nostdin", "-y", "-loglevel", "error",
		"-protocol_whitelist", protocolsFor(in), "-format_whitelist", formatWhitelist, "-i", in}
	for i, st := range p.TextSubtitles() {
		// Cue times relative to the video's first frame, as the segments are: ffmpeg counts them
		// from the container's start, which is earlier when another stream starts first.
		args = append(args, "-map", fmt.Sprintf("0:%d", st.Index), "-c:s", "webvtt", "-f", "webvtt",
			"-output_ts_offset", fmt.Sprintf("%.6f", -(p.VideoStart-p.Start)), filepath.Join(dir, fmt.Sprintf("sub-%d.vtt", i)))
	}
	return args
}

func trimFloat(f float64) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", f), "0"), ".")
}

func (s *Service) makeAssets(ctx context.Context, a assetsArgs) (partResult, usage, error) {
	in, dir, done, err := s.begin(ctx, a.partBase, partAssets)
	if err != nil {
		return partResult{}, usage{}, err
	}
	defer done()
	var cpu usage
	if len(a.Probe.TextSubtitles()) > 0 {
		cpu, err = runFFmpegWith(ctx, s.cfg.FFmpeg, s.budget(5, a.Probe.Duration), assetArgs(in, a.Probe, dir))
	}
	if err != nil && ctx.Err() != nil {
		return partResult{}, cpu, err
	}
	if err != nil {
		// Deleted or superseded meanwhile (its source gone): that is the reason, not the media.
		if _, serr := s.stale(ctx, a.VideoID, a.Generation); serr != nil {
			return partResult{}, cpu, serr
		}
	}
	var res partResult
	if err != nil {
		// Subtitles are extras: a video without them still plays.
		s.log.Warn("assets failed", "video", a.VideoID, "err", err)
		res.Notes = append(res.Notes, "the embedded subtitles could not be read")
	}
	prefix := vodtype.GenerationPrefix(a.VideoID, a.Generation)
	out := filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o750); err != nil {
		return partResult{}, cpu, err
	}
	seen := map[string]int{}
	for i, st := range a.Probe.TextSubtitles() {
		raw, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("sub-%d.vtt", i)))
		if err != nil {
			continue
		}
		cues, err := vodtype.ParseCues(raw)
		if err != nil {
			res.Notes = append(res.Notes, fmt.Sprintf("subtitle stream %d (%s) has no readable cues and was skipped", st.Index, st.Codec))
			continue
		}
		lang := vodtype.LanguageTag(st.Language)
		seen[lang]++
		if seen[lang] > 1 {
			lang = fmt.Sprintf("%s-x-%d", lang, seen[lang])
		}
		// Embedded tracks live in the generation: reprocessing replaces them.
		if err := os.WriteFile(filepath.Join(out, "subs-"+lang+".vtt"), vodtype.WriteVTT(cues), 0o640); err != nil {
			return partResult{}, cpu, err
		}
		label := vodtype.LanguageLabel(lang)
		if t := strings.TrimSpace(vodtype.StripControl(st.Title)); t != "" {
			label = t
		}
		res.Subtitles = append(res.Subtitles, vodtype.SubtitleFile{Lang: lang, Label: label, Source: vodtype.SourceEmbedded, Key: prefix + "subs-" + lang + ".vtt"})
	}
	for _, st := range a.Probe.Streams {
		if st.Type == "subtitle" && st.Bitmap {
			res.Notes = append(res.Notes, fmt.Sprintf("subtitle stream %d (%s) is a bitmap format and was skipped", st.Index, st.Codec))
		}
	}
	if err := s.storeDir(ctx, a.VideoID, out, prefix); err != nil {
		return partResult{}, cpu, err
	}
	return res, cpu, nil
}

// --- finish: manifests, progressive MP4, then publish ---

type finishWorker struct {
	river.WorkerDefaults[finishArgs]
	s *Service
}

func (w *finishWorker) Timeout(job *river.Job[finishArgs]) time.Duration {
	return w.s.partTimeout(job.Args.Probe.Duration / 10)
}

func (w *finishWorker) Work(ctx context.Context, job *river.Job[finishArgs]) error {
	s, a := w.s, job.Args
	pub, err := s.finish(ctx, a)
	if err != nil {
		return s.fail(ctx, a.VideoID, job.Attempt, job.MaxAttempts, err)
	}
	// A player of the processing video must load its complete manifests before they are replaced
	// (see publishArgs.NotBefore): they are listed for a reload and their second of cache. When no
	// player is loading them, publishing waits for nobody.
	var after time.Time
	if watched, err := s.liveWatched(ctx, a.VideoID, a.Generation); err != nil {
		return err
	} else if watched {
		after = a.DoneAt.Add(s.liveUpdate() + time.Second)
	}
	return s.db.WithTx(ctx, func(tx *db.Tx) error {
		if _, err := s.queue.InsertTx(ctx, tx, publishArgs{VideoID: a.VideoID, Publication: *pub, NotBefore: after}, nil); err != nil {
			return err
		}
		return queue.CompleteTx(ctx, tx, job)
	})
}

func (s *Service) finish(ctx context.Context, a finishArgs) (*vodtype.Publication, error) {
	if _, err := s.stale(ctx, a.VideoID, a.Generation); err != nil {
		return nil, err
	}
	rows, cpu, err := s.doneParts(ctx, a.partBase)
	if err != nil {
		return nil, err
	}
	// The chunks' records join into one per track, as for a processing video's manifests.
	lv := joinLive(rows, len(a.Renditions))
	if !lv.complete {
		return nil, fmt.Errorf("%w: the chunks do not join from the start", errPartsMissing)
	}
	tracks, audio := lv.video, lv.audio
	for i, t := range tracks {
		if t.Codecs == "" {
			return nil, fmt.Errorf("%w: rung %d has no init segment", errPartsMissing, i)
		}
		for k, sg := range t.Segments {
			if sg.Number != k+1 {
				return nil, fmt.Errorf("%w: rung %d has no segment %d", errPartsMissing, i, k+1)
			}
		}
	}
	duration := trackSeconds(tracks[0])
	prefix := vodtype.GenerationPrefix(a.VideoID, a.Generation)
	pubTracks := measureAll(tracks, audio, a.Renditions, (&EncodeSpec{Probe: a.Probe}).fps())
	dir, done, err := s.scratch(a.VideoID, "finish")
	if err != nil {
		return nil, err
	}
	defer done()
	out := filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o750); err != nil {
		return nil, err
	}
	all := append(append([]*trackResult{}, tracks...), audio...)
	files := map[string][]byte{"stream.mpd": buildBaseMPD(tracks, audio, a.Renditions, duration, s.cfg.SegmentSeconds, a.KID)}
	for _, t := range all {
		files["media_"+t.ID+".m3u8"] = buildMediaPlaylist(t)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(out, name), b, 0o640); err != nil {
			return nil, err
		}
	}
	pub := &vodtype.Publication{Generation: a.Generation, Prefix: prefix, BaseMPDKey: prefix + "stream.mpd",
		Tracks: pubTracks, Duration: duration}
	// The progressive download: the rung nearest 720p and the audio, from their stored segments,
	// remuxed without encoding.
	if name, err := s.progressiveMP4(ctx, a, pubTracks, dir, out); err != nil {
		s.log.Warn("progressive mp4 failed", "video", a.VideoID, "err", err)
		pub.Notes = append(pub.Notes, "no progressive MP4 download could be made")
	} else {
		pub.MP4Key = prefix + name
	}
	chunks := 0
	var strips []stillsRow
	for _, r := range rows {
		var res partResult
		if json.Unmarshal([]byte(r.Result), &res) != nil {
			continue
		}
		// The poster comes from the chunk it falls in (or, for a run started before the chunks
		// took the stills, from its assets part).
		if res.PosterKey != "" {
			pub.PosterKey = res.PosterKey
		}
		switch {
		case strings.HasPrefix(r.Part, "c"):
			chunks++
			if res.Storyboard != nil {
				strips = append(strips, *res.Storyboard)
			}
		case r.Part == partAssets:
			pub.Subtitles = res.Subtitles
			pub.Notes = append(pub.Notes, res.Notes...)
		}
	}
	if len(strips) > 0 {
		slices.SortFunc(strips, func(x, y stillsRow) int { return x.From - y.From })
		sb := (&EncodeSpec{Probe: a.Probe, Renditions: a.Renditions, ThumbWidth: 160}).storyboard()
		if err := os.WriteFile(filepath.Join(out, "storyboard.vtt"), storyboardVTT(sb, strips, duration), 0o640); err != nil {
			return nil, err
		}
		pub.StoryboardKey = prefix + "storyboard.vtt"
	}
	if err := s.storeDir(ctx, a.VideoID, out, prefix); err != nil {
		return nil, err
	}
	s.log.Info("encode finished", "video", a.VideoID, "generation", a.Generation, "chunks", chunks,
		"encode_cpu_seconds", math.Round(cpu.CPU*100)/100, "peak_rss_mb", cpu.PeakRSS>>20, "duration", math.Round(duration*1000)/1000)
	s.cfg.OnVideoEncoded(cpu.CPU, cpu.PeakRSS, chunks)
	return pub, nil
}

func trackSeconds(t *trackResult) float64 {
	var total uint64
	for _, s := range t.Segments {
		total += s.Duration
	}
	return float64(total) / float64(t.Timescale)
}

// measureAll measures the rungs and the audio tracks for the manifests and the catalog.
func measureAll(video, audio []*trackResult, rends []Rendition, fps float64) []vodtype.Track {
	var out []vodtype.Track
	for i, t := range video {
		out = append(out, measure(t, "video", rends[i].Width, rends[i].Height, fps))
	}
	for _, t := range audio {
		tr := measure(t, "audio", 0, 0, 0)
		tr.Lang, tr.Label, tr.Default, tr.Channels = t.Lang, t.Label, t.Default, t.Channels
		out = append(out, tr)
	}
	return out
}

// measure computes a track's bandwidths from its segments' real sizes and durations.
func measure(t *trackResult, kind string, w, h int, fps float64) vodtype.Track {
	var bits, peak float64
	for _, s := range t.Segments {
		b := float64(s.Size) * 8
		bits += b
		// A very short last segment would overstate the peak.
		peak = math.Max(peak, b/math.Max(float64(s.Duration)/float64(t.Timescale), 1))
	}
	return vodtype.Track{ID: t.ID, Kind: kind, Width: w, Height: h, Codecs: t.Codecs, FrameRate: fps,
		Peak: int(math.Ceil(peak)), Average: int(math.Ceil(bits / math.Max(trackSeconds(t), 0.001)))}
}

// progressiveMP4 downloads the segments of the rung nearest 720p and of the audio into dir and
// remuxes them into out/{name}, and returns the name: download.mp4, or for a protected video (whose
// download is decrypted, and offered to its owner only) a name derived from its key, which nobody
// can guess from the video's id.
func (s *Service) progressiveMP4(ctx context.Context, a finishArgs, tracks []vodtype.Track, dir, out string) (string, error) {
	prefix := vodtype.GenerationPrefix(a.VideoID, a.Generation)
	src := filepath.Join(dir, "mp4src")
	if err := os.Mkdir(src, 0o750); err != nil {
		return "", err
	}
	key, err := s.keyOf(ctx, a.partBase)
	if err != nil {
		return "", err
	}
	name := "download.mp4"
	if key != nil {
		m := hmac.New(sha256.New, key.Key[:])
		m.Write([]byte("download|" + a.VideoID))
		name = fmt.Sprintf("download-%x.mp4", m.Sum(nil)[:16])
	}
	var want []vodtype.Track
	var best *vodtype.Track
	for i := range tracks {
		t := &tracks[i]
		if t.Kind == "audio" {
			if len(want) == 0 { // the default track: the download has one
				want = append(want, *t)
			}
		} else if best == nil || math.Abs(float64(min(t.Width, t.Height)-720)) < math.Abs(float64(min(best.Width, best.Height)-720)) {
			best = t
		}
	}
	if best == nil {
		return "", errors.New("no video track")
	}
	want = append(want, *best)
	wanted := func(name string) bool {
		for _, t := range want {
			if name == "init-"+t.ID+".m4s" || strings.HasPrefix(name, "seg-"+t.ID+"-") {
				return true
			}
		}
		return false
	}
	err = s.store.List(ctx, prefix, func(o storage.Object) error {
		name := strings.TrimPrefix(o.Key, prefix)
		if !wanted(name) {
			return nil
		}
		rc, _, err := s.store.Get(ctx, o.Key, 0, -1)
		if err != nil {
			return err
		}
		defer rc.Close()
		if key != nil {
			// Segments are small: decrypted in memory, one at a time.
			raw, err := io.ReadAll(rc)
			if err != nil {
				return err
			}
			if strings.HasPrefix(name, "init-") {
				raw, err = cmaf.DecryptInit(raw)
			} else {
				raw, err = cmaf.DecryptSegment(raw, *key)
			}
			if err != nil {
				return fmt.Errorf("decrypt %s: %w", name, err)
			}
			return os.WriteFile(filepath.Join(src, name), raw, 0o640)
		}
		f, err := os.Create(filepath.Join(src, name))
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, rc); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	})
	if err != nil {
		return "", err
	}
	if err := remuxMP4(ctx, s.cfg.FFmpeg, src, tracks); err != nil {
		return "", err
	}
	return name, os.Rename(filepath.Join(src, "download.mp4"), filepath.Join(out, name))
}
