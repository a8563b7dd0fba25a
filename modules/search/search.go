// Package search finds videos by title, description or a word said in their subtitles, with an
// embedded Bleve index. Every change reaches the index through a change log in the database that
// each process applies to its own index in batches, so API requests never wait for indexing, a
// failed write is retried from the log, and several processes stay consistent.
package search

import (
	"context"
	"embed"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blevesearch/bleve/v2"

	"vod/app/db"
	"vod/app/httpx"
	"vod/app/storage"
	"vod/app/vodtype"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the module's versioned SQL files.
func Migrations() embed.FS { return migrations }

// Catalog is what search reads about videos (implemented by stream).
type Catalog interface {
	SearchVideo(ctx context.Context, id string) (vodtype.SearchVideo, error)
	VideoIDs(ctx context.Context, after string, limit int) ([]string, error)
	Views(ctx context.Context, ids []string) (map[string]any, error)
}

// Config is the module's part of the configuration.
type Config struct {
	Path string
	// ApplyEvery is how often the change log is applied.
	ApplyEvery time.Duration
}

// Service is the search module.
type Service struct {
	cfg     Config
	db      *db.DB
	store   storage.Storage
	catalog Catalog
	guards  httpx.Guards
	log     *slog.Logger

	mu      sync.RWMutex
	idx     bleve.Index
	ready   atomic.Bool
	kick    chan struct{}
	wg      sync.WaitGroup
	applyMu sync.Mutex
}

var errNotReady = httpx.E(http.StatusServiceUnavailable, "search_unavailable", "the search index is being rebuilt; try again in a moment")

// New builds the service; Open (or Start) opens the index.
func New(d *db.DB, store storage.Storage, catalog Catalog, guards httpx.Guards, cfg Config, log *slog.Logger) *Service {
	if cfg.ApplyEvery <= 0 {
		cfg.ApplyEvery = 200 * time.Millisecond
	}
	return &Service{cfg: cfg, db: d, store: store, catalog: catalog, guards: guards, log: log, kick: make(chan struct{}, 1)}
}

// VideoChangedTx records a change to apply to every index, inside the caller's transaction.
func (s *Service) VideoChangedTx(ctx context.Context, tx *db.Tx, videoID string) error {
	err := tx.G.Exec(`INSERT INTO search_changes (video_id, created_at) VALUES (?, ?)`, videoID, time.Now().UTC()).Error
	select {
	case s.kick <- struct{}{}:
	default:
	}
	return err
}
