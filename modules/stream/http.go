package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"vod/app/db"
	"vod/app/httpx"
	"vod/app/vodtype"
)

// API is the video API: reading, listing, editing and deleting videos, their processing events and
// their subtitle tracks.
type API struct {
	catalog  *Catalog
	pipeline Pipeline
	stopOnce sync.Once
	stop     chan struct{}
}

// Pipeline starts a video's next generation inside the caller's transaction (implemented by
// transcode): changing a video's protection re-encodes it.
type Pipeline interface {
	ReprocessTx(ctx context.Context, tx *db.Tx, v vodtype.PipelineVideo) error
}

// NewAPI builds the handlers over the catalog.
func NewAPI(catalog *Catalog, pipeline Pipeline) *API {
	return &API{catalog: catalog, pipeline: pipeline, stop: make(chan struct{})}
}

// Shutdown ends long-lived responses (event streams) so that the HTTP server can drain.
func (a *API) Shutdown() { a.stopOnce.Do(func() { close(a.stop) }) }

// httpError is the module's one map from domain errors to HTTP.
func httpError(err error) error {
	var inv *InvalidSubtitlesError
	var img *InvalidImageError
	switch {
	case errors.As(err, &img):
		return httpx.E(http.StatusUnprocessableEntity, "invalid_image", img.Reason)
	case errors.Is(err, ErrPosterTooBig):
		return httpx.E(http.StatusRequestEntityTooLarge, "too_large", "thumbnails may be at most 10 MiB")
	case errors.Is(err, ErrNoVideo):
		return httpx.NotFound("video")
	case errors.Is(err, ErrNoMedia):
		return httpx.NotFound("media")
	case errors.Is(err, ErrForbidden):
		return httpx.E(http.StatusForbidden, "forbidden", "only the owner or an admin may do this")
	case errors.Is(err, ErrNoKey):
		return httpx.E(http.StatusNotFound, "key_not_found", "the video is not protected, or has none of these keys")
	case errors.Is(err, vodtype.ErrSourceMissing):
		return httpx.E(http.StatusConflict, "source_missing", "the original upload is no longer stored, so the video cannot be processed again")
	case errors.Is(err, ErrBusy):
		return httpx.E(http.StatusConflict, "video_busy", "the video is still being processed")
	case errors.As(err, &inv):
		return httpx.E(http.StatusUnprocessableEntity, "invalid_subtitles", inv.Reason)
	}
	return err
}

var (
	videoBody = httpx.Object(nil, httpx.Obj{"video": httpx.Ref("Video")})
	errTooBig = httpx.E(http.StatusRequestEntityTooLarge, "too_large", "subtitle files may be at most 2 MiB")
)

// Routes declares the video API (under /api/v1) and the admin listing.
func (a *API) Routes(root *httpx.Router) {
	r := root.WithErrors(httpError)
	id := []httpx.Obj{httpx.VideoIDParam}
	r.Add(
		httpx.Route{Method: http.MethodGet, Path: "/api/v1/videos", Handler: a.handleList, Auth: httpx.Optional, Limit: httpx.LimitAPI,
			Doc: httpx.Doc{Tag: "videos", Summary: "List videos (ready and public; owners see all of theirs)",
				Params: append([]httpx.Obj{httpx.QueryParam("owner", "username", httpx.StrType),
					httpx.QueryParam("sort", "newest first (default) or most viewed first", httpx.Obj{"type": "string", "enum": []string{SortNewest, SortViews}}),
					httpx.QueryParam("visibility", "public: only what everyone sees, also for the owner (a channel page)", httpx.Obj{"type": "string", "enum": []string{vodtype.Public}})}, httpx.Paging...),
				Responses: httpx.Obj{"200": httpx.Resp("page", httpx.Ref("VideoList")), "422": httpx.ErrResp("bad cursor, limit, sort or visibility")}}},
		httpx.Route{Method: http.MethodGet, Path: "/api/v1/videos/:id", Handler: a.handleGet, Auth: httpx.Optional, Limit: httpx.LimitAPI,
			Doc: httpx.Doc{Tag: "videos", Summary: "A video with its playback URLs", Params: append(append([]httpx.Obj{}, id...),
				httpx.QueryParam("token", "signed playback token of a private video (an embed's; the token in its playback URLs)", httpx.StrType)),
				Responses: httpx.Obj{"200": httpx.Resp("video", videoBody), "404": httpx.ErrResp("not found or not visible")}}},
		httpx.Route{Method: http.MethodPatch, Path: "/api/v1/videos/:id", Handler: a.handlePatch, Auth: httpx.User, Limit: httpx.LimitMetadata,
			Doc: httpx.Doc{Tag: "videos", Summary: "Edit title, description, visibility (owner or admin)", Params: id,
				Body: httpx.JSONBody(httpx.Object(nil, httpx.Obj{"title": httpx.StrType, "description": httpx.StrType, "visibility": httpx.StrType, "protection": httpx.Obj{"type": "string", "enum": []string{"none", "clearkey"}, "description": "changing it processes the video again"}})),
				Responses: httpx.Obj{"200": httpx.Resp("video", videoBody), "403": httpx.ErrResp("not yours"), "404": httpx.ErrResp("not found"),
					"422": httpx.ErrResp("invalid fields")}}},
		httpx.Route{Method: http.MethodDelete, Path: "/api/v1/videos/:id", Handler: a.handleDelete, Auth: httpx.User, Limit: httpx.LimitAPI,
			Doc: httpx.Doc{Tag: "videos", Summary: "Delete a video everywhere (owner or admin)", Params: id,
				Responses: httpx.Obj{"204": httpx.NoBody("deleted"), "403": httpx.ErrResp("not yours"), "404": httpx.ErrResp("not found")}}},
		httpx.Route{Method: http.MethodGet, Path: "/api/v1/videos/:id/source", Handler: a.handleSource, Auth: httpx.User, Limit: httpx.LimitAPI,
			Doc: httpx.Doc{Tag: "videos", Summary: "A short-lived link to download the original upload (owner or admin)", Params: id,
				Responses: httpx.Obj{"200": httpx.Resp("link", httpx.Ref("SourceLink")), "401": httpx.ErrResp("not logged in"),
					"403": httpx.ErrResp("not the owner"), "404": httpx.ErrResp("no such video, or no validated source")}}},
		httpx.Route{Method: http.MethodGet, Path: "/api/v1/videos/:id/source/:token", Handler: a.handleSourceDownload, Limit: httpx.LimitAPI,
			Doc: httpx.Doc{Tag: "videos", Summary: "Download the original upload through a signed link (attachment)",
				Params: []httpx.Obj{httpx.VideoIDParam, httpx.PathParam("token", "the signature from the link")},
				Responses: httpx.Obj{"200": httpx.Content("the file", "application/octet-stream", httpx.StrType), "206": httpx.NoBody("a byte range"),
					"404": httpx.ErrResp("expired or bad link, or no such file")}}},
		httpx.Route{Method: http.MethodGet, Path: "/api/v1/videos/:id/events", Handler: a.handleEvents, Auth: httpx.Optional, Limit: httpx.LimitAPI,
			Doc: httpx.Doc{Tag: "videos", Summary: "Processing status as server-sent events until ready or failed", Params: id,
				Responses: httpx.Obj{"200": httpx.Content("event stream", "text/event-stream", httpx.StrType), "404": httpx.ErrResp("not found")}}},
		httpx.Route{Method: http.MethodPost, Path: "/api/v1/videos/:id/subtitles", Handler: a.handleAddSubtitle, Auth: httpx.User, Limit: httpx.LimitMetadata,
			Doc: httpx.Doc{Tag: "videos", Summary: "Add a subtitle track (.srt or .vtt)", Params: id,
				Body: httpx.Multipart([]string{"file", "lang"}, httpx.Obj{"file": httpx.Obj{"type": "string", "format": "binary"}, "lang": httpx.StrType, "label": httpx.StrType}),
				Responses: httpx.Obj{"201": httpx.Resp("track", httpx.Object(nil, httpx.Obj{"subtitle": httpx.Ref("Subtitle")})),
					"403": httpx.ErrResp("not yours"), "404": httpx.ErrResp("not found"), "413": httpx.ErrResp("over 2 MiB"), "422": httpx.ErrResp("invalid track")}}},
		httpx.Route{Method: http.MethodPost, Path: "/api/v1/videos/:id/views", Handler: a.handleView, Auth: httpx.Optional, Limit: httpx.LimitMetadata,
			Doc: httpx.Doc{Tag: "videos", Summary: "Count a view (the player calls it after a few seconds of playback; once per viewer and day)", Params: id,
				Responses: httpx.Obj{"200": httpx.Resp("the count", httpx.Ref("ViewCount")), "404": httpx.ErrResp("not found or not visible")}}},
		httpx.Route{Method: http.MethodPut, Path: "/api/v1/videos/:id/poster", Handler: a.handleSetPoster, Auth: httpx.User, Limit: httpx.LimitMetadata,
			Doc: httpx.Doc{Tag: "videos", Summary: "Set a custom thumbnail (JPEG or PNG, at most 10 MiB and 40 megapixels; stored re-encoded as a JPEG of at most 1920x1080)", Params: id,
				Body: httpx.Obj{"required": true, "content": httpx.Obj{
					"image/jpeg": httpx.Obj{"schema": httpx.Obj{"type": "string", "format": "binary"}},
					"image/png":  httpx.Obj{"schema": httpx.Obj{"type": "string", "format": "binary"}}}},
				Responses: httpx.Obj{"200": httpx.Resp("video", videoBody), "403": httpx.ErrResp("not yours"), "404": httpx.ErrResp("not found"),
					"413": httpx.ErrResp("over 10 MiB"), "415": httpx.ErrResp("not image/jpeg or image/png"), "422": httpx.ErrResp("not a usable image")}}},
		httpx.Route{Method: http.MethodDelete, Path: "/api/v1/videos/:id/poster", Handler: a.handleClearPoster, Auth: httpx.User, Limit: httpx.LimitMetadata,
			Doc: httpx.Doc{Tag: "videos", Summary: "Go back to the generated thumbnail", Params: id,
				Responses: httpx.Obj{"200": httpx.Resp("video", videoBody), "403": httpx.ErrResp("not yours"), "404": httpx.ErrResp("not found")}}},
		httpx.Route{Method: http.MethodGet, Path: "/api/v1/admin/videos", Handler: a.handleAdminList, Auth: httpx.Admin, Limit: httpx.LimitAPI,
			Doc: httpx.Doc{Tag: "admin", Summary: "Every video of every user",
				Params:    append([]httpx.Obj{httpx.QueryParam("status", "filter by status", httpx.StrType)}, httpx.Paging...),
				Responses: httpx.Obj{"200": httpx.Resp("page", httpx.Ref("VideoList")), "403": httpx.ErrResp("admins only")}}},
	)
}

// visible loads a video the caller may see, or ErrNoVideo.
func (a *API) visible(c echo.Context) (*videoRow, error) {
	id := c.Param("id")
	if _, err := uuid.Parse(id); err != nil {
		return nil, ErrNoVideo
	}
	r, err := a.catalog.row(c.Request().Context(), id)
	if err != nil {
		return nil, err
	}
	caller, ok := httpx.CallerFrom(c)
	if !canSee(r, caller, ok) && !a.catalog.tokenFor(c.QueryParam("token"), id) {
		return nil, ErrNoVideo
	}
	return r, nil
}

func (a *API) editable(c echo.Context) (*videoRow, error) {
	r, err := a.visible(c)
	if err != nil {
		return nil, err
	}
	caller, ok := httpx.CallerFrom(c)
	if !canEdit(r, caller, ok) {
		return nil, ErrForbidden
	}
	return r, nil
}

// canSee: private videos only for their owner and admins.
func canSee(r *videoRow, c httpx.Caller, ok bool) bool {
	return r.Visibility != vodtype.Private || (ok && (c.ID == r.OwnerID || c.Admin))
}

func canEdit(r *videoRow, c httpx.Caller, ok bool) bool {
	return ok && (c.ID == r.OwnerID || c.Admin)
}

// handleGet answers viewers of public and unlisted videos, logged in or not, from a short-lived cache
// of the rendered JSON: a popular video's page and every player ask for it. Owners, admins and
// private videos always read the database; local edits drop the entry at once, other processes'
// edits within viewTTL.
func (a *API) handleGet(c echo.Context) error {
	id := c.Param("id")
	caller, authed := httpx.CallerFrom(c)
	if body, owner, ok := a.catalog.cachedView(id); ok && (!authed || (caller.ID != owner && !caller.Admin)) {
		return c.JSONBlob(http.StatusOK, body)
	}
	r, err := a.visible(c)
	if err != nil {
		return err
	}
	v, err := a.catalog.render(c.Request().Context(), r, authed && (caller.ID == r.OwnerID || caller.Admin))
	if err != nil {
		return err
	}
	body, err := json.Marshal(map[string]any{"video": v})
	if err != nil {
		return err
	}
	if r.Visibility != vodtype.Private && r.Status == vodtype.StatusReady && (!authed || (caller.ID != r.OwnerID && !caller.Admin)) {
		a.catalog.cacheView(id, r.OwnerID, body)
	}
	return c.JSONBlob(http.StatusOK, body)
}

func (a *API) handleList(c echo.Context) error {
	page, err := httpx.ParsePage(c)
	if err != nil {
		return err
	}
	caller, ok := httpx.CallerFrom(c)
	owner := strings.ToLower(c.QueryParam("owner"))
	sort := c.QueryParam("sort")
	if sort != "" && sort != SortNewest && sort != SortViews {
		return httpx.Validation(map[string]string{"sort": "must be newest or views"})
	}
	vis := c.QueryParam("visibility")
	if vis != "" && vis != vodtype.Public {
		return httpx.Validation(map[string]string{"visibility": "may only be public"})
	}
	mine := owner != "" && ok && (caller.Username == owner || caller.Admin)
	q := ListQuery{Owner: owner, Limit: page.Limit, Cursor: page.Cursor, Sort: sort, AsOwner: mine,
		OnlyPublished: vis == vodtype.Public || !mine}
	out, err := a.catalog.List(c.Request().Context(), q)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

func (a *API) handleAdminList(c echo.Context) error {
	page, err := httpx.ParsePage(c)
	if err != nil {
		return err
	}
	out, err := a.catalog.List(c.Request().Context(), ListQuery{Limit: page.Limit, Cursor: page.Cursor, Status: c.QueryParam("status"), NoSubtitles: true, AsOwner: true})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

func (a *API) handlePatch(c echo.Context) error {
	r, err := a.editable(c)
	if err != nil {
		return err
	}
	var in VideoInput
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	v, err := a.catalog.Update(c.Request().Context(), r.ID, in, a.pipeline.ReprocessTx)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"video": v})
}

func (a *API) handleDelete(c echo.Context) error {
	r, err := a.editable(c)
	if err != nil {
		return err
	}
	if err := a.catalog.RemoveVideo(c.Request().Context(), r.ID); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

type statusEvent struct {
	ID       string  `json:"id"`
	Status   string  `json:"status"`
	Stage    string  `json:"stage"`
	Progress int     `json:"progress"`
	Error    *string `json:"error"`
	// AvailableSeconds grows while the video processes (watchable from the first seconds).
	AvailableSeconds float64 `json:"available_seconds"`
	// QueuePosition: videos processed before this one (0: being processed).
	QueuePosition *int `json:"queue_position,omitempty"`
}

// handleEvents streams the video's status as server-sent events until it is ready or failed. It
// polls the database, so it works whichever process runs the job.
func (a *API) handleEvents(c echo.Context) error {
	r, err := a.visible(c)
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
	tick := time.NewTicker(a.catalog.cfg.EventPoll)
	defer tick.Stop()
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	first := true
	for {
		ev := statusEvent{ID: r.ID, Status: r.Status, Stage: r.Stage, Progress: r.Progress, AvailableSeconds: r.available()}
		if r.Error != "" {
			ev.Error = ptr(r.Error)
		}
		if waiting(r.Status) {
			if n, err := a.catalog.jobs.QueuePosition(ctx, r.ID); err == nil {
				ev.QueuePosition = &n
			}
		}
		if first || !sameEvent(ev, last) {
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
		case <-a.stop:
			return nil
		case <-keepalive.C:
			if _, err := io.WriteString(w, ": keepalive\n\n"); err != nil {
				return nil
			}
			w.Flush()
		case <-tick.C:
		}
		nr, err := a.catalog.row(ctx, r.ID)
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

func (a *API) handleAddSubtitle(c echo.Context) error {
	r, err := a.editable(c)
	if err != nil {
		return err
	}
	req := c.Request()
	req.Body = http.MaxBytesReader(c.Response(), req.Body, maxSubtitleBytes+64<<10)
	if err := req.ParseMultipartForm(maxSubtitleBytes + 64<<10); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errTooBig
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
	} else if vodtype.HasControl(label, false) {
		f["label"] = vodtype.ControlMessage
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
		return errTooBig
	}
	sub, err := a.catalog.UploadSubtitle(req.Context(), r, hdr.Filename, lang, label, raw)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]any{"subtitle": sub})
}

// handleView counts the caller as a viewer of a video that can be watched. The caller is their user
// id when logged in, else their address and browser; the catalog keeps only a salted hash.
func (a *API) handleView(c echo.Context) error {
	r, err := a.visible(c)
	if err != nil {
		return err
	}
	out := map[string]any{"views": r.Views, "counted": false}
	if r.Status != vodtype.StatusReady && r.available() <= 0 {
		return c.JSON(http.StatusOK, out) // nothing to watch yet: nothing to count
	}
	viewer := "ip:" + c.RealIP() + "|" + c.Request().UserAgent()
	if caller, ok := httpx.CallerFrom(c); ok {
		viewer = "user:" + caller.ID
	}
	n, counted, err := a.catalog.RecordView(c.Request().Context(), r, viewer)
	if err != nil {
		return err
	}
	out["views"], out["counted"] = n, counted
	return c.JSON(http.StatusOK, out)
}

func (a *API) handleSetPoster(c echo.Context) error {
	r, err := a.editable(c)
	if err != nil {
		return err
	}
	switch ct, _, _ := strings.Cut(c.Request().Header.Get(echo.HeaderContentType), ";"); strings.TrimSpace(strings.ToLower(ct)) {
	case "image/jpeg", "image/png":
	default:
		return httpx.E(http.StatusUnsupportedMediaType, "unsupported_media_type", "send the image as the body with Content-Type image/jpeg or image/png")
	}
	raw, err := ReadPoster(c.Request().Body)
	if err != nil {
		return err
	}
	v, err := a.catalog.SetPoster(c.Request().Context(), r, raw)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"video": v})
}

func (a *API) handleClearPoster(c echo.Context) error {
	r, err := a.editable(c)
	if err != nil {
		return err
	}
	v, err := a.catalog.ClearPoster(c.Request().Context(), r)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"video": v})
}

func sameEvent(a, b statusEvent) bool {
	return a.ID == b.ID && a.Status == b.Status && a.Stage == b.Stage && a.Progress == b.Progress &&
		a.AvailableSeconds == b.AvailableSeconds && eqPtr(a.Error, b.Error) && eqPtr(a.QueuePosition, b.QueuePosition)
}

func eqPtr[T comparable](a, b *T) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
