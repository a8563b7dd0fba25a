package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"vod/app/delegate"
	"vod/app/httpx"
	"vod/app/jobs"
	"vod/app/notify"
	"vod/app/queue"
	"vod/app/ratelimit"
	"vod/modules/auth"
	"vod/modules/search"
	"vod/modules/stream"
	"vod/modules/transcode"
	"vod/modules/transcode/translate"
	"vod/modules/upload"
	"vod/web/player"
)

type migrationSet struct {
	name string
	fs   fs.FS
}

func sub(f fs.FS, dir string) fs.FS {
	s, err := fs.Sub(f, dir)
	if err != nil {
		panic(err) // embedded at build time: cannot happen
	}
	return s
}

// moduleMigrations lists each module's migrations in dependency order.
func moduleMigrations() []migrationSet {
	return []migrationSet{
		{"queue", queue.Migrations()},
		{"auth", sub(auth.Migrations(), "migrations")},
		{"stream", sub(stream.Migrations(), "migrations")},
		{"upload", sub(upload.Migrations(), "migrations")},
		{"search", sub(search.Migrations(), "migrations")},
		{"transcode", sub(transcode.Migrations(), "migrations")},
		{"notify", sub(notify.Migrations(), "migrations")},
		{"ratelimit", sub(ratelimit.Migrations(), "migrations")},
	}
}

func (a *App) authConfig() auth.Config {
	c := a.cfg.Auth
	return auth.Config{
		DataDir: a.cfg.DataDir, Issuer: c.Issuer, Audience: c.Audience, AccessTTL: c.AccessTTL,
		RefreshTTL: c.RefreshTTL, KeyFiles: c.KeyFiles, HashConcurrency: c.HashConcurrency,
		Argon2:        auth.Argon2Params{MemoryKiB: c.Argon2Memory, Iterations: c.Argon2Time, Threads: 1},
		LoginMaxFails: c.LoginMaxFails, LoginWindow: c.LoginWindow,
		ClockSkew: c.ClockSkew, RefreshGrace: c.RefreshGrace, AccountCacheTTL: c.AccountCacheTTL,
	}
}

// secret returns a configured secret, or one generated on first start and kept in the data
// directory. Several processes sharing a deployment must configure it.
func secret(configured, dataDir, name string) ([]byte, error) {
	if configured != "" {
		return []byte(configured), nil
	}
	p := filepath.Join(dataDir, "keys", name)
	if b, err := os.ReadFile(p); err == nil {
		return []byte(strings.TrimSpace(string(b))), nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	key := hex.EncodeToString(raw)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(p, []byte(key), 0o600); err != nil {
		return nil, err
	}
	return []byte(key), nil
}

// wireModules builds every module once, each after the modules it depends on, passing each the
// implementations of the interfaces it declares (no setters), then declares every route on one
// router so that rate limits and the OpenAPI document read the same declarations.
func (a *App) wireModules(ctx context.Context) error {
	cfg := a.cfg
	// The one reverse call: deleting an account (auth) removes its videos (the catalog, built later).
	hooks := delegate.New()
	authSvc, err := auth.New(a.db, hooks, a.authConfig(), a.log.With("module", "auth"))
	if err != nil {
		return err
	}
	a.auth = authSvc
	a.router = httpx.NewRouter(a.echo, authSvc.Guards())
	a.mountOperations()
	mediaKey, err := secret(cfg.Media.SigningKey, cfg.DataDir, "media.key")
	if err != nil {
		return err
	}
	notifier := notify.New(a.db, a.queue, authSvc, a.notifyConfig(), a.log.With("component", "notify"))
	changes := search.NewChangeLog()

	catalog, err := stream.NewCatalog(a.db, a.store, changes, notifier, a.queue, a.streamConfig(mediaKey), a.log.With("module", "stream"))
	if err != nil {
		return err
	}
	a.catalog = catalog
	hooks.Register(auth.EventUserDeleting, func(ctx context.Context, data any) error {
		return catalog.RemoveOwnerVideos(ctx, data.(auth.UserDeleting).UserID)
	})

	provider, err := translate.New(translate.Config{Provider: cfg.Translate.Provider, URL: cfg.Translate.URL,
		APIKey: cfg.Translate.APIKey, Timeout: cfg.Translate.Timeout, Concurrency: cfg.Translate.Concurrency})
	if err != nil {
		return err
	}
	kek, err := secret(cfg.Transcode.KEK, cfg.DataDir, "content.kek")
	if err != nil {
		return err
	}
	tcfg := a.transcodeConfig()
	tcfg.KeyEncryptionKey = kek
	tcfg.Translation = transcode.TranslationConfig{Provider: provider, Targets: cfg.Translate.Targets}
	transcodeSvc, err := transcode.New(a.db, a.store, a.queue, catalog, tcfg, a.log.With("module", "transcode"))
	if err != nil {
		return err
	}

	uploadSvc, err := upload.New(a.db, a.store, a.queue, catalog, transcodeSvc, a.uploadConfig(mediaKey), a.log.With("module", "upload"))
	if err != nil {
		return err
	}
	a.upload = uploadSvc

	searchSvc, err := search.New(a.db, a.store, catalog, changes, search.Config{Path: cfg.Search.Path, ApplyEvery: cfg.Search.ApplyEvery},
		a.log.With("module", "search"))
	if err != nil {
		return err
	}
	a.search = searchSvc

	videoAPI := stream.NewAPI(catalog, transcodeSvc)
	a.shutdown = append(a.shutdown, videoAPI.Shutdown)

	r := a.router
	authSvc.Routes(r)
	uploadSvc.Routes(r)
	videoAPI.Routes(r)
	stream.NewDelivery(catalog, a.store, transcodeSvc, transcodeSvc).Routes(r)
	transcodeSvc.Routes(r)
	jobs.New(a.queue, catalog).Routes(r)
	player.Routes(r, catalog)
	if cfg.Role != "worker" && a.serving {
		// Only processes that answer searches keep an index; workers and other commands just log
		// changes (the index is locked by the server that has it open).
		if err := searchSvc.Open(ctx); err != nil {
			return err
		}
		a.closers = append(a.closers, func() { _ = searchSvc.Close() })
		searchSvc.Routes(r)
	}
	return nil
}

func (a *App) notifyConfig() notify.Config {
	c := a.cfg.Notify
	var endpoints []notify.Endpoint
	for _, u := range c.WebhookURLs {
		endpoints = append(endpoints, notify.Endpoint{URL: u, Secret: c.WebhookSecret})
	}
	return notify.Config{Endpoints: endpoints, PublicURL: a.cfg.HTTP.PublicURL,
		SMTP: notify.SMTP{Addr: c.SMTPAddr, From: c.SMTPFrom, Username: c.SMTPUsername, Password: c.SMTPPassword}}
}

func (a *App) streamConfig(key []byte) stream.Config {
	c := a.cfg.Media
	cache := int64(mustSize(c.CacheBytes))
	if cache == 0 {
		cache = -1 // off
	}
	return stream.Config{PublicBaseURL: c.PublicBaseURL, SigningKey: key, PrivateURLTTL: c.PrivateURLTTL, RedirectToStorage: c.RedirectToStorage,
		CacheBytes: cache, DefaultProtection: a.cfg.Transcode.Protection}
}

func (a *App) transcodeConfig() transcode.Config {
	c := a.cfg.Transcode
	return transcode.Config{
		FFmpeg: a.cfg.FFmpeg.Path, FFprobe: a.cfg.FFprobe.Path, WorkDir: c.WorkDir, Ladder: c.Ladder,
		SegmentSeconds: c.SegmentSeconds, Preset: c.Preset, CRF: c.CRF, TimeoutMin: c.TimeoutMin, TimeoutFactor: c.TimeoutFactor,
		OnEncoded: a.metrics.TranscodeSpeed, OnEncodeRun: a.metrics.EncodeRun, OnVideoEncoded: a.metrics.VideoEncoded,
		ChunkSeconds: c.ChunkSeconds, EncodeJobs: c.EncodeJobs, EncoderThreads: c.EncoderThreads,
		Limits: transcode.Limits{MaxDuration: a.cfg.Upload.MaxDuration, MaxDimension: c.MaxDimension, MaxPixels: c.MaxPixels, MaxStreams: c.MaxStreams,
			MaxMemory: mustSize(c.MaxMemory), CPUPerSecond: c.CPUPerSecond, MaxAudioTracks: c.MaxAudio},
	}
}

func (a *App) uploadConfig(key []byte) upload.Config {
	c := a.cfg.Upload
	return upload.Config{MaxBytes: c.MaxBytes, DirectTTL: c.DirectUploadTTL, ResumableTTL: c.ResumableTTL, WorkDir: a.cfg.Transcode.WorkDir, SigningKey: key}
}

// mustSize reads a size that validate has already checked.
func mustSize(s string) uint64 {
	n, _ := parseSize(s)
	return n
}
