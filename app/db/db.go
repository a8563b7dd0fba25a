// Package db opens the one relational database the process uses (PostgreSQL in production, an
// embedded SQLite file by default), runs each module's versioned migrations and offers transactions
// that gorm writes and River job inserts share.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Dialect names the database engine behind a DB.
type Dialect string

const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// DB is the process's database handle.
type DB struct {
	Gorm    *gorm.DB
	SQL     *sql.DB
	Pool    *pgxpool.Pool // nil for SQLite
	Dialect Dialect
	path    string // the SQLite file
}

// Open connects to a postgres:// URL or opens (creating) a SQLite file.
func Open(ctx context.Context, url string, maxConns int) (*DB, error) {
	gcfg := &gorm.Config{Logger: logger.Discard, TranslateError: true}
	if strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://") {
		pcfg, err := pgxpool.ParseConfig(url)
		if err != nil {
			return nil, fmt.Errorf("database url: %w", err)
		}
		pcfg.MaxConns = int32(maxConns)
		pool, err := pgxpool.NewWithConfig(ctx, pcfg)
		if err != nil {
			return nil, fmt.Errorf("connect postgres: %w", err)
		}
		pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := pool.Ping(pingCtx); err != nil {
			pool.Close()
			return nil, fmt.Errorf("connect postgres: %w", err)
		}
		sqlDB := stdlib.OpenDBFromPool(pool)
		g, err := gorm.Open(postgres.New(postgres.Config{Conn: sqlDB}), gcfg)
		if err != nil {
			pool.Close()
			return nil, err
		}
		return &DB{Gorm: g, SQL: sqlDB, Pool: pool, Dialect: Postgres}, nil
	}
	path := strings.TrimPrefix(url, "file:")
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("database directory: %w", err)
	}
	dsn := path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	g, err := gorm.Open(sqlite.Open(dsn), gcfg)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	sqlDB, err := g.DB()
	if err != nil {
		return nil, err
	}
	// One connection: SQLite has one writer anyway, and River's SQLite driver shares this *sql.DB.
	sqlDB.SetMaxOpenConns(1)
	if err := sqlDB.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return &DB{Gorm: g, SQL: sqlDB, Dialect: SQLite, path: path}, nil
}

// Close releases every connection.
func (d *DB) Close() error {
	err := d.SQL.Close()
	if d.Pool != nil {
		d.Pool.Close()
	}
	return err
}

// Ping checks the database answers.
func (d *DB) Ping(ctx context.Context) error {
	if d.Pool != nil {
		return d.Pool.Ping(ctx)
	}
	return d.SQL.PingContext(ctx)
}

// Tx is one database transaction seen by gorm (G) and by the job queue (SQLTx or PgxTx, by dialect).
type Tx struct {
	G     *gorm.DB
	SQLTx *sql.Tx
	PgxTx pgx.Tx
}

// WithTx runs fn in a transaction, committing when it returns nil and rolling back otherwise.
func (d *DB) WithTx(ctx context.Context, fn func(tx *Tx) error) error {
	if d.Dialect == SQLite {
		return d.Gorm.WithContext(ctx).Transaction(func(g *gorm.DB) error {
			stx, ok := g.Statement.ConnPool.(*sql.Tx)
			if !ok {
				return errors.New("db: gorm transaction is not a *sql.Tx")
			}
			return fn(&Tx{G: g, SQLTx: stx})
		})
	}
	// River's Postgres driver needs a pgx.Tx while gorm speaks database/sql: both are put on one
	// dedicated connection, the transaction is begun with pgx and gorm runs inside it on that connection.
	conn, err := d.SQL.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var pc *pgx.Conn
	if err := conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return errors.New("db: not a pgx connection")
		}
		pc = sc.Conn()
		return nil
	}); err != nil {
		return err
	}
	ptx, err := pc.Begin(ctx)
	if err != nil {
		return err
	}
	g := d.Gorm.Session(&gorm.Session{NewDB: true, Context: ctx, SkipDefaultTransaction: true})
	g.Statement.ConnPool = conn
	if err := fn(&Tx{G: g, PgxTx: ptx}); err != nil {
		_ = ptx.Rollback(context.WithoutCancel(ctx))
		return err
	}
	return ptx.Commit(ctx)
}
