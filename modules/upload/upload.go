// Package upload takes videos in: a multipart POST streamed straight to storage, or a direct upload
// (presigned PUT to S3, or a signed app URL on local storage) completed by a second call. A source is
// validated by ffprobe before anything is accepted, and a video row and its first job commit together
// or not at all. Sweepers remove expired direct uploads and objects a crash left without a video.
package upload

import (
	"context"
	"embed"
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

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the module's versioned SQL files.
func Migrations() embed.FS { return migrations }

// Catalog is where videos are recorded (implemented by stream).
type Catalog interface {
	CreateVideoTx(ctx context.Context, tx *db.Tx, v vodtype.NewVideo) error
	MarkUploadedTx(ctx context.Context, tx *db.Tx, id string, size int64) error
	RemoveVideo(ctx context.Context, id string) error
	// Fail marks a video failed with a reason the owner reads.
	Fail(ctx context.Context, id, reason string) error
	VideoExists(ctx context.Context, id string) (bool, error)
	View(ctx context.Context, id string) (any, error)
}

// Pipeline processes accepted videos (implemented by transcode).
type Pipeline interface {
	// EnqueueTx queues a video's processing; probe is ValidateSource's for its source.
	EnqueueTx(ctx context.Context, tx *db.Tx, videoID string, generation int, probe []byte) error
	// ValidateSource probes a source (a local path or a URL); reason is set when the media is
	// unacceptable, err when the probe itself could not run. probe is opaque to this module: what
	// the pipeline found, handed back to EnqueueTx so that it does not probe the source again.
	ValidateSource(ctx context.Context, input string) (reason string, probe []byte, err error)
}

// Config is the module's part of the configuration.
type Config struct {
	MaxBytes  int64
	DirectTTL time.Duration
	// ResumableTTL is how long a resumable (tus) upload lives after its last chunk.
	ResumableTTL time.Duration
	WorkDir      string
	SigningKey   []byte
	// OrphanAge is how old an object without a video must be before the sweeper removes it.
	OrphanAge time.Duration
}

// WithDefaults returns the config with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.MaxBytes == 0 {
		c.MaxBytes = 8 << 30
	}
	if c.DirectTTL == 0 {
		c.DirectTTL = time.Hour
	}
	if c.ResumableTTL == 0 {
		c.ResumableTTL = 24 * time.Hour
	}
	if c.OrphanAge == 0 {
		c.OrphanAge = 6 * time.Hour
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.MaxBytes <= 0:
		return errors.New("upload: the size limit must be positive")
	case c.DirectTTL < time.Minute:
		return errors.New("upload: direct upload lifetime must be at least 1m")
	case c.ResumableTTL < time.Minute:
		return errors.New("upload: resumable upload lifetime must be at least 1m")
	case c.WorkDir == "":
		return errors.New("upload: work directory must be set")
	case len(c.SigningKey) < 16:
		return errors.New("upload: signing key must be at least 16 bytes")
	case c.OrphanAge < time.Minute:
		return errors.New("upload: orphan age must be at least 1m")
	}
	return nil
}

// Service is the upload module.
type Service struct {
	cfg      Config
	db       *db.DB
	store    storage.Storage
	queue    *queue.Queue
	catalog  Catalog
	pipeline Pipeline
	log      *slog.Logger
}

// New builds the service and registers its sweepers.
func New(d *db.DB, store storage.Storage, q *queue.Queue, catalog Catalog, pipeline Pipeline, cfg Config, log *slog.Logger) (*Service, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, db: d, store: store, queue: q, catalog: catalog, pipeline: pipeline, log: log}
	river.AddWorker(q.Workers, &sweepWorker{s: s})
	q.AddPeriodic(river.NewPeriodicJob(river.PeriodicInterval(15*time.Minute),
		func() (river.JobArgs, *river.InsertOpts) { return sweepArgs{}, nil }, &river.PeriodicJobOpts{RunOnStart: true}))
	return s, nil
}

// Domain errors; the handlers map them to HTTP in one table (http.go). Their messages are written
// for the uploader.
var (
	ErrNotMultipart    = errors.New("expected multipart/form-data with a file field")
	ErrMalformed       = errors.New("the multipart body is malformed or was cut off")
	ErrAborted         = errors.New("the upload was interrupted or shorter than announced")
	ErrNoUpload        = errors.New("upload not found")
	ErrBadSignature    = errors.New("the upload URL is invalid or has expired")
	ErrIncomplete      = errors.New("no file has been uploaded to the upload URL yet")
	ErrUnsupportedType = errors.New("content_type must be a video/* type")
)

// TooLargeError is a file over the size limit.
type TooLargeError struct{ Max int64 }

func (e *TooLargeError) Error() string {
	return "the file is larger than the limit of " + humanBytes(e.Max)
}

// SizeMismatchError is a direct upload whose bytes differ from the size announced (Got -1: more
// bytes than announced arrived).
type SizeMismatchError struct{ Announced, Got int64 }

func (e *SizeMismatchError) Error() string {
	if e.Got < 0 {
		return fmt.Sprintf("more bytes arrived than the %d announced", e.Announced)
	}
	return fmt.Sprintf("the upload has %d bytes; %d were announced", e.Got, e.Announced)
}

// UnreadableMediaError is a source that is not a video the pipeline can process, with the reason.
type UnreadableMediaError struct{ Reason string }

func (e *UnreadableMediaError) Error() string { return e.Reason }
func humanBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d bytes", n)
}
