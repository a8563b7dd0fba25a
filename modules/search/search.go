// Package search finds videos by title, description or a word said in their subtitles, with an
// embedded Bleve index. Every change reaches the index through a change log in the database that
// each process applies to its own index in batches, so API requests never wait for indexing, a
// failed write is retried from the log, and several processes stay consistent.
package search

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blevesearch/bleve/v2"

	"vod/app/db"
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
	log     *slog.Logger

	mu      sync.RWMutex
	idx     bleve.Index
	ready   atomic.Bool
	kick    chan struct{}
	wg      sync.WaitGroup
	applyMu sync.Mutex
}

// ErrNotReady: the index is being rebuilt and cannot answer yet.
var ErrNotReady = errors.New("search: the index is being rebuilt")

// ChangeLog records catalog changes for every process's index, inside the transaction that makes
// them. It needs only the database, so it is built before the catalog that writes to it and the
// search service that reads it.
type ChangeLog struct {
	kick chan struct{}
}

// NewChangeLog builds the change log.
func NewChangeLog() *ChangeLog { return &ChangeLog{kick: make(chan struct{}, 1)} }

// VideoChangedTx records a change to apply to every index, inside the caller's transaction, and
// wakes this process's applier.
func (l *ChangeLog) VideoChangedTx(ctx context.Context, tx *db.Tx, videoID string) error {
	err := tx.G.Exec(`INSERT INTO search_changes (video_id, created_at) VALUES (?, ?)`, videoID, time.Now().UTC()).Error
	select {
	case l.kick <- struct{}{}:
	default:
	}
	return err
}

// WithDefaults returns the config with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.ApplyEvery == 0 {
		c.ApplyEvery = 200 * time.Millisecond
	}
	return c
}

func (c Config) validate() error {
	if c.Path == "" {
		return errors.New("search: index path must be set")
	}
	if c.ApplyEvery < 10*time.Millisecond {
		return fmt.Errorf("search: apply interval %s is under 10ms", c.ApplyEvery)
	}
	return nil
}

// New builds the service; Open (or Start) opens the index.
func New(d *db.DB, store storage.Storage, catalog Catalog, changes *ChangeLog, cfg Config, log *slog.Logger) (*Service, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Service{cfg: cfg, db: d, store: store, catalog: catalog, log: log, kick: changes.kick}, nil
}
