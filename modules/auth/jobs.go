package auth

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"vod/app/queue"
)

// cleanupArgs removes refresh tokens a day after they expired.
type cleanupArgs struct{}

func (cleanupArgs) Kind() string { return "auth.cleanup" }

type cleanupWorker struct {
	river.WorkerDefaults[cleanupArgs]
	s *Service
}

func (w *cleanupWorker) Timeout(*river.Job[cleanupArgs]) time.Duration { return time.Minute }

func (w *cleanupWorker) Work(ctx context.Context, _ *river.Job[cleanupArgs]) error {
	return w.s.store.deleteExpiredRefresh(ctx, time.Now().UTC().Add(-24*time.Hour))
}

// Jobs registers the module's workers and periodic jobs.
func (s *Service) Jobs(q *queue.Queue) {
	river.AddWorker(q.Workers, &cleanupWorker{s: s})
	q.AddPeriodic(river.NewPeriodicJob(river.PeriodicInterval(6*time.Hour),
		func() (river.JobArgs, *river.InsertOpts) { return cleanupArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: false}))
}
