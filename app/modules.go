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

	"vod/app/notify"
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
		{"auth", sub(auth.Migrations(), "migrations")},
		{"stream", sub(stream.Migrations(), "migrations")},
		{"upload", sub(upload.Migrations(), "migrations")},
		{"search", sub(search.Migrations(), "migrations")},
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

// wireModules builds every module, connects them through the interfaces they declare, and mounts
// their routes and workers.
func (a *App) wireModules(ctx context.Context) error {
	cfg := a.cfg
	authSvc, err := auth.New(a.db, a.authConfig(), a.log.With("module", "auth"))
	if err != nil {
		return err
	}
	a.auth = authSvc
	guards := authSvc.Guards()
	mediaKey, err := secret(cfg.Media.SigningKey, cfg.DataDir, "media.key")
	if err != nil {
		return err
	}

	streamSvc := stream.New(a.db, a.store, guards, nil, stream.NopIndexer{}, stream.Config{
		PublicBaseURL: cfg.Media.PublicBaseURL, SigningKey: mediaKey, PrivateURLTTL: cfg.Media.PrivateURLTTL,
		RedirectToStorage: cfg.Media.RedirectToStorage,
	}, a.log.With("module", "stream"))
	a.stream = streamSvc
	var endpoints []notify.Endpoint
	for _, u := range cfg.Notify.WebhookURLs {
		endpoints = append(endpoints, notify.Endpoint{URL: u, Secret: cfg.Notify.WebhookSecret})
	}
	streamSvc.SetNotifier(notify.New(a.db, a.queue, authSvc, notify.Config{Endpoints: endpoints, PublicURL: cfg.HTTP.PublicURL,
		SMTP: notify.SMTP{Addr: cfg.Notify.SMTPAddr, From: cfg.Notify.SMTPFrom, Username: cfg.Notify.SMTPUsername, Password: cfg.Notify.SMTPPassword}},
		a.log.With("component", "notify")))

	ladder, _ := transcode.ParseLadder(cfg.Transcode.Ladder) // validated with the config
	transcodeSvc := transcode.New(a.db, a.store, a.queue, streamSvc, transcode.Config{
		FFmpeg: cfg.FFmpeg.Path, FFprobe: cfg.FFprobe.Path, WorkDir: cfg.Transcode.WorkDir, Ladder: ladder,
		SegmentSeconds: cfg.Transcode.SegmentSeconds, Preset: cfg.Transcode.Preset,
		TimeoutMin: cfg.Transcode.TimeoutMin, TimeoutFactor: cfg.Transcode.TimeoutFactor,
		OnEncoded: a.metrics.TranscodeSpeed,
		Limits:    transcode.Limits{MaxDuration: cfg.Upload.MaxDuration, MaxDimension: cfg.Transcode.MaxDimension, MaxStreams: cfg.Transcode.MaxStreams},
	}, a.log.With("module", "transcode"))
	streamSvc.SetPipeline(transcodeSvc)
	provider, err := translate.New(translate.Config{Provider: cfg.Translate.Provider, URL: cfg.Translate.URL,
		APIKey: cfg.Translate.APIKey, Timeout: cfg.Translate.Timeout, Concurrency: cfg.Translate.Concurrency})
	if err != nil {
		return err
	}
	transcodeSvc.EnableTranslation(streamSvc, transcode.TranslationConfig{Provider: provider, Targets: cfg.Translate.Targets})

	uploadSvc := upload.New(a.db, a.store, a.queue, streamSvc, transcodeSvc, guards, upload.Config{
		MaxBytes: cfg.Upload.MaxBytes, DirectTTL: cfg.Upload.DirectUploadTTL, WorkDir: cfg.Transcode.WorkDir,
		SigningKey: mediaKey,
	}, a.log.With("module", "upload"))

	searchSvc := search.New(a.db, a.store, streamSvc, guards, search.Config{Path: cfg.Search.Path, ApplyEvery: cfg.Search.ApplyEvery},
		a.log.With("module", "search"))
	streamSvc.SetIndexer(searchSvc)
	a.search = searchSvc

	a.upload = uploadSvc

	api := a.echo.Group("/api/v1")
	authSvc.Routes(a.echo, api)
	authSvc.Jobs(a.queue)
	uploadSvc.Routes(api)
	streamSvc.Routes(a.echo, api)
	transcodeSvc.Routes(api, guards)
	admin := api.Group("/admin")
	authSvc.AdminRoutes(admin)
	streamSvc.AdminRoutes(admin)
	a.mountAdmin(admin)
	player.Routes(a.echo)
	if cfg.Role != "worker" && a.serving {
		// Only processes that answer searches keep an index; workers and other commands just log
		// changes (the index is locked by the server that has it open).
		if err := searchSvc.Open(ctx); err != nil {
			return err
		}
		a.closers = append(a.closers, func() { _ = searchSvc.Close() })
		searchSvc.Routes(api)
	}
	return nil
}
