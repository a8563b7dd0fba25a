package stream

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"vod/app/db"
	"vod/app/httpx"
	"vod/app/vodtype"
)

// Routes mounts the video API under g (/api/v1) and media delivery on root.
func (s *Service) Routes(root *echo.Echo, g *echo.Group) {
	g.GET("/videos", s.handleList, s.guards.OptionalUser)
	g.GET("/videos/:id", s.handleGet, s.guards.OptionalUser)
	g.PATCH("/videos/:id", s.handlePatch, s.guards.RequireUser)
	g.DELETE("/videos/:id", s.handleDelete, s.guards.RequireUser)
	g.GET("/videos/:id/events", s.handleEvents, s.guards.OptionalUser)
	g.POST("/videos/:id/subtitles", s.handleAddSubtitle, s.guards.RequireUser)
	g.POST("/videos/:id/reprocess", s.handleReprocess, s.guards.RequireUser)
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodOptions} {
		root.Add(m, "/media/*", s.handleMedia)
	}
}

// visible loads a video the caller may see, or 404.
func (s *Service) visible(c echo.Context) (*videoRow, error) {
	id := c.Param("id")
	if _, err := uuid.Parse(id); err != nil {
		return nil, errNotFound
	}
	r, err := s.row(c.Request().Context(), id)
	if errors.Is(err, ErrNoVideo) {
		return nil, errNotFound
	} else if err != nil {
		return nil, err
	}
	caller, ok := httpx.CallerFrom(c)
	if !canSee(r, caller, ok) {
		return nil, errNotFound
	}
	return r, nil
}

func (s *Service) editable(c echo.Context) (*videoRow, error) {
	r, err := s.visible(c)
	if err != nil {
		return nil, err
	}
	caller, ok := httpx.CallerFrom(c)
	if !canEdit(r, caller, ok) {
		return nil, errForbidden
	}
	return r, nil
}

func (s *Service) subs(ctx context.Context, ids ...string) (map[string][]subtitleRow, error) {
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

// VideoViews renders videos for another module (search results); missing ones are absent.
func (s *Service) VideoViews(ctx context.Context, ids []string) (map[string]Video, error) {
	var rows []videoRow
	if err := s.db.Gorm.WithContext(ctx).Where("id IN ?", ids).Find(&rows).Error; err != nil {
		return nil, err
	}
	subs, err := s.subs(ctx, ids...)
	if err != nil {
		return nil, err
	}
	out := map[string]Video{}
	for i := range rows {
		out[rows[i].ID] = s.view(&rows[i], subs[rows[i].ID])
	}
	return out, nil
}

// handleGet answers viewers of public and unlisted videos from a short-lived cache of the rendered
// JSON: a popular video's page and every player ask for it. Owners, admins and private videos always
// read the database; local edits drop the entry at once, other processes' edits within viewTTL.
func (s *Service) handleGet(c echo.Context) error {
	id := c.Param("id")
	caller, authed := httpx.CallerFrom(c)
	if !authed {
		if body, ok := s.cachedView(id); ok {
			return c.JSONBlob(http.StatusOK, body)
		}
	}
	r, err := s.visible(c)
	if err != nil {
		return err
	}
	subs, err := s.subs(c.Request().Context(), r.ID)
	if err != nil {
		return err
	}
	body, err := json.Marshal(map[string]any{"video": s.view(r, subs[r.ID])})
	if err != nil {
		return err
	}
	if r.Visibility != vodtype.Private && r.Status == vodtype.StatusReady && (!authed || caller.ID != r.OwnerID) {
		s.cacheView(id, body)
	}
	return c.JSONBlob(http.StatusOK, body)
}

// handleList pages newest first by id: ids are UUIDv7, so id order is creation order and the cursor
// (the last id seen) stays stable while new videos arrive.
func (s *Service) handleList(c echo.Context) error {
	page, err := httpx.ParsePage(c)
	if err != nil {
		return err
	}
	q := s.db.Gorm.WithContext(c.Request().Context()).Model(&videoRow{})
	if page.Cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(page.Cursor)
		if _, perr := uuid.Parse(string(raw)); err != nil || perr != nil {
			return httpx.Validation(map[string]string{"cursor": "is not a cursor this API returned"})
		}
		q = q.Where("id < ?", string(raw))
	}
	caller, ok := httpx.CallerFrom(c)
	owner := strings.ToLower(c.QueryParam("owner"))
	if owner != "" {
		q = q.Where("owner_username = ?", owner)
	}
	if !(owner != "" && ok && (caller.Username == owner || caller.Admin)) {
		q = q.Where("status = ? AND visibility = ?", vodtype.StatusReady, vodtype.Public)
	}
	var rows []videoRow
	if err := q.Order("id DESC").Limit(page.Limit + 1).Find(&rows).Error; err != nil {
		return err
	}
	out := httpx.List[Video]{Items: []Video{}}
	if len(rows) > page.Limit {
		rows = rows[:page.Limit]
		next := base64.RawURLEncoding.EncodeToString([]byte(rows[len(rows)-1].ID))
		out.NextCursor = &next
	}
	ids := make([]string, len(rows))
	for i := range rows {
		ids[i] = rows[i].ID
	}
	subs, err := s.subs(c.Request().Context(), ids...)
	if err != nil {
		return err
	}
	for i := range rows {
		out.Items = append(out.Items, s.view(&rows[i], subs[rows[i].ID]))
	}
	return c.JSON(http.StatusOK, out)
}

// VideoInput is the editable part of a video; nil fields are left alone.
type VideoInput struct {
	Title       *string `json:"title"`
	Description *string `json:"description"`
	Visibility  *string `json:"visibility"`
}

func (s *Service) handlePatch(c echo.Context) error {
	r, err := s.editable(c)
	if err != nil {
		return err
	}
	var in VideoInput
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	if f := vodtype.ValidateFields(in.Title, in.Description, in.Visibility); len(f) > 0 {
		return httpx.Validation(f)
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
	ctx := c.Request().Context()
	err = s.db.WithTx(ctx, func(tx *db.Tx) error {
		if err := tx.G.Model(&videoRow{}).Where("id = ?", r.ID).Updates(upd).Error; err != nil {
			return err
		}
		return s.index.VideoChangedTx(ctx, tx, r.ID)
	})
	if err != nil {
		return err
	}
	s.forgetVisibility(r.ID)
	r, err = s.row(ctx, r.ID)
	if err != nil {
		return err
	}
	subs, err := s.subs(ctx, r.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"video": s.view(r, subs[r.ID])})
}

func (s *Service) handleDelete(c echo.Context) error {
	r, err := s.editable(c)
	if err != nil {
		return err
	}
	if err := s.RemoveVideo(c.Request().Context(), r.ID); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Service) handleReprocess(c echo.Context) error {
	r, err := s.editable(c)
	if err != nil {
		return err
	}
	if r.Status != vodtype.StatusReady && r.Status != vodtype.StatusFailed {
		return errBusy
	}
	ctx := c.Request().Context()
	if _, err := s.store.Stat(ctx, r.SourceKey); err != nil {
		return httpx.E(http.StatusConflict, "source_missing", "the original upload is no longer stored, so the video cannot be processed again")
	}
	err = s.db.WithTx(ctx, func(tx *db.Tx) error {
		res := tx.G.Model(&videoRow{}).Where("id = ? AND generation = ?", r.ID, r.Generation).Updates(map[string]any{
			"generation": r.Generation + 1, "status": vodtype.StatusQueued, "stage": "", "progress": 0, "error": "",
			"updated_at": time.Now().UTC(),
		})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return errBusy
		}
		if err := s.index.VideoChangedTx(ctx, tx, r.ID); err != nil {
			return err
		}
		return s.pipeline.EnqueueTx(ctx, tx, r.ID, r.Generation+1)
	})
	if err != nil {
		return err
	}
	s.forgetVisibility(r.ID)
	r, err = s.row(ctx, r.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]any{"video": s.view(r, nil)})
}

type statusEvent struct {
	ID       string  `json:"id"`
	Status   string  `json:"status"`
	Stage    string  `json:"stage"`
	Progress int     `json:"progress"`
	Error    *string `json:"error"`
}

// handleEvents streams the video's status as server-sent events until it is ready or failed. It
// polls the database, so it works whichever process runs the job.
func (s *Service) handleEvents(c echo.Context) error {
	r, err := s.visible(c)
	if err != nil {
		return err
	}
	w := c.Response()
	w.Header().Set(echo.HeaderContentType, "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	ctx := c.Request().Context()
	var last statusEvent
	tick := time.NewTicker(s.cfg.EventPoll)
	defer tick.Stop()
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	first := true
	for {
		ev := statusEvent{ID: r.ID, Status: r.Status, Stage: r.Stage, Progress: r.Progress}
		if r.Error != "" {
			ev.Error = ptr(r.Error)
		}
		if first || ev.Status != last.Status || ev.Stage != last.Stage || ev.Progress != last.Progress {
			b, _ := json.Marshal(ev)
			if _, err := fmt.Fprintf(w, "event: status\ndata: %s\n\n", b); err != nil {
				return nil
			}
			w.Flush()
			last, first = ev, false
		}
		if ev.Status == vodtype.StatusReady || ev.Status == vodtype.StatusFailed {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.stop:
			return nil
		case <-keepalive.C:
			if _, err := io.WriteString(w, ": keepalive\n\n"); err != nil {
				return nil
			}
			w.Flush()
		case <-tick.C:
		}
		nr, err := s.row(ctx, r.ID)
		if errors.Is(err, ErrNoVideo) {
			fmt.Fprintf(w, "event: deleted\ndata: {\"id\":%q}\n\n", r.ID)
			w.Flush()
			return nil
		} else if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			continue
		}
		r = nr
	}
}

const maxSubtitleBytes = 2 << 20

func (s *Service) handleAddSubtitle(c echo.Context) error {
	r, err := s.editable(c)
	if err != nil {
		return err
	}
	req := c.Request()
	req.Body = http.MaxBytesReader(c.Response(), req.Body, maxSubtitleBytes+64<<10)
	if err := req.ParseMultipartForm(maxSubtitleBytes + 64<<10); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return httpx.E(http.StatusRequestEntityTooLarge, "too_large", "subtitle files may be at most 2 MiB")
		}
		return httpx.E(http.StatusBadRequest, "bad_request", "expected a multipart form with file, lang and label")
	}
	defer req.MultipartForm.RemoveAll()
	lang := strings.TrimSpace(req.FormValue("lang"))
	label := strings.TrimSpace(req.FormValue("label"))
	f := map[string]string{}
	if !vodtype.ValidLanguage(lang) {
		f["lang"] = "must be a BCP 47 language tag such as en or pt-BR"
	}
	if utf8.RuneCountInString(label) > 100 {
		f["label"] = "must be at most 100 characters"
	}
	file, hdr, err := req.FormFile("file")
	if err != nil {
		f["file"] = "is required"
	}
	if len(f) > 0 {
		return httpx.Validation(f)
	}
	defer file.Close()
	raw, err := io.ReadAll(io.LimitReader(file, maxSubtitleBytes+1))
	if err != nil {
		return err
	}
	if len(raw) > maxSubtitleBytes {
		return httpx.E(http.StatusRequestEntityTooLarge, "too_large", "subtitle files may be at most 2 MiB")
	}
	vtt, err := ToWebVTT(hdr.Filename, raw)
	if err != nil {
		return httpx.E(http.StatusUnprocessableEntity, "invalid_subtitles", err.Error())
	}
	lang = canonicalLang(lang)
	if label == "" {
		label = vodtype.LanguageLabel(lang)
	}
	row, err := s.AddSubtitle(req.Context(), r.ID, lang, label, vodtype.SourceUploaded, vtt)
	if err != nil {
		return err
	}
	base := s.mediaBase(r)
	return c.JSON(http.StatusCreated, map[string]any{"subtitle": Subtitle{Lang: row.Lang, Label: row.Label, Source: row.Source, URL: base + row.ObjectKey}})
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

// AdminRoutes mounts the all-videos listing under g (/api/v1/admin), for admins only.
func (s *Service) AdminRoutes(g *echo.Group) {
	g.GET("/videos", s.handleAdminList, s.guards.RequireAdmin)
}

// handleAdminList lists every video of every user in every state, newest first (?status= filters).
func (s *Service) handleAdminList(c echo.Context) error {
	page, err := httpx.ParsePage(c)
	if err != nil {
		return err
	}
	q := s.db.Gorm.WithContext(c.Request().Context()).Model(&videoRow{}).Order("id DESC").Limit(page.Limit + 1)
	if page.Cursor != "" {
		q = q.Where("id < ?", page.Cursor)
	}
	if st := c.QueryParam("status"); st != "" {
		q = q.Where("status = ?", st)
	}
	var rows []videoRow
	if err := q.Find(&rows).Error; err != nil {
		return err
	}
	out := httpx.List[Video]{Items: []Video{}}
	if len(rows) > page.Limit {
		rows = rows[:page.Limit]
		next := rows[len(rows)-1].ID
		out.NextCursor = &next
	}
	for i := range rows {
		out.Items = append(out.Items, s.view(&rows[i], nil))
	}
	return c.JSON(http.StatusOK, out)
}
