// Package testenv gives tests a fresh database and bucket of the kind the run selects: the embedded
// default (SQLite file, local directory) unless VOD_TEST_POSTGRES_URL and VOD_TEST_S3_ENDPOINT point
// at the throwaway PostgreSQL and MinIO that `make test` starts on loopback.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"vod/app/db"

	"github.com/jackc/pgx/v5"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Postgres reports whether this run targets PostgreSQL.
func Postgres() bool { return os.Getenv("VOD_TEST_POSTGRES_URL") != "" }

// S3 reports whether this run targets S3 (MinIO).
func S3() bool { return os.Getenv("VOD_TEST_S3_ENDPOINT") != "" }

func randomName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// DatabaseURL returns the URL of a new, empty database that is dropped when the test ends.
func DatabaseURL(t testing.TB) string {
	t.Helper()
	admin := os.Getenv("VOD_TEST_POSTGRES_URL")
	if admin == "" {
		return filepath.Join(t.TempDir(), "vod.db")
	}
	name := randomName("t_")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("testenv: connect postgres: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("testenv: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, admin); err == nil {
			_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			c.Close(ctx)
		}
	})
	i := strings.LastIndex(admin, "/")
	rest := ""
	if q := strings.IndexByte(admin[i:], '?'); q >= 0 {
		rest = admin[i+q:]
	}
	return admin[:i+1] + name + rest
}

// S3Settings are the MinIO coordinates of this run, with a bucket name unique to the test.
type S3Settings struct {
	Endpoint, AccessKey, SecretKey, Bucket string
}

// Bucket returns a fresh bucket name (created by the code under test) that is emptied and removed
// when the test ends.
func Bucket(t testing.TB) S3Settings {
	t.Helper()
	s := S3Settings{
		Endpoint:  os.Getenv("VOD_TEST_S3_ENDPOINT"),
		AccessKey: os.Getenv("VOD_TEST_S3_ACCESS_KEY"),
		SecretKey: os.Getenv("VOD_TEST_S3_SECRET_KEY"),
		Bucket:    strings.ReplaceAll(randomName("t-"), "_", "-"),
	}
	if s.Endpoint == "" {
		t.Skip("no S3 endpoint in this run (VOD_TEST_S3_ENDPOINT)")
	}
	t.Cleanup(func() {
		c, err := minio.New(s.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, "")})
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = c.RemoveBucketWithOptions(ctx, s.Bucket, minio.RemoveBucketOptions{ForceDelete: true})
	})
	return s
}

// Env returns the VOD_* settings that put an app on this run's database and storage, plus a data
// directory of its own.
func Env(t testing.TB) map[string]string {
	t.Helper()
	env := map[string]string{
		"VOD_DATA_DIR":     t.TempDir(),
		"VOD_DATABASE_URL": DatabaseURL(t),
	}
	if S3() {
		s := Bucket(t)
		env["VOD_STORAGE_BACKEND"] = "s3"
		env["VOD_S3_ENDPOINT"] = s.Endpoint
		env["VOD_S3_ACCESS_KEY"] = s.AccessKey
		env["VOD_S3_SECRET_KEY"] = s.SecretKey
		env["VOD_S3_BUCKET"] = s.Bucket
	}
	return env
}

// ModuleDB opens a fresh SQLite database in a temporary directory with one module's migrations
// applied: the start of a module's own setup(t) bundle.
//
// prelude runs before the migrations: the stand-ins for other modules' tables a module's schema
// refers to (stream's videos name users as their owners).
func ModuleDB(t testing.TB, module string, migrations fs.FS, prelude ...string) *db.DB {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, filepath.Join(t.TempDir(), "vod.db"), 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	for _, q := range prelude {
		if err := d.Gorm.Exec(q).Error; err != nil {
			t.Fatal(err)
		}
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err == nil {
		_, err = d.Migrate(ctx, module, sub)
	}
	if err != nil {
		t.Fatal(err)
	}
	return d
}
