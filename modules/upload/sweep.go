package upload

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/riverqueue/river"

	"vod/app/storage"
	"vod/app/vodtype"
)

type sweepArgs struct{}

func (sweepArgs) Kind() string { return "upload.sweep" }

type sweepWorker struct {
	river.WorkerDefaults[sweepArgs]
	s *Service
}

func (w *sweepWorker) Timeout(*river.Job[sweepArgs]) time.Duration { return 30 * time.Minute }

// Work removes expired direct uploads with their videos, then objects and work directories that
// belong to no video (what a crash between storing and committing leaves behind).
func (w *sweepWorker) Work(ctx context.Context, _ *river.Job[sweepArgs]) error {
	s := w.s
	var expired []uploadRow
	if err := s.db.Gorm.WithContext(ctx).Where("status = ? AND expires_at < ?", "pending", time.Now().UTC()).Find(&expired).Error; err != nil {
		return err
	}
	for _, up := range expired {
		if err := s.catalog.RemoveVideo(ctx, up.VideoID); err != nil {
			return err
		}
		if err := s.db.Gorm.WithContext(ctx).Where("id = ?", up.ID).Delete(&uploadRow{}).Error; err != nil {
			return err
		}
	}
	if err := s.sweepTus(ctx); err != nil {
		return err
	}
	return s.sweepOrphans(ctx)
}

func (s *Service) sweepOrphans(ctx context.Context) error {
	cutoff := time.Now().Add(-s.cfg.OrphanAge)
	old := map[string]bool{}
	err := s.store.List(ctx, vodtype.VideosRoot, func(o storage.Object) error {
		id := vodtype.VideoIDOf(o.Key)
		if id == "" {
			return nil
		}
		if _, seen := old[id]; !seen || old[id] {
			old[id] = o.ModTime.Before(cutoff)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for id, isOld := range old {
		if !isOld {
			continue
		}
		exists, err := s.catalog.VideoExists(ctx, id)
		if err != nil {
			return err
		}
		if !exists {
			s.log.Info("removing orphan objects", "video", id)
			if err := s.store.DeletePrefix(ctx, vodtype.VideoPrefix(id)); err != nil {
				return err
			}
		}
	}
	entries, _ := os.ReadDir(s.cfg.WorkDir)
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil || !e.IsDir() || fi.ModTime().After(cutoff) {
			continue
		}
		if exists, err := s.catalog.VideoExists(ctx, e.Name()); err == nil && !exists {
			_ = os.RemoveAll(filepath.Join(s.cfg.WorkDir, e.Name()))
		}
	}
	return nil
}
