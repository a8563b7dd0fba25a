// Package stream is the catalog of videos and how they are watched. It has three parts, each
// built once by the composition root, dependencies first:
//
//   - Catalog: the videos and subtitles tables and every change to them (the *Tx methods other
//     modules call inside their own transactions), manifests and the Video view;
//   - API: the /api/v1/videos handlers (list, read, edit, delete, events, subtitles);
//   - Delivery: /media, serving stored objects with Range, ETag, caching, CORS and signed URLs.
package stream

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"time"

	"vod/app/db"
	"vod/app/notify"
	"vod/app/vodtype"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the module's versioned SQL files.
func Migrations() embed.FS { return migrations }

// Indexer keeps search in step with the catalog (implemented by search's change log). It is told
// inside the transaction that makes the change, so that no change can be committed without search
// hearing of it.
type Indexer interface {
	VideoChangedTx(ctx context.Context, tx *db.Tx, videoID string) error
}

// Notifier tells the outside world about ready and failed videos, inside the changing transaction.
type Notifier interface {
	VideoEventTx(ctx context.Context, tx *db.Tx, typ string, data notify.EventData) error
}

// Jobs cancels the queued and running jobs of a deleted video, and says how many videos the queue
// works on before a waiting one (implemented by the queue).
type Jobs interface {
	CancelVideo(ctx context.Context, videoID string) error
	QueuePosition(ctx context.Context, videoID string) (int, error)
}

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
	// CacheBytes bounds the in-memory cache of hot media objects from remote storage (manifests,
	// init segments, segments); negative: no cache.
	CacheBytes int64
	// DefaultProtection is the protection of a video created without one (transcode.protection).
	DefaultProtection string
}

// WithDefaults returns the config with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.PrivateURLTTL == 0 {
		c.PrivateURLTTL = 6 * time.Hour
	}
	if c.EventPoll == 0 {
		c.EventPoll = 500 * time.Millisecond
	}
	if c.CacheBytes == 0 {
		c.CacheBytes = 32 << 20
	}
	if c.DefaultProtection == "" {
		c.DefaultProtection = vodtype.ProtectionNone
	}
	return c
}

func (c Config) validate() error {
	if len(c.SigningKey) < 16 {
		return errors.New("stream: media signing key must be at least 16 bytes")
	}
	if c.PrivateURLTTL < time.Minute {
		return fmt.Errorf("stream: private URL lifetime %s is under 1m", c.PrivateURLTTL)
	}
	if !vodtype.ValidProtection(c.DefaultProtection) {
		return fmt.Errorf("stream: default protection %q is not none or clearkey", c.DefaultProtection)
	}
	if c.EventPoll <= 0 {
		return errors.New("stream: event poll interval must be positive")
	}
	return nil
}

// Domain errors. The handlers map them to HTTP in one table (errors.go).
var (
	// ErrNoVideo: the video does not exist (or was deleted while a job or request was in flight).
	ErrNoVideo = vodtype.ErrNoVideo
	// ErrForbidden: the caller may see the video but not change it.
	ErrForbidden = errors.New("stream: only the owner or an admin may do this")
	// ErrBusy: the video is being processed and cannot be processed again yet.
	ErrBusy = vodtype.ErrVideoBusy
	// ErrNoMedia: no such media object, or not visible to the caller.
	ErrNoMedia = errors.New("stream: no such media")
)

// InvalidSubtitlesError is a subtitle file that could not be read as SRT or WebVTT.
type InvalidSubtitlesError struct{ Reason string }

func (e *InvalidSubtitlesError) Error() string { return "stream: invalid subtitles: " + e.Reason }
