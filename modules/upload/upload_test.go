package upload

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"vod/app/db"
	"vod/app/httpx"
	"vod/app/queue"
	"vod/app/storage"
	"vod/app/testenv"
	"vod/app/vodtype"
)

type fakeCatalog struct {
	mu      sync.Mutex
	created []vodtype.NewVideo
	failed  map[string]string
	removed []string
}

func (f *fakeCatalog) CreateVideoTx(_ context.Context, _ *db.Tx, v vodtype.NewVideo) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.created = append(f.created, v)
	return nil
}
func (f *fakeCatalog) MarkUploadedTx(context.Context, *db.Tx, string, int64) error { return nil }
func (f *fakeCatalog) RemoveVideo(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removed = append(f.removed, id)
	return nil
}
func (f *fakeCatalog) Fail(_ context.Context, id, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failed == nil {
		f.failed = map[string]string{}
	}
	f.failed[id] = reason
	return nil
}

// VideoExists: created and not removed.
func (f *fakeCatalog) VideoExists(_ context.Context, id string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.removed {
		if r == id {
			return false, nil
		}
	}
	for _, v := range f.created {
		if v.ID == id {
			return true, nil
		}
	}
	return false, nil
}
func (f *fakeCatalog) View(_ context.Context, id string) (any, error) {
	return map[string]string{"id": id}, nil
}

// fakePipeline accepts or refuses every source, and records what was queued with which findings.
type fakePipeline struct {
	reason string
	queued []string
	probes []string
}

func (f *fakePipeline) EnqueueTx(_ context.Context, _ *db.Tx, id string, _ int, probe []byte) error {
	f.queued = append(f.queued, id)
	f.probes = append(f.probes, string(probe))
	return nil
}
func (f *fakePipeline) ValidateSource(_ context.Context, input string) (string, []byte, error) {
	return f.reason, []byte("findings of " + filepath.Base(input)), nil
}

type bundle struct {
	svc      *Service
	store    storage.Storage
	catalog  *fakeCatalog
	pipeline *fakePipeline
	echo     *echo.Echo
}

// setup builds the upload module on SQLite and local storage, with fakes for the catalog and the
// pipeline, behind a guard that logs every request in as user u1.
func setup(t *testing.T, cfg Config) *bundle {
	t.Helper()
	dir := t.TempDir()
	d := testenv.ModuleDB(t, "upload", Migrations())
	store, err := storage.NewLocal(filepath.Join(dir, "media"))
	require.NoError(t, err)
	b := &bundle{store: store, catalog: &fakeCatalog{}, pipeline: &fakePipeline{}, echo: echo.New()}
	cfg.WorkDir = filepath.Join(dir, "work")
	cfg.SigningKey = []byte("0123456789abcdef0123")
	b.svc, err = New(d, store, queue.New(d, queue.Config{}), b.catalog, b.pipeline, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	login := func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			httpx.SetCaller(c, httpx.Caller{ID: "u1", Username: "ann"})
			return next(c)
		}
	}
	b.echo.HTTPErrorHandler = httpx.ErrorHandler(slog.New(slog.NewTextHandler(io.Discard, nil)))
	b.svc.Routes(httpx.NewRouter(b.echo, httpx.Guards{RequireUser: login, OptionalUser: login, RequireAdmin: login}))
	return b
}

func form(t *testing.T, file []byte, fields map[string]string) (*bytes.Buffer, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range fields {
		require.NoError(t, w.WriteField(k, v))
	}
	if file != nil {
		fw, err := w.CreateFormFile("file", "clip.mp4")
		require.NoError(t, err)
		_, _ = fw.Write(file)
	}
	require.NoError(t, w.Close())
	return &buf, w.FormDataContentType()
}

func (b *bundle) post(body io.Reader, contentType string) (int, string) {
	req := httptest.NewRequest(http.MethodPost, "/api/v1/videos", body)
	req.Header.Set("Content-Type", contentType)
	rec := httptest.NewRecorder()
	b.echo.ServeHTTP(rec, req)
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &e)
	return rec.Code, e.Error.Code
}

// objects lists what is stored: a refused upload must leave nothing behind.
func (b *bundle) objects(t *testing.T) []string {
	var keys []string
	require.NoError(t, b.store.List(context.Background(), vodtype.VideosRoot, func(o storage.Object) error {
		keys = append(keys, o.Key)
		return nil
	}))
	return keys
}

func TestMultipartUploadIsStoredValidatedAndQueuedTogether(t *testing.T) {
	b := setup(t, Config{})
	body, ct := form(t, []byte("pretend video bytes"), map[string]string{"title": "Hello", "visibility": "unlisted"})
	status, _ := b.post(body, ct)
	require.Equal(t, http.StatusAccepted, status)
	require.Len(t, b.catalog.created, 1)
	v := b.catalog.created[0]
	require.Equal(t, "Hello", v.Title)
	require.Equal(t, vodtype.Unlisted, v.Visibility)
	require.Equal(t, vodtype.SourceKey(v.ID), v.SourceKey, "the key is generated, never the client's")
	require.Equal(t, []string{v.ID}, b.pipeline.queued)
	require.Len(t, b.pipeline.probes, 1)
	require.True(t, strings.HasPrefix(b.pipeline.probes[0], "findings of "), "the validation's findings go with the job, so the source is probed once")
	require.Equal(t, []string{vodtype.SourceKey(v.ID)}, b.objects(t))
}

func TestRefusedUploadsLeaveNothingBehind(t *testing.T) {
	cases := []struct {
		name   string
		cfg    Config
		reason string
		body   func(t *testing.T) (io.Reader, string)
		status int
		code   string
	}{
		{name: "unreadable media", reason: "no video stream was found", status: 422, code: "unreadable_media",
			body: func(t *testing.T) (io.Reader, string) { return form(t, []byte("not a video"), nil) }},
		{name: "over the size limit", cfg: Config{MaxBytes: 10}, status: 413, code: "too_large",
			body: func(t *testing.T) (io.Reader, string) { return form(t, bytes.Repeat([]byte("x"), 100), nil) }},
		{name: "not multipart", status: 415, code: "unsupported_media_type",
			body: func(t *testing.T) (io.Reader, string) { return bytes.NewReader([]byte("{}")), "application/json" }},
		{name: "no file", status: 422, code: "validation_failed",
			body: func(t *testing.T) (io.Reader, string) { return form(t, nil, map[string]string{"title": "x"}) }},
		{name: "invalid visibility", status: 422, code: "validation_failed",
			body: func(t *testing.T) (io.Reader, string) {
				return form(t, []byte("bytes"), map[string]string{"visibility": "everyone"})
			}},
		{name: "body cut off in the file", status: 400, code: "bad_request",
			body: func(t *testing.T) (io.Reader, string) {
				buf, ct := form(t, bytes.Repeat([]byte("y"), 4096), nil)
				return bytes.NewReader(buf.Bytes()[:buf.Len()-200]), ct
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t, tc.cfg)
			b.pipeline.reason = tc.reason
			body, ct := tc.body(t)
			status, code := b.post(body, ct)
			require.Equal(t, tc.status, status)
			require.Equal(t, tc.code, code)
			require.Empty(t, b.catalog.created, "no video row")
			require.Empty(t, b.pipeline.queued, "no job")
			require.Empty(t, b.objects(t), "no stored object")
		})
	}
}
