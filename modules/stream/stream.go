// Package stream is the catalog of videos and how they are watched: listing and reading videos,
// editing and deleting them, live processing events, subtitle tracks, the DASH/HLS manifests, and
// /media delivery with Range, ETag, caching, CORS and signed URLs for private videos.
package stream

import (
	"context"
	"embed"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"vod/app/db"
	"vod/app/httpx"
	"vod/app/notify"
	"vod/app/storage"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the module's versioned SQL files.
func Migrations() embed.FS { return migrations }

// Pipeline is the processing the catalog asks for (implemented by transcode).
type Pipeline interface {
	// EnqueueTx starts processing a video inside tx.
	EnqueueTx(ctx context.Context, tx *db.Tx, videoID string, generation int) error
	// CancelVideo cancels every unfinished job of a video.
	CancelVideo(ctx context.Context, videoID string) error
}

// Indexer keeps search in step with the catalog (implemented by search). It is told inside the
// transaction that makes the change, so that no change can be committed without search hearing of it.
type Indexer interface {
	VideoChangedTx(ctx context.Context, tx *db.Tx, videoID string) error
}

// Notifier tells the outside world about ready and failed videos, inside the changing transaction.
type Notifier interface {
	VideoEventTx(ctx context.Context, tx *db.Tx, typ string, data notify.EventData) error
}

// NopNotifier is used when notifications are not wired.
type NopNotifier struct{}

func (NopNotifier) VideoEventTx(context.Context, *db.Tx, string, notify.EventData) error { return nil }

// NopIndexer is used when no search module is wired.
type NopIndexer struct{}

func (NopIndexer) VideoChangedTx(context.Context, *db.Tx, string) error { return nil }

// Config is the module's part of the configuration.
type Config struct {
	// PublicBaseURL is a CDN or bucket URL serving the media keys; empty: /media on this app.
	PublicBaseURL string
	// SigningKey signs private media URLs.
	SigningKey []byte
	// PrivateURLTTL is how long a signed media URL stays valid.
	PrivateURLTTL time.Duration
	// RedirectToStorage answers media GETs with a redirect to a presigned storage URL (S3 only).
	RedirectToStorage bool
	// EventPoll is how often the events stream looks for changes.
	EventPoll time.Duration
}

// Service is the stream module.
type Service struct {
	cfg      Config
	db       *db.DB
	store    storage.Storage
	guards   httpx.Guards
	pipeline Pipeline
	index    Indexer
	notifier Notifier
	log      *slog.Logger

	stopOnce sync.Once
	stop     chan struct{}
	visMu    sync.Mutex
	vis      map[string]visEntry
	views    map[string]viewEntry
}

// New builds the service.
func New(d *db.DB, store storage.Storage, guards httpx.Guards, pipeline Pipeline, index Indexer, cfg Config, log *slog.Logger) *Service {
	if cfg.PrivateURLTTL <= 0 {
		cfg.PrivateURLTTL = 6 * time.Hour
	}
	if cfg.EventPoll <= 0 {
		cfg.EventPoll = 500 * time.Millisecond
	}
	return &Service{cfg: cfg, db: d, store: store, guards: guards, pipeline: pipeline, index: index, notifier: NopNotifier{}, log: log,
		stop: make(chan struct{}), vis: map[string]visEntry{}, views: map[string]viewEntry{}}
}

// Shutdown ends long-lived responses (event streams) so that the HTTP server can drain.
func (s *Service) Shutdown() { s.stopOnce.Do(func() { close(s.stop) }) }

// SetPipeline wires processing after construction (the pipeline needs the catalog too).
func (s *Service) SetPipeline(p Pipeline) { s.pipeline = p }

// SetNotifier wires notifications.
func (s *Service) SetNotifier(n Notifier) { s.notifier = n }

// SetIndexer wires search after construction (search needs the catalog, the catalog tells search).
func (s *Service) SetIndexer(ix Indexer) { s.index = ix }

var (
	errForbidden = httpx.E(http.StatusForbidden, "forbidden", "only the owner or an admin may do this")
	errNotFound  = httpx.NotFound("video")
	errBusy      = httpx.E(http.StatusConflict, "video_busy", "the video is still being processed")
)
