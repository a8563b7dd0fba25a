package transcode

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"gorm.io/gorm/clause"

	"vod/app/db"
	"vod/app/queue"
	"vod/app/vodtype"
)

// Migrations are this module's tables: the encode runs and their parts (the fan-in).
//
//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the module's versioned SQL files.
func Migrations() embed.FS { return migrations }

// The parts of one encode (docs/PIPELINE.md): every video chunk, the audio and the assets run as
// their own jobs, on any worker, and hand off only through storage and these rows.
const (
	partAudio  = "audio"
	partAssets = "assets"
)

func chunkPart(i int) string { return fmt.Sprintf("c%d", i) }

// audioPart names the part of audio track k: "audio" for the first (as before there were several),
// "audio1", "audio2", ... for the others.
func audioPart(k int) string {
	if k == 0 {
		return partAudio
	}
	return fmt.Sprintf("%s%d", partAudio, k)
}

func isAudioPart(name string) bool { return strings.HasPrefix(name, partAudio) }

type runRow struct {
	VideoID    string `gorm:"primaryKey"`
	Generation int    `gorm:"primaryKey"`
	Parts      int
	Pending    int
	CreatedAt  time.Time
	// Available is how many seconds from the start are playable (see joinLive).
	Available float64
	// Renditions and Duration describe the run to the manifests of the processing video.
	Renditions string
	Duration   float64
	// KID is the key id of a protected run (hex), for its manifests; empty in the clear.
	KID string `gorm:"column:kid"`
	// LiveServedAt is when a process last rendered the run's manifests for a player (see liveRun).
	LiveServedAt *time.Time
}

func (runRow) TableName() string { return "transcode_runs" }

// renditions are the rungs the run encodes.
func (r *runRow) renditions() []Rendition {
	var rends []Rendition
	_ = json.Unmarshal([]byte(r.Renditions), &rends)
	return rends
}

type partRow struct {
	VideoID    string `gorm:"primaryKey"`
	Generation int    `gorm:"primaryKey"`
	Part       string `gorm:"primaryKey"`
	Done       bool
	Result     string
	CPUSeconds float64
	PeakRSS    int64 `gorm:"column:peak_rss"`
	Runs       int
}

func (partRow) TableName() string { return "transcode_parts" }

// segInfo is one stored media segment.
type segInfo struct {
	Number   int    `json:"n"`
	Duration uint64 `json:"d"` // in the track's timescale
	Size     int    `json:"s"`
}

// trackResult is what a part stored of one track (a rung, or the audio).
type trackResult struct {
	ID        string    `json:"id"`
	Timescale uint32    `json:"timescale"`
	Codecs    string    `json:"codecs,omitempty"`
	Segments  []segInfo `json:"segments"`
	// An audio track's language (BCP 47), the name players show, and whether it is the default.
	Lang    string `json:"lang,omitempty"`
	Label   string `json:"label,omitempty"`
	Default bool   `json:"default,omitempty"`
	// Channels of a multichannel audio rendition (6 or 8); 0 is stereo.
	Channels int `json:"channels,omitempty"`
}

// partResult is a part's row result.
type partResult struct {
	Tracks []trackResult `json:"tracks,omitempty"`
	// A chunk's stills: the poster when it falls in the chunk, and its row of storyboard thumbnails.
	PosterKey  string     `json:"poster_key,omitempty"`
	Storyboard *stillsRow `json:"storyboard,omitempty"`
	// Assets: the embedded text subtitles.
	Subtitles []vodtype.SubtitleFile `json:"subtitles,omitempty"`
	Notes     []string               `json:"notes,omitempty"`
}

// stillsRow is one chunk's row of storyboard thumbnails: an image (under the generation's prefix)
// of Count tiles side by side, the first being the video's thumbnail number From.
type stillsRow struct {
	Image string `json:"image"`
	From  int    `json:"from"`
	Count int    `json:"count"`
}

// chunkPlan cuts a video's timeline into chunks of whole segments.
type chunkPlan struct {
	Index    int     `json:"index"`
	Start    float64 `json:"start"`
	Duration float64 `json:"duration"`
	// FirstSegment is the video-wide number of the chunk's first segment, from 1.
	FirstSegment int `json:"first_segment"`
	// Last: the chunk that ends the video.
	Last bool `json:"last,omitempty"`
}

// rampSegments is how many segments the first chunks hold: a viewer can start as soon as the first
// (one segment) is stored, and each next chunk is short enough to be done before the viewer gets
// there, until chunks reach their configured length.
var rampSegments = []int{1, 1, 2, 3}

// urgentChunks is how many chunks a viewer who starts the moment the video is playable waits for
// within a segment or two: they run first (River priority 1, with the audio).
const urgentChunks = 3

// planChunks cuts the timeline for slots encodes at once (this process's EncodeJobs: the workers'
// total is not known when the run starts). After the ramp, each chunk is sized for the slot that
// frees first (the queue hands chunks out in order) so that every slot ends near the same time
// (list scheduling): chunks shrink toward the end instead of one long chunk finishing alone, and the
// last, a segment or so long, runs on every core (see encodeChunk).
func planChunks(duration float64, chunkSec, segSec, slots int) []chunkPlan {
	seg := float64(segSec)
	loads := make([]float64, max(1, slots))
	var out []chunkPlan
	for i, start := 0, 0.0; start < duration-1e-6; i++ {
		rest := duration - start
		free, total := 0, rest
		for k, l := range loads {
			total += l
			if l < loads[free] {
				free = k
			}
		}
		size := float64(chunkSec)
		if i < len(rampSegments) {
			size = min(size, float64(rampSegments[i]*segSec))
		} else {
			// Whole segments up to the balanced end of all slots, one segment at least.
			fit := math.Floor((total/float64(len(loads))-loads[free])/seg+1e-9) * seg
			size = min(size, max(seg, fit))
		}
		d := math.Min(size, rest)
		// A tail shorter than half a segment (a container that lasts a few frames longer than
		// its chunks) joins the last chunk rather than becoming a chunk with nothing to decode.
		if r := rest - d; r > 0 && r < seg/2 {
			d += r
		}
		loads[free] += d
		out = append(out, chunkPlan{Index: i, Start: start, Duration: d, FirstSegment: int(math.Round(start/seg)) + 1})
		start += d
	}
	if len(out) > 0 {
		out[len(out)-1].Last = true
	}
	return out
}

// startRunTx records a run and its parts and inserts every part's job, in the probe's transaction.
func (s *Service) startRunTx(ctx context.Context, tx *db.Tx, a probeArgs, p *Probe, rends []Rendition, kid string) error {
	chunkSec := s.cfg.ChunkSeconds
	if p.Sparse {
		// Encoded at sparseFPS, a second of it is a fraction of a usual second's work: chunks of
		// the usual work, not of the usual length (a ten-minute slideshow was 34 chunks, each an
		// ffmpeg start for a few frames).
		chunkSec *= usualFPS / sparseFPS
	}
	chunks := planChunks(p.Duration, chunkSec, s.cfg.SegmentSeconds, s.cfg.EncodeJobs)
	parts := []string{partAssets}
	for k := range p.audioRenditions() {
		parts = append(parts, audioPart(k))
	}
	for _, c := range chunks {
		parts = append(parts, chunkPart(c.Index))
	}
	g := tx.G.WithContext(ctx)
	// A retried probe finds its run already there: start it again from nothing.
	if err := g.Where("video_id = ? AND generation = ?", a.VideoID, a.Generation).Delete(&partRow{}).Error; err != nil {
		return err
	}
	if err := g.Where("video_id = ? AND generation = ?", a.VideoID, a.Generation).Delete(&runRow{}).Error; err != nil {
		return err
	}
	rj, err := json.Marshal(rends)
	if err != nil {
		return err
	}
	if err := g.Create(&runRow{VideoID: a.VideoID, Generation: a.Generation, Parts: len(parts), Pending: len(parts), CreatedAt: time.Now().UTC(),
		Renditions: string(rj), Duration: p.Duration, KID: kid}).Error; err != nil {
		return err
	}
	rows := make([]partRow, len(parts))
	for i, name := range parts {
		rows[i] = partRow{VideoID: a.VideoID, Generation: a.Generation, Part: name, Result: "{}"}
	}
	if err := g.Create(&rows).Error; err != nil {
		return err
	}
	base := partBase{VideoID: a.VideoID, Generation: a.Generation, Probe: p, Renditions: rends, KID: kid}
	// In watching order: River takes jobs by priority, then in the order they were inserted. The
	// first chunk and the audio make the video playable; the next chunks are what a viewer who
	// starts at once needs within seconds; then the rest in timeline order.
	insertChunk := func(c chunkPlan) error {
		prio := 2
		if c.Index < urgentChunks {
			prio = 1
		}
		_, err := s.queue.InsertTx(ctx, tx, chunkArgs{partBase: base, Chunk: c}, &river.InsertOpts{MaxAttempts: 5, Priority: prio, Queue: EncodeQueue})
		return err
	}
	if err := insertChunk(chunks[0]); err != nil {
		return err
	}
	for k := range p.audioRenditions() {
		if _, err := s.queue.InsertTx(ctx, tx, audioArgs{partBase: base, Track: k}, &river.InsertOpts{MaxAttempts: 5, Priority: 1}); err != nil {
			return err
		}
	}
	for _, c := range chunks[1:] {
		if err := insertChunk(c); err != nil {
			return err
		}
	}
	// The subtitles decode no video: the default queue, beside the audio.
	_, err = s.queue.InsertTx(ctx, tx, assetsArgs{partBase: base}, &river.InsertOpts{MaxAttempts: 5, Priority: 3})
	return err
}

// partDoneTx records a finished part and, when it was the last, inserts the finish job: the whole
// fan-in. Marking the row done only if it was not makes a re-run count once; the run row is locked
// (FOR UPDATE on PostgreSQL; SQLite has one writer) so that of several parts finishing at once on
// several workers exactly one sees pending reach zero.
//
// It returns how many parts of the run are done and how many there are (0, 0 for a re-run).
func (s *Service) partDoneTx(ctx context.Context, tx *db.Tx, b partBase, part string, res partResult, cpu usage) (done, total int, err error) {
	raw, err := json.Marshal(res)
	if err != nil {
		return 0, 0, err
	}
	g := tx.G.WithContext(ctx)
	upd := g.Model(&partRow{}).Where("video_id = ? AND generation = ? AND part = ? AND NOT done", b.VideoID, b.Generation, part).
		Updates(map[string]any{"done": true, "result": string(raw), "cpu_seconds": cpu.CPU, "peak_rss": int64(cpu.PeakRSS)})
	if upd.Error != nil {
		return 0, 0, upd.Error
	}
	if upd.RowsAffected == 0 {
		return 0, 0, nil // counted before (a re-run after a crash between commit and acknowledgement)
	}
	run, err := s.lockRun(ctx, tx, b.VideoID, b.Generation)
	if err != nil {
		return 0, 0, err
	}
	run.Pending--
	if err := g.Model(&runRow{}).Where("video_id = ? AND generation = ?", b.VideoID, b.Generation).Update("pending", run.Pending).Error; err != nil {
		return 0, 0, err
	}
	if err := s.availableTx(ctx, tx, run); err != nil {
		return 0, 0, err
	}
	if run.Pending == 0 {
		_, err = s.queue.InsertTx(ctx, tx, finishArgs{partBase: b, DoneAt: time.Now().UTC()}, &river.InsertOpts{MaxAttempts: 10, Priority: 1})
	}
	return run.Parts - run.Pending, run.Parts, err
}

// lockRun reads a run's row inside tx, locked on PostgreSQL (SQLite has one writer), so that the
// transactions that change its counters and its playable end follow one another.
func (s *Service) lockRun(ctx context.Context, tx *db.Tx, videoID string, generation int) (*runRow, error) {
	var run runRow
	q := tx.G.WithContext(ctx).Where("video_id = ? AND generation = ?", videoID, generation)
	if s.db.Dialect == db.Postgres {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	if err := q.Take(&run).Error; err != nil {
		return nil, err
	}
	return &run, nil
}

// availableTx recomputes how far a run is playable after one of its parts changed, under the run's
// lock, and tells the catalog when it grew: the video becomes playable while it still processes.
func (s *Service) availableTx(ctx context.Context, tx *db.Tx, run *runRow) error {
	var rows []partRow
	if err := tx.G.WithContext(ctx).Where("video_id = ? AND generation = ?", run.VideoID, run.Generation).Find(&rows).Error; err != nil {
		return err
	}
	lv := joinLive(rows, len(run.renditions()))
	if lv.available <= run.Available+1e-6 {
		return nil
	}
	run.Available = lv.available
	if err := tx.G.WithContext(ctx).Model(&runRow{}).Where("video_id = ? AND generation = ?", run.VideoID, run.Generation).
		Update("available", run.Available).Error; err != nil {
		return err
	}
	return s.catalog.SetAvailableTx(ctx, tx, run.VideoID, run.Generation, math.Floor(run.Available*1000)/1000)
}

// recordProgress stores what a part has stored so far (the audio, which is one long job) and
// recomputes how far the video is playable.
func (s *Service) recordProgress(ctx context.Context, b partBase, part string, res partResult) error {
	raw, err := json.Marshal(res)
	if err != nil {
		return err
	}
	return s.db.WithTx(ctx, func(tx *db.Tx) error {
		run, err := s.lockRun(ctx, tx, b.VideoID, b.Generation)
		if err != nil {
			return err
		}
		if err := tx.G.WithContext(ctx).Model(&partRow{}).Where("video_id = ? AND generation = ? AND part = ? AND NOT done", b.VideoID, b.Generation, part).
			Update("result", string(raw)).Error; err != nil {
			return err
		}
		return s.availableTx(ctx, tx, run)
	})
}

// completePart commits a part's result with its job's completion, then reports progress.
func completePart[T river.JobArgs](ctx context.Context, s *Service, job *river.Job[T], b partBase, part string, res partResult, cpu usage, started time.Time) error {
	var done, total int
	err := s.db.WithTx(ctx, func(tx *db.Tx) error {
		var err error
		if done, total, err = s.partDoneTx(ctx, tx, b, part, res, cpu); err != nil {
			return err
		}
		return queue.CompleteTx(ctx, tx, job)
	})
	if err != nil {
		return err
	}
	if total > 0 {
		_ = s.catalog.SetProgress(ctx, b.VideoID, "transcode", 5+85*done/total)
	}
	s.log.Info("part done", "video", b.VideoID, "generation", b.Generation, "part", part, "cpu_seconds", math.Round(cpu.CPU*100)/100, "peak_rss_mb", cpu.PeakRSS>>20,
		"seconds", math.Round(time.Since(started).Seconds()*100)/100, "attempt", job.Attempt)
	return nil
}

// doneParts reads every part row of a finished run and what they took together.
func (s *Service) doneParts(ctx context.Context, b partBase) ([]partRow, usage, error) {
	var rows []partRow
	if err := s.db.Gorm.WithContext(ctx).Where("video_id = ? AND generation = ?", b.VideoID, b.Generation).Find(&rows).Error; err != nil {
		return nil, usage{}, err
	}
	var cpu usage
	for _, r := range rows {
		if !r.Done {
			return nil, usage{}, fmt.Errorf("part %s of video %s is not done", r.Part, b.VideoID)
		}
		cpu = cpu.add(usage{CPU: r.CPUSeconds, PeakRSS: uint64(r.PeakRSS)})
	}
	return rows, cpu, nil
}

// forgetRuns drops a video's run rows once it is published.
func (s *Service) forgetRunsTx(ctx context.Context, tx *db.Tx, videoID string) error {
	g := tx.G.WithContext(ctx)
	if err := g.Where("video_id = ?", videoID).Delete(&partRow{}).Error; err != nil {
		return err
	}
	return g.Where("video_id = ?", videoID).Delete(&runRow{}).Error
}

// sweepArgs removes the rows of runs whose video is gone (deleted while its jobs waited, so that
// none of them saw it) or that were left behind more than a day ago.
type sweepArgs struct{}

func (sweepArgs) Kind() string { return "transcode.sweep" }

type sweepWorker struct {
	river.WorkerDefaults[sweepArgs]
	s *Service
}

func (w *sweepWorker) Timeout(*river.Job[sweepArgs]) time.Duration { return 5 * time.Minute }

func (w *sweepWorker) Work(ctx context.Context, _ *river.Job[sweepArgs]) error {
	if _, err := w.s.sweepRuns(ctx, time.Now().Add(-24*time.Hour)); err != nil {
		return err
	}
	return w.s.sweepKeys(ctx)
}

// sweepKeys forgets the content keys of deleted videos (their segments are gone with them).
func (s *Service) sweepKeys(ctx context.Context) error {
	var ids []string
	if err := s.db.Gorm.WithContext(ctx).Model(&keyRow{}).Distinct("video_id").Pluck("video_id", &ids).Error; err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := s.catalog.PipelineVideo(ctx, id); !errors.Is(err, vodtype.ErrNoVideo) {
			if err != nil {
				return err
			}
			continue
		}
		if err := s.db.WithTx(ctx, func(tx *db.Tx) error { return s.forgetKeysTx(ctx, tx, id, 0) }); err != nil {
			return err
		}
	}
	return nil
}

// sweepRuns forgets the runs of videos that no longer exist, and those started before old whose
// video is not processing any more. It returns how many videos it cleaned.
func (s *Service) sweepRuns(ctx context.Context, old time.Time) (int, error) {
	var runs []runRow
	if err := s.db.Gorm.WithContext(ctx).Find(&runs).Error; err != nil {
		return 0, err
	}
	n := 0
	for _, r := range runs {
		v, err := s.catalog.PipelineVideo(ctx, r.VideoID)
		gone := errors.Is(err, vodtype.ErrNoVideo)
		if err != nil && !gone {
			return n, err
		}
		if !gone && (r.CreatedAt.After(old) || v.Status == vodtype.StatusProcessing || v.Status == vodtype.StatusQueued) {
			continue
		}
		if err := s.db.WithTx(ctx, func(tx *db.Tx) error { return s.forgetRunsTx(ctx, tx, r.VideoID) }); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// scratch makes a directory for one job's files under the video's work directory; the caller
// removes it when the job ends, whatever the outcome.
func (s *Service) scratch(videoID, kind string) (string, func(), error) {
	parent := filepath.Join(s.cfg.WorkDir, videoID)
	s.workDirs.Lock()
	err := os.MkdirAll(parent, 0o750)
	var dir string
	if err == nil {
		dir, err = os.MkdirTemp(parent, kind+"-")
	}
	s.workDirs.Unlock()
	if err != nil {
		return "", nil, err
	}
	return dir, func() {
		_ = os.RemoveAll(dir)
		s.workDirs.Lock()
		_ = os.Remove(parent) // only if empty: other jobs of the video may be running here
		s.workDirs.Unlock()
	}, nil
}

var errPartsMissing = errors.New("transcode: a part's output is missing")
