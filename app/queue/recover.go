package queue

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"time"

	"vod/app/db"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Dead-worker recovery. River rescues a job only after the larger of RescueStuckJobsAfter and the
// job's timeout, which must be generous for a busy machine: a worker killed mid-chunk would strand
// its video for many minutes. Instead every working process beats every beatEvery, and any working
// process makes a running job available again as soon as the process that was running it has been
// silent for deadAfter. Only that job runs again: the others of its video are done or still alive.
const (
	beatEvery = 5 * time.Second
	deadAfter = 30 * time.Second
)

// Migrations are the queue's own tables (the heartbeats), applied after River's.
func Migrations() fs.FS {
	sub, _ := fs.Sub(migrations, "migrations")
	return sub
}

// clientID names this process's River client, which River records in the jobs it runs
// (attempted_by), so that its heartbeat can be matched with them.
func clientID() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s_%d_%s", host, os.Getpid(), hex.EncodeToString(b))
}

// recoverOrphans requeues the running jobs of processes that died. On SQLite there is one server
// process per database file, so at its start every job still marked running belongs to a process
// that is gone.
func (q *Queue) recoverOrphans(ctx context.Context, atStart bool) (int64, error) {
	g := q.db.Gorm.WithContext(ctx)
	if q.db.Dialect == db.SQLite {
		if !atStart {
			return 0, nil
		}
		res := g.Exec(`UPDATE river_job SET state = 'available' WHERE state = 'running'`)
		return res.RowsAffected, res.Error
	}
	res := g.Exec(`UPDATE river_job SET state = 'available', scheduled_at = now()
		WHERE state = 'running' AND attempted_at < now() - make_interval(secs => ?)
		AND NOT EXISTS (SELECT 1 FROM queue_heartbeats h
			WHERE h.client_id = river_job.attempted_by[array_length(river_job.attempted_by, 1)]
			AND h.beat_at > now() - make_interval(secs => ?))`, deadAfter.Seconds(), deadAfter.Seconds())
	return res.RowsAffected, res.Error
}

func (q *Queue) beat(ctx context.Context) error {
	if q.db.Dialect != db.Postgres {
		return nil
	}
	return q.db.Gorm.WithContext(ctx).Exec(`INSERT INTO queue_heartbeats (client_id, beat_at) VALUES (?, now())
		ON CONFLICT (client_id) DO UPDATE SET beat_at = now()`, q.id).Error
}

// watch beats and recovers until ctx ends, then removes this process's heartbeat.
func (q *Queue) watch(ctx context.Context) {
	t := time.NewTicker(beatEvery)
	defer t.Stop()
	for {
		if err := q.beat(ctx); err != nil && ctx.Err() == nil {
			q.cfg.Logger.Warn("queue heartbeat", "err", err)
		}
		if n, err := q.recoverOrphans(ctx, false); err != nil && ctx.Err() == nil {
			q.cfg.Logger.Warn("recover jobs of dead workers", "err", err)
		} else if n > 0 {
			q.cfg.Logger.Warn("jobs of a dead worker made available again", "jobs", n)
		}
		select {
		case <-ctx.Done():
			if q.db.Dialect == db.Postgres {
				bg, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_ = q.db.Gorm.WithContext(bg).Exec(`DELETE FROM queue_heartbeats WHERE client_id = ?`, q.id).Error
				cancel()
			}
			return
		case <-t.C:
		}
	}
}
