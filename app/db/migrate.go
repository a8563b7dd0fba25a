package db

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Migration is one versioned SQL file of a module. Files are named NNN_description.sql; a file named
// NNN_description.postgres.sql or .sqlite.sql replaces the plain one on that dialect.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// LoadMigrations reads a module's migrations for this dialect, in version order.
func (d *DB) LoadMigrations(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	byVersion := map[int]Migration{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		base := strings.TrimSuffix(name, ".sql")
		specific := false
		switch {
		case strings.HasSuffix(base, ".postgres"), strings.HasSuffix(base, ".sqlite"):
			if path.Ext(base) != "."+string(d.Dialect) {
				continue
			}
			base = strings.TrimSuffix(base, path.Ext(base))
			specific = true
		}
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive version and _", name)
		}
		if _, dup := byVersion[v]; dup && !specific {
			continue // the dialect's own file wins
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		byVersion[v] = Migration{Version: v, Name: base, SQL: string(body)}
	}
	out := make([]Migration, 0, len(byVersion))
	for _, m := range byVersion {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Migrate applies a module's pending migrations, each in its own transaction together with its record
// in schema_migrations. It returns how many were applied. Concurrent starts on Postgres serialise on an
// advisory lock.
func (d *DB) Migrate(ctx context.Context, module string, fsys fs.FS) (int, error) {
	migs, err := d.LoadMigrations(fsys)
	if err != nil {
		return 0, fmt.Errorf("%s migrations: %w", module, err)
	}
	if err := d.Gorm.WithContext(ctx).Exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
		module TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL, applied_at TIMESTAMP NOT NULL,
		PRIMARY KEY (module, version))`).Error; err != nil {
		return 0, fmt.Errorf("schema_migrations: %w", err)
	}
	applied := 0
	for _, m := range migs {
		done := false
		err := d.WithTx(ctx, func(tx *Tx) error {
			if d.Dialect == Postgres {
				if err := tx.G.Exec(`SELECT pg_advisory_xact_lock(7470013)`).Error; err != nil {
					return err
				}
			}
			var n int64
			if err := tx.G.Raw(`SELECT COUNT(*) FROM schema_migrations WHERE module = ? AND version = ?`, module, m.Version).Scan(&n).Error; err != nil {
				return err
			}
			if n > 0 {
				done = true
				return nil
			}
			if err := tx.G.Exec(m.SQL).Error; err != nil {
				return err
			}
			return tx.G.Exec(`INSERT INTO schema_migrations (module, version, name, applied_at) VALUES (?, ?, ?, ?)`,
				module, m.Version, m.Name, time.Now().UTC()).Error
		})
		if err != nil {
			return applied, fmt.Errorf("%s migration %s: %w", module, m.Name, err)
		}
		if !done {
			applied++
		}
	}
	return applied, nil
}

// schemaLock is the session advisory lock that start-up holds while it migrates (River's tables and
// every module's). It differs from the per-migration transaction lock, which a holder of this one
// takes on another connection.
const schemaLock = 7470014

// Exclusive runs fn while holding the installation-wide schema lock: any number of processes
// starting at once on an empty PostgreSQL database run their migrations one after another, and the
// later ones find nothing left to do. (CREATE TABLE IF NOT EXISTS and River's migrator are not safe
// against concurrent runs: two of them race on the catalog and one fails.) On SQLite, processes
// sharing the file take turns on an exclusive lock of a file beside it.
func (d *DB) Exclusive(ctx context.Context, fn func() error) error {
	if d.Dialect != Postgres {
		unlock, err := lockFile(ctx, d.path+".schema-lock")
		if err != nil {
			return fmt.Errorf("schema lock: %w", err)
		}
		defer unlock()
		return fn()
	}
	conn, err := d.Pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("schema lock: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, schemaLock); err != nil {
		return fmt.Errorf("schema lock: %w", err)
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, schemaLock)
	}()
	return fn()
}
