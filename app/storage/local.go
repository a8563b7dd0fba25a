package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Local stores objects as files under a root directory.
type Local struct{ root string }

// NewLocal creates the root directory if needed.
func NewLocal(root string) (*Local, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return nil, fmt.Errorf("storage dir: %w", err)
	}
	return &Local{root: abs}, nil
}

func (l *Local) Name() string { return "local" }

func (l *Local) path(key string) (string, error) {
	if !ValidKey(key) {
		return "", ErrInvalidKey
	}
	return filepath.Join(l.root, filepath.FromSlash(key)), nil
}

func (l *Local) Put(ctx context.Context, key string, r io.Reader, size int64, opts PutOptions) (Object, error) {
	p, err := l.path(key)
	if err != nil {
		return Object{}, err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return Object{}, err
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := filepath.Join(filepath.Dir(p), ".tmp-"+hex.EncodeToString(rnd[:]))
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return Object{}, err
	}
	n, err := io.Copy(f, ctxReader{ctx, r})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && size >= 0 && n != size {
		err = fmt.Errorf("storage: short write: %d of %d bytes", n, size)
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return Object{}, err
	}
	return l.Stat(ctx, key)
}

func (l *Local) Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, Object, error) {
	p, err := l.path(key)
	if err != nil {
		return nil, Object{}, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, Object{}, ErrNotFound
	} else if err != nil {
		return nil, Object{}, err
	}
	fi, err := f.Stat()
	if err != nil || fi.IsDir() {
		f.Close()
		return nil, Object{}, ErrNotFound
	}
	obj := l.object(key, fi)
	if offset < 0 || offset > fi.Size() {
		f.Close()
		return nil, Object{}, fmt.Errorf("storage: offset %d outside object of %d bytes", offset, fi.Size())
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		f.Close()
		return nil, Object{}, err
	}
	if length < 0 {
		return f, obj, nil
	}
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(f, length), f}, obj, nil
}

func (l *Local) object(key string, fi fs.FileInfo) Object {
	return Object{
		Key: key, Size: fi.Size(), ModTime: fi.ModTime().UTC(),
		ETag: fmt.Sprintf("%x-%x", fi.ModTime().UnixNano(), fi.Size()),
	}
}

func (l *Local) Stat(_ context.Context, key string) (Object, error) {
	p, err := l.path(key)
	if err != nil {
		return Object{}, err
	}
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && fi.IsDir()) {
		return Object{}, ErrNotFound
	} else if err != nil {
		return Object{}, err
	}
	return l.object(key, fi), nil
}

func (l *Local) Delete(_ context.Context, key string) error {
	p, err := l.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	// Directories exist only for the objects in them (as on S3): prune the ones this emptied, up to
	// the root. os.Remove refuses a directory that is not empty, so a concurrent write is safe.
	for dir := filepath.Dir(p); dir != l.root && strings.HasPrefix(dir, l.root+string(filepath.Separator)); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			break
		}
	}
	return nil
}

func (l *Local) DeletePrefix(_ context.Context, prefix string) error {
	if prefix == "" || !validPrefix(prefix) {
		return ErrInvalidKey
	}
	return os.RemoveAll(filepath.Join(l.root, filepath.FromSlash(strings.TrimSuffix(prefix, "/"))))
}

func (l *Local) List(ctx context.Context, prefix string, fn func(Object) error) error {
	if !validPrefix(prefix) {
		return ErrInvalidKey
	}
	start := filepath.Join(l.root, filepath.FromSlash(strings.TrimSuffix(prefix, "/")))
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".tmp-") {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(l.root, p)
		return fn(l.object(filepath.ToSlash(rel), fi))
	})
	return err
}

func (l *Local) PresignGet(context.Context, string, time.Duration) (string, error) {
	return "", ErrNotSupported
}

func (l *Local) PresignPut(context.Context, string, time.Duration) (string, error) {
	return "", ErrNotSupported
}

func (l *Local) Ping(context.Context) error {
	f, err := os.CreateTemp(l.root, ".tmp-ping-")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

// ctxReader stops a copy when the context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

type localFile struct {
	*os.File
	obj Object
}

func (f localFile) Info() Object { return f.obj }

// OSFile exposes the file so that HTTP delivery can use sendfile.
func (f localFile) OSFile() *os.File { return f.File }

func (l *Local) open(key string) (File, error) {
	p, err := l.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil || fi.IsDir() {
		f.Close()
		return nil, ErrNotFound
	}
	return localFile{File: f, obj: l.object(key, fi)}, nil
}

// Path returns the file behind a key, for tools (ffprobe) that read local files directly.
func (l *Local) Path(key string) (string, error) { return l.path(key) }

// StagePath is the staging file of key: in the object's directory (so that Publish is a rename) and
// named like the temporary files List skips.
func (l *Local) StagePath(key string) (string, error) {
	p, err := l.path(key)
	if err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(p), ".tmp-stage-"+filepath.Base(p)), nil
}

// Publish makes key's staging file the object.
func (l *Local) Publish(ctx context.Context, key string) (Object, error) {
	p, err := l.path(key)
	if err != nil {
		return Object{}, err
	}
	stage, _ := l.StagePath(key)
	if err := os.Rename(stage, p); errors.Is(err, fs.ErrNotExist) {
		return Object{}, ErrNotFound
	} else if err != nil {
		return Object{}, err
	}
	return l.Stat(ctx, key)
}
