// Package queue runs River on the application's database: the Postgres driver on PostgreSQL and the
// SQLite driver on the embedded default. Jobs are inserted and completed inside the same transactions
// as the modules' gorm writes (db.Tx), so a row and the job that processes it commit together.
package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"vod/app/db"
)

// Config sizes the client. Workers == 0 makes an insert-only client (the API-only role).
type Config struct {
	Workers      int
	PollInterval time.Duration
	RescueAfter  time.Duration
	Periodic     []*river.PeriodicJob
	Logger       *slog.Logger
	// Middleware wraps every job (metrics).
	Middleware []rivertype.Middleware
	// Queues are named queues beside the default one, with their slots (the encodes').
	Queues map[string]int
	// PipelinePrefix is the kind prefix of the processing jobs that QueuePosition counts
	// ("transcode."): not notifications or translations.
	PipelinePrefix string
}

// Queue wraps a River client whose transaction type depends on the database dialect.
type Queue struct {
	db      *db.DB
	cfg     Config
	pg      *river.Client[pgx.Tx]
	lite    *river.Client[*sql.Tx]
	Workers *river.Workers
	working bool
	id      string
	stopW   context.CancelFunc
	watched chan struct{}
}

// Migrate applies River's own migrations.
func Migrate(ctx context.Context, d *db.DB) error {
	var err error
	if d.Dialect == db.Postgres {
		var m *rivermigrate.Migrator[pgx.Tx]
		if m, err = rivermigrate.New(riverpgxv5.New(d.Pool), nil); err == nil {
			_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
		}
	} else {
		var m *rivermigrate.Migrator[*sql.Tx]
		if m, err = rivermigrate.New(riversqlite.New(d.SQL), nil); err == nil {
			_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
		}
	}
	if err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	return nil
}

// New prepares a queue. Modules add their workers to q.Workers and periodic jobs with AddPeriodic,
// then Init creates the client.
func New(d *db.DB, cfg Config) *Queue {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Queue{db: d, cfg: cfg, Workers: river.NewWorkers(), working: cfg.Workers > 0, id: clientID()}
}

// AddPeriodic schedules a job kind to be inserted periodically (by the leader only).
func (q *Queue) AddPeriodic(j *river.PeriodicJob) { q.cfg.Periodic = append(q.cfg.Periodic, j) }

// Init creates the River client once every worker is registered.
func (q *Queue) Init() error {
	cfg, workers, d := q.cfg, q.Workers, q.db
	rc := &river.Config{
		ID:                   q.id,
		Logger:               cfg.Logger,
		FetchPollInterval:    cfg.PollInterval,
		FetchCooldown:        min(cfg.PollInterval, 100*time.Millisecond),
		RescueStuckJobsAfter: cfg.RescueAfter,
		PeriodicJobs:         cfg.Periodic,
		Workers:              workers,
		Middleware:           cfg.Middleware,
		// Stages set their own timeouts; this covers anything that forgets to.
		JobTimeout: 10 * time.Minute,
	}
	if rc.RescueStuckJobsAfter <= rc.JobTimeout {
		rc.JobTimeout = rc.RescueStuckJobsAfter / 2
	}
	if cfg.Workers > 0 {
		rc.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Workers}}
		for name, n := range cfg.Queues {
			rc.Queues[name] = river.QueueConfig{MaxWorkers: n}
		}
	}
	var err error
	if d.Dialect == db.Postgres {
		q.pg, err = river.NewClient(riverpgxv5.New(d.Pool), rc)
	} else {
		rc.PollOnly = true
		q.lite, err = river.NewClient(riversqlite.New(d.SQL), rc)
	}
	if err != nil {
		return fmt.Errorf("river client: %w", err)
	}
	return nil
}

// Start begins working jobs (no-op for an insert-only client).
func (q *Queue) Start(ctx context.Context) error {
	if !q.working {
		return nil
	}
	if n, err := q.recoverOrphans(ctx, true); err != nil {
		return fmt.Errorf("recover jobs: %w", err)
	} else if n > 0 {
		q.cfg.Logger.Warn("jobs left running by a stopped process made available again", "jobs", n)
	}
	var err error
	if q.pg != nil {
		err = q.pg.Start(ctx)
	} else {
		err = q.lite.Start(ctx)
	}
	if err != nil {
		return err
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	q.stopW, q.watched = cancel, make(chan struct{})
	go func() { defer close(q.watched); q.watch(wctx) }()
	return nil
}

// Stop waits for running jobs to finish or ctx to end, then cancels what is left.
func (q *Queue) Stop(ctx context.Context) error {
	if !q.working {
		return nil
	}
	// The heartbeat stops after the jobs: while they finish, nobody may take them for dead.
	defer func() {
		if q.stopW != nil {
			q.stopW()
			<-q.watched
		}
	}()
	var err error
	if q.pg != nil {
		err = q.pg.Stop(ctx)
	} else {
		err = q.lite.Stop(ctx)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if q.pg != nil {
			return q.pg.StopAndCancel(sctx)
		}
		return q.lite.StopAndCancel(sctx)
	}
	return err
}

// InsertTx inserts a job inside tx.
func (q *Queue) InsertTx(ctx context.Context, tx *db.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	if q.pg != nil {
		return q.pg.InsertTx(ctx, tx.PgxTx, args, opts)
	}
	return q.lite.InsertTx(ctx, tx.SQLTx, args, opts)
}

// Insert inserts a job on its own.
func (q *Queue) Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	if q.pg != nil {
		return q.pg.Insert(ctx, args, opts)
	}
	return q.lite.Insert(ctx, args, opts)
}

// CompleteTx marks a running job completed inside tx, so that the stage's own writes, its completion
// and the next stage's insert commit or roll back together.
func CompleteTx[T river.JobArgs](ctx context.Context, tx *db.Tx, job *river.Job[T]) error {
	var err error
	if tx.PgxTx != nil {
		_, err = river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx.PgxTx, job)
	} else {
		_, err = river.JobCompleteTx[*riversqlite.Driver](ctx, tx.SQLTx, job)
	}
	return err
}

// Cancel cancels a job; a running one has its context cancelled.
func (q *Queue) Cancel(ctx context.Context, id int64) (*rivertype.JobRow, error) {
	if q.pg != nil {
		return q.pg.JobCancel(ctx, id)
	}
	return q.lite.JobCancel(ctx, id)
}

// Retry makes a finished or failed job available again.
func (q *Queue) Retry(ctx context.Context, id int64) (*rivertype.JobRow, error) {
	if q.pg != nil {
		return q.pg.JobRetry(ctx, id)
	}
	return q.lite.JobRetry(ctx, id)
}

// Get returns one job.
func (q *Queue) Get(ctx context.Context, id int64) (*rivertype.JobRow, error) {
	if q.pg != nil {
		return q.pg.JobGet(ctx, id)
	}
	return q.lite.JobGet(ctx, id)
}

// List lists jobs.
func (q *Queue) List(ctx context.Context, params *river.JobListParams) (*river.JobListResult, error) {
	if q.pg != nil {
		return q.pg.JobList(ctx, params)
	}
	return q.lite.JobList(ctx, params)
}

// CancelVideo cancels every unfinished job whose arguments name the video (args.video_id):
// pipeline stages, translations, notifications. Running ones have their context cancelled, which
// kills their ffmpeg.
func (q *Queue) CancelVideo(ctx context.Context, videoID string) error {
	expr := "json_extract(args, '$.video_id')"
	if q.db.Dialect == db.Postgres {
		expr = "args->>'video_id'"
	}
	var ids []int64
	err := q.db.Gorm.WithContext(ctx).Raw(`SELECT id FROM river_job WHERE `+expr+` = ?
		AND state IN ('available', 'pending', 'retryable', 'running', 'scheduled')`, videoID).Scan(&ids).Error
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := q.Cancel(ctx, id); err != nil {
			return fmt.Errorf("cancel job %d: %w", id, err)
		}
	}
	return nil
}

// QueuePosition is how many videos uploaded before this one are still in the pipeline (a job of
// kind PipelinePrefix naming them waits or runs): the queue works on older videos first (their
// first chunks run before a newer video's later ones, so the count is rough, never wrong in
// direction), and the count only goes down while the video waits. Video ids are UUIDv7, so their
// order is upload order. 0 when none is ahead or the video has no job left.
func (q *Queue) QueuePosition(ctx context.Context, videoID string) (int, error) {
	expr := "json_extract(args, '$.video_id')"
	if q.db.Dialect == db.Postgres {
		expr = "args->>'video_id'"
	}
	const unfinished = `state IN ('available', 'pending', 'retryable', 'running', 'scheduled')`
	var n []int
	err := q.db.Gorm.WithContext(ctx).Raw(`SELECT CASE
		WHEN NOT EXISTS (SELECT 1 FROM river_job WHERE `+expr+` = ? AND kind LIKE ? AND `+unfinished+`) THEN 0
		ELSE (SELECT COUNT(DISTINCT `+expr+`) FROM river_job WHERE `+expr+` < ? AND kind LIKE ? AND `+unfinished+`)
		END`, videoID, q.cfg.PipelinePrefix+"%", videoID, q.cfg.PipelinePrefix+"%").Scan(&n).Error
	if err != nil || len(n) == 0 {
		return 0, err
	}
	return n[0], nil
}
