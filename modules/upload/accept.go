package upload

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
	"vod/app/db"
	"vod/app/storage"
	"vod/app/vodtype"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// limitReader counts bytes and fails once more than max were read: the limit holds on what is
// actually received, whatever Content-Length claimed.
type limitReader struct {
	r        io.Reader
	n, max   int64
	exceeded bool
	err      error // the source's own read error, if any
}

func (l *limitReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.n += int64(n)
	if err != nil && err != io.EOF {
		l.err = err
	}
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
	// Protection: empty for the configured default (transcode.protection).
	Protection string `json:"protection"`
}

func (f *videoFields) defaults(filename string) {
	if strings.TrimSpace(f.Title) == "" && filename != "" {
		f.Title = vodtype.StripControl(strings.TrimSuffix(filepath.Base(filename), filepath.Ext(filename)))
	}
	if f.Visibility == "" {
		f.Visibility = vodtype.Public
	}
}

func (f *videoFields) validate() error {
	if errs := f.check(); len(errs) > 0 {
		return errs
	}
	return nil
}

// check validates the fields and returns every field at fault.
func (f *videoFields) check() vodtype.FieldErrors {
	errs := vodtype.ValidateFields(&f.Title, &f.Description, &f.Visibility)
	if f.Protection != "" && !vodtype.ValidProtection(f.Protection) {
		errs["protection"] = vodtype.ProtectionMessage
	}
	return errs
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
		return nil, ErrNoUpload
	}
	return &up, err
}

// accept validates a stored source (its work copy, or the stored object itself) and commits the
// video with its first job in one transaction. The caller removes the object when it fails.
func (s *Service) accept(ctx context.Context, nv vodtype.NewVideo, workCopy string) error {
	if workCopy != "" {
		// The copy only serves validation: the pipeline reads the stored source itself.
		defer func() {
			_ = os.Remove(workCopy)
			_ = os.Remove(filepath.Dir(workCopy)) // only if empty
		}()
	}
	input := workCopy
	if input == "" {
		var err error
		if input, err = s.localInput(ctx, nv.SourceKey); err != nil {
			return err
		}
	}
	probe, err := s.validateMedia(ctx, input)
	if err != nil {
		return err
	}
	return s.db.WithTx(ctx, func(tx *db.Tx) error {
		if err := s.catalog.CreateVideoTx(ctx, tx, nv); err != nil {
			return err
		}
		return s.pipeline.EnqueueTx(ctx, tx, nv.ID, 1, probe)
	})
}

// storeSource copies the file part to storage with the size limit. On a backend without local files
// the body goes first to the work copy that probing and encoding read (so the bytes cross the disk
// once), then to storage from that file, its size known: the S3 client streams a file of known size
// from disk, where a body of unknown length costs a 16 MiB part buffer per upload in memory (10
// uploads at once took the server to 450 MB).
func (s *Service) storeSource(ctx context.Context, id, key string, r io.Reader) (int64, string, error) {
	lr := &limitReader{r: r, max: s.cfg.MaxBytes}
	var src io.Reader = lr
	size := int64(-1)
	var workCopy string
	if _, local := storage.LocalPath(s.store, key); !local {
		workCopy = filepath.Join(s.cfg.WorkDir, id, "source")
		if err := os.MkdirAll(filepath.Dir(workCopy), 0o750); err != nil {
			return 0, "", err
		}
		wf, err := os.Create(workCopy)
		if err != nil {
			return 0, "", err
		}
		defer wf.Close()
		if _, err := io.Copy(wf, lr); err != nil {
			return 0, workCopy, s.bodyErr(ctx, lr, err)
		}
		if _, err := wf.Seek(0, io.SeekStart); err != nil {
			return 0, workCopy, err
		}
		src, size = wf, lr.n
	}
	obj, err := s.store.Put(ctx, key, src, size, storage.PutOptions{ContentType: "application/octet-stream"})
	if err != nil || lr.exceeded {
		return 0, workCopy, s.bodyErr(ctx, lr, err)
	}
	if obj.Size != lr.n {
		return 0, workCopy, fmt.Errorf("stored %d bytes of %d", obj.Size, lr.n)
	}
	return obj.Size, workCopy, nil
}

// bodyErr says why copying an upload's body failed: too large, the client went away, its body was
// malformed, or (err itself) the disk or storage failed.
func (s *Service) bodyErr(ctx context.Context, lr *limitReader, err error) error {
	switch {
	case lr.exceeded:
		return &TooLargeError{Max: s.cfg.MaxBytes}
	case ctx.Err() != nil:
		return ErrAborted
	case lr.err != nil:
		// The sender's side failed (a cut-off or malformed body), not storage.
		return ErrMalformed
	}
	return err
}

// localInput is the path (local storage) or presigned URL (S3) ffprobe reads a stored source from.
func (s *Service) localInput(ctx context.Context, key string) (string, error) {
	if p, ok := storage.LocalPath(s.store, key); ok {
		return p, nil
	}
	return s.store.PresignGet(ctx, key, 15*time.Minute)
}

// validateMedia returns the pipeline's findings for EnqueueTx, or UnreadableMediaError.
func (s *Service) validateMedia(ctx context.Context, input string) ([]byte, error) {
	reason, probe, err := s.pipeline.ValidateSource(ctx, input)
	if err != nil {
		return nil, err
	}
	if reason != "" {
		return nil, &UnreadableMediaError{Reason: reason}
	}
	return probe, nil
}

// Complete finishes a direct upload of ownerID once its object is in place: the source is validated
// and the video queued with its first job in one transaction. Bad media removes the video, so that
// nothing half-made stays behind.
func (s *Service) Complete(ctx context.Context, ownerID, uploadID string) (string, error) {
	up, err := s.pending(ctx, uploadID)
	if err != nil {
		return "", err
	}
	if up.OwnerID != ownerID {
		return "", ErrNoUpload
	}
	obj, err := s.store.Stat(ctx, up.ObjectKey)
	if errors.Is(err, storage.ErrNotFound) {
		return "", ErrIncomplete
	} else if err != nil {
		return "", err
	}
	if obj.Size != up.Size {
		return "", &SizeMismatchError{Announced: up.Size, Got: obj.Size}
	}
	input, err := s.localInput(ctx, up.ObjectKey)
	if err != nil {
		return "", err
	}
	probe, err := s.validateMedia(ctx, input)
	if err != nil {
		var bad *UnreadableMediaError
		if errors.As(err, &bad) {
			_ = s.catalog.RemoveVideo(context.WithoutCancel(ctx), up.VideoID)
			_ = s.db.Gorm.WithContext(ctx).Where("id = ?", up.ID).Delete(&uploadRow{}).Error
		}
		return "", err
	}
	err = s.db.WithTx(ctx, func(tx *db.Tx) error {
		res := tx.G.Model(&uploadRow{}).Where("id = ? AND status = ?", up.ID, "pending").Update("status", "completed")
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNoUpload
		}
		if err := s.catalog.MarkUploadedTx(ctx, tx, up.VideoID, obj.Size); err != nil {
			return err
		}
		return s.pipeline.EnqueueTx(ctx, tx, up.VideoID, 1, probe)
	})
	if err != nil {
		return "", err
	}
	return up.VideoID, nil
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
