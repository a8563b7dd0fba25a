package transcode

import (
	"context"
	"encoding/json"
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
	// Probe is what the upload's validation found in the same source (ValidateSource's Probe, as
	// JSON): the job takes it instead of running ffprobe again. Empty for a reprocess, which probes.
	Probe json.RawMessage `json:"probe,omitempty"`
}

func (probeArgs) Kind() string { return "transcode.probe" }

type publishArgs struct {
	VideoID     string              `json:"video_id"`
	Publication vodtype.Publication `json:"publication"`
	// NotBefore: players of the processing video have had time to load its complete manifests,
	// which they must see before the final ones (dash.js keeps the last dynamic MPD it loaded and
	// ignores the static one that follows).
	NotBefore time.Time `json:"not_before"`
}

func (publishArgs) Kind() string { return "transcode.publish" }

// stale reports whether a job belongs to a deleted video or a superseded generation: such jobs
// cancel themselves.
func (s *Service) stale(ctx context.Context, id string, gen int) (vodtype.PipelineVideo, error) {
	v, err := s.catalog.PipelineVideo(ctx, id)
	if errors.Is(err, vodtype.ErrNoVideo) {
		// Deleted mid-processing: this host's work files and the run's rows go now, not at the
		// next sweep.
		s.dropWork(id)
		if s.db != nil {
			if err := s.db.WithTx(ctx, func(tx *db.Tx) error {
				if err := s.forgetKeysTx(ctx, tx, id, 0); err != nil {
					return err
				}
				return s.forgetRunsTx(ctx, tx, id)
			}); err != nil {
				s.log.Warn("forget runs of deleted video", "video", id, "err", err)
			}
		}
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

// --- probe ---

type probeWorker struct {
	river.WorkerDefaults[probeArgs]
	s *Service
}

func (w *probeWorker) Timeout(*river.Job[probeArgs]) time.Duration { return 2 * time.Minute }

func (w *probeWorker) Work(ctx context.Context, job *river.Job[probeArgs]) error {
	s, a := w.s, job.Args
	v, err := s.stale(ctx, a.VideoID, a.Generation)
	if err != nil {
		return err
	}
	_ = s.catalog.SetProgress(ctx, a.VideoID, "probe", 1)
	var p *Probe
	if len(a.Probe) > 0 && json.Unmarshal(a.Probe, &p) != nil {
		p = nil // not ours to trust: probe the source
	}
	if p == nil {
		in, err := s.source(ctx, v)
		if err != nil {
			return s.fail(ctx, a.VideoID, job.Attempt, job.MaxAttempts, err)
		}
		if p, err = ProbeFile(ctx, s.cfg.FFprobe, in, s.cfg.Limits); err != nil {
			return s.fail(ctx, a.VideoID, job.Attempt, job.MaxAttempts, err)
		}
	}
	rends := PlanLadder(p.Width, p.Height, s.rungs)
	err = s.db.WithTx(ctx, func(tx *db.Tx) error {
		if err := s.catalog.RecordProbeTx(ctx, tx, a.VideoID, vodtype.ProbeInfo{Duration: p.Duration, Width: p.Width, Height: p.Height,
			FPS: p.FPS, VideoCodec: p.VideoCodec, AudioCodec: p.AudioCodec, Rotation: p.Rotation, Size: p.Size}); err != nil {
			return err
		}
		kid := ""
		if v.Protection == vodtype.ProtectionClearKey {
			if kid, err = s.ensureKeyTx(ctx, tx, a.VideoID, a.Generation); err != nil {
				return err
			}
		}
		if err := s.startRunTx(ctx, tx, a, p, rends, kid); err != nil {
			return err
		}
		return queue.CompleteTx(ctx, tx, job)
	})
	if err == nil {
		_ = s.catalog.SetProgress(ctx, a.VideoID, "transcode", 5)
	}
	return err
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
			if audio == nil { // the default track
				audio = t
			}
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
	if wait := time.Until(a.NotBefore); wait > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(wait, time.Minute)):
		}
	}
	if _, err := s.stale(ctx, a.VideoID, gen); err != nil {
		return err
	}
	err := s.catalog.Publish(ctx, a.VideoID, a.Publication, func(tx *db.Tx) error {
		if err := s.planTx(ctx, tx, a.VideoID); err != nil {
			return err
		}
		if err := s.forgetRunsTx(ctx, tx, a.VideoID); err != nil {
			return err
		}
		// The previous generations' segments are deleted below: their keys go with them.
		if err := s.forgetKeysTx(ctx, tx, a.VideoID, gen); err != nil {
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

// Jobs of pipeline v1, left in the queue by an upgrade: "transcode.encode" (the whole ladder on one
// worker) and "transcode.store" (its upload from that worker's disk). Nothing of theirs can be
// resumed, so each starts its video's generation over as pipeline v2 would, with a probe, in the
// transaction that completes it; a video deleted or reprocessed since cancels it.
type legacyArgs struct {
	VideoID    string `json:"video_id"`
	Generation int    `json:"generation"`
}

type legacyEncodeArgs legacyArgs

func (legacyEncodeArgs) Kind() string { return "transcode.encode" }

type legacyStoreArgs legacyArgs

func (legacyStoreArgs) Kind() string { return "transcode.store" }

type legacyWorker[T interface {
	river.JobArgs
	~struct {
		VideoID    string `json:"video_id"`
		Generation int    `json:"generation"`
	}
}] struct {
	river.WorkerDefaults[T]
	s *Service
}

func (w *legacyWorker[T]) Timeout(*river.Job[T]) time.Duration { return time.Minute }

func (w *legacyWorker[T]) Work(ctx context.Context, job *river.Job[T]) error {
	a := legacyArgs(job.Args)
	if _, err := w.s.stale(ctx, a.VideoID, a.Generation); err != nil {
		return err
	}
	w.s.log.Info("pipeline v1 job restarted as v2", "kind", job.Kind, "video", a.VideoID, "generation", a.Generation)
	return w.s.db.WithTx(ctx, func(tx *db.Tx) error {
		if err := w.s.EnqueueTx(ctx, tx, a.VideoID, a.Generation, nil); err != nil {
			return err
		}
		return queue.CompleteTx(ctx, tx, job)
	})
}
