package app

import (
	"context"
	"io/fs"

	"vod/modules/auth"
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

// wireModules builds every module and mounts its routes and workers.
func (a *App) wireModules(ctx context.Context) error {
	authSvc, err := auth.New(a.db, a.authConfig(), a.log.With("module", "auth"))
	if err != nil {
		return err
	}
	a.auth = authSvc
	api := a.echo.Group("/api/v1")
	authSvc.Routes(a.echo, api)
	authSvc.Jobs(a.queue)
	return nil
}
