package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config locates a bucket on any S3-compatible service.
type S3Config struct {
	Endpoint, Bucket, AccessKey, SecretKey, Region string
	UseSSL                                         bool
}

// S3 stores objects in one bucket through minio-go.
type S3 struct {
	c      *minio.Client
	core   minio.Core
	bucket string
}

// partSize bounds the memory of a put of unknown size: minio-go buffers one part at a time, and with
// no part size it would pick 5 TiB / 10000 parts, about 550 MB per buffer.
const partSize = 16 << 20

// NewS3 connects and creates the bucket when it is missing.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	// Connections to storage are reused: minio-go keeps 16 idle ones per host by default, and 200
	// viewers fetching segments at once through this process opened and closed connections at
	// every request (media through S3 was ~500x slower than from disk under load).
	tr, err := minio.DefaultTransport(cfg.UseSSL)
	if err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 512, 512
	// Media bodies are read in large pieces: fewer system calls per segment relayed.
	tr.ReadBufferSize = 128 << 10
	c, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:     credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:    cfg.UseSSL,
		Region:    cfg.Region,
		Transport: tr,
	})
	if err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	ok, err := c.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("s3 bucket %s: %w", cfg.Bucket, err)
	}
	if !ok {
		if err := c.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{Region: cfg.Region}); err != nil {
			var resp minio.ErrorResponse
			if !errors.As(err, &resp) || resp.Code != "BucketAlreadyOwnedByYou" {
				return nil, fmt.Errorf("s3 create bucket %s: %w", cfg.Bucket, err)
			}
		}
	}
	return &S3{c: c, core: minio.Core{Client: c}, bucket: cfg.Bucket}, nil
}

func (s *S3) Name() string { return "s3" }

func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64, opts PutOptions) (Object, error) {
	if !ValidKey(key) {
		return Object{}, ErrInvalidKey
	}
	info, err := s.c.PutObject(ctx, s.bucket, key, r, size, minio.PutObjectOptions{
		ContentType:  opts.ContentType,
		CacheControl: opts.CacheControl,
		PartSize:     partSize,
	})
	if err != nil {
		return Object{}, fmt.Errorf("s3 put %s: %w", key, err)
	}
	if size >= 0 && info.Size != size {
		_ = s.Delete(context.WithoutCancel(ctx), key)
		return Object{}, fmt.Errorf("storage: short write: %d of %d bytes", info.Size, size)
	}
	return s.Stat(ctx, key)
}

func (s *S3) Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, Object, error) {
	if !ValidKey(key) {
		return nil, Object{}, ErrInvalidKey
	}
	var opts minio.GetObjectOptions
	if length == 0 {
		obj, err := s.Stat(ctx, key)
		return io.NopCloser(http.NoBody), obj, err
	}
	if offset > 0 || length > 0 {
		end := int64(0)
		if length > 0 {
			end = offset + length - 1
		}
		if err := opts.SetRange(offset, end); err != nil {
			return nil, Object{}, err
		}
	}
	// One request: the response body itself (not minio.Object, which reads through a goroutine and
	// asks again for the object's info), its headers describing the object.
	body, st, h, err := s.core.GetObject(ctx, s.bucket, key, opts)
	if err != nil {
		return nil, Object{}, mapErr(err)
	}
	obj := toObject(st)
	obj.Key = key
	// A ranged answer's Content-Length is the range's: the object's size is after the slash of
	// Content-Range.
	if cr := h.Get("Content-Range"); cr != "" {
		if i := strings.LastIndexByte(cr, '/'); i >= 0 {
			if n, err := strconv.ParseInt(cr[i+1:], 10, 64); err == nil {
				obj.Size = n
			}
		}
	}
	return body, obj, nil
}

func (s *S3) Stat(ctx context.Context, key string) (Object, error) {
	if !ValidKey(key) {
		return Object{}, ErrInvalidKey
	}
	st, err := s.c.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return Object{}, mapErr(err)
	}
	return toObject(st), nil
}

func toObject(st minio.ObjectInfo) Object {
	return Object{Key: st.Key, Size: st.Size, ModTime: st.LastModified.UTC(), ETag: st.ETag, ContentType: st.ContentType}
}

func mapErr(err error) error {
	switch minio.ToErrorResponse(err).StatusCode {
	case http.StatusNotFound:
		return ErrNotFound
	case http.StatusRequestedRangeNotSatisfiable:
		return ErrInvalidRange
	}
	return err
}

func (s *S3) Delete(ctx context.Context, key string) error {
	if !ValidKey(key) {
		return ErrInvalidKey
	}
	return s.c.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{})
}

func (s *S3) DeletePrefix(ctx context.Context, prefix string) error {
	if prefix == "" || !validPrefix(prefix) {
		return ErrInvalidKey
	}
	objs := s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true})
	for e := range s.c.RemoveObjects(ctx, s.bucket, objs, minio.RemoveObjectsOptions{}) {
		if e.Err != nil {
			return fmt.Errorf("s3 delete %s: %w", e.ObjectName, e.Err)
		}
	}
	return ctx.Err()
}

func (s *S3) List(ctx context.Context, prefix string, fn func(Object) error) error {
	if !validPrefix(prefix) {
		return ErrInvalidKey
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for o := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			return o.Err
		}
		if err := fn(toObject(o)); err != nil {
			return err
		}
	}
	return nil
}

func (s *S3) PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error) {
	if !ValidKey(key) {
		return "", ErrInvalidKey
	}
	u, err := s.c.PresignedGetObject(ctx, s.bucket, key, ttl, url.Values{})
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

func (s *S3) PresignPut(ctx context.Context, key string, ttl time.Duration) (string, error) {
	if !ValidKey(key) {
		return "", ErrInvalidKey
	}
	u, err := s.c.PresignedPutObject(ctx, s.bucket, key, ttl)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

func (s *S3) Ping(ctx context.Context) error {
	ok, err := s.c.BucketExists(ctx, s.bucket)
	if err == nil && !ok {
		err = fmt.Errorf("s3: bucket %s is gone", s.bucket)
	}
	return err
}

func (s *S3) CreateMultipart(ctx context.Context, key string, opts PutOptions) (string, error) {
	if !ValidKey(key) {
		return "", ErrInvalidKey
	}
	id, err := s.core.NewMultipartUpload(ctx, s.bucket, key, minio.PutObjectOptions{ContentType: opts.ContentType, CacheControl: opts.CacheControl})
	if err != nil {
		return "", fmt.Errorf("s3 create multipart %s: %w", key, err)
	}
	return id, nil
}

// PutPart streams size bytes of r as part number (the payload is signed as it streams: no buffer).
func (s *S3) PutPart(ctx context.Context, key, uploadID string, number int, r io.Reader, size int64) (Part, error) {
	if !ValidKey(key) {
		return Part{}, ErrInvalidKey
	}
	p, err := s.core.PutObjectPart(ctx, s.bucket, key, uploadID, number, r, size, minio.PutObjectPartOptions{})
	if err != nil {
		return Part{}, fmt.Errorf("s3 put part %d of %s: %w", number, key, err)
	}
	return Part{Number: p.PartNumber, ETag: p.ETag, Size: p.Size}, nil
}

func (s *S3) CompleteMultipart(ctx context.Context, key, uploadID string, parts []Part) (Object, error) {
	if !ValidKey(key) {
		return Object{}, ErrInvalidKey
	}
	cp := make([]minio.CompletePart, len(parts))
	for i, p := range parts {
		cp[i] = minio.CompletePart{PartNumber: p.Number, ETag: p.ETag}
	}
	if _, err := s.core.CompleteMultipartUpload(ctx, s.bucket, key, uploadID, cp, minio.PutObjectOptions{}); err != nil {
		return Object{}, fmt.Errorf("s3 complete multipart %s: %w", key, mapErr(err))
	}
	return s.Stat(ctx, key)
}

func (s *S3) AbortMultipart(ctx context.Context, key, uploadID string) error {
	if !ValidKey(key) {
		return ErrInvalidKey
	}
	err := s.core.AbortMultipartUpload(ctx, s.bucket, key, uploadID)
	if err != nil && errors.Is(mapErr(err), ErrNotFound) {
		return nil
	}
	return err
}
