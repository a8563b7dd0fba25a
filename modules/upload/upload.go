// Package upload takes videos in: a multipart POST streamed straight to storage, or a direct upload
// (presigned PUT to S3, or a signed app URL on local storage) completed by a second call. A source is
// validated by ffprobe before anything is accepted, and a video row and its first job commit together
// or not at all. Sweepers remove expired direct uploads and objects a crash left without a video.
package upload

import (
	"context"
	"embed"
	"log/slog"
	"net/http"
	"time"

	"github.com/riverqueue/river"

	"vod/app/db"
	"vod/app/httpx"
	"vod/app/queue"
	"vod/app/storage"
	"vod/app/vodtype"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the module's versioned SQL files.
func Migrations() embed.FS { return migrations }

// Catalog is where videos are recorded (implemented by stream).
type Catalog interface {
	CreateVideoTx(ctx context.Context, tx *db.Tx, v vodtype.NewVideo) error
	MarkUploadedTx(ctx context.Context, tx *db.Tx, id string, size int64) error
	RemoveVideo(ctx context.Context, id string) error
	VideoExists(ctx context.Context, id string) (bool, error)
	View(ctx context.Context, id string) (any, error)
}

// Pipeline processes accepted videos (implemented by transcode).
type Pipeline interface {
	EnqueueTx(ctx context.Context, tx *db.Tx, videoID string, generation int) error
	// ValidateSource probes a source (a local path or a URL); reason is set when the media is
	// unacceptable, err when the probe itself could not run.
	ValidateSource(ctx context.Context, input string) (reason string, err error)
}

// Config is the module's part of the configuration.
type Config struct {
	MaxBytes   int64
	DirectTTL  time.Duration
	WorkDir    string
	SigningKey []byte
	// OrphanAge is how old an object without a video must be before the sweeper removes it.
	OrphanAge time.Duration
}

// Service is the upload module.
type Service struct {
	cfg      Config
	db       *db.DB
	store    storage.Storage
	queue    *queue.Queue
	catalog  Catalog
	pipeline Pipeline
	guards   httpx.Guards
	log      *slog.Logger
}

// New builds the service and registers its sweepers.
func New(d *db.DB, store storage.Storage, q *queue.Queue, catalog Catalog, pipeline Pipeline, guards httpx.Guards, cfg Config, log *slog.Logger) *Service {
	if cfg.OrphanAge <= 0 {
		cfg.OrphanAge = 6 * time.Hour
	}
	s := &Service{cfg: cfg, db: d, store: store, queue: q, catalog: catalog, pipeline: pipeline, guards: guards, log: log}
	river.AddWorker(q.Workers, &sweepWorker{s: s})
	q.AddPeriodic(river.NewPeriodicJob(river.PeriodicInterval(15*time.Minute),
		func() (river.JobArgs, *river.InsertOpts) { return sweepArgs{}, nil }, &river.PeriodicJobOpts{RunOnStart: true}))
	return s
}

var (
	errTooLarge = func(max int64) error {
		return httpx.E(http.StatusRequestEntityTooLarge, "too_large", "the file is larger than the limit of "+humanBytes(max))
	}
	errNotMultipart = httpx.E(http.StatusUnsupportedMediaType, "unsupported_media_type", "expected multipart/form-data with a file field")
	errNoFile       = httpx.Validation(map[string]string{"file": "is required"})
	errUploadGone   = httpx.NotFound("upload")
)
