package upload

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
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
	"gorm.io/gorm"

	"vod/app/db"
	"vod/app/httpx"
	"vod/app/storage"
	"vod/app/vodtype"
)

// Routes mounts the upload API under g (/api/v1).
func (s *Service) Routes(g *echo.Group) {
	g.POST("/videos", s.handleMultipart, s.guards.RequireUser)
	g.POST("/uploads", s.handleCreateDirect, s.guards.RequireUser)
	g.PUT("/uploads/:id/data", s.handleDirectData)
	g.POST("/uploads/:id/complete", s.handleComplete, s.guards.RequireUser)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d bytes", n)
}

// limitReader counts bytes and fails once more than max were read: the limit holds on what is
// actually received, whatever Content-Length claimed.
type limitReader struct {
	r        io.Reader
	n, max   int64
	exceeded bool
}

func (l *limitReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > l.max {
		l.exceeded = true
		return n, errors.New("upload exceeds the size limit")
	}
	return n, err
}

type videoFields struct {
	Title       string `json:"title"`
	Description string `json:"description"`
	Visibility  string `json:"visibility"`
}

func (f *videoFields) defaults(filename string) {
	if strings.TrimSpace(f.Title) == "" && filename != "" {
		f.Title = strings.TrimSuffix(filepath.Base(filename), filepath.Ext(filename))
	}
	if f.Visibility == "" {
		f.Visibility = vodtype.Public
	}
}

func (f *videoFields) validate() error {
	if errs := vodtype.ValidateFields(&f.Title, &f.Description, &f.Visibility); len(errs) > 0 {
		return httpx.Validation(errs)
	}
	return nil
}

// handleMultipart streams the file part straight into storage (and, on S3, into the work copy the
// pipeline will read), then validates, probes, and commits the video with its first job.
func (s *Service) handleMultipart(c echo.Context) error {
	req := c.Request()
	ctx := req.Context()
	caller, _ := httpx.CallerFrom(c)
	if mt, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type")); mt != "multipart/form-data" {
		return errNotMultipart
	}
	if req.ContentLength > s.cfg.MaxBytes+1<<20 {
		return errTooLarge(s.cfg.MaxBytes)
	}
	mr, err := req.MultipartReader()
	if err != nil {
		return errNotMultipart
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
			return httpx.E(http.StatusBadRequest, "bad_request", "the multipart body is malformed or was cut off")
		}
		switch part.FormName() {
		case "file":
			if size >= 0 {
				cleanup()
				return httpx.Validation(map[string]string{"file": "send exactly one file"})
			}
			filename = part.FileName()
			n, wc, err := s.storeSource(ctx, id, key, part)
			workCopy = wc
			if err != nil {
				cleanup()
				return err
			}
			size = n
		case "title", "description", "visibility":
			b, err := io.ReadAll(io.LimitReader(part, 64<<10))
			if err != nil {
				cleanup()
				return httpx.E(http.StatusBadRequest, "bad_request", "the multipart body is malformed or was cut off")
			}
			switch part.FormName() {
			case "title":
				fields.Title = string(b)
			case "description":
				fields.Description = string(b)
			case "visibility":
				fields.Visibility = string(b)
			}
		}
		part.Close()
	}
	if size < 0 {
		return errNoFile
	}
	fields.defaults(filename)
	if err := fields.validate(); err != nil {
		cleanup()
		return err
	}
	if size == 0 {
		cleanup()
		return httpx.E(http.StatusUnprocessableEntity, "unreadable_media", "the file is empty")
	}
	nv := vodtype.NewVideo{ID: id, OwnerID: caller.ID, OwnerUsername: caller.Username, Title: fields.Title,
		Description: fields.Description, Visibility: fields.Visibility, Status: vodtype.StatusQueued,
		SourceKey: key, SourceName: filename, SourceSize: size}
	if err := s.accept(ctx, nv, workCopy); err != nil {
		cleanup()
		return err
	}
	return s.respondVideo(c, id)
}

// accept validates a stored source (its work copy, or the stored object itself) and commits the
// video with its first job in one transaction. The caller removes the object when it fails.
func (s *Service) accept(ctx context.Context, nv vodtype.NewVideo, workCopy string) error {
	input := workCopy
	if input == "" {
		var err error
		if input, err = s.localInput(ctx, nv.SourceKey); err != nil {
			return err
		}
	}
	if err := s.validateMedia(ctx, input); err != nil {
		return err
	}
	return s.db.WithTx(ctx, func(tx *db.Tx) error {
		if err := s.catalog.CreateVideoTx(ctx, tx, nv); err != nil {
			return err
		}
		return s.pipeline.EnqueueTx(ctx, tx, nv.ID, 1)
	})
}

func (s *Service) respondVideo(c echo.Context, id string) error {
	v, err := s.catalog.View(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]any{"video": v})
}

// storeSource copies the file part to storage with the size limit. On a backend without local files
// it also writes the work copy that probing and encoding read, so the bytes cross the disk once.
func (s *Service) storeSource(ctx context.Context, id, key string, r io.Reader) (int64, string, error) {
	lr := &limitReader{r: r, max: s.cfg.MaxBytes}
	var src io.Reader = lr
	var workCopy string
	var wf *os.File
	if _, local := storage.LocalPath(s.store, key); !local {
		workCopy = filepath.Join(s.cfg.WorkDir, id, "source")
		if err := os.MkdirAll(filepath.Dir(workCopy), 0o750); err != nil {
			return 0, "", err
		}
		var err error
		if wf, err = os.Create(workCopy); err != nil {
			return 0, "", err
		}
		defer wf.Close()
		src = io.TeeReader(lr, wf)
	}
	obj, err := s.store.Put(ctx, key, src, -1, storage.PutOptions{ContentType: "application/octet-stream"})
	if lr.exceeded {
		return 0, workCopy, errTooLarge(s.cfg.MaxBytes)
	}
	if err != nil {
		if ctx.Err() != nil {
			return 0, workCopy, httpx.E(http.StatusBadRequest, "upload_aborted", "the upload was interrupted")
		}
		if errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "multipart") {
			return 0, workCopy, httpx.E(http.StatusBadRequest, "bad_request", "the multipart body is malformed or was cut off")
		}
		return 0, workCopy, err
	}
	if obj.Size != lr.n {
		return 0, workCopy, fmt.Errorf("stored %d bytes of %d", obj.Size, lr.n)
	}
	return obj.Size, workCopy, nil
}

// localInput is the path (local storage) or presigned URL (S3) ffprobe reads a stored source from.
func (s *Service) localInput(ctx context.Context, key string) (string, error) {
	if p, ok := storage.LocalPath(s.store, key); ok {
		return p, nil
	}
	return s.store.PresignGet(ctx, key, 15*time.Minute)
}

func (s *Service) validateMedia(ctx context.Context, input string) error {
	reason, err := s.pipeline.ValidateSource(ctx, input)
	if err != nil {
		return err
	}
	if reason != "" {
		return httpx.E(http.StatusUnprocessableEntity, "unreadable_media", reason)
	}
	return nil
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
	errs := vodtype.ValidateFields(&in.Title, &in.Description, &in.Visibility)
	if in.Size <= 0 {
		errs["size"] = "must be the file size in bytes"
	} else if in.Size > s.cfg.MaxBytes {
		return errTooLarge(s.cfg.MaxBytes)
	}
	if len(in.Filename) > 255 {
		errs["filename"] = "must be at most 255 characters"
	}
	if in.ContentType == "" {
		in.ContentType = "application/octet-stream"
	} else if mt, _, err := mime.ParseMediaType(in.ContentType); err != nil || !(strings.HasPrefix(mt, "video/") || mt == "application/octet-stream") {
		return httpx.E(http.StatusUnsupportedMediaType, "unsupported_media_type", "content_type must be a video/* type")
	}
	if len(errs) > 0 {
		return httpx.Validation(errs)
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
			Title: in.Title, Description: in.Description, Visibility: in.Visibility, Status: vodtype.StatusUploading,
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

func (s *Service) signUpload(id string, exp int64) string {
	m := hmac.New(sha256.New, s.cfg.SigningKey)
	fmt.Fprintf(m, "upload|%s|%d", id, exp)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *Service) pending(ctx context.Context, id string) (*uploadRow, error) {
	var up uploadRow
	err := s.db.Gorm.WithContext(ctx).Where("id = ? AND status = ?", id, "pending").Take(&up).Error
	if errors.Is(err, gorm.ErrRecordNotFound) || (err == nil && time.Now().After(up.ExpiresAt)) {
		return nil, errUploadGone
	}
	return &up, err
}

// handleDirectData is the local backend's stand-in for a presigned PUT: the signed URL is the
// credential, and the body must be exactly the announced size.
func (s *Service) handleDirectData(c echo.Context) error {
	id := c.Param("id")
	exp, _ := strconv.ParseInt(c.QueryParam("expires"), 10, 64)
	want := s.signUpload(id, exp)
	if exp < time.Now().Unix() || !hmac.Equal([]byte(want), []byte(c.QueryParam("signature"))) {
		return httpx.E(http.StatusForbidden, "invalid_signature", "the upload URL is invalid or has expired")
	}
	ctx := c.Request().Context()
	up, err := s.pending(ctx, id)
	if err != nil {
		return err
	}
	req := c.Request()
	if req.ContentLength >= 0 && req.ContentLength != up.Size {
		return httpx.E(http.StatusUnprocessableEntity, "size_mismatch", fmt.Sprintf("the upload was announced as %d bytes", up.Size))
	}
	lr := &limitReader{r: req.Body, max: up.Size}
	if _, err := s.store.Put(ctx, up.ObjectKey, lr, up.Size, storage.PutOptions{ContentType: up.ContentType}); err != nil {
		_ = s.store.Delete(context.WithoutCancel(ctx), up.ObjectKey)
		if lr.exceeded {
			return httpx.E(http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the upload was announced as %d bytes", up.Size))
		}
		return httpx.E(http.StatusBadRequest, "upload_aborted", "the upload was interrupted or shorter than announced")
	}
	return c.NoContent(http.StatusOK)
}

func (s *Service) handleComplete(c echo.Context) error {
	ctx := c.Request().Context()
	caller, _ := httpx.CallerFrom(c)
	up, err := s.pending(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	if up.OwnerID != caller.ID {
		return errUploadGone
	}
	obj, err := s.store.Stat(ctx, up.ObjectKey)
	if errors.Is(err, storage.ErrNotFound) {
		return httpx.E(http.StatusConflict, "upload_incomplete", "no file has been uploaded to the upload URL yet")
	} else if err != nil {
		return err
	}
	if obj.Size != up.Size {
		return httpx.E(http.StatusUnprocessableEntity, "size_mismatch", fmt.Sprintf("the uploaded file has %d bytes; %d were announced", obj.Size, up.Size))
	}
	input, err := s.localInput(ctx, up.ObjectKey)
	if err != nil {
		return err
	}
	if err := s.validateMedia(ctx, input); err != nil {
		if e := (*httpx.Error)(nil); errors.As(err, &e) && e.Status == http.StatusUnprocessableEntity {
			// Bad media: the video goes, so that nothing half-made stays behind.
			_ = s.catalog.RemoveVideo(context.WithoutCancel(ctx), up.VideoID)
			_ = s.db.Gorm.WithContext(ctx).Where("id = ?", up.ID).Delete(&uploadRow{}).Error
		}
		return err
	}
	err = s.db.WithTx(ctx, func(tx *db.Tx) error {
		res := tx.G.Model(&uploadRow{}).Where("id = ? AND status = ?", up.ID, "pending").Update("status", "completed")
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return errUploadGone
		}
		if err := s.catalog.MarkUploadedTx(ctx, tx, up.VideoID, obj.Size); err != nil {
			return err
		}
		return s.pipeline.EnqueueTx(ctx, tx, up.VideoID, 1)
	})
	if err != nil {
		return err
	}
	return s.respondVideo(c, up.VideoID)
}

// Ingest stores a local file as a new video of a user and queues it, as an upload would (vod ingest).
// progress is told the bytes copied so far.
func (s *Service) Ingest(ctx context.Context, ownerID, ownerUsername, path, title, visibility string, progress func(n int64)) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fields := videoFields{Title: title, Visibility: visibility}
	fields.defaults(path)
	if err := fields.validate(); err != nil {
		return "", err
	}
	id := uuid.Must(uuid.NewV7()).String()
	key := vodtype.SourceKey(id)
	var r io.Reader = f
	if progress != nil {
		r = &progressReader{r: f, fn: progress}
	}
	size, workCopy, err := s.storeSource(ctx, id, key, r)
	cleanup := func() {
		_ = s.store.Delete(context.WithoutCancel(ctx), key)
		if workCopy != "" {
			_ = os.RemoveAll(filepath.Dir(workCopy))
		}
	}
	if err == nil {
		err = s.accept(ctx, vodtype.NewVideo{ID: id, OwnerID: ownerID, OwnerUsername: ownerUsername,
			Title: fields.Title, Visibility: fields.Visibility, Status: vodtype.StatusQueued, SourceKey: key,
			SourceName: filepath.Base(path), SourceSize: size}, workCopy)
	}
	if err != nil {
		cleanup()
		return "", err
	}
	return id, nil
}

type progressReader struct {
	r  io.Reader
	n  int64
	fn func(int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	p.fn(p.n)
	return n, err
}
