package upload

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// tus sends one tus request to the module; headers are name, value pairs.
func (b *bundle) tus(method, path string, body []byte, headers ...string) *httptest.ResponseRecorder {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	req.Header.Set("Tus-Resumable", "1.0.0")
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	b.echo.ServeHTTP(rec, req)
	return rec
}

func meta(kv ...string) string {
	var parts []string
	for i := 0; i+1 < len(kv); i += 2 {
		parts = append(parts, kv[i]+" "+base64.StdEncoding.EncodeToString([]byte(kv[i+1])))
	}
	return strings.Join(parts, ",")
}

func (b *bundle) create(t *testing.T, length int) string {
	t.Helper()
	rec := b.tus(http.MethodPost, "/api/v1/tus", nil, "Upload-Length", strconv.Itoa(length),
		"Upload-Metadata", meta("filename", "holiday.mp4", "visibility", "unlisted"))
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	loc := rec.Header().Get("Location")
	require.True(t, strings.HasPrefix(loc, "/api/v1/tus/"), loc)
	return loc
}

func (b *bundle) patch(loc string, off int, chunk []byte, headers ...string) *httptest.ResponseRecorder {
	return b.tus(http.MethodPatch, loc, chunk, append([]string{"Content-Type", "application/offset+octet-stream",
		"Upload-Offset", strconv.Itoa(off)}, headers...)...)
}

func TestTusUploadInChunks(t *testing.T) {
	b := setup(t, Config{})
	rec := b.tus(http.MethodOptions, "/api/v1/tus", nil)
	require.Equal(t, http.StatusNoContent, rec.Code)
	require.Equal(t, "1.0.0", rec.Header().Get("Tus-Version"))
	require.Contains(t, rec.Header().Get("Tus-Extension"), "creation-with-upload")
	require.Contains(t, rec.Header().Get("Tus-Checksum-Algorithm"), "sha1")
	require.NotEmpty(t, rec.Header().Get("Tus-Max-Size"))

	data := bytes.Repeat([]byte("0123456789"), 1000)
	loc := b.create(t, len(data))
	require.Len(t, b.catalog.created, 1)
	v := b.catalog.created[0]
	require.Equal(t, "holiday", v.Title, "title from the filename")
	require.Equal(t, "unlisted", v.Visibility)
	require.Equal(t, "uploading", v.Status)

	for off := 0; off < len(data); off += 3000 {
		end := min(off+3000, len(data))
		rec := b.patch(loc, off, data[off:end])
		require.Equal(t, http.StatusNoContent, rec.Code, rec.Body.String())
		require.Equal(t, strconv.Itoa(end), rec.Header().Get("Upload-Offset"))
		head := b.tus(http.MethodHead, loc, nil)
		require.Equal(t, http.StatusOK, head.Code)
		require.Equal(t, strconv.Itoa(end), head.Header().Get("Upload-Offset"))
		require.Equal(t, strconv.Itoa(len(data)), head.Header().Get("Upload-Length"))
		require.Equal(t, "no-store", head.Header().Get("Cache-Control"))
		if end < len(data) {
			require.Empty(t, b.pipeline.queued, "nothing is processed before the last byte")
			require.NotEmpty(t, head.Header().Get("Upload-Expires"))
		}
	}
	require.Equal(t, []string{v.ID}, b.pipeline.queued, "the last byte hands the file to the pipeline")
	require.Len(t, b.pipeline.probes, 1)
	require.NotEmpty(t, b.pipeline.probes[0], "with what the validation found in it")
	p, _ := b.svc.localInput(context.Background(), v.SourceKey)
	got, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, data, got)
	require.Equal(t, []string{v.SourceKey}, b.objects(t), "the staging file became the object; nothing else is listed")
}

func TestTusRefusals(t *testing.T) {
	b := setup(t, Config{MaxBytes: 1 << 20})
	loc := b.create(t, 100)
	code := func(rec *httptest.ResponseRecorder) string {
		require.Contains(t, rec.Body.String(), `"error"`, "errors keep the API's shape")
		return rec.Header().Get("Tus-Resumable")
	}
	rec := b.patch(loc, 0, []byte("abc"), "Tus-Resumable", "0.2.2")
	require.Equal(t, http.StatusPreconditionFailed, rec.Code)
	require.Equal(t, "1.0.0", rec.Header().Get("Tus-Version"))
	rec = b.patch(loc, 5, []byte("abc"))
	require.Equal(t, http.StatusConflict, rec.Code, "offset mismatch")
	require.Equal(t, "1.0.0", code(rec))
	rec = b.patch(loc, 0, []byte("abc"), "Content-Type", "application/octet-stream")
	require.Equal(t, http.StatusUnsupportedMediaType, rec.Code)
	rec = b.patch(loc, 0, bytes.Repeat([]byte("x"), 101))
	require.Equal(t, http.StatusRequestEntityTooLarge, rec.Code, "past Upload-Length")
	rec = b.patch(loc, 0, []byte("abc"), "Upload-Checksum", "crc32 AAAA")
	require.Equal(t, http.StatusBadRequest, rec.Code, "unknown algorithm")
	wrong := sha1.Sum([]byte("abd"))
	rec = b.patch(loc, 0, []byte("abc"), "Upload-Checksum", "sha1 "+base64.StdEncoding.EncodeToString(wrong[:]))
	require.Equal(t, StatusChecksumMismatch, rec.Code)
	require.Equal(t, "0", b.tus(http.MethodHead, loc, nil).Header().Get("Upload-Offset"), "the chunk was discarded")
	right := sha1.Sum([]byte("abc"))
	rec = b.patch(loc, 0, []byte("abc"), "Upload-Checksum", "sha1 "+base64.StdEncoding.EncodeToString(right[:]))
	require.Equal(t, http.StatusNoContent, rec.Code)
	require.Equal(t, "3", rec.Header().Get("Upload-Offset"))

	// Another request holds the upload: 423, nothing written.
	_, release, err := b.svc.lockTus(context.Background(), "u1", strings.TrimPrefix(loc, "/api/v1/tus/"))
	require.NoError(t, err)
	rec = b.patch(loc, 3, []byte("def"))
	require.Equal(t, http.StatusLocked, rec.Code)
	release()
	require.Equal(t, http.StatusNoContent, b.patch(loc, 3, []byte("def")).Code)

	rec = b.tus(http.MethodPost, "/api/v1/tus", nil, "Upload-Length", strconv.Itoa(2<<20))
	require.Equal(t, http.StatusRequestEntityTooLarge, rec.Code, "over the size limit")
	rec = b.tus(http.MethodPost, "/api/v1/tus", nil, "Upload-Length", "10", "Upload-Metadata", "title !!!")
	require.Equal(t, http.StatusBadRequest, rec.Code, "metadata not base64")
	rec = b.tus(http.MethodPost, "/api/v1/tus", nil, "Upload-Length", "10", "Upload-Metadata", meta("visibility", "everyone"))
	require.Equal(t, http.StatusUnprocessableEntity, rec.Code)
	rec = b.tus(http.MethodPost, "/api/v1/tus", nil)
	require.Equal(t, http.StatusBadRequest, rec.Code, "no Upload-Length")
	require.Equal(t, http.StatusNotFound, b.tus(http.MethodHead, "/api/v1/tus/nope", nil).Code)
}

func TestTusCreationWithUploadTerminationAndExpiry(t *testing.T) {
	b := setup(t, Config{})
	rec := b.tus(http.MethodPost, "/api/v1/tus", []byte("hello"), "Upload-Length", "10", "Content-Type", "application/offset+octet-stream",
		"Upload-Metadata", meta("title", "With body"))
	require.Equal(t, http.StatusCreated, rec.Code)
	require.Equal(t, "5", rec.Header().Get("Upload-Offset"))
	require.NotEmpty(t, rec.Header().Get("Vod-Video-Id"))
	loc := rec.Header().Get("Location")

	// Termination: the upload, its bytes and its video go.
	rec = b.tus(http.MethodPost, loc, nil, "X-HTTP-Method-Override", "DELETE")
	require.Equal(t, http.StatusNoContent, rec.Code)
	require.Equal(t, http.StatusNotFound, b.tus(http.MethodHead, loc, nil).Code)
	require.Len(t, b.catalog.removed, 1)
	require.Empty(t, b.objects(t))

	// Expiry: the sweeper removes an upload nobody continued.
	loc = b.create(t, 10)
	require.Equal(t, http.StatusNoContent, b.patch(loc, 0, []byte("12345")).Code)
	require.NoError(t, b.svc.db.Gorm.Model(&tusRow{}).Where("id = ?", strings.TrimPrefix(loc, "/api/v1/tus/")).
		Update("expires_at", time.Now().UTC().Add(-time.Minute)).Error)
	require.Equal(t, http.StatusNotFound, b.tus(http.MethodHead, loc, nil).Code, "expired")
	require.NoError(t, b.svc.sweepTus(context.Background()))
	require.Len(t, b.catalog.removed, 2)
	var n int64
	require.NoError(t, b.svc.db.Gorm.Model(&tusRow{}).Count(&n).Error)
	require.Zero(t, n)
	require.Empty(t, b.objects(t))
}

func TestTusBadMediaFailsTheVideo(t *testing.T) {
	b := setup(t, Config{})
	b.pipeline.reason = "no video stream was found"
	loc := b.create(t, 4)
	require.Equal(t, http.StatusNoContent, b.patch(loc, 0, []byte("abcd")).Code)
	require.Empty(t, b.pipeline.queued)
	require.Equal(t, "no video stream was found", b.catalog.failed[b.catalog.created[0].ID])
}
