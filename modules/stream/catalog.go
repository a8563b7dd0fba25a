package stream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"vod/app/db"
	"vod/app/notify"
	"vod/app/storage"
	"vod/app/vodtype"
)

// Catalog owns the videos and subtitles tables. Other modules read and change videos only through
// its methods; those ending in Tx run inside the caller's transaction, so that a change and the job
// that follows it commit together.
type Catalog struct {
	cfg      Config
	db       *db.DB
	store    storage.Storage
	index    Indexer
	notifier Notifier
	jobs     Jobs
	log      *slog.Logger

	cacheMu sync.Mutex
	vis     map[string]visEntry
	views   map[string]viewEntry
	salt    viewSalt
}

// NewCatalog builds the catalog on its dependencies.
func NewCatalog(d *db.DB, store storage.Storage, index Indexer, notifier Notifier, jobs Jobs, cfg Config, log *slog.Logger) (*Catalog, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Catalog{cfg: cfg, db: d, store: store, index: index, notifier: notifier, jobs: jobs, log: log,
		vis: map[string]visEntry{}, views: map[string]viewEntry{}}, nil
}

func (s *Catalog) row(ctx context.Context, id string) (*videoRow, error) {
	var r videoRow
	err := s.db.Gorm.WithContext(ctx).Where("id = ?", id).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNoVideo
	}
	return &r, err
}

// CreateVideoTx inserts a new video inside tx (upload).
func (s *Catalog) CreateVideoTx(ctx context.Context, tx *db.Tx, v vodtype.NewVideo) error {
	now := time.Now().UTC()
	if v.Protection == "" {
		v.Protection = s.cfg.DefaultProtection
	}
	return tx.G.Create(&videoRow{
		ID: v.ID, OwnerID: v.OwnerID, OwnerUsername: v.OwnerUsername, Title: v.Title, Description: v.Description,
		Visibility: v.Visibility, Status: v.Status, SourceKey: v.SourceKey, SourceName: v.SourceName,
		SourceSize: v.SourceSize, Generation: 1, Notes: "[]", Tracks: "[]", CreatedAt: now, UpdatedAt: now,
		Protection: v.Protection,
	}).Error
}

// MarkUploadedTx moves a direct upload's video to queued once its object is in place.
func (s *Catalog) MarkUploadedTx(ctx context.Context, tx *db.Tx, id string, size int64) error {
	res := tx.G.Model(&videoRow{}).Where("id = ? AND status = ?", id, vodtype.StatusUploading).
		Updates(map[string]any{"status": vodtype.StatusQueued, "source_size": size, "updated_at": time.Now().UTC()})
	if res.Error == nil && res.RowsAffected == 0 {
		return ErrNoVideo
	}
	return res.Error
}

// PipelineVideo returns what the transcoder needs (ErrNoVideo when deleted).
func (s *Catalog) PipelineVideo(ctx context.Context, id string) (vodtype.PipelineVideo, error) {
	r, err := s.row(ctx, id)
	if err != nil {
		return vodtype.PipelineVideo{}, err
	}
	return vodtype.PipelineVideo{ID: r.ID, Status: r.Status, Generation: r.Generation, SourceKey: r.SourceKey,
		SourceSize: r.SourceSize, Duration: r.DurationSeconds, OwnerID: r.OwnerID, Visibility: r.Visibility, Protection: r.protection()}, nil
}

// SetProgress records the stage and progress of processing; it never touches a finished video.
func (s *Catalog) SetProgress(ctx context.Context, id, stage string, progress int) error {
	return s.db.Gorm.WithContext(ctx).Model(&videoRow{}).
		Where("id = ? AND status IN ?", id, []string{vodtype.StatusQueued, vodtype.StatusProcessing}).
		Updates(map[string]any{"status": vodtype.StatusProcessing, "stage": stage, "progress": min(max(progress, 0), 100), "updated_at": time.Now().UTC()}).Error
}

// SetAvailableTx records how far a generation still processing can be watched, inside the
// pipeline's transaction; the first time it is playable, video.playable is sent.
func (s *Catalog) SetAvailableTx(ctx context.Context, tx *db.Tx, id string, generation int, seconds float64) error {
	r, err := s.lockVideo(tx, id)
	if err != nil {
		return err
	}
	if r.Generation != generation || (r.Status != vodtype.StatusProcessing && r.Status != vodtype.StatusQueued) || seconds <= r.AvailableSeconds {
		return nil
	}
	if err := tx.G.Model(&videoRow{}).Where("id = ?", id).Updates(map[string]any{"available_seconds": seconds, "status": vodtype.StatusProcessing,
		"updated_at": time.Now().UTC()}).Error; err != nil {
		return err
	}
	s.forget(id)
	if r.AvailableSeconds > 0 {
		return nil
	}
	return s.notifier.VideoEventTx(ctx, tx, "video.playable", notify.EventData{VideoID: id, Title: r.Title, OwnerID: r.OwnerID,
		Status: vodtype.StatusProcessing, AvailableSeconds: seconds})
}

// RecordProbeTx stores what the probe found.
func (s *Catalog) RecordProbeTx(ctx context.Context, tx *db.Tx, id string, p vodtype.ProbeInfo) error {
	return tx.G.Model(&videoRow{}).Where("id = ?", id).Updates(map[string]any{
		"duration_seconds": p.Duration, "width": p.Width, "height": p.Height, "fps": p.FPS,
		"video_codec": p.VideoCodec, "audio_codec": p.AudioCodec, "rotation": p.Rotation, "source_size": p.Size,
		"status": vodtype.StatusProcessing, "updated_at": time.Now().UTC(),
	}).Error
}

// Fail marks a video failed with a reason the uploader can read, and notifies once.
func (s *Catalog) Fail(ctx context.Context, id, reason string) error {
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
	s.forget(id)
	return err
}

// BeginReprocessTx starts a new generation of a finished video inside tx and returns its number;
// ErrBusy while the video is still being processed.
func (s *Catalog) BeginReprocessTx(ctx context.Context, tx *db.Tx, id string) (int, error) {
	r, err := s.lockVideo(tx, id)
	if err != nil {
		return 0, err
	}
	if r.Status != vodtype.StatusReady && r.Status != vodtype.StatusFailed {
		return 0, ErrBusy
	}
	gen := r.Generation + 1
	err = tx.G.Model(&videoRow{}).Where("id = ?", id).Updates(map[string]any{
		"generation": gen, "status": vodtype.StatusQueued, "stage": "", "progress": 0, "error": "", "available_seconds": 0,
		"updated_at": time.Now().UTC(),
	}).Error
	if err != nil {
		return 0, err
	}
	if err := s.index.VideoChangedTx(ctx, tx, id); err != nil {
		return 0, err
	}
	s.forget(id)
	return gen, nil
}

// manifestState is what a video's manifests are rendered from. Manifests are written to storage
// before the transaction that commits the rows they describe (no storage write holds a row lock);
// the transaction then checks that the rows still say what was written, and the write is done
// again when another change slipped in between.
type manifestState struct {
	prefix, baseMPD string
	duration        float64
	tracks          string
	subs            []subtitleRow
}

func (m manifestState) equal(o manifestState) bool {
	if m.prefix != o.prefix || m.baseMPD != o.baseMPD || m.duration != o.duration || m.tracks != o.tracks || len(m.subs) != len(o.subs) {
		return false
	}
	for i := range m.subs {
		a, b := m.subs[i], o.subs[i]
		if a.Lang != b.Lang || a.Label != b.Label || a.ObjectKey != b.ObjectKey {
			return false
		}
	}
	return true
}

// publishedSubs is the subtitle set after publishing: the new generation's embedded tracks replace
// the old ones, and a track the user uploaded (or a translation) for the same language wins.
func publishedSubs(id string, current []subtitleRow, embedded []vodtype.SubtitleFile, now time.Time) []subtitleRow {
	var out []subtitleRow
	have := map[string]bool{}
	for _, r := range current {
		if r.Source != vodtype.SourceEmbedded {
			out = append(out, r)
			have[r.Lang] = true
		}
	}
	for _, sub := range embedded {
		if !have[sub.Lang] {
			out = append(out, subtitleRow{VideoID: id, Lang: sub.Lang, Label: sub.Label, Source: sub.Source, ObjectKey: sub.Key, CreatedAt: now})
			have[sub.Lang] = true
		}
	}
	slices.SortFunc(out, func(a, b subtitleRow) int { return strings.Compare(a.Lang, b.Lang) })
	return out
}

func withSub(current []subtitleRow, row subtitleRow) []subtitleRow {
	out := []subtitleRow{row}
	for _, r := range current {
		if r.Lang != row.Lang {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b subtitleRow) int { return strings.Compare(a.Lang, b.Lang) })
	return out
}

func (s *Catalog) subtitleRows(g *gorm.DB, id string) ([]subtitleRow, error) {
	var subs []subtitleRow
	err := g.Where("video_id = ?", id).Order("lang").Find(&subs).Error
	return subs, err
}

var errManifestRace = errors.New("stream: the video changed while its manifests were written")

// settle runs plan → write → commit until the committed rows match what was written.
// plan reads the wanted manifest state; commit re-plans inside the locked transaction and applies
// the row changes when the state is still the one written.
func (s *Catalog) settle(ctx context.Context, plan func(g *gorm.DB) (manifestState, error), commit func(tx *db.Tx, written manifestState) error) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		var want manifestState
		if want, err = plan(s.db.Gorm.WithContext(ctx)); err != nil {
			return err
		}
		if err = s.writeManifests(ctx, want); err != nil {
			return err
		}
		err = s.db.WithTx(ctx, func(tx *db.Tx) error { return commit(tx, want) })
		if !errors.Is(err, errManifestRace) {
			return err
		}
	}
	return err
}

// Publish makes a generation of a video playable: its manifests are written to storage first,
// then its rows say ready and its embedded subtitles replace the previous generation's, and
// within(tx), the caller's own changes (completing its job), commit in the same transaction.
func (s *Catalog) Publish(ctx context.Context, id string, p vodtype.Publication, within func(tx *db.Tx) error) error {
	tracks, _ := json.Marshal(p.Tracks)
	now := time.Now().UTC()
	plan := func(g *gorm.DB) (manifestState, error) {
		current, err := s.subtitleRows(g, id)
		if err != nil {
			return manifestState{}, err
		}
		return manifestState{prefix: p.Prefix, baseMPD: p.BaseMPDKey, duration: p.Duration, tracks: string(tracks),
			subs: publishedSubs(id, current, p.Subtitles, now)}, nil
	}
	err := s.settle(ctx, plan, func(tx *db.Tx, written manifestState) error {
		r, err := s.lockVideo(tx, id)
		if err != nil {
			return err
		}
		if r.Generation != p.Generation {
			return fmt.Errorf("stream: generation %d superseded by %d", p.Generation, r.Generation)
		}
		if now, err := plan(tx.G); err != nil {
			return err
		} else if !now.equal(written) {
			return errManifestRace
		}
		if err := tx.G.Where("video_id = ? AND source = ?", id, vodtype.SourceEmbedded).Delete(&subtitleRow{}).Error; err != nil {
			return err
		}
		for _, sub := range written.subs {
			if sub.Source == vodtype.SourceEmbedded {
				if err := tx.G.Create(&sub).Error; err != nil {
					return err
				}
			}
		}
		notes, _ := json.Marshal(append(r.notes(), p.Notes...))
		updates := map[string]any{
			"status": vodtype.StatusReady, "stage": "", "progress": 100, "error": "", "tracks": string(tracks),
			"media_prefix": p.Prefix, "base_mpd_key": p.BaseMPDKey, "poster_key": p.PosterKey,
			"storyboard_key": p.StoryboardKey, "mp4_key": p.MP4Key, "notes": string(notes),
			"duration_seconds": p.Duration, "available_seconds": p.Duration, "ready_at": now, "updated_at": now,
		}
		if err := tx.G.Model(&videoRow{}).Where("id = ?", id).Updates(updates).Error; err != nil {
			return err
		}
		if err := s.notifier.VideoEventTx(ctx, tx, "video.ready", notify.EventData{VideoID: id, Title: r.Title, OwnerID: r.OwnerID,
			Status: vodtype.StatusReady}); err != nil {
			return err
		}
		if err := s.index.VideoChangedTx(ctx, tx, id); err != nil {
			return err
		}
		return within(tx)
	})
	s.forget(id)
	return err
}

// writeManifests renders manifest.mpd and master.m3u8 for a state, and a one-cue HLS playlist per
// subtitle track. Their keys are fixed per generation, so writing again overwrites.
func (s *Catalog) writeManifests(ctx context.Context, m manifestState) error {
	if m.baseMPD == "" {
		return nil // not published yet: publishing will write them
	}
	rc, _, err := s.store.Get(ctx, m.baseMPD, 0, -1)
	if err != nil {
		return fmt.Errorf("read base mpd: %w", err)
	}
	base, err := io.ReadAll(io.LimitReader(rc, 4<<20))
	rc.Close()
	if err != nil {
		return err
	}
	var refs []subtitleRef
	for _, sub := range m.subs {
		rel, err := relPath(m.prefix, sub.ObjectKey)
		if err != nil {
			return err
		}
		refs = append(refs, subtitleRef{Lang: sub.Lang, Label: sub.Label, Path: rel})
		pl := subtitlePlaylist(path.Base(sub.ObjectKey), m.duration)
		plKey := strings.TrimSuffix(sub.ObjectKey, ".vtt") + ".m3u8"
		if err := s.put(ctx, plKey, pl, "application/vnd.apple.mpegurl"); err != nil {
			return err
		}
	}
	var tracks []vodtype.Track
	_ = json.Unmarshal([]byte(m.tracks), &tracks)
	if err := s.put(ctx, m.prefix+"manifest.mpd", buildMPD(base, tracks, refs), "application/dash+xml"); err != nil {
		return err
	}
	return s.put(ctx, m.prefix+"master.m3u8", hlsMaster(tracks, refs), "application/vnd.apple.mpegurl")
}

func (s *Catalog) put(ctx context.Context, key string, b []byte, contentType string) error {
	_, err := s.store.Put(ctx, key, bytes.NewReader(b), int64(len(b)), storage.PutOptions{ContentType: contentType, CacheControl: manifestCache})
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
func (s *Catalog) lockVideo(tx *db.Tx, id string) (*videoRow, error) {
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

func stateOf(r *videoRow, subs []subtitleRow) manifestState {
	return manifestState{prefix: r.MediaPrefix, baseMPD: r.BaseMPDKey, duration: r.DurationSeconds, tracks: r.Tracks, subs: subs}
}

// AddSubtitle stores a WebVTT track for a video (uploaded or translated). The track and the
// manifests that list it are written first, then the row commits if the manifests still match the
// video: the API never lists a track the manifests lack, and two tracks added at once both end up
// in them.
func (s *Catalog) AddSubtitle(ctx context.Context, videoID, lang, label, source string, vtt []byte) (*vodtype.SubtitleFile, error) {
	if _, err := s.row(ctx, videoID); err != nil {
		return nil, err
	}
	key := vodtype.SubtitleKey(videoID, lang)
	if err := s.put(ctx, key, vtt, "text/vtt; charset=utf-8"); err != nil {
		return nil, err
	}
	row := subtitleRow{VideoID: videoID, Lang: lang, Label: label, Source: source, ObjectKey: key, CreatedAt: time.Now().UTC()}
	plan := func(g *gorm.DB) (manifestState, error) {
		var r videoRow
		if err := g.Where("id = ?", videoID).Take(&r).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return manifestState{}, ErrNoVideo
			}
			return manifestState{}, err
		}
		current, err := s.subtitleRows(g, videoID)
		if err != nil {
			return manifestState{}, err
		}
		return stateOf(&r, withSub(current, row)), nil
	}
	err := s.settle(ctx, plan, func(tx *db.Tx, written manifestState) error {
		if _, err := s.lockVideo(tx, videoID); err != nil {
			return err
		}
		if now, err := plan(tx.G); err != nil {
			return err
		} else if !now.equal(written) {
			return errManifestRace
		}
		if err := tx.G.Where("video_id = ? AND lang = ?", videoID, lang).Delete(&subtitleRow{}).Error; err != nil {
			return err
		}
		if err := tx.G.Create(&row).Error; err != nil {
			return err
		}
		return s.index.VideoChangedTx(ctx, tx, videoID)
	})
	if err != nil {
		return nil, err
	}
	s.forget(videoID)
	return &vodtype.SubtitleFile{Lang: row.Lang, Label: row.Label, Source: row.Source, Key: row.ObjectKey}, nil
}

// AddSubtitleFile stores a track for another module (translations).
func (s *Catalog) AddSubtitleFile(ctx context.Context, videoID, lang, label, source string, vtt []byte) error {
	_, err := s.AddSubtitle(ctx, videoID, lang, label, source, vtt)
	return err
}

// SubtitleFiles lists a video's stored tracks (search, translation).
func (s *Catalog) SubtitleFiles(ctx context.Context, videoID string) ([]vodtype.SubtitleFile, error) {
	subs, err := s.subtitleRows(s.db.Gorm.WithContext(ctx), videoID)
	if err != nil {
		return nil, err
	}
	out := make([]vodtype.SubtitleFile, len(subs))
	for i, r := range subs {
		out[i] = vodtype.SubtitleFile{Lang: r.Lang, Label: r.Label, Source: r.Source, Key: r.ObjectKey}
	}
	return out, nil
}

// RemoveVideo deletes a video everywhere: its jobs, rows, stored objects and index entries.
func (s *Catalog) RemoveVideo(ctx context.Context, id string) error {
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
	s.forget(id)
	// Jobs are cancelled after the rows are gone, so that a running job told to stop finds its video
	// deleted and removes its work files (a job that misses the cancel stops at its next check).
	if err := s.jobs.CancelVideo(ctx, id); err != nil {
		s.log.Warn("cancel jobs of deleted video", "video", id, "err", err)
	}
	// Objects go after the rows: if this fails, the orphan sweeper finds objects without a video.
	if err := s.store.DeletePrefix(ctx, vodtype.VideoPrefix(id)); err != nil {
		s.log.Warn("delete objects of deleted video", "video", id, "err", err)
	}
	return nil
}

// VideoExists reports whether a video row exists (the orphan sweeper).
func (s *Catalog) VideoExists(ctx context.Context, id string) (bool, error) {
	var n int64
	err := s.db.Gorm.WithContext(ctx).Model(&videoRow{}).Where("id = ?", id).Count(&n).Error
	return n > 0, err
}

// View renders a video as the API shows it to its owner (upload's and transcode's responses).
func (s *Catalog) View(ctx context.Context, id string) (any, error) {
	r, err := s.row(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.render(ctx, r, true)
}

// SearchVideo returns what search indexes about a video (ErrNoVideo when deleted).
func (s *Catalog) SearchVideo(ctx context.Context, id string) (vodtype.SearchVideo, error) {
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
func (s *Catalog) VideoIDs(ctx context.Context, after string, limit int) ([]string, error) {
	var ids []string
	err := s.db.Gorm.WithContext(ctx).Model(&videoRow{}).Where("id > ?", after).Order("id").Limit(limit).Pluck("id", &ids).Error
	return ids, err
}

// Views renders videos for search results, keyed by id; missing ones are absent.
func (s *Catalog) Views(ctx context.Context, ids []string) (map[string]any, error) {
	var rows []videoRow
	if err := s.db.Gorm.WithContext(ctx).Where("id IN ?", ids).Find(&rows).Error; err != nil {
		return nil, err
	}
	subs, err := s.subs(ctx, ids...)
	if err != nil {
		return nil, err
	}
	out := make(map[string]any, len(rows))
	for i := range rows {
		out[rows[i].ID] = s.view(&rows[i], subs[rows[i].ID], false)
	}
	return out, nil
}

// AddNote records a remark on a video that is worth showing its owner but is not a failure.
func (s *Catalog) AddNote(ctx context.Context, id, note string) error {
	defer s.forget(id)
	return s.db.WithTx(ctx, func(tx *db.Tx) error {
		var r videoRow
		if err := tx.G.Where("id = ?", id).Take(&r).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return ErrNoVideo
			}
			return err
		}
		notes := r.notes()
		if slices.Contains(notes, note) {
			return nil
		}
		raw, _ := json.Marshal(append(notes, note))
		return tx.G.Model(&videoRow{}).Where("id = ?", id).Update("notes", string(raw)).Error
	})
}

// VideoAccess returns who owns a video and its visibility (authorisation in other modules).
func (s *Catalog) VideoAccess(ctx context.Context, id string) (ownerID, visibility string, err error) {
	r, err := s.row(ctx, id)
	if err != nil {
		return "", "", err
	}
	return r.OwnerID, r.Visibility, nil
}

func (s *Catalog) subs(ctx context.Context, ids ...string) (map[string][]subtitleRow, error) {
	out := map[string][]subtitleRow{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []subtitleRow
	if err := s.db.Gorm.WithContext(ctx).Where("video_id IN ?", ids).Order("lang").Find(&rows).Error; err != nil {
		return nil, err
	}
	for _, r := range rows {
		out[r.VideoID] = append(out[r.VideoID], r)
	}
	return out, nil
}

// RemoveOwnerVideos removes every video of a user (account deletion), as RemoveVideo does each.
func (s *Catalog) RemoveOwnerVideos(ctx context.Context, ownerID string) error {
	var ids []string
	if err := s.db.Gorm.WithContext(ctx).Model(&videoRow{}).Where("owner_id = ?", ownerID).Pluck("id", &ids).Error; err != nil {
		return err
	}
	for _, id := range ids {
		if err := s.RemoveVideo(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// PageMeta is what a link preview shows of a video; ok is false for private, unfinished or missing
// videos (nothing about them is said to strangers).
func (s *Catalog) PageMeta(ctx context.Context, id string) (vodtype.PageMeta, bool) {
	r, err := s.row(ctx, id)
	if err != nil || r.Visibility == vodtype.Private || r.Status != vodtype.StatusReady {
		return vodtype.PageMeta{}, false
	}
	v := s.view(r, nil, false)
	m := vodtype.PageMeta{ID: v.ID, Title: v.Title, Description: v.Description, Owner: v.Owner.Username,
		Width: v.Width, Height: v.Height, DurationSeconds: v.DurationSeconds}
	if v.Thumbnails.Poster != nil {
		m.Poster = *v.Thumbnails.Poster
	}
	return m, true
}
