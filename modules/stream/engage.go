package stream

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	_ "image/png" // posters may be uploaded as PNG
	"io"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/image/draw"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"vod/app/db"
	"vod/app/storage"
	"vod/app/vodtype"
)

// Custom thumbnails: what an owner may upload, and what is kept of it. The upload is decoded and
// drawn again into a new JPEG, so that nothing of the uploaded file (metadata, trailing bytes, a
// polyglot) is ever served.
const (
	MaxPosterBytes  = 10 << 20
	maxPosterPixels = 40_000_000
	posterMaxWidth  = 1920
	posterMaxHeight = 1080
)

// InvalidImageError is a poster upload that is not a JPEG or PNG image we can use.
type InvalidImageError struct{ Reason string }

func (e *InvalidImageError) Error() string { return "stream: invalid image: " + e.Reason }

// SetPoster makes raw (a JPEG or PNG file of at most MaxPosterBytes) the video's thumbnail. The
// object is written before the row points at it, and the previous custom thumbnail is removed after.
func (s *Catalog) SetPoster(ctx context.Context, r *videoRow, raw []byte) (Video, error) {
	out, err := reencodePoster(raw)
	if err != nil {
		return Video{}, err
	}
	key := vodtype.VideoPrefix(r.ID) + "poster/" + uuid.NewString() + ".jpg"
	if _, err := s.store.Put(ctx, key, bytes.NewReader(out), int64(len(out)),
		storage.PutOptions{ContentType: "image/jpeg", CacheControl: vodtype.CacheControl(key)}); err != nil {
		return Video{}, err
	}
	old, err := s.swapPoster(ctx, r.ID, key)
	if err != nil {
		_ = s.store.Delete(context.WithoutCancel(ctx), key)
		return Video{}, err
	}
	s.dropPoster(ctx, old)
	return s.reread(ctx, r.ID)
}

// ClearPoster goes back to the generated thumbnail.
func (s *Catalog) ClearPoster(ctx context.Context, r *videoRow) (Video, error) {
	old, err := s.swapPoster(ctx, r.ID, "")
	if err != nil {
		return Video{}, err
	}
	s.dropPoster(ctx, old)
	return s.reread(ctx, r.ID)
}

func (s *Catalog) swapPoster(ctx context.Context, id, key string) (old string, err error) {
	err = s.db.WithTx(ctx, func(tx *db.Tx) error {
		r, err := s.lockVideo(tx, id)
		if err != nil {
			return err
		}
		old = r.CustomPosterKey
		if err := tx.G.Model(&videoRow{}).Where("id = ?", id).
			Updates(map[string]any{"custom_poster_key": key, "updated_at": time.Now().UTC()}).Error; err != nil {
			return err
		}
		return s.index.VideoChangedTx(ctx, tx, id)
	})
	s.forget(id)
	return old, err
}

func (s *Catalog) dropPoster(ctx context.Context, key string) {
	if key == "" {
		return
	}
	if err := s.store.Delete(context.WithoutCancel(ctx), key); err != nil && !errors.Is(err, storage.ErrNotFound) {
		s.log.Warn("delete replaced poster", "key", key, "err", err)
	}
}

func (s *Catalog) reread(ctx context.Context, id string) (Video, error) {
	r, err := s.row(ctx, id)
	if err != nil {
		return Video{}, err
	}
	return s.render(ctx, r, true)
}

// reencodePoster checks the image's size before decoding it (a small file may announce a huge
// canvas), scales it to fit 1920x1080 and encodes it as a JPEG.
func reencodePoster(raw []byte) ([]byte, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(raw))
	if err != nil {
		return nil, &InvalidImageError{Reason: "the file is not a JPEG or PNG image"}
	}
	if format != "jpeg" && format != "png" {
		return nil, &InvalidImageError{Reason: "the image must be a JPEG or PNG"}
	}
	if cfg.Width < 16 || cfg.Height < 16 {
		return nil, &InvalidImageError{Reason: "the image must be at least 16x16 pixels"}
	}
	if int64(cfg.Width)*int64(cfg.Height) > maxPosterPixels {
		return nil, &InvalidImageError{Reason: fmt.Sprintf("the image is %dx%d; at most 40 megapixels", cfg.Width, cfg.Height)}
	}
	src, _, err := image.Decode(bytes.NewReader(raw))
	if err != nil {
		return nil, &InvalidImageError{Reason: "the image is damaged and cannot be read"}
	}
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	if w > posterMaxWidth || h > posterMaxHeight {
		scale := min(float64(posterMaxWidth)/float64(w), float64(posterMaxHeight)/float64(h))
		w, h = max(1, int(float64(w)*scale+0.5)), max(1, int(float64(h)*scale+0.5))
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	// Transparent PNG areas become white rather than black.
	draw.Draw(dst, dst.Bounds(), image.White, image.Point{}, draw.Src)
	draw.CatmullRom.Scale(dst, dst.Bounds(), src, b, draw.Over, nil)
	var out bytes.Buffer
	if err := jpeg.Encode(&out, dst, &jpeg.Options{Quality: 85}); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// ReadPoster reads an upload body of at most MaxPosterBytes; ErrPosterTooBig past it.
func ReadPoster(body io.Reader) ([]byte, error) {
	raw, err := io.ReadAll(io.LimitReader(body, MaxPosterBytes+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > MaxPosterBytes {
		return nil, ErrPosterTooBig
	}
	return raw, nil
}

// ErrPosterTooBig: a thumbnail upload over MaxPosterBytes.
var ErrPosterTooBig = errors.New("stream: thumbnail over 10 MiB")

// views remembers the day's salt of this process, so that counting a view is one transaction.
type viewSalt struct {
	mu   sync.Mutex
	day  string
	salt string
}

// RecordView counts a viewer of a video once per UTC day. viewer identifies the caller (a user id,
// or the address and browser of an anonymous one); only a hash of it under the day's salt is stored,
// and the salt and the day's rows are deleted the next day. It returns the video's count and
// whether this call added to it.
func (s *Catalog) RecordView(ctx context.Context, r *videoRow, viewer string) (int64, bool, error) {
	now := time.Now().UTC()
	day := now.Format(time.DateOnly)
	salt, err := s.daySalt(ctx, day)
	if err != nil {
		return 0, false, err
	}
	sum := sha256.Sum256([]byte(salt + "|" + r.ID + "|" + viewer))
	hash := hex.EncodeToString(sum[:16])
	var counted bool
	var views int64
	err = s.db.WithTx(ctx, func(tx *db.Tx) error {
		res := tx.G.Clauses(clause.OnConflict{DoNothing: true}).Create(&viewRow{VideoID: r.ID, Day: day, Viewer: hash})
		if res.Error != nil {
			return res.Error
		}
		if counted = res.RowsAffected == 1; counted {
			if err := tx.G.Model(&videoRow{}).Where("id = ?", r.ID).Update("views", gorm.Expr("views + 1")).Error; err != nil {
				return err
			}
		}
		return tx.G.Model(&videoRow{}).Where("id = ?", r.ID).Pluck("views", &views).Error
	})
	if counted {
		s.forget(r.ID) // the cached view of the video shows the new count at once
	}
	return views, counted, err
}

// daySalt returns the salt of day, making it (and dropping the past days' salts and rows) when the
// first view of the day arrives. Every process reads the same salt from the database.
func (s *Catalog) daySalt(ctx context.Context, day string) (string, error) {
	s.salt.mu.Lock()
	defer s.salt.mu.Unlock()
	if s.salt.day == day {
		return s.salt.salt, nil
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	var salt string
	err := s.db.WithTx(ctx, func(tx *db.Tx) error {
		if err := tx.G.Clauses(clause.OnConflict{DoNothing: true}).Create(&saltRow{Day: day, Salt: hex.EncodeToString(b[:])}).Error; err != nil {
			return err
		}
		if err := tx.G.Model(&saltRow{}).Where("day = ?", day).Pluck("salt", &salt).Error; err != nil {
			return err
		}
		if err := tx.G.Where("day < ?", day).Delete(&saltRow{}).Error; err != nil {
			return err
		}
		return tx.G.Where("day < ?", day).Delete(&viewRow{}).Error
	})
	if err != nil {
		return "", err
	}
	s.salt.day, s.salt.salt = day, salt
	return salt, nil
}
