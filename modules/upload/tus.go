package upload

// Resumable uploads: the tus 1.0.0 protocol (https://tus.io/protocols/resumable-upload) with the
// creation, creation-with-upload, termination, expiration and checksum extensions.
//
// What has been received is recorded in the database (tus_uploads), so that any API process
// continues an upload another one started, and a restart loses nothing acknowledged. The bytes go
// where the backend keeps them without holding a chunk in memory: on a local directory into the
// object's staging file at its offset; on S3 into the object's multipart upload, in parts of at
// least 5 MiB, the bytes short of a part kept as a small tail object (so that the next chunk, on
// whichever process, can prepend them). A chunk goes to a local spool file first on S3: its size
// and checksum are known before anything is stored, and a cut-off chunk keeps what arrived.

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"vod/app/db"
	"vod/app/storage"
	"vod/app/vodtype"
)

const (
	tusVersion    = "1.0.0"
	tusExtensions = "creation,creation-with-upload,termination,expiration,checksum"
	tusChecksums  = "sha1,sha256,sha512,md5"
	// tusLockFor is how long a chunk's lock lasts without renewal: the writer renews it every
	// tusLockFor/4, so a killed process blocks its upload for at most this long.
	tusLockFor   = 20 * time.Second
	tusReceiving = "receiving"
	tusCompleted = "completed"
)

// Domain errors of resumable uploads (mapped to the statuses the tus spec names in http.go).
var (
	ErrTusVersion       = errors.New("unsupported Tus-Resumable version; this server speaks 1.0.0")
	ErrOffsetMismatch   = errors.New("Upload-Offset does not match the upload's offset; ask with HEAD and resume from there")
	ErrUploadLocked     = errors.New("another request is writing to this upload; retry shortly")
	ErrChecksumMismatch = errors.New("the chunk does not match its Upload-Checksum and was discarded")
	ErrChecksumAlgo     = errors.New("unsupported checksum algorithm; use one of " + tusChecksums)
	ErrChunkType        = errors.New("a chunk must be sent as application/offset+octet-stream")
	ErrUploadFinished   = errors.New("the upload is complete; delete the video instead")
)

// TusHeaderError is a missing or malformed tus request header.
type TusHeaderError struct{ Header, Problem string }

func (e *TusHeaderError) Error() string { return e.Header + " " + e.Problem }

type tusRow struct {
	ID          string `gorm:"primaryKey"`
	VideoID     string
	OwnerID     string
	ObjectKey   string
	Length      int64
	Received    int64
	Metadata    string
	MultipartID string
	Parts       string
	TailSize    int64
	Status      string
	LockToken   string
	LockedUntil time.Time
	ExpiresAt   time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

func (tusRow) TableName() string { return "tus_uploads" }

func (r *tusRow) parts() []storage.Part {
	var p []storage.Part
	_ = json.Unmarshal([]byte(r.Parts), &p)
	return p
}

// tailKey is the object holding the bytes received after the last stored part, named by the offset
// they end at: a new tail never overwrites the one it is read from.
func (r *tusRow) tailKey(end int64) string {
	return fmt.Sprintf("%supload.tail.%d", vodtype.VideoPrefix(r.VideoID), end)
}

// TusCreate is a new resumable upload as its creation request describes it.
type TusCreate struct {
	OwnerID, OwnerUsername string
	Length                 int64
	Metadata               string // the raw Upload-Metadata header, echoed by HEAD
}

// TusState is what the protocol's responses report about an upload.
type TusState struct {
	ID, VideoID      string
	Offset, Length   int64
	Metadata         string
	ExpiresAt        time.Time
	Complete, Failed bool
}

func (r *tusRow) state() TusState {
	return TusState{ID: r.ID, VideoID: r.VideoID, Offset: r.Received, Length: r.Length, Metadata: r.Metadata,
		ExpiresAt: r.ExpiresAt, Complete: r.Status == tusCompleted}
}

// Checksum is a chunk's Upload-Checksum: the algorithm and the expected digest.
type Checksum struct {
	h    hash.Hash
	want []byte
}

// ParseChecksum reads "<algorithm> <base64 digest>".
func ParseChecksum(v string) (*Checksum, error) {
	if v == "" {
		return nil, nil
	}
	algo, b64, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok {
		return nil, &TusHeaderError{"Upload-Checksum", "must be an algorithm and a base64 digest"}
	}
	want, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil {
		return nil, &TusHeaderError{"Upload-Checksum", "has a digest that is not base64"}
	}
	var h hash.Hash
	switch strings.ToLower(algo) {
	case "sha1":
		h = sha1.New()
	case "sha256":
		h = sha256.New()
	case "sha512":
		h = sha512.New()
	case "md5":
		h = md5.New()
	default:
		return nil, ErrChecksumAlgo
	}
	if len(want) != h.Size() {
		return nil, &TusHeaderError{"Upload-Checksum", "has a digest of the wrong length for " + algo}
	}
	return &Checksum{h: h, want: want}, nil
}

func (c *Checksum) ok() bool { return subtle.ConstantTimeCompare(c.h.Sum(nil), c.want) == 1 }

// ParseTusMetadata reads Upload-Metadata: comma-separated "key base64value" pairs, keys unique.
func ParseTusMetadata(v string) (map[string]string, error) {
	out := map[string]string{}
	if strings.TrimSpace(v) == "" {
		return out, nil
	}
	for _, pair := range strings.Split(v, ",") {
		key, val, _ := strings.Cut(strings.TrimSpace(pair), " ")
		if key == "" || strings.ContainsAny(key, " \t") {
			return nil, &TusHeaderError{"Upload-Metadata", "has an empty or malformed key"}
		}
		if _, dup := out[key]; dup {
			return nil, &TusHeaderError{"Upload-Metadata", "repeats the key " + strconv.Quote(key)}
		}
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(val))
		if err != nil {
			return nil, &TusHeaderError{"Upload-Metadata", "has a value that is not base64 (key " + strconv.Quote(key) + ")"}
		}
		out[key] = string(b)
	}
	return out, nil
}

// CreateTus records a resumable upload and its video (status uploading) in one transaction.
func (s *Service) CreateTus(ctx context.Context, in TusCreate) (TusState, error) {
	if in.Length > s.cfg.MaxBytes {
		return TusState{}, &TooLargeError{Max: s.cfg.MaxBytes}
	}
	if in.Length == 0 {
		return TusState{}, &UnreadableMediaError{Reason: "the file is empty"}
	}
	meta, err := ParseTusMetadata(in.Metadata)
	if err != nil {
		return TusState{}, err
	}
	filename := meta["filename"]
	if filename == "" {
		filename = meta["name"] // Uppy's key
	}
	filename = vodtype.StripControl(filepath.Base(filename))
	if len(filename) > 255 {
		filename = filename[:255]
	}
	fields := videoFields{Title: meta["title"], Description: meta["description"], Visibility: meta["visibility"], Protection: meta["protection"]}
	fields.defaults(filename)
	if strings.TrimSpace(fields.Title) == "" {
		// A bare tus client sends no metadata; the owner renames the video later.
		fields.Title = "Untitled"
	}
	if err := fields.validate(); err != nil {
		return TusState{}, err
	}
	now := time.Now().UTC()
	vid := uuid.Must(uuid.NewV7()).String()
	row := tusRow{ID: uuid.NewString(), VideoID: vid, OwnerID: in.OwnerID, ObjectKey: vodtype.SourceKey(vid), Length: in.Length,
		Metadata: in.Metadata, Parts: "[]", Status: tusReceiving, LockedUntil: now, ExpiresAt: now.Add(s.cfg.ResumableTTL),
		CreatedAt: now, UpdatedAt: now}
	err = s.db.WithTx(ctx, func(tx *db.Tx) error {
		if err := s.catalog.CreateVideoTx(ctx, tx, vodtype.NewVideo{ID: vid, OwnerID: in.OwnerID, OwnerUsername: in.OwnerUsername,
			Title: fields.Title, Description: fields.Description, Visibility: fields.Visibility, Protection: fields.Protection, Status: vodtype.StatusUploading,
			SourceKey: row.ObjectKey, SourceName: filename, SourceSize: in.Length}); err != nil {
			return err
		}
		return tx.G.Create(&row).Error
	})
	if err != nil {
		return TusState{}, err
	}
	return row.state(), nil
}

// TusStatus is an upload of ownerID as HEAD reports it.
func (s *Service) TusStatus(ctx context.Context, ownerID, id string) (TusState, error) {
	r, err := s.tusRow(ctx, ownerID, id)
	if err != nil {
		return TusState{}, err
	}
	st := r.state()
	// An upload whose bytes all arrived but that a crash left unfinished is finished by whoever
	// looks at it next (the sweeper does it too).
	if r.Received == r.Length && r.Status != tusCompleted && r.LockedUntil.Before(time.Now().UTC()) {
		if up, release, err := s.lockTus(ctx, ownerID, id); err == nil {
			err = s.finishTus(ctx, up)
			release()
			if err != nil {
				s.log.Warn("finish resumable upload", "upload", id, "err", err)
			}
		}
	}
	return st, nil
}

func (s *Service) tusRow(ctx context.Context, ownerID, id string) (*tusRow, error) {
	var r tusRow
	err := s.db.Gorm.WithContext(ctx).Where("id = ? AND owner_id = ?", id, ownerID).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) || (err == nil && r.Status != tusCompleted && time.Now().After(r.ExpiresAt)) {
		return nil, ErrNoUpload
	}
	return &r, err
}

// lockTus takes the upload's write lock for one request: another request on the same upload gets
// ErrUploadLocked until release. The lock is a row lease renewed while held, so that it needs no
// connection held open and a killed process's lease runs out by itself.
func (s *Service) lockTus(ctx context.Context, ownerID, id string) (*tusRow, func(), error) {
	if _, err := s.tusRow(ctx, ownerID, id); err != nil {
		return nil, nil, err
	}
	token := uuid.NewString()
	now := time.Now().UTC()
	res := s.db.Gorm.WithContext(ctx).Model(&tusRow{}).Where("id = ? AND owner_id = ? AND locked_until < ?", id, ownerID, now).
		Updates(map[string]any{"lock_token": token, "locked_until": now.Add(tusLockFor)})
	if res.Error != nil {
		return nil, nil, res.Error
	}
	if res.RowsAffected == 0 {
		return nil, nil, ErrUploadLocked
	}
	r, err := s.tusRow(ctx, ownerID, id)
	if err != nil {
		return nil, nil, err
	}
	if exists, err := s.catalog.VideoExists(ctx, r.VideoID); err != nil {
		return nil, nil, err
	} else if !exists {
		// The video was deleted while it uploaded: so is the upload.
		s.dropTus(context.WithoutCancel(ctx), r)
		return nil, nil, ErrNoUpload
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(tusLockFor / 4)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				_ = s.db.Gorm.Model(&tusRow{}).Where("id = ? AND lock_token = ?", id, token).
					Update("locked_until", time.Now().UTC().Add(tusLockFor)).Error
			}
		}
	}()
	release := func() {
		close(stop)
		<-done
		_ = s.db.Gorm.Model(&tusRow{}).Where("id = ? AND lock_token = ?", id, token).
			Updates(map[string]any{"lock_token": "", "locked_until": time.Unix(0, 0).UTC()}).Error
	}
	r.LockToken = token
	return r, release, nil
}

// TusChunk is one PATCH (or the body of a creation-with-upload).
type TusChunk struct {
	Offset        int64
	ContentLength int64 // -1 when unknown
	Body          io.Reader
	Checksum      *Checksum
}

// WriteTus appends a chunk to an upload of ownerID at its offset. A chunk cut off by the client
// keeps what arrived (unless it has a checksum, which only a whole chunk can match); a chunk over
// the upload's length or with a wrong checksum is discarded. The last byte hands the file over to
// validation and processing. It returns the upload's new state.
func (s *Service) WriteTus(ctx context.Context, ownerID, id string, ch TusChunk) (TusState, error) {
	r, err := s.tusRow(ctx, ownerID, id)
	if err != nil {
		return TusState{}, err
	}
	if ch.Offset != r.Received {
		return TusState{}, ErrOffsetMismatch
	}
	if ch.ContentLength > r.Length-r.Received {
		return TusState{}, &SizeMismatchError{Announced: r.Length, Got: -1}
	}
	up, release, err := s.lockTus(ctx, ownerID, id)
	if err != nil {
		return TusState{}, err
	}
	defer release()
	if ch.Offset != up.Received { // another request got in between
		return TusState{}, ErrOffsetMismatch
	}
	if up.Status == tusCompleted || up.Received == up.Length {
		if up.Status != tusCompleted {
			if err := s.finishTus(ctx, up); err != nil {
				return TusState{}, err
			}
		}
		return up.state(), nil
	}
	if err := s.receive(ctx, up, ch); err != nil {
		return TusState{}, err
	}
	if up.Received == up.Length {
		if err := s.finishTus(ctx, up); err != nil {
			return TusState{}, err
		}
	}
	return up.state(), nil
}

// receive stores the chunk after up.Received and records the new offset (with the lock held).
func (s *Service) receive(ctx context.Context, up *tusRow, ch TusChunk) error {
	lr := &limitReader{r: ch.Body, max: up.Length - up.Received}
	var body io.Reader = lr
	if ch.Checksum != nil {
		body = io.TeeReader(lr, ch.Checksum.h)
	}
	// verdict decides what to keep of n bytes read with copy error cerr: all (nil), or nothing.
	verdict := func(cerr error) error {
		switch {
		case lr.exceeded:
			return &SizeMismatchError{Announced: up.Length, Got: -1}
		case ch.Checksum != nil && cerr != nil:
			return ErrAborted
		case ch.Checksum != nil && !ch.Checksum.ok():
			return ErrChecksumMismatch
		}
		return nil
	}
	var n int64
	var cerr error
	if st, ok := storage.AsStager(s.store); ok {
		path, err := st.StagePath(up.ObjectKey)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return err
		}
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
		if err != nil {
			return err
		}
		defer f.Close()
		// Bytes past the recorded offset are a crashed request's: the database is the truth.
		if fi, err := f.Stat(); err != nil {
			return err
		} else if fi.Size() < up.Received {
			return fmt.Errorf("staging file of upload %s has %d bytes, %d recorded", up.ID, fi.Size(), up.Received)
		}
		if err := f.Truncate(up.Received); err != nil {
			return err
		}
		if _, err := f.Seek(up.Received, io.SeekStart); err != nil {
			return err
		}
		n, cerr = io.Copy(f, body)
		if v := verdict(cerr); v != nil {
			_ = f.Truncate(up.Received)
			return v
		}
		if err := f.Sync(); err != nil {
			return err
		}
	} else {
		spool, err := s.spool(up)
		if err != nil {
			return err
		}
		defer func() {
			spool.Close()
			_ = os.Remove(spool.Name())
		}()
		n, cerr = io.Copy(spool, body)
		if v := verdict(cerr); v != nil {
			return v
		}
		if n > 0 {
			if _, err := spool.Seek(0, io.SeekStart); err != nil {
				return err
			}
			if err := s.storeChunk(context.WithoutCancel(ctx), up, spool, n); err != nil {
				return err
			}
		}
	}
	up.Received += n
	if err := s.saveTus(ctx, up); err != nil {
		return err
	}
	if cerr != nil {
		// The client went away mid-chunk; what arrived is kept for its resume.
		return ErrAborted
	}
	return nil
}

// saveTus records the upload's progress (the lock token proves the lock is still ours).
func (s *Service) saveTus(ctx context.Context, up *tusRow) error {
	now := time.Now().UTC()
	up.ExpiresAt = now.Add(s.cfg.ResumableTTL)
	res := s.db.Gorm.WithContext(context.WithoutCancel(ctx)).Model(&tusRow{}).Where("id = ? AND lock_token = ?", up.ID, up.LockToken).
		Updates(map[string]any{"received": up.Received, "parts": up.Parts, "tail_size": up.TailSize, "multipart_id": up.MultipartID,
			"expires_at": up.ExpiresAt, "updated_at": now})
	if res.Error == nil && res.RowsAffected == 0 {
		return fmt.Errorf("upload %s: lost its lock while writing", up.ID)
	}
	return res.Error
}

func (s *Service) spool(up *tusRow) (*os.File, error) {
	// Under the video's work directory, which the orphan sweeper leaves alone while the video exists.
	dir := filepath.Join(s.cfg.WorkDir, up.VideoID)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	return os.CreateTemp(dir, "tus-chunk-")
}

// storeChunk puts n spooled bytes after the upload's tail on S3: as the next part once tail and
// chunk reach a part's minimum (or the end), else as the new tail. A single-part upload becomes the
// object directly.
func (s *Service) storeChunk(ctx context.Context, up *tusRow, spool io.Reader, n int64) error {
	mp, ok := storage.AsMultipart(s.store)
	if !ok {
		return fmt.Errorf("storage %s supports neither staging nor multipart uploads", s.store.Name())
	}
	oldTail := up.TailSize
	total := oldTail + n
	end := up.Received + n
	final := end == up.Length
	var r io.Reader = spool
	if oldTail > 0 {
		tr, _, err := s.store.Get(ctx, up.tailKey(up.Received), 0, oldTail)
		if err != nil {
			return fmt.Errorf("read upload tail: %w", err)
		}
		defer tr.Close()
		r = io.MultiReader(tr, spool)
	}
	parts := up.parts()
	switch {
	case final && len(parts) == 0:
		if _, err := s.store.Put(ctx, up.ObjectKey, r, total, storage.PutOptions{ContentType: "application/octet-stream"}); err != nil {
			return err
		}
		up.TailSize = 0
	case total >= storage.MinPartSize || final:
		if up.MultipartID == "" {
			id, err := mp.CreateMultipart(ctx, up.ObjectKey, storage.PutOptions{ContentType: "application/octet-stream"})
			if err != nil {
				return err
			}
			// Recorded at once, so that an expired upload's parts are aborted whatever happens next.
			up.MultipartID = id
			if err := s.db.Gorm.WithContext(ctx).Model(&tusRow{}).Where("id = ?", up.ID).Update("multipart_id", id).Error; err != nil {
				return err
			}
		}
		p, err := mp.PutPart(ctx, up.ObjectKey, up.MultipartID, len(parts)+1, r, total)
		if err != nil {
			return err
		}
		b, _ := json.Marshal(append(parts, p))
		up.Parts, up.TailSize = string(b), 0
	default:
		if _, err := s.store.Put(ctx, up.tailKey(end), r, total, storage.PutOptions{ContentType: "application/octet-stream"}); err != nil {
			return err
		}
		up.TailSize = total
	}
	if oldTail > 0 {
		// The old tail is in the new part or tail now (a crash before this leaves a small object
		// under the video's prefix, removed with the video).
		defer func() { _ = s.store.Delete(ctx, up.tailKey(end-n)) }()
	}
	return nil
}

// finishTus assembles a fully received upload into its object, validates it and hands it to the
// pipeline (video queued with its first job, in one transaction); media that cannot be processed
// fails the video with the reason. Safe to repeat after a crash at any point.
func (s *Service) finishTus(ctx context.Context, up *tusRow) error {
	ctx = context.WithoutCancel(ctx)
	var assembled storage.Object
	var err error
	if st, ok := storage.AsStager(s.store); ok {
		assembled, err = st.Publish(ctx, up.ObjectKey)
	} else if parts := up.parts(); len(parts) > 0 {
		mp, _ := storage.AsMultipart(s.store)
		assembled, err = mp.CompleteMultipart(ctx, up.ObjectKey, up.MultipartID, parts)
	} else {
		assembled, err = s.store.Stat(ctx, up.ObjectKey)
	}
	if err != nil {
		// Already assembled by an earlier attempt that stopped before recording it?
		obj, serr := s.store.Stat(ctx, up.ObjectKey)
		if serr != nil || obj.Size != up.Length {
			return fmt.Errorf("assemble upload %s: %w", up.ID, err)
		}
		assembled = obj
	}
	if assembled.Size != up.Length {
		return fmt.Errorf("upload %s assembled %d bytes of %d", up.ID, assembled.Size, up.Length)
	}
	complete := func(tx *db.Tx) (bool, error) {
		res := tx.G.Model(&tusRow{}).Where("id = ? AND status = ?", up.ID, tusReceiving).
			Updates(map[string]any{"status": tusCompleted, "updated_at": time.Now().UTC()})
		return res.RowsAffected > 0, res.Error
	}
	input, err := s.localInput(ctx, up.ObjectKey)
	if err != nil {
		return err
	}
	probe, err := s.validateMedia(ctx, input)
	if err != nil {
		var bad *UnreadableMediaError
		if !errors.As(err, &bad) {
			return err
		}
		if err := s.catalog.Fail(ctx, up.VideoID, bad.Reason); err != nil {
			return err
		}
		up.Status = tusCompleted
		return s.db.WithTx(ctx, func(tx *db.Tx) error { _, err := complete(tx); return err })
	}
	err = s.db.WithTx(ctx, func(tx *db.Tx) error {
		if first, err := complete(tx); err != nil || !first {
			return err
		}
		if err := s.catalog.MarkUploadedTx(ctx, tx, up.VideoID, assembled.Size); err != nil {
			return err
		}
		return s.pipeline.EnqueueTx(ctx, tx, up.VideoID, 1, probe)
	})
	if err == nil {
		up.Status = tusCompleted
	}
	return err
}

// TerminateTus removes an unfinished upload of ownerID with everything stored for it and its video.
func (s *Service) TerminateTus(ctx context.Context, ownerID, id string) error {
	up, release, err := s.lockTus(ctx, ownerID, id)
	if err != nil {
		return err
	}
	defer release()
	if up.Status == tusCompleted {
		return ErrUploadFinished
	}
	s.dropTus(context.WithoutCancel(ctx), up)
	return nil
}

// dropTus removes an unfinished upload: its multipart upload, staging file and tails (under the
// video's prefix), its video, and its row.
func (s *Service) dropTus(ctx context.Context, up *tusRow) {
	if up.MultipartID != "" {
		if mp, ok := storage.AsMultipart(s.store); ok {
			if err := mp.AbortMultipart(ctx, up.ObjectKey, up.MultipartID); err != nil {
				s.log.Warn("abort multipart upload", "upload", up.ID, "err", err)
			}
		}
	}
	if up.Status != tusCompleted {
		if err := s.catalog.RemoveVideo(ctx, up.VideoID); err != nil {
			s.log.Warn("remove video of dropped upload", "upload", up.ID, "err", err)
		}
		_ = s.store.DeletePrefix(ctx, vodtype.VideoPrefix(up.VideoID))
	}
	_ = s.db.Gorm.WithContext(ctx).Where("id = ?", up.ID).Delete(&tusRow{}).Error
}

// sweepTus removes expired uploads (unfinished ones with their video and stored bytes; finished
// ones only their row) and finishes uploads whose bytes all arrived but whose finishing a crash
// interrupted.
func (s *Service) sweepTus(ctx context.Context) error {
	now := time.Now().UTC()
	var rows []tusRow
	if err := s.db.Gorm.WithContext(ctx).Where("expires_at < ? AND locked_until < ?", now, now).Find(&rows).Error; err != nil {
		return err
	}
	for i := range rows {
		s.log.Info("removing expired resumable upload", "upload", rows[i].ID, "video", rows[i].VideoID, "received", rows[i].Received)
		s.dropTus(ctx, &rows[i])
	}
	var stuck []tusRow
	if err := s.db.Gorm.WithContext(ctx).Where("status = ? AND received = length AND locked_until < ? AND updated_at < ?",
		tusReceiving, now, now.Add(-time.Minute)).Find(&stuck).Error; err != nil {
		return err
	}
	for _, r := range stuck {
		up, release, err := s.lockTus(ctx, r.OwnerID, r.ID)
		if err != nil {
			continue
		}
		if err := s.finishTus(ctx, up); err != nil {
			s.log.Warn("finish resumable upload", "upload", r.ID, "err", err)
		}
		release()
	}
	return nil
}
