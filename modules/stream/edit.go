package stream

import (
	"context"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"vod/app/db"
	"vod/app/vodtype"
)

// VideoInput is the editable part of a video; nil fields are left alone.
type VideoInput struct {
	Title       *string `json:"title"`
	Description *string `json:"description"`
	Visibility  *string `json:"visibility"`
	// Protection: changing it re-encodes the video (not while it is being processed).
	Protection *string `json:"protection"`
}

// ListQuery selects a page of videos, newest first.
type ListQuery struct {
	Owner         string // username; empty: everyone
	Status        string // only this status; empty: any
	OnlyPublished bool   // only ready, public videos
	Limit         int
	Cursor        string // from a previous page's NextCursor
	Sort          string // SortNewest (default) or SortViews
	NoSubtitles   bool   // skip reading subtitle tracks (admin listing)
	AsOwner       bool   // the caller owns every listed video, or is an admin
}

// List orders.
const (
	SortNewest = "newest"
	SortViews  = "views"
)

// VideoPage is a page of videos in the API's list shape.
type VideoPage struct {
	Items      []Video `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// render is the API view of a row with its subtitle tracks.
func (s *Catalog) render(ctx context.Context, r *videoRow, asOwner bool) (Video, error) {
	subs, err := s.subs(ctx, r.ID)
	if err != nil {
		return Video{}, err
	}
	v := s.view(r, subs[r.ID], asOwner)
	if waiting(r.Status) {
		n, err := s.jobs.QueuePosition(ctx, r.ID)
		if err != nil {
			return Video{}, err
		}
		v.QueuePosition = &n
	}
	return v, nil
}

// waiting: the statuses in which a video is in the processing queue.
func waiting(status string) bool {
	return status == vodtype.StatusQueued || status == vodtype.StatusProcessing
}

// List pages newest first by id (ids are UUIDv7, so id order is creation order), or most viewed
// first with id as the tie-break. The cursor is the last row's position, so pages stay stable while
// new videos arrive.
func (s *Catalog) List(ctx context.Context, lq ListQuery) (VideoPage, error) {
	q := s.db.Gorm.WithContext(ctx).Model(&videoRow{})
	byViews := lq.Sort == SortViews
	if lq.Cursor != "" {
		views, id, err := parseCursor(lq.Cursor, byViews)
		if err != nil {
			return VideoPage{}, vodtype.FieldErrors{"cursor": "is not a cursor this API returned"}
		}
		if byViews {
			q = q.Where("views < ? OR (views = ? AND id < ?)", views, views, id)
		} else {
			q = q.Where("id < ?", id)
		}
	}
	if lq.Owner != "" {
		q = q.Where("owner_username = ?", lq.Owner)
	}
	if lq.Status != "" {
		q = q.Where("status = ?", lq.Status)
	}
	if lq.OnlyPublished {
		q = q.Where("status = ? AND visibility = ?", vodtype.StatusReady, vodtype.Public)
	}
	var rows []videoRow
	if byViews {
		q = q.Order("views DESC")
	}
	if err := q.Order("id DESC").Limit(lq.Limit + 1).Find(&rows).Error; err != nil {
		return VideoPage{}, err
	}
	out := VideoPage{Items: []Video{}}
	if len(rows) > lq.Limit {
		rows = rows[:lq.Limit]
		last := rows[len(rows)-1]
		c := last.ID
		if byViews {
			c = strconv.FormatInt(last.Views, 10) + ":" + c
		}
		next := base64.RawURLEncoding.EncodeToString([]byte(c))
		out.NextCursor = &next
	}
	subs := map[string][]subtitleRow{}
	if !lq.NoSubtitles {
		ids := make([]string, len(rows))
		for i := range rows {
			ids[i] = rows[i].ID
		}
		var err error
		if subs, err = s.subs(ctx, ids...); err != nil {
			return VideoPage{}, err
		}
	}
	for i := range rows {
		out.Items = append(out.Items, s.view(&rows[i], subs[rows[i].ID], lq.AsOwner))
	}
	return out, nil
}

// parseCursor reads a cursor of List: "id", or "views:id" when listing by views.
func parseCursor(cursor string, byViews bool) (int64, string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return 0, "", err
	}
	id, views := string(raw), int64(0)
	if byViews {
		v, rest, ok := strings.Cut(id, ":")
		if !ok {
			return 0, "", errors.New("no views in cursor")
		}
		if views, err = strconv.ParseInt(v, 10, 64); err != nil {
			return 0, "", err
		}
		id = rest
	}
	if _, err := uuid.Parse(id); err != nil {
		return 0, "", err
	}
	return views, id, nil
}

// Update edits a video's title, description and visibility; FieldErrors when a value is invalid.
//
// A change of protection applies to the next encode: a finished video is processed again, in the
// same transaction (reprocess, from the pipeline), a video not yet probed simply takes it, and one
// being encoded answers ErrBusy.
func (s *Catalog) Update(ctx context.Context, id string, in VideoInput, reprocess func(ctx context.Context, tx *db.Tx, v vodtype.PipelineVideo) error) (Video, error) {
	f := vodtype.ValidateFields(in.Title, in.Description, in.Visibility)
	if in.Protection != nil && !vodtype.ValidProtection(*in.Protection) {
		f["protection"] = vodtype.ProtectionMessage
	}
	if len(f) > 0 {
		return Video{}, f
	}
	upd := map[string]any{"updated_at": time.Now().UTC()}
	if in.Title != nil {
		upd["title"] = *in.Title
	}
	if in.Description != nil {
		upd["description"] = *in.Description
	}
	if in.Visibility != nil {
		upd["visibility"] = *in.Visibility
	}
	err := s.db.WithTx(ctx, func(tx *db.Tx) error {
		r, err := s.lockVideo(tx, id)
		if err != nil {
			return err
		}
		again := in.Protection != nil && *in.Protection != r.protection()
		if again {
			upd["protection"] = *in.Protection
			if r.Status == vodtype.StatusProcessing {
				return ErrBusy
			}
		}
		if err := tx.G.Model(&videoRow{}).Where("id = ?", id).Updates(upd).Error; err != nil {
			return err
		}
		if again && (r.Status == vodtype.StatusReady || r.Status == vodtype.StatusFailed) {
			v := vodtype.PipelineVideo{ID: r.ID, Status: r.Status, SourceKey: r.SourceKey, OwnerID: r.OwnerID, Visibility: r.Visibility, Protection: *in.Protection}
			if err := reprocess(ctx, tx, v); err != nil {
				return err
			}
		}
		return s.index.VideoChangedTx(ctx, tx, id)
	})
	s.forget(id)
	if err != nil {
		return Video{}, err
	}
	r, err := s.row(ctx, id)
	if err != nil {
		return Video{}, err
	}
	return s.render(ctx, r, true)
}

// UploadSubtitle validates an uploaded SRT or WebVTT file and stores it as the video's track for
// lang; InvalidSubtitlesError when the file cannot be read.
func (s *Catalog) UploadSubtitle(ctx context.Context, r *videoRow, filename, lang, label string, raw []byte) (Subtitle, error) {
	vtt, err := ToWebVTT(filename, raw)
	if err != nil {
		return Subtitle{}, &InvalidSubtitlesError{Reason: err.Error()}
	}
	lang = canonicalLang(lang)
	if label == "" {
		label = vodtype.LanguageLabel(lang)
	}
	f, err := s.AddSubtitle(ctx, r.ID, lang, label, vodtype.SourceUploaded, vtt)
	if err != nil {
		return Subtitle{}, err
	}
	return Subtitle{Lang: f.Lang, Label: f.Label, Source: f.Source, URL: s.mediaBase(r) + f.Key}, nil
}

// canonicalLang lower-cases the language and upper-cases a region: pt-br -> pt-BR.
func canonicalLang(tag string) string {
	parts := strings.Split(tag, "-")
	parts[0] = strings.ToLower(parts[0])
	for i := 1; i < len(parts); i++ {
		if len(parts[i]) == 2 {
			parts[i] = strings.ToUpper(parts[i])
		} else {
			parts[i] = strings.ToLower(parts[i])
		}
	}
	return strings.Join(parts, "-")
}

// Progress returns the processing stage and progress of videos (the admin jobs list).
func (s *Catalog) Progress(ctx context.Context, ids []string) (map[string]vodtype.Progress, error) {
	var rows []videoRow
	if err := s.db.Gorm.WithContext(ctx).Select("id", "stage", "progress").Where("id IN ?", ids).Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make(map[string]vodtype.Progress, len(rows))
	for _, r := range rows {
		out[r.ID] = vodtype.Progress{Stage: r.Stage, Progress: r.Progress}
	}
	return out, nil
}
