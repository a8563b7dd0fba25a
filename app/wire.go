package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/riverqueue/river/rivertype"

	"vod/app/db"
	"vod/app/httpx"
	"vod/app/metrics"
	"vod/app/queue"
	"vod/app/storage"
	"vod/modules/auth"
	"vod/modules/search"
	"vod/modules/stream"
	"vod/modules/transcode"
	"vod/modules/upload"
	"vod/web/player"
)

// App is one running process: its dependencies and the HTTP server.
type App struct {
	cfg     *Config
	log     *slog.Logger
	db      *db.DB
	store   storage.Storage
	queue   *queue.Queue
	echo    *echo.Echo
	closers []func()
	tools   toolCheck
	metrics *metrics.Metrics
	router  *httpx.Router
	auth    *auth.Service
	catalog *stream.Catalog
	upload  *upload.Service
	search  *search.Service
	serving bool
	// shutdown ends long-lived responses when the HTTP server drains.
	shutdown []func()
}

func openDB(ctx context.Context, cfg *Config) (*db.DB, error) {
	return db.Open(ctx, cfg.Database.URL, cfg.Database.MaxOpenConns)
}

// migrateAll applies River's migrations and then each module's, in dependency order, under the
// schema lock so that processes starting together take turns.
func migrateAll(ctx context.Context, d *db.DB) (int, error) {
	total := 0
	err := d.Exclusive(ctx, func() error {
		if err := queue.Migrate(ctx, d); err != nil {
			return err
		}
		for _, m := range moduleMigrations() {
			n, err := d.Migrate(ctx, m.name, m.fs)
			if err != nil {
				return err
			}
			total += n
		}
		return nil
	})
	return total, err
}

func openStorage(ctx context.Context, cfg *Config) (storage.Storage, error) {
	if cfg.Storage.Backend == "s3" {
		return storage.NewS3(ctx, storage.S3Config{
			Endpoint: cfg.S3.Endpoint, Bucket: cfg.S3.Bucket, AccessKey: cfg.S3.AccessKey,
			SecretKey: cfg.S3.SecretKey, Region: cfg.S3.Region, UseSSL: cfg.S3.UseSSL,
		})
	}
	return storage.NewLocal(cfg.Storage.LocalDir)
}

// build opens every dependency and wires every module. Closing happens in reverse order of opening.
// serving opens what only a server needs (the search index).
func build(ctx context.Context, cfg *Config, log *slog.Logger, serving bool) (_ *App, err error) {
	a := &App{cfg: cfg, log: log, tools: toolCheck{ffmpeg: cfg.FFmpeg.Path, ffprobe: cfg.FFprobe.Path}, serving: serving}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	if a.db, err = openDB(ctx, cfg); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, func() { _ = a.db.Close() })
	if _, err = migrateAll(ctx, a.db); err != nil {
		return nil, err
	}
	a.metrics = metrics.New(a.db)
	if a.store, err = openStorage(ctx, cfg); err != nil {
		return nil, err
	}
	a.store = a.metrics.Storage(a.store)
	qcfg := queue.Config{PollInterval: cfg.Queue.PollInterval, RescueAfter: cfg.Queue.RescueAfter, Logger: log.With("component", "river"),
		Middleware: []rivertype.Middleware{a.metrics.Worker()}, PipelinePrefix: "transcode."}
	if cfg.Role != "api" {
		qcfg.Workers = cfg.Queue.Workers
		qcfg.Queues = map[string]int{transcode.EncodeQueue: a.transcodeConfig().WithDefaults().EncodeJobs}
	}
	a.queue = queue.New(a.db, qcfg)
	a.echo = newEcho(cfg, log)
	a.echo.Use(a.metrics.Echo)
	a.echo.Use(httpx.SecurityHeaders("/embed/"))
	a.echo.Use(httpx.MinBodyRate(cfg.HTTP.MinBodyRate, cfg.HTTP.BodyRateWindow))
	a.echo.Use(httpx.JSONLimit(cfg.HTTP.BodyLimit))
	if err = a.wireModules(ctx); err != nil {
		return nil, err
	}
	lim, err := a.limiter()
	if err != nil {
		return nil, err
	}
	a.echo.Use(a.rateLimit(lim))
	if err = a.queue.Init(); err != nil {
		return nil, err
	}
	a.mountOpenAPI()
	return a, nil
}

func (a *App) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
}

func newEcho(cfg *Config, log *slog.Logger) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.IPExtractor = httpx.IPExtractor(cfg.HTTP.TrustedProxies)
	apiErrors := httpx.ErrorHandler(log)
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		if !player.NotFoundPage(err, c) {
			apiErrors(err, c)
		}
	}
	// tus clients name the endpoint with a trailing slash (/api/v1/tus/); the route and its
	// documentation have none, as OpenAPI linters want.
	e.Pre(middleware.RemoveTrailingSlashWithConfig(middleware.TrailingSlashConfig{
		Skipper: func(c echo.Context) bool { return c.Request().URL.Path != "/api/v1/tus/" }}))
	e.Use(middleware.RequestID())
	e.Use(middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogStatus: true, LogURI: true, LogMethod: true, LogLatency: true, LogRequestID: true,
		LogRemoteIP: true, LogError: true, LogResponseSize: true, HandleError: true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			log.LogAttrs(c.Request().Context(), slog.LevelInfo, "http",
				slog.String("method", v.Method), slog.String("uri", v.URI), slog.Int("status", v.Status),
				slog.Duration("latency", v.Latency), slog.String("ip", v.RemoteIP),
				slog.String("request_id", v.RequestID), slog.Int64("bytes", v.ResponseSize))
			return nil
		},
	}))
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			log.Error("panic", "request_id", httpx.RequestID(c), "err", err, "stack", string(stack))
			return err
		},
	}))
	return e
}

// serve runs the HTTP server and the workers until ctx ends, then stops them in reverse order.
func (a *App) serve(ctx context.Context) error {
	ln, err := listen(a.cfg)
	if err != nil {
		return err
	}
	if err := a.queue.Start(ctx); err != nil {
		ln.Close()
		return fmt.Errorf("start queue: %w", err)
	}
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
	if a.cfg.Role != "worker" {
		a.search.Start(bg)
	}
	// No overall read or write timeout: uploads and downloads may rightly last hours. Slow clients are
	// bounded by the header timeout, the idle timeout and the body rate (MinBodyRate).
	srv := &http.Server{Handler: a.echo, ReadHeaderTimeout: a.cfg.HTTP.HeaderTimeout, IdleTimeout: a.cfg.HTTP.IdleTimeout}
	for _, f := range a.shutdown {
		srv.RegisterOnShutdown(f)
	}
	a.echo.Server = srv
	serveErr := make(chan error, 2)
	go func() { serveErr <- srv.Serve(ln) }()
	var msrv *http.Server
	if a.cfg.Metrics.Addr != "" {
		mln, err := net.Listen("tcp", a.cfg.Metrics.Addr)
		if err != nil {
			_ = srv.Close()
			return fmt.Errorf("metrics listen %s: %w", a.cfg.Metrics.Addr, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", a.metrics.Handler())
		msrv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute}
		go func() { serveErr <- msrv.Serve(mln) }()
		a.log.Info("metrics are listening", "addr", mln.Addr().String())
	}
	writeAddrFile(a.cfg, ln)
	a.log.Info("vod is listening", "url", "http://"+displayAddr(ln.Addr().String()), "role", a.cfg.Role,
		"database", string(a.db.Dialect), "storage", a.store.Name())

	select {
	case err = <-serveErr:
	case <-ctx.Done():
	}
	a.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), a.cfg.HTTP.ShutdownTimeout)
	defer cancel()
	if msrv != nil {
		_ = msrv.Close()
	}
	if herr := srv.Shutdown(sctx); herr != nil {
		a.log.Warn("http shutdown", "err", herr)
		_ = srv.Close()
	}
	if qerr := a.queue.Stop(sctx); qerr != nil {
		a.log.Warn("queue shutdown", "err", qerr)
	}
	stopBG()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	a.log.Info("stopped")
	return err
}

func displayAddr(addr string) string {
	for _, any := range []string{"[::]:", "0.0.0.0:"} {
		if rest, ok := strings.CutPrefix(addr, any); ok {
			return "localhost:" + rest
		}
	}
	return addr
}

func (a *App) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 only when the database, the storage and the media tools all work. The
// database and storage checks run side by side, each with its own short timeout; the media tools
// were run once at start, and are only looked at (never run) afterwards: a probe that forked
// ffprobe timed out exactly when the machine was busiest encoding, and a load balancer would have
// pulled a healthy node out of rotation.
func (a *App) readyz(c echo.Context) error {
	ctx := c.Request().Context()
	var dbErr, storeErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		dbErr = a.db.Ping(ctx)
	})
	wg.Go(func() {
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		storeErr = a.store.Ping(ctx)
	})
	toolErr := a.tools.check()
	wg.Wait()
	checks := map[string]string{}
	ok := true
	for _, c := range []struct {
		name string
		err  error
	}{{"database", dbErr}, {"storage", storeErr}, {"ffmpeg", toolErr}} {
		checks[c.name] = "ok"
		if c.err != nil {
			ok = false
			checks[c.name] = "failing"
			a.log.Warn("readiness check failed", "check", c.name, "err", c.err)
		}
	}
	if !ok {
		return c.JSON(http.StatusServiceUnavailable, map[string]any{
			"status": "not_ready", "checks": checks,
			"error": map[string]string{"code": "not_ready", "message": "a dependency is not available"},
		})
	}
	return c.JSON(http.StatusOK, map[string]any{"status": "ready", "checks": checks})
}

// toolCheck knows whether ffmpeg and ffprobe work: each is run once (-version) when readiness is
// first asked (an orchestrator asks from the start; a process nobody asks, such as a one-off
// command, starts no process for it), and afterwards only found on disk again (a stat, no process)
// at most every few seconds, so that a removed or broken install still turns readiness off.
type toolCheck struct {
	ffmpeg, ffprobe string
	mu              sync.Mutex
	ran             bool
	paths           []string
	err             error
	lookedAt        time.Time
}

func (t *toolCheck) check() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.ran {
		t.ran, t.lookedAt = true, time.Now()
		t.paths = nil
		for _, bin := range []string{t.ffmpeg, t.ffprobe} {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			err := exec.CommandContext(ctx, bin, "-hide_banner", "-version").Run()
			cancel()
			if err != nil {
				t.err = fmt.Errorf("%s: %w", bin, err)
				t.ran = false // a failure is run again on the next probe
				return t.err
			}
			p, _ := exec.LookPath(bin)
			t.paths = append(t.paths, p)
		}
		t.err = nil
		return nil
	}
	if time.Since(t.lookedAt) >= 5*time.Second {
		t.lookedAt, t.err = time.Now(), nil
		for _, p := range t.paths {
			if st, err := os.Stat(p); err != nil || st.Mode()&0o111 == 0 {
				t.err = fmt.Errorf("%s is gone or not executable", p)
				t.ran = false
			}
		}
	}
	return t.err
}
