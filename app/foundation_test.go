package app

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"

	"vod/app/db"
	"vod/app/queue"
	"vod/app/testenv"
)

func loadFor(t *testing.T, args []string, env map[string]string) (*Config, error) {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addConfigFlags(fs)
	require.NoError(t, fs.Parse(args))
	return loadConfig(fs, func(k string) string { return env[k] })
}

func TestConfigPrecedence(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(file, []byte("http:\n  addr: 127.0.0.1:7001\ndata_dir: /from-file\nqueue:\n  workers: 7\n"), 0o644))

	cfg, err := loadFor(t, nil, map[string]string{})
	require.NoError(t, err)
	require.Equal(t, ":8080", cfg.HTTP.Addr, "default")
	require.Equal(t, "./data", cfg.DataDir)
	require.Equal(t, filepath.Join("data", "vod.db"), cfg.Database.URL, "SQLite in the data dir by default")
	require.Equal(t, "local", cfg.Storage.Backend)
	require.Equal(t, 15*time.Minute, cfg.Auth.AccessTTL)
	require.Equal(t, 400, cfg.Runtime.GCPercent)

	cfg, err = loadFor(t, []string{"--config", file}, map[string]string{})
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:7001", cfg.HTTP.Addr, "file over default")
	require.Equal(t, 7, cfg.Queue.Workers)

	env := map[string]string{"VOD_HTTP_ADDR": "127.0.0.1:7002", "VOD_QUEUE_WORKERS": "3", "VOD_CONFIG": file,
		"VOD_HTTP_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1"}
	cfg, err = loadFor(t, nil, env)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:7002", cfg.HTTP.Addr, "env over file")
	require.Equal(t, 3, cfg.Queue.Workers)
	require.Equal(t, "/from-file", cfg.DataDir)
	require.Equal(t, []string{"10.0.0.0/8", "127.0.0.1"}, cfg.HTTP.TrustedProxies)

	cfg, err = loadFor(t, []string{"--http-addr", "127.0.0.1:7003", "--data-dir", "/flag"}, env)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:7003", cfg.HTTP.Addr, "flag over env")
	require.Equal(t, "/flag", cfg.DataDir)
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	t.Parallel()
	cases := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"VOD_STORAGE_BACKEND": "ftp"}, "storage.backend"},
		{map[string]string{"VOD_STORAGE_BACKEND": "s3"}, "s3.endpoint"},
		{map[string]string{"VOD_STORAGE_BACKEND": "s3", "VOD_S3_ENDPOINT": "http://minio:9000"}, "s3.endpoint"},
		{map[string]string{"VOD_HTTP_ADDR": "nonsense"}, "http.addr"},
		{map[string]string{"VOD_DATABASE_URL": "mysql://x"}, "database.url"},
		{map[string]string{"VOD_MEDIA_PUBLIC_BASE_URL": "cdn.example.com"}, "media.public_base_url"},
		{map[string]string{"VOD_ROLE": "everything"}, "role"},
		{map[string]string{"VOD_QUEUE_WORKERS": "0"}, "queue.workers"},
		{map[string]string{"VOD_QUEUE_WORKERS": "many"}, "queue.workers"},
		{map[string]string{"VOD_AUTH_ACCESS_TTL": "1s"}, "auth.access_ttl"},
		{map[string]string{"VOD_AUTH_ARGON2_MEMORY_KIB": "1024"}, "auth.argon2_memory_kib"},
		{map[string]string{"VOD_HTTP_TRUSTED_PROXIES": "not-an-ip"}, "http.trusted_proxies"},
		{map[string]string{"VOD_RUNTIME_GC_PERCENT": "5"}, "runtime.gc_percent"},
		{map[string]string{"VOD_CONFIG": "/nonexistent/config.yaml"}, "/nonexistent/config.yaml"},
	}
	for _, tc := range cases {
		_, err := loadFor(t, nil, tc.env)
		require.Error(t, err, "%v", tc.env)
		require.Contains(t, err.Error(), tc.want, "%v", tc.env)
	}
	// The same error stops the real entry point before anything starts.
	err := RunIO(context.Background(), []string{"vod", "serve"}, func(k string) string {
		return map[string]string{"VOD_STORAGE_BACKEND": "ftp"}[k]
	}, nil, io.Discard, io.Discard)
	require.ErrorContains(t, err, "storage.backend")
}

func TestMigrationsApplyOnceAndAreIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, err := db.Open(ctx, testenv.DatabaseURL(t), 4)
	require.NoError(t, err)
	defer d.Close()
	n, err := migrateAll(ctx, d)
	require.NoError(t, err)
	require.Positive(t, n)
	var recorded int64
	require.NoError(t, d.Gorm.Raw(`SELECT COUNT(*) FROM schema_migrations`).Scan(&recorded).Error)
	require.EqualValues(t, n, recorded)

	n, err = migrateAll(ctx, d)
	require.NoError(t, err)
	require.Zero(t, n, "second run applies nothing")

	// A failing migration leaves no trace: neither its record nor its partial work.
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "001_ok.sql"), []byte("CREATE TABLE mig_ok (id INTEGER);"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "002_bad.sql"), []byte("CREATE TABLE mig_half (id INTEGER); SELECT * FROM no_such_table;"), 0o644))
	_, err = d.Migrate(ctx, "testmod", os.DirFS(dir))
	require.Error(t, err)
	var versions []int
	require.NoError(t, d.Gorm.Raw(`SELECT version FROM schema_migrations WHERE module = 'testmod'`).Scan(&versions).Error)
	require.Equal(t, []int{1}, versions)
	require.Error(t, d.Gorm.Exec(`SELECT * FROM mig_half`).Error, "the failed migration's table was rolled back")
}

type noopArgs struct{ N int }

func (noopArgs) Kind() string { return "test.noop" }

type noopWorker struct {
	river.WorkerDefaults[noopArgs]
}

func (noopWorker) Work(context.Context, *river.Job[noopArgs]) error { return nil }

func TestJobInsertSharesTheGormTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, err := db.Open(ctx, testenv.DatabaseURL(t), 4)
	require.NoError(t, err)
	defer d.Close()
	_, err = migrateAll(ctx, d)
	require.NoError(t, err)
	require.NoError(t, d.Gorm.Exec(`CREATE TABLE things (id INTEGER PRIMARY KEY)`).Error)
	q := queue.New(d, queue.Config{PollInterval: time.Second, RescueAfter: time.Hour})
	river.AddWorker(q.Workers, noopWorker{})
	require.NoError(t, q.Init())

	count := func() (rows, jobs int64) {
		require.NoError(t, d.Gorm.Raw(`SELECT COUNT(*) FROM things`).Scan(&rows).Error)
		require.NoError(t, d.Gorm.Raw(`SELECT COUNT(*) FROM river_job WHERE kind = 'test.noop'`).Scan(&jobs).Error)
		return
	}
	boom := errors.New("boom")
	err = d.WithTx(ctx, func(tx *db.Tx) error {
		require.NoError(t, tx.G.Exec(`INSERT INTO things (id) VALUES (1)`).Error)
		_, err := q.InsertTx(ctx, tx, noopArgs{N: 1}, nil)
		require.NoError(t, err)
		return boom
	})
	require.ErrorIs(t, err, boom)
	rows, jobs := count()
	require.Zero(t, rows, "row rolled back")
	require.Zero(t, jobs, "job rolled back with it")

	require.NoError(t, d.WithTx(ctx, func(tx *db.Tx) error {
		if err := tx.G.Exec(`INSERT INTO things (id) VALUES (2)`).Error; err != nil {
			return err
		}
		_, err := q.InsertTx(ctx, tx, noopArgs{N: 2}, nil)
		return err
	}))
	rows, jobs = count()
	require.EqualValues(t, 1, rows)
	require.EqualValues(t, 1, jobs)
}

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := testenv.Env(t)
	cfg, err := loadFor(t, nil, env)
	require.NoError(t, err)
	a, err := build(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), true)
	require.NoError(t, err)
	defer a.close()
	srv := httptest.NewServer(a.echo)
	defer srv.Close()

	get := func(path string) int {
		res, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		res.Body.Close()
		return res.StatusCode
	}
	require.Equal(t, 200, get("/healthz"))
	require.Equal(t, 200, get("/readyz"))

	// Storage goes away.
	if cfg.Storage.Backend == "local" {
		require.NoError(t, os.RemoveAll(cfg.Storage.LocalDir))
		require.NoError(t, os.WriteFile(cfg.Storage.LocalDir, []byte("not a dir"), 0o644))
		require.Equal(t, 503, get("/readyz"))
		require.NoError(t, os.Remove(cfg.Storage.LocalDir))
		require.NoError(t, os.MkdirAll(cfg.Storage.LocalDir, 0o750))
		require.Equal(t, 200, get("/readyz"))
	}

	// ffmpeg goes away.
	a.tools = toolCheck{ffmpeg: "/nonexistent/ffmpeg", ffprobe: cfg.FFprobe.Path}
	require.Equal(t, 503, get("/readyz"))
	a.tools = toolCheck{ffmpeg: cfg.FFmpeg.Path, ffprobe: cfg.FFprobe.Path}

	// The database goes away: liveness stays up, readiness drops.
	require.NoError(t, a.db.Close())
	require.Equal(t, 200, get("/healthz"))
	res, err := http.Get(srv.URL + "/readyz")
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, 503, res.StatusCode)
	require.Contains(t, string(body), `"database":"failing"`)
	require.NotContains(t, string(body), "closed", "internals do not leak")
}

func TestReadinessWhenBucketVanishes(t *testing.T) {
	t.Parallel()
	if !testenv.S3() {
		t.Skip("S3 run only")
	}
	a := setup(t)
	require.Equal(t, 200, a.do("GET", "/readyz", nil, "").Status)
	s := testenv.S3Settings{Endpoint: a.Env["VOD_S3_ENDPOINT"], AccessKey: a.Env["VOD_S3_ACCESS_KEY"], SecretKey: a.Env["VOD_S3_SECRET_KEY"], Bucket: a.Env["VOD_S3_BUCKET"]}
	require.NoError(t, removeBucket(s))
	require.Equal(t, 503, a.do("GET", "/readyz", nil, "").Status)
}

// TestStopWhileStarting: a stop that arrives at any moment of start-up ends the process cleanly.
func TestStopWhileStarting(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	for _, after := range []time.Duration{0, time.Millisecond, 5 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond, 200 * time.Millisecond} {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- RunIO(ctx, []string{"vod", "serve"}, func(k string) string { return env[k] }, nil, io.Discard, io.Discard)
		}()
		time.Sleep(after)
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err, "stopped %s into start-up", after)
		case <-time.After(30 * time.Second):
			t.Fatalf("did not stop when stopped %s into start-up", after)
		}
	}
}

func TestGracefulShutdownDrainsRequests(t *testing.T) {
	t.Parallel()
	a := setup(t)
	// A request whose body is still arriving when the shutdown begins must be answered.
	pr, pw := io.Pipe()
	req, err := http.NewRequest("POST", a.URL+"/api/v1/auth/signup", pr)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resc := make(chan *http.Response, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			resc <- nil
			return
		}
		resc <- res
	}()
	_, err = pw.Write([]byte(`{"username":"drain","email":"drain@example.com",`))
	require.NoError(t, err)
	time.Sleep(200 * time.Millisecond)
	stopped := make(chan error, 1)
	go func() { stopped <- a.stop() }()
	time.Sleep(300 * time.Millisecond)
	// New connections are refused once shutdown began.
	_, err = net.DialTimeout("tcp", strings.TrimPrefix(a.URL, "http://"), time.Second)
	require.Error(t, err)
	_, err = pw.Write([]byte(`"password":"long enough pw","password_confirm":"long enough pw","first_name":"D","last_name":"R"}`))
	require.NoError(t, err)
	pw.Close()
	res := <-resc
	require.NotNil(t, res)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, http.StatusCreated, res.StatusCode, "%s", body)
	require.NoError(t, <-stopped)
	require.Contains(t, a.logs.String(), "stopped")
	require.True(t, bytes.Contains([]byte(a.logs.String()), []byte("River client stopped")))
}
