package upload

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"vod/app/db"
	"vod/app/httpx"
	"vod/app/storage"
	"vod/app/vodtype"
)

// httpError is the module's one map from domain errors to HTTP.
func httpError(err error) error {
	var (
		tooLarge   *TooLargeError
		mismatch   *SizeMismatchError
		unreadable *UnreadableMediaError
	)
	switch {
	case errors.As(err, &tooLarge):
		return httpx.E(http.StatusRequestEntityTooLarge, "too_large", err.Error())
	case errors.As(err, &mismatch):
		if mismatch.Got < 0 {
			return httpx.E(http.StatusRequestEntityTooLarge, "too_large", err.Error())
		}
		return httpx.E(http.StatusUnprocessableEntity, "size_mismatch", err.Error())
	case errors.As(err, &unreadable):
		return httpx.E(http.StatusUnprocessableEntity, "unreadable_media", err.Error())
	case errors.Is(err, ErrNotMultipart), errors.Is(err, ErrUnsupportedType):
		return httpx.E(http.StatusUnsupportedMediaType, "unsupported_media_type", err.Error())
	case errors.Is(err, ErrMalformed):
		return httpx.E(http.StatusBadRequest, "bad_request", err.Error())
	case errors.Is(err, ErrAborted):
		return httpx.E(http.StatusBadRequest, "upload_aborted", err.Error())
	case errors.Is(err, ErrNoUpload):
		return httpx.NotFound("upload")
	case errors.Is(err, ErrBadSignature):
		return httpx.E(http.StatusForbidden, "invalid_signature", err.Error())
	case errors.Is(err, ErrIncomplete):
		return httpx.E(http.StatusConflict, "upload_incomplete", err.Error())
	}
	return err
}

// Routes declares the upload API (under /api/v1).
func (s *Service) Routes(root *httpx.Router) {
	video := httpx.Object(nil, httpx.Obj{"video": httpx.Ref("Video")})
	root.WithErrors(tusError).Add(tusRoutes(s)...)
	root.WithErrors(httpError).Add(
		httpx.Route{Method: http.MethodPost, Path: "/api/v1/videos", Handler: s.handleMultipart, Auth: httpx.User, Limit: httpx.LimitUpload,
			Doc: httpx.Doc{Tag: "videos", Summary: "Upload a video (multipart, streamed)",
				Body: httpx.Multipart([]string{"file"}, httpx.Obj{"file": httpx.Obj{"type": "string", "format": "binary"}, "title": httpx.StrType,
					"description": httpx.StrType, "visibility": httpx.StrType, "protection": httpx.Obj{"type": "string", "enum": []string{"none", "clearkey"}}}),
				Responses: httpx.Obj{"202": httpx.Resp("accepted and queued", video), "400": httpx.ErrResp("malformed or interrupted body"),
					"401": httpx.ErrResp("not logged in"), "413": httpx.ErrResp("too large"), "415": httpx.ErrResp("not multipart"),
					"422": httpx.ErrResp("invalid fields or unreadable media")}}},
		httpx.Route{Method: http.MethodPost, Path: "/api/v1/uploads", Handler: s.handleCreateDirect, Auth: httpx.User, Limit: httpx.LimitUpload,
			Doc: httpx.Doc{Tag: "videos", Summary: "Start a direct upload",
				Body: httpx.JSONBody(httpx.Object([]string{"size"}, httpx.Obj{"title": httpx.StrType, "description": httpx.StrType, "visibility": httpx.StrType, "protection": httpx.Obj{"type": "string", "enum": []string{"none", "clearkey"}},
					"filename": httpx.StrType, "size": httpx.Integer, "content_type": httpx.StrType})),
				Responses: httpx.Obj{"201": httpx.Resp("where to PUT the file", httpx.Object(nil, httpx.Obj{"upload_id": httpx.StrType, "video_id": httpx.StrType,
					"upload_url": httpx.StrType, "method": httpx.StrType, "headers": httpx.AnyObj, "expires_at": httpx.Obj{"type": "string", "format": "date-time"}})),
					"401": httpx.ErrResp("not logged in"), "413": httpx.ErrResp("too large"), "415": httpx.ErrResp("not a video type"), "422": httpx.ErrResp("invalid fields")}}},
		httpx.Route{Method: http.MethodPut, Path: "/api/v1/uploads/:id/data", Handler: s.handleDirectData, Limit: httpx.LimitAPI,
			Doc: httpx.Doc{Tag: "videos", Summary: "Direct upload target on local storage (signed URL)",
				Params: []httpx.Obj{httpx.PathParam("id", "upload id"), httpx.QueryParam("expires", "expiry (unix seconds)", httpx.Integer),
					httpx.QueryParam("signature", "URL signature", httpx.StrType)},
				Body: httpx.Obj{"content": httpx.Obj{"application/octet-stream": httpx.Obj{"schema": httpx.Obj{"type": "string", "format": "binary"}}}},
				Responses: httpx.Obj{"200": httpx.NoBody("stored"), "403": httpx.ErrResp("bad or expired signature"), "404": httpx.ErrResp("no such pending upload"),
					"413": httpx.ErrResp("more than announced"), "422": httpx.ErrResp("size differs from the announced one")}}},
		httpx.Route{Method: http.MethodPost, Path: "/api/v1/uploads/:id/complete", Handler: s.handleComplete, Auth: httpx.User, Limit: httpx.LimitUpload,
			Doc: httpx.Doc{Tag: "videos", Summary: "Finish a direct upload", Params: []httpx.Obj{httpx.PathParam("id", "upload id")},
				Responses: httpx.Obj{"202": httpx.Resp("accepted and queued", video), "404": httpx.ErrResp("no such pending upload"),
					"409": httpx.ErrResp("nothing uploaded yet"), "422": httpx.ErrResp("unreadable media")}}},
	)
}

// handleMultipart streams the file part straight into storage (and, on S3, into the work copy the
// pipeline will read), then validates, probes, and commits the video with its first job.
func (s *Service) handleMultipart(c echo.Context) error {
	req := c.Request()
	ctx := req.Context()
	caller, _ := httpx.CallerFrom(c)
	if mt, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type")); mt != "multipart/form-data" {
		return ErrNotMultipart
	}
	if req.ContentLength > s.cfg.MaxBytes+1<<20 {
		return &TooLargeError{Max: s.cfg.MaxBytes}
	}
	mr, err := req.MultipartReader()
	if err != nil {
		return ErrNotMultipart
	}
	id := uuid.Must(uuid.NewV7()).String()
	key := vodtype.SourceKey(id)
	var fields videoFields
	var size int64 = -1
	var filename, workCopy string
	cleanup := func() {
		bg := context.WithoutCancel(ctx)
		_ = s.store.Delete(bg, key)
		if workCopy != "" {
			_ = os.RemoveAll(filepath.Dir(workCopy))
		}
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			cleanup()
			return ErrMalformed
		}
		switch part.FormName() {
		case "file":
			if size >= 0 {
				cleanup()
				return vodtype.FieldErrors{"file": "send exactly one file"}
			}
			filename = part.FileName()
			n, wc, err := s.storeSource(ctx, id, key, part)
			workCopy = wc
			if err != nil {
				cleanup()
				return err
			}
			size = n
		case "title", "description", "visibility", "protection":
			b, err := io.ReadAll(io.LimitReader(part, 64<<10))
			if err != nil {
				cleanup()
				return ErrMalformed
			}
			switch part.FormName() {
			case "title":
				fields.Title = string(b)
			case "description":
				fields.Description = string(b)
			case "visibility":
				fields.Visibility = string(b)
			case "protection":
				fields.Protection = string(b)
			}
		}
		part.Close()
	}
	if size < 0 {
		return vodtype.FieldErrors{"file": "is required"}
	}
	fields.defaults(filename)
	if err := fields.validate(); err != nil {
		cleanup()
		return err
	}
	if size == 0 {
		cleanup()
		return &UnreadableMediaError{Reason: "the file is empty"}
	}
	nv := vodtype.NewVideo{ID: id, OwnerID: caller.ID, OwnerUsername: caller.Username, Title: fields.Title,
		Description: fields.Description, Visibility: fields.Visibility, Protection: fields.Protection, Status: vodtype.StatusQueued,
		SourceKey: key, SourceName: filename, SourceSize: size}
	if err := s.accept(ctx, nv, workCopy); err != nil {
		cleanup()
		return err
	}
	return s.respondVideo(c, id)
}

func (s *Service) respondVideo(c echo.Context, id string) error {
	v, err := s.catalog.View(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]any{"video": v})
}

// --- direct upload ---

type uploadRow struct {
	ID          string `gorm:"primaryKey"`
	VideoID     string
	OwnerID     string
	ObjectKey   string
	Size        int64
	ContentType string
	Filename    string
	Status      string
	ExpiresAt   time.Time
	CreatedAt   time.Time
}

func (uploadRow) TableName() string { return "uploads" }

type directInput struct {
	videoFields
	Filename    string `json:"filename"`
	Size        int64  `json:"size"`
	ContentType string `json:"content_type"`
}

func (s *Service) handleCreateDirect(c echo.Context) error {
	var in directInput
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	caller, _ := httpx.CallerFrom(c)
	in.defaults(in.Filename)
	errs := in.check()
	if in.Size <= 0 {
		errs["size"] = "must be the file size in bytes"
	} else if in.Size > s.cfg.MaxBytes {
		return &TooLargeError{Max: s.cfg.MaxBytes}
	}
	if len(in.Filename) > 255 {
		errs["filename"] = "must be at most 255 characters"
	}
	if in.ContentType == "" {
		in.ContentType = "application/octet-stream"
	} else if mt, _, err := mime.ParseMediaType(in.ContentType); err != nil || !(strings.HasPrefix(mt, "video/") || mt == "application/octet-stream") {
		return ErrUnsupportedType
	}
	if len(errs) > 0 {
		return errs
	}
	ctx := c.Request().Context()
	vid := uuid.Must(uuid.NewV7()).String()
	up := uploadRow{ID: uuid.NewString(), VideoID: vid, OwnerID: caller.ID, ObjectKey: vodtype.SourceKey(vid),
		Size: in.Size, ContentType: in.ContentType, Filename: in.Filename, Status: "pending",
		ExpiresAt: time.Now().UTC().Add(s.cfg.DirectTTL), CreatedAt: time.Now().UTC()}
	url, method, headers := "", http.MethodPut, map[string]string{}
	if u, err := s.store.PresignPut(ctx, up.ObjectKey, s.cfg.DirectTTL); err == nil {
		url = u
	} else if errors.Is(err, storage.ErrNotSupported) {
		exp := up.ExpiresAt.Unix()
		url = fmt.Sprintf("/api/v1/uploads/%s/data?expires=%d&signature=%s", up.ID, exp, s.signUpload(up.ID, exp))
		headers["Content-Type"] = in.ContentType
	} else {
		return err
	}
	err := s.db.WithTx(ctx, func(tx *db.Tx) error {
		if err := s.catalog.CreateVideoTx(ctx, tx, vodtype.NewVideo{ID: vid, OwnerID: caller.ID, OwnerUsername: caller.Username,
			Title: in.Title, Description: in.Description, Visibility: in.Visibility, Protection: in.Protection, Status: vodtype.StatusUploading,
			SourceKey: up.ObjectKey, SourceName: in.Filename, SourceSize: in.Size}); err != nil {
			return err
		}
		return tx.G.Create(&up).Error
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]any{"upload_id": up.ID, "video_id": vid, "upload_url": url,
		"method": method, "headers": headers, "expires_at": up.ExpiresAt})
}

// handleDirectData is the local backend's stand-in for a presigned PUT: the signed URL is the
// credential, and the body must be exactly the announced size.
func (s *Service) handleDirectData(c echo.Context) error {
	id := c.Param("id")
	exp, _ := strconv.ParseInt(c.QueryParam("expires"), 10, 64)
	want := s.signUpload(id, exp)
	if exp < time.Now().Unix() || !hmac.Equal([]byte(want), []byte(c.QueryParam("signature"))) {
		return ErrBadSignature
	}
	ctx := c.Request().Context()
	up, err := s.pending(ctx, id)
	if err != nil {
		return err
	}
	req := c.Request()
	if req.ContentLength >= 0 && req.ContentLength != up.Size {
		return &SizeMismatchError{Announced: up.Size, Got: req.ContentLength}
	}
	lr := &limitReader{r: req.Body, max: up.Size}
	if _, err := s.store.Put(ctx, up.ObjectKey, lr, up.Size, storage.PutOptions{ContentType: up.ContentType}); err != nil {
		_ = s.store.Delete(context.WithoutCancel(ctx), up.ObjectKey)
		if lr.exceeded {
			return &SizeMismatchError{Announced: up.Size, Got: -1}
		}
		return ErrAborted
	}
	return c.NoContent(http.StatusOK)
}

func (s *Service) handleComplete(c echo.Context) error {
	caller, _ := httpx.CallerFrom(c)
	id, err := s.Complete(c.Request().Context(), caller.ID, c.Param("id"))
	if err != nil {
		return err
	}
	return s.respondVideo(c, id)
}
