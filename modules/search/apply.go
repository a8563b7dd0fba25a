package search

import (
	"context"
	"errors"
	"io"
	"strconv"
	"time"

	"vod/app/vodtype"
)

const cursorKey = "change_cursor"

func (s *Service) cursor() (int64, error) {
	b, err := s.index().GetInternal([]byte(cursorKey))
	if err != nil || len(b) == 0 {
		return 0, err
	}
	return strconv.ParseInt(string(b), 10, 64)
}

func (s *Service) setCursor(id int64) error {
	return s.index().SetInternal([]byte(cursorKey), []byte(strconv.FormatInt(id, 10)))
}

// Start applies the change log until ctx ends.
func (s *Service) Start(ctx context.Context) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(s.cfg.ApplyEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-s.kick:
			}
			if !s.ready.Load() {
				continue
			}
			if err := s.Apply(ctx); err != nil && ctx.Err() == nil {
				// The cursor did not move: the same changes are tried again next tick.
				s.log.Warn("applying search changes failed; will retry", "err", err)
			}
		}
	}()
}

// Apply indexes every change logged after the index's cursor, in one batch per round.
func (s *Service) Apply(ctx context.Context) error {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	for {
		cur, err := s.cursor()
		if err != nil {
			return err
		}
		var rows []struct {
			ID      int64
			VideoID string
		}
		if err := s.db.Gorm.WithContext(ctx).Raw(`SELECT id, video_id FROM search_changes WHERE id > ? ORDER BY id LIMIT 500`, cur).Scan(&rows).Error; err != nil {
			return err
		}
		if len(rows) == 0 {
			return nil
		}
		seen := map[string]bool{}
		var ids []string
		for _, r := range rows {
			if !seen[r.VideoID] {
				seen[r.VideoID] = true
				ids = append(ids, r.VideoID)
			}
		}
		if err := s.indexVideos(ctx, ids); err != nil {
			return err
		}
		last := rows[len(rows)-1].ID
		if err := s.setCursor(last); err != nil {
			return err
		}
	}
}

// indexVideos replaces the document of each video in one batch, or removes it when the video is
// gone or not ready.
func (s *Service) indexVideos(ctx context.Context, ids []string) error {
	idx := s.index()
	b := idx.NewBatch()
	for _, id := range ids {
		v, err := s.catalog.SearchVideo(ctx, id)
		if errors.Is(err, vodtype.ErrNoVideo) {
			b.Delete(id)
			continue
		} else if err != nil {
			return err
		}
		if v.Status != vodtype.StatusReady {
			b.Delete(id) // only playable videos are searchable
			continue
		}
		var tracks []Track
		for _, sub := range v.Subtitles {
			cues, err := s.readCues(ctx, sub.Key)
			if err != nil {
				s.log.Warn("subtitle track not indexed", "video", v.ID, "lang", sub.Lang, "err", err)
				continue
			}
			tracks = append(tracks, Track{Lang: sub.Lang, Cues: cues})
		}
		if err := b.Index(v.ID, videoDoc(v, tracks)); err != nil {
			return err
		}
	}
	return idx.Batch(b)
}

func (s *Service) readCues(ctx context.Context, key string) ([]vodtype.Cue, error) {
	rc, _, err := s.store.Get(ctx, key, 0, -1)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, 16<<20))
	if err != nil {
		return nil, err
	}
	return vodtype.ParseCues(raw)
}
