package transcode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"vod/app/db"
	"vod/app/queue"
	"vod/app/storage"
	"vod/app/vodtype"
)

type probeArgs struct {
	VideoID    string `json:"video_id"`
	Generation int    `json:"generation"`
}

func (probeArgs) Kind() string { return "transcode.probe" }

type encodeArgs struct {
	VideoID    string      `json:"video_id"`
	Generation int         `json:"generation"`
	Probe      *Probe      `json:"probe"`
	Renditions []Rendition `json:"renditions"`
}

func (encodeArgs) Kind() string { return "transcode.encode" }

type storeArgs encodeArgs

func (storeArgs) Kind() string { return "transcode.store" }

type publishArgs struct {
	VideoID     string              `json:"video_id"`
	Publication vodtype.Publication `json:"publication"`
}

func (publishArgs) Kind() string { return "transcode.publish" }

// stale reports whether a job belongs to a deleted video or a superseded generation: such jobs
// cancel themselves.
func (s *Service) stale(ctx context.Context, id string, gen int) (vodtype.PipelineVideo, error) {
	v, err := s.catalog.PipelineVideo(ctx, id)
	if errors.Is(err, vodtype.ErrNoVideo) {
		// Deleted mid-processing: this host's work files for it go now, not at the next sweep.
		s.dropWork(id)
		return v, river.JobCancel(fmt.Errorf("%w: %s", errVideoGone, id))
	} else if err != nil {
		return v, err
	}
	if v.Generation != gen {
		return v, river.JobCancel(fmt.Errorf("video %s generation %d superseded by %d", id, gen, v.Generation))
	}
	if v.Status == vodtype.StatusFailed || v.Status == vodtype.StatusUploading {
		return v, river.JobCancel(fmt.Errorf("video %s is %s", id, v.Status))
	}
	return v, nil
}

// fail handles a stage error: bad media fails the video at once; other errors are retried by River
// and fail the video on the last attempt.
func (s *Service) fail(ctx context.Context, videoID string, attempt, maxAttempts int, err error) error {
	var me *MediaError
	if errors.As(err, &me) {
		if ferr := s.catalog.Fail(ctx, videoID, me.Reason); ferr != nil {
			return ferr
		}
		return river.JobCancel(err)
	}
	var cancel *river.JobCancelError
	if errors.As(err, &cancel) || ctx.Err() != nil {
		return err
	}
	if attempt >= maxAttempts {
		_ = s.catalog.Fail(context.WithoutCancel(ctx), videoID, "processing failed after several attempts; try reprocessing the video")
	}
	return err
}

var errVideoGone = errors.New("the video was deleted")

// dropWork removes a video's work directory on this host.
func (s *Service) dropWork(id string) {
	if err := os.RemoveAll(filepath.Join(s.cfg.WorkDir, id)); err != nil {
		s.log.Warn("remove work files", "video", id, "err", err)
	}
}

// dropWorkIfGone removes the work directory when the video no longer exists.
func (s *Service) dropWorkIfGone(ctx context.Context, id string) {
	if _, err := s.catalog.PipelineVideo(ctx, id); errors.Is(err, vodtype.ErrNoVideo) {
		s.dropWork(id)
	}
}

func (s *Service) workDir(id string, gen int) string {
	return filepath.Join(s.cfg.WorkDir, id, fmt.Sprintf("g%d", gen))
}

// input returns a path ffmpeg can read the source from: the stored file itself on local storage,
// the copy the upload left in the work directory, or a fresh download of it.
func (s *Service) input(ctx context.Context, v vodtype.PipelineVideo) (string, error) {
	if p, ok := storage.LocalPath(s.store, v.SourceKey); ok {
		return p, nil
	}
	local := filepath.Join(s.cfg.WorkDir, v.ID, "source")
	if fi, err := os.Stat(local); err == nil && fi.Size() == v.SourceSize {
		return local, nil
	}
	if err := os.MkdirAll(filepath.Dir(local), 0o750); err != nil {
		return "", err
	}
	rc, _, err := s.store.Get(ctx, v.SourceKey, 0, -1)
	if err != nil {
		return "", fmt.Errorf("download source: %w", err)
	}
	defer rc.Close()
	tmp := local + ".part"
	f, err := os.Create(tmp)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(f, rc); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return local, os.Rename(tmp, local)
}

// --- probe ---

type probeWorker struct {
	river.WorkerDefaults[probeArgs]
	s *Service
}

func (w *probeWorker) Timeout(*river.Job[probeArgs]) time.Duration { return 30 * time.Minute }

func (w *probeWorker) Work(ctx context.Context, job *river.Job[probeArgs]) error {
	s, a := w.s, job.Args
	v, err := s.stale(ctx, a.VideoID, a.Generation)
	if err != nil {
		return err
	}
	_ = s.catalog.SetProgress(ctx, a.VideoID, "probe", 1)
	in, err := s.input(ctx, v)
	if err != nil {
		return s.fail(ctx, a.VideoID, job.Attempt, job.MaxAttempts, err)
	}
	p, err := ProbeFile(ctx, s.cfg.FFprobe, in, s.cfg.Limits)
	if err != nil {
		return s.fail(ctx, a.VideoID, job.Attempt, job.MaxAttempts, err)
	}
	rends := PlanLadder(p.Width, p.Height, s.rungs)
	return s.db.WithTx(ctx, func(tx *db.Tx) error {
		if err := s.catalog.RecordProbeTx(ctx, tx, a.VideoID, vodtype.ProbeInfo{Duration: p.Duration, Width: p.Width, Height: p.Height,
			FPS: p.FPS, VideoCodec: p.VideoCodec, AudioCodec: p.AudioCodec, Rotation: p.Rotation, Size: p.Size}); err != nil {
			return err
		}
		next := encodeArgs{VideoID: a.VideoID, Generation: a.Generation, Probe: p, Renditions: rends}
		if _, err := s.queue.InsertTx(ctx, tx, next, &river.InsertOpts{MaxAttempts: 5}); err != nil {
			return err
		}
		return queue.CompleteTx(ctx, tx, job)
	})
}

// --- encode ---

type encodeWorker struct {
	river.WorkerDefaults[encodeArgs]
	s *Service
}

// Timeout is sized to the video: River neither rescues a crashed job nor runs it again before its
// timeout has passed, so it must be realistic rather than generous.
func (w *encodeWorker) Timeout(job *river.Job[encodeArgs]) time.Duration {
	return w.s.encodeTimeout(job.Args.Probe)
}

func (s *Service) encodeTimeout(p *Probe) time.Duration {
	d := 60.0
	if p != nil {
		d = p.Duration
	}
	return max(s.cfg.TimeoutMin, time.Duration(d*s.cfg.TimeoutFactor*float64(time.Second)))
}

func (w *encodeWorker) Work(ctx context.Context, job *river.Job[encodeArgs]) error {
	s, a := w.s, job.Args
	// encode checks the video is still current before it starts.
	if err := s.encode(ctx, encodeArgs(a)); err != nil {
		return s.fail(ctx, a.VideoID, job.Attempt, job.MaxAttempts, err)
	}
	return s.db.WithTx(ctx, func(tx *db.Tx) error {
		if _, err := s.queue.InsertTx(ctx, tx, storeArgs(a), &river.InsertOpts{MaxAttempts: 10}); err != nil {
			return err
		}
		return queue.CompleteTx(ctx, tx, job)
	})
}

// encode runs the single ffmpeg process into a fresh directory and renames it into place, so that
// out/ only ever holds a complete encode: a crash midway leaves a .tmp directory that the next
// attempt discards.
func (s *Service) encode(ctx context.Context, a encodeArgs) error {
	v, err := s.stale(ctx, a.VideoID, a.Generation)
	if err != nil {
		return err
	}
	in, err := s.input(ctx, v)
	if err != nil {
		return err
	}
	dir := s.workDir(a.VideoID, a.Generation)
	out, tmp := filepath.Join(dir, "out"), filepath.Join(dir, "out.tmp")
	_ = os.RemoveAll(tmp)
	_ = os.RemoveAll(out)
	spec := &EncodeSpec{FFmpeg: s.cfg.FFmpeg, Input: in, OutDir: tmp, Probe: a.Probe, Renditions: a.Renditions,
		SegmentSec: s.cfg.SegmentSeconds, Preset: s.cfg.Preset, ThumbWidth: 160}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var last time.Time
	started := time.Now()
	err = spec.Run(ctx, func(f float64) {
		if time.Since(last) < s.cfg.ProgressEvery {
			return
		}
		last = time.Now()
		// A deleted or superseded video stops the encode here.
		if _, err := s.stale(ctx, a.VideoID, a.Generation); err != nil {
			cancel(err)
			return
		}
		_ = s.catalog.SetProgress(ctx, a.VideoID, "transcode", 5+int(f*85))
	})
	if ctx.Err() != nil {
		// Stopped: by our own check (deleted or superseded), or on PostgreSQL by River cancelling
		// the job of a deleted video remotely. Now that ffmpeg has stopped writing, a deleted
		// video's work files go.
		s.dropWorkIfGone(context.WithoutCancel(ctx), a.VideoID)
	}
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	if err != nil {
		if ctx.Err() == nil {
			return &MediaError{Reason: "the video could not be decoded: the file may be damaged"}
		}
		return err
	}
	if s.cfg.OnEncoded != nil {
		s.cfg.OnEncoded(a.Probe.Duration / time.Since(started).Seconds())
	}
	return os.Rename(tmp, out)
}

// --- store: the encoded files go to storage ---

type storeWorker struct {
	river.WorkerDefaults[storeArgs]
	s *Service
}

func (w *storeWorker) Timeout(job *river.Job[storeArgs]) time.Duration {
	// Redoing a missing encode is part of this stage's worst case.
	return 2 * w.s.encodeTimeout(job.Args.Probe)
}

func (w *storeWorker) Work(ctx context.Context, job *river.Job[storeArgs]) error {
	s, a := w.s, job.Args
	if _, err := s.stale(ctx, a.VideoID, a.Generation); err != nil {
		return err
	}
	out := filepath.Join(s.workDir(a.VideoID, a.Generation), "out")
	if _, err := os.Stat(filepath.Join(out, "stream.mpd")); err != nil {
		// Another host, or a cleaned work directory: encode again from the stored source.
		s.log.Info("encode output missing, encoding again", "video", a.VideoID)
		if err := s.encode(ctx, encodeArgs(a)); err != nil {
			return s.fail(ctx, a.VideoID, job.Attempt, job.MaxAttempts, err)
		}
	}
	pub, err := s.prepare(ctx, encodeArgs(a), out)
	if err != nil {
		return s.fail(ctx, a.VideoID, job.Attempt, job.MaxAttempts, err)
	}
	if err := s.storeDir(ctx, a.VideoID, out, pub.Prefix); err != nil {
		return s.fail(ctx, a.VideoID, job.Attempt, job.MaxAttempts, err)
	}
	return s.db.WithTx(ctx, func(tx *db.Tx) error {
		if _, err := s.queue.InsertTx(ctx, tx, publishArgs{VideoID: a.VideoID, Publication: *pub}, nil); err != nil {
			return err
		}
		return queue.CompleteTx(ctx, tx, job)
	})
}

// prepare writes the files Go makes from ffmpeg's output (thumbnails track, progressive MP4) and
// measures the tracks, returning what publishing needs.
func (s *Service) prepare(ctx context.Context, a encodeArgs, out string) (*vodtype.Publication, error) {
	mpd, err := os.ReadFile(filepath.Join(out, "stream.mpd"))
	if err != nil {
		return nil, err
	}
	spec := &EncodeSpec{Probe: a.Probe, Renditions: a.Renditions, SegmentSec: s.cfg.SegmentSeconds, ThumbWidth: 160}
	tracks, err := MeasureTracks(out, mpd, a.Probe.Duration, s.cfg.SegmentSeconds, spec.fps())
	if err != nil {
		return nil, err
	}
	prefix := vodtype.GenerationPrefix(a.VideoID, a.Generation)
	pub := &vodtype.Publication{Generation: a.Generation, Prefix: prefix, BaseMPDKey: prefix + "stream.mpd",
		Tracks: tracks, Duration: a.Probe.Duration}
	if _, err := os.Stat(filepath.Join(out, "poster.jpg")); err == nil {
		pub.PosterKey = prefix + "poster.jpg"
	}
	if _, err := os.Stat(filepath.Join(out, "storyboard.jpg")); err == nil {
		vtt := StoryboardVTT(spec.storyboard(), "storyboard.jpg", a.Probe.Duration)
		if err := os.WriteFile(filepath.Join(out, "storyboard.vtt"), vtt, 0o640); err != nil {
			return nil, err
		}
		pub.StoryboardKey = prefix + "storyboard.vtt"
	}
	if err := remuxMP4(ctx, s.cfg.FFmpeg, out, tracks); err != nil {
		s.log.Warn("progressive mp4 failed", "video", a.VideoID, "err", err)
		pub.Notes = append(pub.Notes, "no progressive MP4 download could be made")
	} else {
		pub.MP4Key = prefix + "download.mp4"
	}
	seen := map[string]int{}
	for i, st := range a.Probe.TextSubtitles() {
		name := fmt.Sprintf("sub-%d.vtt", i)
		raw, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			continue
		}
		cues, err := vodtype.ParseCues(raw)
		if err != nil {
			pub.Notes = append(pub.Notes, fmt.Sprintf("subtitle stream %d (%s) has no readable cues and was skipped", st.Index, st.Codec))
			continue
		}
		lang := vodtype.LanguageTag(st.Language)
		seen[lang]++
		if seen[lang] > 1 {
			lang = fmt.Sprintf("%s-x-%d", lang, seen[lang])
		}
		vtt := vodtype.WriteVTT(cues)
		// Embedded tracks live in the generation: reprocessing replaces them.
		if err := os.WriteFile(filepath.Join(out, "subs-"+lang+".vtt"), vtt, 0o640); err != nil {
			return nil, err
		}
		label := vodtype.LanguageLabel(lang)
		if st.Title != "" {
			label = st.Title
		}
		pub.Subtitles = append(pub.Subtitles, vodtype.SubtitleFile{Lang: lang, Label: label, Source: vodtype.SourceEmbedded, Key: prefix + "subs-" + lang + ".vtt"})
		_ = os.Remove(filepath.Join(out, name))
	}
	for _, st := range a.Probe.Streams {
		if st.Type == "subtitle" && st.Bitmap {
			pub.Notes = append(pub.Notes, fmt.Sprintf("subtitle stream %d (%s) is a bitmap format and was skipped", st.Index, st.Codec))
		}
	}
	return pub, nil
}

// remuxMP4 makes the progressive download from already-encoded segments of one rung (the one
// closest to 720p) and the audio: their init and media segments concatenate into fragmented MP4
// files, which ffmpeg copies (no encode) into one fast-start MP4.
func remuxMP4(ctx context.Context, ffmpeg, out string, tracks []vodtype.Track) error {
	var video, audio *vodtype.Track
	for i := range tracks {
		t := &tracks[i]
		switch t.Kind {
		case "video":
			if video == nil || math.Abs(float64(min(t.Width, t.Height)-720)) < math.Abs(float64(min(video.Width, video.Height)-720)) {
				video = t
			}
		case "audio":
			audio = t
		}
	}
	if video == nil {
		return errors.New("no video track")
	}
	args := []string{"-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-protocol_whitelist", "file"}
	var tmp []string
	defer func() {
		for _, f := range tmp {
			os.Remove(f)
		}
	}()
	for _, t := range []*vodtype.Track{video, audio} {
		if t == nil {
			continue
		}
		p := filepath.Join(out, "concat-"+t.ID+".mp4")
		if err := concatSegments(out, t.ID, p); err != nil {
			return err
		}
		tmp = append(tmp, p)
		args = append(args, "-i", p)
	}
	args = append(args, "-map", "0:v:0")
	if audio != nil {
		args = append(args, "-map", "1:a:0")
	}
	args = append(args, "-c", "copy", "-movflags", "+faststart", filepath.Join(out, "download.mp4"))
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	cmd := execCommand(ctx, ffmpeg, args...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ffmpeg remux: %w: %s", err, strings.TrimSpace(string(b)))
	}
	return nil
}

func concatSegments(dir, id, dst string) error {
	segs, err := filepath.Glob(filepath.Join(dir, "seg-"+id+"-*.m4s"))
	if err != nil {
		return err
	}
	sort.Strings(segs)
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, p := range append([]string{filepath.Join(dir, "init-"+id+".m4s")}, segs...) {
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, src)
		src.Close()
		if err != nil {
			return err
		}
	}
	return f.Close()
}

// storeDir puts every output file under prefix with bounded parallelism and retries.
func (s *Service) storeDir(ctx context.Context, videoID, dir, prefix string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var files []string
	for _, e := range entries {
		if !e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			files = append(files, e.Name())
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan string)
	var mu sync.Mutex
	var firstErr error
	done := 0
	var wg sync.WaitGroup
	for range s.cfg.UploadParallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name := range work {
				err := s.putFile(ctx, filepath.Join(dir, name), prefix+name)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
					cancel()
				}
				done++
				n := done
				mu.Unlock()
				if n%20 == 0 {
					_ = s.catalog.SetProgress(ctx, videoID, "store", 90+9*n/len(files))
				}
			}
		}()
	}
	for _, f := range files {
		select {
		case work <- f:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

func (s *Service) putFile(ctx context.Context, path, key string) error {
	var err error
	for attempt := range 4 {
		if attempt > 0 {
			select {
			case <-time.After(time.Duration(attempt*attempt) * 500 * time.Millisecond):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		var f *os.File
		if f, err = os.Open(path); err != nil {
			return err
		}
		fi, _ := f.Stat()
		_, err = s.store.Put(ctx, key, f, fi.Size(), storage.PutOptions{ContentType: vodtype.ContentType(key), CacheControl: vodtype.CacheControl(key)})
		f.Close()
		if err == nil || ctx.Err() != nil {
			return err
		}
	}
	return fmt.Errorf("store %s: %w", key, err)
}

// --- publish ---

type publishWorker struct {
	river.WorkerDefaults[publishArgs]
	s *Service
}

func (w *publishWorker) Timeout(*river.Job[publishArgs]) time.Duration { return 5 * time.Minute }

func (w *publishWorker) Work(ctx context.Context, job *river.Job[publishArgs]) error {
	s, a := w.s, job.Args
	gen := a.Publication.Generation
	if _, err := s.stale(ctx, a.VideoID, gen); err != nil {
		return err
	}
	err := s.catalog.Publish(ctx, a.VideoID, a.Publication, func(tx *db.Tx) error {
		if err := s.planTx(ctx, tx, a.VideoID); err != nil {
			return err
		}
		return queue.CompleteTx(ctx, tx, job)
	})
	if err != nil {
		return s.fail(ctx, a.VideoID, job.Attempt, job.MaxAttempts, err)
	}
	_ = os.RemoveAll(filepath.Join(s.cfg.WorkDir, a.VideoID))
	for g := 1; g < gen; g++ {
		if err := s.store.DeletePrefix(ctx, vodtype.GenerationPrefix(a.VideoID, g)); err != nil {
			s.log.Warn("delete old generation", "video", a.VideoID, "generation", g, "err", err)
		}
	}
	return nil
}
