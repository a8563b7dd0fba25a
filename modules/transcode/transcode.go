// Package transcode turns an uploaded source into adaptive DASH + HLS with River jobs run in
// sequence: probe → encode (one ffmpeg: every rung, subtitles, poster, storyboard) → upload →
// publish. Each stage records its result and inserts the next stage in one transaction.
package transcode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"vod/app/db"
	"vod/app/queue"
	"vod/app/storage"
	"vod/app/vodtype"
)

// Catalog is what the pipeline reads and writes about videos (implemented by stream).
type Catalog interface {
	PipelineVideo(ctx context.Context, id string) (vodtype.PipelineVideo, error)
	SetProgress(ctx context.Context, id, stage string, progress int) error
	RecordProbeTx(ctx context.Context, tx *db.Tx, id string, p vodtype.ProbeInfo) error
	PublishTx(ctx context.Context, tx *db.Tx, id string, p vodtype.Publication) error
	Fail(ctx context.Context, id, reason string) error
}

// Config is the module's part of the configuration.
type Config struct {
	FFmpeg, FFprobe string
	WorkDir         string
	Ladder          []Rung
	SegmentSeconds  int
	Preset          string
	Limits          Limits
	UploadParallel  int
	// TimeoutMin and TimeoutFactor size a stage's timeout: at least TimeoutMin, or TimeoutFactor
	// seconds per second of video.
	TimeoutMin    time.Duration
	TimeoutFactor float64
	// OnEncoded is told the speed of each finished encode, in seconds of video per second.
	OnEncoded func(speed float64)
	// ProgressEvery throttles progress writes.
	ProgressEvery time.Duration
}

// Service is the transcode module.
type Service struct {
	cfg     Config
	db      *db.DB
	store   storage.Storage
	queue   *queue.Queue
	catalog Catalog
	log     *slog.Logger
	subs    Subtitles
	tcfg    TranslationConfig
}

// New builds the service and registers its workers on q.
func New(d *db.DB, store storage.Storage, q *queue.Queue, catalog Catalog, cfg Config, log *slog.Logger) *Service {
	if cfg.UploadParallel <= 0 {
		cfg.UploadParallel = 6
	}
	if cfg.TimeoutMin <= 0 {
		cfg.TimeoutMin = 10 * time.Minute
	}
	if cfg.TimeoutFactor <= 0 {
		cfg.TimeoutFactor = 4
	}
	if cfg.ProgressEvery <= 0 {
		cfg.ProgressEvery = time.Second
	}
	s := &Service{cfg: cfg, db: d, store: store, queue: q, catalog: catalog, log: log}
	river.AddWorker(q.Workers, &probeWorker{s: s})
	river.AddWorker(q.Workers, &encodeWorker{s: s})
	river.AddWorker(q.Workers, &uploadWorker{s: s})
	river.AddWorker(q.Workers, &publishWorker{s: s})
	return s
}

// EnqueueTx starts the pipeline for one generation of a video inside tx.
func (s *Service) EnqueueTx(ctx context.Context, tx *db.Tx, videoID string, generation int) error {
	_, err := s.queue.InsertTx(ctx, tx, probeArgs{VideoID: videoID, Generation: generation}, nil)
	return err
}

// CancelVideo cancels every unfinished pipeline job of a video; running ones have their context
// cancelled, which kills ffmpeg.
func (s *Service) CancelVideo(ctx context.Context, videoID string) error {
	expr := "json_extract(args, '$.video_id')"
	if s.db.Dialect == db.Postgres {
		expr = "args->>'video_id'"
	}
	var ids []int64
	err := s.db.Gorm.WithContext(ctx).Raw(`SELECT id FROM river_job WHERE kind LIKE 'transcode.%' AND `+expr+` = ?
		AND state IN ('available', 'pending', 'retryable', 'running', 'scheduled')`, videoID).Scan(&ids).Error
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := s.queue.Cancel(ctx, id); err != nil {
			return fmt.Errorf("cancel job %d: %w", id, err)
		}
	}
	return nil
}

// ValidateSource checks a source before anything is accepted: ffprobe must find a usable video
// stream, and its first frame must decode. reason is set for unacceptable media.
func (s *Service) ValidateSource(ctx context.Context, input string) (string, error) {
	if _, err := ProbeFile(ctx, s.cfg.FFprobe, input, s.cfg.Limits); err != nil {
		var me *MediaError
		if errors.As(err, &me) {
			return me.Reason, nil
		}
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := execCommand(ctx, s.cfg.FFmpeg, "-hide_banner", "-nostdin", "-v", "error",
		"-protocol_whitelist", protocolsFor(input), "-format_whitelist", formatWhitelist,
		"-i", input, "-map", "0:v:0", "-frames:v", "1", "-f", "null", "-")
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("decode check timed out: %w", ctx.Err())
		}
		return "the video stream could not be decoded: the file may be damaged", nil
	}
	return "", nil
}
