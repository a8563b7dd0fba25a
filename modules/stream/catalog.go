package stream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"vod/app/db"
	"vod/app/notify"
	"vod/app/storage"
	"vod/app/vodtype"
)

var ErrNoVideo = vodtype.ErrNoVideo

func (s *Service) row(ctx context.Context, id string) (*videoRow, error) {
	var r videoRow
	err := s.db.Gorm.WithContext(ctx).Where("id = ?", id).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNoVideo
	}
	return &r, err
}

// CreateVideoTx inserts a new video inside tx (upload).
func (s *Service) CreateVideoTx(ctx context.Context, tx *db.Tx, v vodtype.NewVideo) error {
	now := time.Now().UTC()
	return tx.G.Create(&videoRow{
		ID: v.ID, OwnerID: v.OwnerID, OwnerUsername: v.OwnerUsername, Title: v.Title, Description: v.Description,
		Visibility: v.Visibility, Status: v.Status, SourceKey: v.SourceKey, SourceName: v.SourceName,
		SourceSize: v.SourceSize, Generation: 1, Notes: "[]", Tracks: "[]", CreatedAt: now, UpdatedAt: now,
	}).Error
}

// MarkUploadedTx moves a direct upload's video to queued once its object is in place.
func (s *Service) MarkUploadedTx(ctx context.Context, tx *db.Tx, id string, size int64) error {
	res := tx.G.Model(&videoRow{}).Where("id = ? AND status = ?", id, vodtype.StatusUploading).
		Updates(map[string]any{"status": vodtype.StatusQueued, "source_size": size, "updated_at": time.Now().UTC()})
	if res.Error == nil && res.RowsAffected == 0 {
		return ErrNoVideo
	}
	return res.Error
}

// PipelineVideo returns what the transcoder needs (ErrNoVideo when deleted).
func (s *Service) PipelineVideo(ctx context.Context, id string) (vodtype.PipelineVideo, error) {
	r, err := s.row(ctx, id)
	if err != nil {
		return vodtype.PipelineVideo{}, err
	}
	return vodtype.PipelineVideo{ID: r.ID, Status: r.Status, Generation: r.Generation, SourceKey: r.SourceKey,
		SourceSize: r.SourceSize, Duration: r.DurationSeconds}, nil
}

// SetProgress records the stage and progress of processing; it never touches a finished video.
func (s *Service) SetProgress(ctx context.Context, id, stage string, progress int) error {
	return s.db.Gorm.WithContext(ctx).Model(&videoRow{}).
		Where("id = ? AND status IN ?", id, []string{vodtype.StatusQueued, vodtype.StatusProcessing}).
		Updates(map[string]any{"status": vodtype.StatusProcessing, "stage": stage, "progress": min(max(progress, 0), 100), "updated_at": time.Now().UTC()}).Error
}

// RecordProbeTx stores what the probe found.
func (s *Service) RecordProbeTx(ctx context.Context, tx *db.Tx, id string, p vodtype.ProbeInfo) error {
	return tx.G.Model(&videoRow{}).Where("id = ?", id).Updates(map[string]any{
		"duration_seconds": p.Duration, "width": p.Width, "height": p.Height, "fps": p.FPS,
		"video_codec": p.VideoCodec, "audio_codec": p.AudioCodec, "rotation": p.Rotation, "source_size": p.Size,
		"status": vodtype.StatusProcessing, "updated_at": time.Now().UTC(),
	}).Error
}

// Fail marks a video failed with a reason the uploader can read, and notifies once.
func (s *Service) Fail(ctx context.Context, id, reason string) error {
	err := s.db.WithTx(ctx, func(tx *db.Tx) error {
		res := tx.G.Model(&videoRow{}).Where("id = ? AND status NOT IN ?", id, []string{vodtype.StatusReady, vodtype.StatusFailed}).
			Updates(map[string]any{"status": vodtype.StatusFailed, "error": reason, "updated_at": time.Now().UTC()})
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		var r videoRow
		if err := tx.G.Where("id = ?", id).Take(&r).Error; err != nil {
			return err
		}
		return s.notifier.VideoEventTx(ctx, tx, "video.failed", notify.EventData{VideoID: id, Title: r.Title, OwnerID: r.OwnerID,
			Status: vodtype.StatusFailed, Error: reason})
	})
	s.forgetVisibility(id)
	return err
}

// PublishTx makes a generation of a video playable: its manifests are written to storage, its rows
// say ready, its embedded subtitles replace the previous generation's.
func (s *Service) PublishTx(ctx context.Context, tx *db.Tx, id string, p vodtype.Publication) error {
	rp, err := s.lockVideo(tx, id)
	if err != nil {
		return err
	}
	r := *rp
	if r.Generation != p.Generation {
		return fmt.Errorf("stream: generation %d superseded by %d", p.Generation, r.Generation)
	}
	if err := tx.G.Where("video_id = ? AND source = ?", id, vodtype.SourceEmbedded).Delete(&subtitleRow{}).Error; err != nil {
		return err
	}
	now := time.Now().UTC()
	for _, sub := range p.Subtitles {
		row := subtitleRow{VideoID: id, Lang: sub.Lang, Label: sub.Label, Source: sub.Source, ObjectKey: sub.Key, CreatedAt: now}
		// A track the user uploaded for the same language wins over the embedded one.
		var n int64
		tx.G.Model(&subtitleRow{}).Where("video_id = ? AND lang = ?", id, sub.Lang).Count(&n)
		if n == 0 {
			if err := tx.G.Create(&row).Error; err != nil {
				return err
			}
		}
	}
	tracks, _ := json.Marshal(p.Tracks)
	notes, _ := json.Marshal(append(r.notes(), p.Notes...))
	updates := map[string]any{
		"status": vodtype.StatusReady, "stage": "", "progress": 100, "error": "", "tracks": string(tracks),
		"media_prefix": p.Prefix, "base_mpd_key": p.BaseMPDKey, "poster_key": p.PosterKey,
		"storyboard_key": p.StoryboardKey, "mp4_key": p.MP4Key, "notes": string(notes),
		"duration_seconds": p.Duration, "ready_at": now, "updated_at": now,
	}
	if err := tx.G.Model(&videoRow{}).Where("id = ?", id).Updates(updates).Error; err != nil {
		return err
	}
	r.Tracks, r.MediaPrefix, r.BaseMPDKey, r.DurationSeconds = string(tracks), p.Prefix, p.BaseMPDKey, p.Duration
	var subs []subtitleRow
	if err := tx.G.Where("video_id = ?", id).Order("lang").Find(&subs).Error; err != nil {
		return err
	}
	if err := s.writeManifests(ctx, &r, subs); err != nil {
		return err
	}
	s.forgetVisibility(id)
	if err := s.notifier.VideoEventTx(ctx, tx, "video.ready", notify.EventData{VideoID: id, Title: r.Title, OwnerID: r.OwnerID,
		Status: vodtype.StatusReady}); err != nil {
		return err
	}
	return s.index.VideoChangedTx(ctx, tx, id)
}

// writeManifests renders manifest.mpd and master.m3u8 for the video's current generation and the
// given subtitle tracks, and a one-cue HLS playlist per track.
func (s *Service) writeManifests(ctx context.Context, r *videoRow, subs []subtitleRow) error {
	if r.BaseMPDKey == "" {
		return nil // not published yet: publishing will write them
	}
	rc, _, err := s.store.Get(ctx, r.BaseMPDKey, 0, -1)
	if err != nil {
		return fmt.Errorf("read base mpd: %w", err)
	}
	base, err := io.ReadAll(io.LimitReader(rc, 4<<20))
	rc.Close()
	if err != nil {
		return err
	}
	var refs []subtitleRef
	for _, sub := range subs {
		rel, err := relPath(r.MediaPrefix, sub.ObjectKey)
		if err != nil {
			return err
		}
		refs = append(refs, subtitleRef{Lang: sub.Lang, Label: sub.Label, Path: rel})
		pl := subtitlePlaylist(path.Base(sub.ObjectKey), r.DurationSeconds)
		plKey := strings.TrimSuffix(sub.ObjectKey, ".vtt") + ".m3u8"
		if _, err := s.store.Put(ctx, plKey, bytes.NewReader(pl), int64(len(pl)), storage.PutOptions{ContentType: "application/vnd.apple.mpegurl", CacheControl: manifestCache}); err != nil {
			return err
		}
	}
	tracks := r.tracks()
	mpd := buildMPD(base, tracks, refs)
	hls := buildHLSMaster(tracks, refs)
	if _, err := s.store.Put(ctx, r.MediaPrefix+"manifest.mpd", bytes.NewReader(mpd), int64(len(mpd)), storage.PutOptions{ContentType: "application/dash+xml", CacheControl: manifestCache}); err != nil {
		return err
	}
	_, err = s.store.Put(ctx, r.MediaPrefix+"master.m3u8", bytes.NewReader(hls), int64(len(hls)), storage.PutOptions{ContentType: "application/vnd.apple.mpegurl", CacheControl: manifestCache})
	return err
}

// relPath is the path of key relative to the directory prefix (both under videos/{id}/).
func relPath(prefix, key string) (string, error) {
	pp := strings.Split(strings.TrimSuffix(prefix, "/"), "/")
	kp := strings.Split(key, "/")
	i := 0
	for i < len(pp) && i < len(kp)-1 && pp[i] == kp[i] {
		i++
	}
	if i < 2 {
		return "", fmt.Errorf("stream: %s is not under the video of %s", key, prefix)
	}
	return strings.Repeat("../", len(pp)-i) + strings.Join(kp[i:], "/"), nil
}

// lockVideo reads a video row inside tx, locking it on PostgreSQL, so that concurrent changes to
// one video's tracks and manifests happen one after the other (SQLite has one writer anyway).
func (s *Service) lockVideo(tx *db.Tx, id string) (*videoRow, error) {
	q := tx.G
	if s.db.Dialect == db.Postgres {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	var r videoRow
	if err := q.Where("id = ?", id).Take(&r).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, ErrNoVideo
		}
		return nil, err
	}
	return &r, nil
}

// AddSubtitle stores a WebVTT track for a video (uploaded or translated) and rewrites the manifests
// in the same transaction as the row, under the video's lock: the API never lists a track the
// manifests lack, and two tracks added at once both end up in them.
func (s *Service) AddSubtitle(ctx context.Context, videoID, lang, label, source string, vtt []byte) (*subtitleRow, error) {
	key := vodtype.SubtitleKey(videoID, lang)
	if _, err := s.store.Put(ctx, key, bytes.NewReader(vtt), int64(len(vtt)), storage.PutOptions{ContentType: "text/vtt; charset=utf-8", CacheControl: manifestCache}); err != nil {
		return nil, err
	}
	row := subtitleRow{VideoID: videoID, Lang: lang, Label: label, Source: source, ObjectKey: key, CreatedAt: time.Now().UTC()}
	err := s.db.WithTx(ctx, func(tx *db.Tx) error {
		r, err := s.lockVideo(tx, videoID)
		if err != nil {
			return err
		}
		if err := tx.G.Where("video_id = ? AND lang = ?", videoID, lang).Delete(&subtitleRow{}).Error; err != nil {
			return err
		}
		if err := tx.G.Create(&row).Error; err != nil {
			return err
		}
		var subs []subtitleRow
		if err := tx.G.Where("video_id = ?", videoID).Order("lang").Find(&subs).Error; err != nil {
			return err
		}
		if err := s.writeManifests(ctx, r, subs); err != nil {
			return err
		}
		return s.index.VideoChangedTx(ctx, tx, videoID)
	})
	if err != nil {
		return nil, err
	}
	s.forgetVisibility(videoID)
	return &row, nil
}

// SubtitleFiles lists a video's stored tracks (search, translation).
func (s *Service) SubtitleFiles(ctx context.Context, videoID string) ([]vodtype.SubtitleFile, error) {
	var subs []subtitleRow
	if err := s.db.Gorm.WithContext(ctx).Where("video_id = ?", videoID).Order("lang").Find(&subs).Error; err != nil {
		return nil, err
	}
	out := make([]vodtype.SubtitleFile, len(subs))
	for i, r := range subs {
		out[i] = vodtype.SubtitleFile{Lang: r.Lang, Label: r.Label, Source: r.Source, Key: r.ObjectKey}
	}
	return out, nil
}

// RemoveVideo deletes a video everywhere: its jobs, rows, stored objects and index entries.
func (s *Service) RemoveVideo(ctx context.Context, id string) error {
	if err := s.pipeline.CancelVideo(ctx, id); err != nil {
		s.log.Warn("cancel jobs of deleted video", "video", id, "err", err)
	}
	err := s.db.WithTx(ctx, func(tx *db.Tx) error {
		if err := tx.G.Where("video_id = ?", id).Delete(&subtitleRow{}).Error; err != nil {
			return err
		}
		if err := tx.G.Where("id = ?", id).Delete(&videoRow{}).Error; err != nil {
			return err
		}
		return s.index.VideoChangedTx(ctx, tx, id)
	})
	if err != nil {
		return err
	}
	s.forgetVisibility(id)
	// Objects go after the rows: if this fails, the orphan sweeper finds objects without a video.
	if err := s.store.DeletePrefix(ctx, vodtype.VideoPrefix(id)); err != nil {
		s.log.Warn("delete objects of deleted video", "video", id, "err", err)
	}
	return nil
}

// VideoExists reports whether a video row exists (the orphan sweeper).
func (s *Service) VideoExists(ctx context.Context, id string) (bool, error) {
	var n int64
	err := s.db.Gorm.WithContext(ctx).Model(&videoRow{}).Where("id = ?", id).Count(&n).Error
	return n > 0, err
}

// View renders a video as the API shows it to its owner (upload's responses).
func (s *Service) View(ctx context.Context, id string) (any, error) {
	r, err := s.row(ctx, id)
	if err != nil {
		return nil, err
	}
	subs, err := s.subs(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.view(r, subs[id]), nil
}

// SearchVideo returns what search indexes about a video (vodtype.ErrNoVideo when deleted).
func (s *Service) SearchVideo(ctx context.Context, id string) (vodtype.SearchVideo, error) {
	r, err := s.row(ctx, id)
	if err != nil {
		return vodtype.SearchVideo{}, err
	}
	subs, err := s.SubtitleFiles(ctx, id)
	if err != nil {
		return vodtype.SearchVideo{}, err
	}
	return vodtype.SearchVideo{ID: r.ID, Title: r.Title, Description: r.Description, OwnerID: r.OwnerID,
		OwnerUsername: r.OwnerUsername, Visibility: r.Visibility, Status: r.Status, CreatedAt: r.CreatedAt.UTC(),
		Subtitles: subs}, nil
}

// VideoIDs pages through every video id in order (reindexing).
func (s *Service) VideoIDs(ctx context.Context, after string, limit int) ([]string, error) {
	var ids []string
	err := s.db.Gorm.WithContext(ctx).Model(&videoRow{}).Where("id > ?", after).Order("id").Limit(limit).Pluck("id", &ids).Error
	return ids, err
}

// Views renders videos for search results, keyed by id; missing ones are absent.
func (s *Service) Views(ctx context.Context, ids []string) (map[string]any, error) {
	views, err := s.VideoViews(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]any, len(views))
	for k, v := range views {
		out[k] = v
	}
	return out, nil
}

// AddSubtitleFile stores a track for another module (translations).
func (s *Service) AddSubtitleFile(ctx context.Context, videoID, lang, label, source string, vtt []byte) error {
	_, err := s.AddSubtitle(ctx, videoID, lang, label, source, vtt)
	return err
}

// AddNote records a remark on a video that is worth showing its owner but is not a failure.
func (s *Service) AddNote(ctx context.Context, id, note string) error {
	return s.db.WithTx(ctx, func(tx *db.Tx) error {
		var r videoRow
		if err := tx.G.Where("id = ?", id).Take(&r).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return ErrNoVideo
			}
			return err
		}
		notes := r.notes()
		for _, n := range notes {
			if n == note {
				return nil
			}
		}
		raw, _ := json.Marshal(append(notes, note))
		s.forgetVisibility(id)
		return tx.G.Model(&videoRow{}).Where("id = ?", id).Update("notes", string(raw)).Error
	})
}

// VideoAccess returns who owns a video and its visibility (authorisation in other modules).
func (s *Service) VideoAccess(ctx context.Context, id string) (ownerID, visibility string, err error) {
	r, err := s.row(ctx, id)
	if err != nil {
		return "", "", err
	}
	return r.OwnerID, r.Visibility, nil
}
