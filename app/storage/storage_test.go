package storage_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"vod/app/storage"
	"vod/app/testenv"
)

// backends returns every backend this run can reach, each on a fresh root or bucket.
func backends(t *testing.T) map[string]storage.Storage {
	t.Helper()
	out := map[string]storage.Storage{}
	l, err := storage.NewLocal(t.TempDir())
	require.NoError(t, err)
	out["local"] = l
	if testenv.S3() {
		s := testenv.Bucket(t)
		s3, err := storage.NewS3(context.Background(), storage.S3Config{Endpoint: s.Endpoint, Bucket: s.Bucket, AccessKey: s.AccessKey, SecretKey: s.SecretKey})
		require.NoError(t, err)
		out["s3"] = s3
	}
	return out
}

func readAll(t *testing.T, s storage.Storage, key string, off, n int64) string {
	t.Helper()
	rc, _, err := s.Get(context.Background(), key, off, n)
	require.NoError(t, err)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	return string(b)
}

func TestStorageContract(t *testing.T) {
	t.Parallel()
	for name, s := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			obj, err := s.Put(ctx, "videos/a/source", strings.NewReader("0123456789"), 10, storage.PutOptions{ContentType: "video/mp4"})
			require.NoError(t, err)
			require.EqualValues(t, 10, obj.Size)
			require.NotEmpty(t, obj.ETag)

			// Unknown size.
			_, err = s.Put(ctx, "videos/a/out/seg-1.m4s", io.MultiReader(strings.NewReader("abc"), strings.NewReader("def")), -1, storage.PutOptions{})
			require.NoError(t, err)
			_, err = s.Put(ctx, "videos/b/x", strings.NewReader("x"), 1, storage.PutOptions{})
			require.NoError(t, err)

			require.Equal(t, "0123456789", readAll(t, s, "videos/a/source", 0, -1))
			require.Equal(t, "2345", readAll(t, s, "videos/a/source", 2, 4), "range read")
			require.Equal(t, "789", readAll(t, s, "videos/a/source", 7, -1), "open-ended range")
			require.Equal(t, "abcdef", readAll(t, s, "videos/a/out/seg-1.m4s", 0, -1))

			st, err := s.Stat(ctx, "videos/a/source")
			require.NoError(t, err)
			require.EqualValues(t, 10, st.Size)
			require.WithinDuration(t, time.Now(), st.ModTime, time.Minute)

			// Overwrite replaces whole.
			_, err = s.Put(ctx, "videos/a/source", strings.NewReader("new"), 3, storage.PutOptions{})
			require.NoError(t, err)
			require.Equal(t, "new", readAll(t, s, "videos/a/source", 0, -1))

			// A put whose reader fails leaves nothing behind.
			_, err = s.Put(ctx, "videos/c/broken", io.MultiReader(strings.NewReader("partial"), failingReader{}), -1, storage.PutOptions{})
			require.Error(t, err)
			_, err = s.Stat(ctx, "videos/c/broken")
			require.ErrorIs(t, err, storage.ErrNotFound)
			// A put shorter than announced fails too.
			_, err = s.Put(ctx, "videos/c/short", strings.NewReader("abc"), 10, storage.PutOptions{})
			require.Error(t, err)
			_, err = s.Stat(ctx, "videos/c/short")
			require.ErrorIs(t, err, storage.ErrNotFound)

			var keys []string
			require.NoError(t, s.List(ctx, "videos/a/", func(o storage.Object) error { keys = append(keys, o.Key); return nil }))
			require.ElementsMatch(t, []string{"videos/a/source", "videos/a/out/seg-1.m4s"}, keys)

			require.NoError(t, s.DeletePrefix(ctx, "videos/a/"))
			_, err = s.Stat(ctx, "videos/a/source")
			require.ErrorIs(t, err, storage.ErrNotFound)
			_, _, err = s.Get(ctx, "videos/a/out/seg-1.m4s", 0, -1)
			require.ErrorIs(t, err, storage.ErrNotFound)
			_, err = s.Stat(ctx, "videos/b/x")
			require.NoError(t, err, "other prefixes untouched")
			require.NoError(t, s.Delete(ctx, "videos/b/x"))
			require.NoError(t, s.Delete(ctx, "videos/b/x"), "deleting twice is fine")

			for _, bad := range []string{"", "/etc/passwd", "../x", "videos/../../x", "videos//x", "videos/./x", `videos\x`, "videos/x/", "videos/%2e%2e/x", "videos/\x00"} {
				_, err := s.Put(ctx, bad, strings.NewReader("x"), 1, storage.PutOptions{})
				require.ErrorIs(t, err, storage.ErrInvalidKey, "%q", bad)
				_, _, err = s.Get(ctx, bad, 0, -1)
				require.ErrorIs(t, err, storage.ErrInvalidKey, "%q", bad)
			}
			require.ErrorIs(t, s.DeletePrefix(ctx, ""), storage.ErrInvalidKey, "never delete everything")
			require.NoError(t, s.Ping(ctx))

			_, err = s.PresignGet(ctx, "videos/p/x", time.Minute)
			if name == "local" {
				require.ErrorIs(t, err, storage.ErrNotSupported)
				return
			}
			require.NoError(t, err)
			put, err := s.PresignPut(ctx, "videos/p/x", time.Minute)
			require.NoError(t, err)
			req, _ := http.NewRequest(http.MethodPut, put, strings.NewReader("presigned"))
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			res.Body.Close()
			require.Equal(t, 200, res.StatusCode)
			get, err := s.PresignGet(ctx, "videos/p/x", time.Minute)
			require.NoError(t, err)
			res, err = http.Get(get)
			require.NoError(t, err)
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			require.Equal(t, "presigned", string(b))
		})
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

// patternReader yields n deterministic bytes without holding them.
type patternReader struct {
	n, off int64
	h      hashWriter
}

type hashWriter interface{ Write([]byte) (int, error) }

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	if int64(len(b)) > p.n-p.off {
		b = b[:p.n-p.off]
	}
	for i := range b {
		x := uint64(p.off + int64(i))
		b[i] = byte(x*2654435761>>13) ^ byte(x)
	}
	p.off += int64(len(b))
	p.h.Write(b)
	return len(b), nil
}

func TestStoragePutUnknownSizeKeepsHeapSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 512 MiB")
	}
	const size = 512 << 20
	for name, s := range backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			runtime.GC()
			var peak atomic.Uint64
			stop := make(chan struct{})
			done := make(chan struct{})
			go func() {
				defer close(done)
				var ms runtime.MemStats
				for {
					runtime.ReadMemStats(&ms)
					if ms.HeapInuse > peak.Load() {
						peak.Store(ms.HeapInuse)
					}
					select {
					case <-stop:
						return
					case <-time.After(5 * time.Millisecond):
					}
				}
			}()
			in := sha256.New()
			obj, err := s.Put(ctx, "videos/big/source", &patternReader{n: size, h: in}, -1, storage.PutOptions{})
			close(stop)
			<-done
			require.NoError(t, err)
			require.EqualValues(t, size, obj.Size)
			t.Logf("%s: peak heap in use %d MiB", name, peak.Load()>>20)
			require.Less(t, peak.Load(), uint64(64<<20), "heap must stay under 64 MiB")

			rc, _, err := s.Get(ctx, "videos/big/source", size-5, -1)
			require.NoError(t, err)
			tail, _ := io.ReadAll(rc)
			rc.Close()
			want := &patternReader{n: size, off: size - 5, h: io.Discard}
			exp := make([]byte, 5)
			_, _ = io.ReadFull(want, exp)
			require.True(t, bytes.Equal(exp, tail), "range at the end of a 512 MiB object")
			require.NoError(t, s.Delete(ctx, "videos/big/source"))
		})
	}
}
