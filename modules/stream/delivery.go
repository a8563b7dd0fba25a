package stream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"vod/app/httpx"
	"vod/app/storage"
	"vod/app/vodtype"
)

const manifestCache = "public, max-age=10"

type visEntry struct {
	visibility string
	ok         bool
	until      time.Time
}

// visibilityOf caches a video's visibility for a few seconds: a player fetches hundreds of segments.
func (s *Catalog) visibilityOf(ctx context.Context, id string) (string, bool, error) {
	s.cacheMu.Lock()
	e, hit := s.vis[id]
	s.cacheMu.Unlock()
	if hit && time.Now().Before(e.until) {
		return e.visibility, e.ok, nil
	}
	r, err := s.row(ctx, id)
	if err != nil && !errors.Is(err, ErrNoVideo) {
		return "", false, err
	}
	e = visEntry{ok: err == nil, until: time.Now().Add(5 * time.Second)}
	if r != nil {
		e.visibility = r.Visibility
	}
	s.cacheMu.Lock()
	if len(s.vis) > 10000 {
		s.vis = map[string]visEntry{}
	}
	s.vis[id] = e
	s.cacheMu.Unlock()
	return e.visibility, e.ok, nil
}

// forget drops a video from the caches of this process after a change.
func (s *Catalog) forget(id string) {
	s.cacheMu.Lock()
	delete(s.vis, id)
	delete(s.views, id)
	s.cacheMu.Unlock()
}

const viewTTL = time.Second

type viewEntry struct {
	body  []byte
	owner string
	until time.Time
}

// cachedView returns a video's rendered JSON as viewers see it, and its owner's id (who, like
// admins, always reads the database).
func (s *Catalog) cachedView(id string) ([]byte, string, bool) {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	e, ok := s.views[id]
	if !ok || time.Now().After(e.until) {
		return nil, "", false
	}
	return e.body, e.owner, true
}

func (s *Catalog) cacheView(id, owner string, body []byte) {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	if len(s.views) > 10000 {
		s.views = map[string]viewEntry{}
	}
	s.views[id] = viewEntry{body: body, owner: owner, until: time.Now().Add(viewTTL)}
}

// Delivery serves stored media under /media.
type Delivery struct {
	catalog *Catalog
	store   storage.Storage
	live    LiveManifests
	keys    Keys
	hot     *hotCache
}

// LiveManifests renders the manifests of a video that is still processing (implemented by
// transcode, which knows which segments exist); ok is false for any other key.
type LiveManifests interface {
	LiveManifestAt(ctx context.Context, key string) (b []byte, ok bool, err error)
}

// NewDelivery builds /media delivery and the licence endpoint over the catalog's access rules and
// URL signing.
func NewDelivery(catalog *Catalog, store storage.Storage, live LiveManifests, keys Keys) *Delivery {
	return &Delivery{catalog: catalog, store: store, live: live, keys: keys, hot: newHotCache(catalog.cfg.CacheBytes)}
}

// liveManifest serves a processing video's manifest, if key is one: never cached longer than it
// takes a chunk to finish, whoever caches it.
func (d *Delivery) liveManifest(c echo.Context, key string, signed bool) (bool, error) {
	switch path.Ext(key) {
	case ".mpd", ".m3u8":
	default:
		return false, nil
	}
	b, ok, err := d.live.LiveManifestAt(c.Request().Context(), key)
	if err != nil || !ok {
		return false, err
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "no-cache")
	if signed {
		h.Set("Cache-Control", "private, no-cache")
	}
	return true, c.Blob(http.StatusOK, vodtype.ContentType(key), b)
}

// Routes declares /media for GET, HEAD and the CORS preflight.
func (d *Delivery) Routes(root *httpx.Router) {
	r := root.WithErrors(httpError)
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodOptions} {
		r.Add(httpx.Route{Method: m, Path: "/media/*", DocPath: "/media/{key}", Handler: d.handleMedia,
			Doc: httpx.Doc{Tag: "media", Summary: "Manifests, segments, subtitles and images (Range, ETag, CORS); private media under /media/s/{token}/...",
				Params: []httpx.Obj{httpx.PathParam("key", "storage key under videos/{id}/, optionally prefixed by s/{token}/")},
				Responses: httpx.Obj{"200": httpx.NoBody("the object"), "206": httpx.NoBody("a byte range"), "304": httpx.NoBody("not modified"),
					"204": httpx.NoBody("CORS preflight"), "404": httpx.ErrResp("no such media, or not visible")}}})
	}
	r.Add(d.licenseRoutes()...)
}

// handleMedia serves /media/{key} and /media/s/{token}/{key}. Keys must be clean paths under
// videos/{id}/: anything with dot segments, backslashes, encoded separators or control characters is
// refused before storage is touched.
func (d *Delivery) handleMedia(c echo.Context) error {
	s := d.catalog
	h := c.Response().Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Expose-Headers", "Content-Length, Content-Range, Accept-Ranges, ETag")
	req := c.Request()
	if req.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Range, If-None-Match, If-Modified-Since")
		h.Set("Access-Control-Max-Age", "86400")
		return c.NoContent(http.StatusNoContent)
	}
	raw := req.URL.EscapedPath()
	rest, ok := strings.CutPrefix(raw, "/media/")
	if !ok || strings.Contains(rest, "%") {
		return ErrNoMedia
	}
	key, err := url.PathUnescape(rest)
	if err != nil {
		return ErrNoMedia
	}
	signed := false
	if tok, k, ok := strings.Cut(strings.TrimPrefix(key, "s/"), "/"); strings.HasPrefix(key, "s/") && ok {
		if !storage.ValidKey(k) || !s.verify(tok, k) {
			return ErrNoMedia
		}
		key, signed = k, true
	}
	id := vodtype.VideoIDOf(key)
	// Originals are never media: they are unvalidated user bytes (see source.go).
	if !storage.ValidKey(key) || id == "" || vodtype.IsSourceKey(key) {
		return ErrNoMedia
	}
	ctx := req.Context()
	// Every request checks the video still exists (signed ones too: the hot cache below would
	// otherwise serve a deleted video's objects), and unsigned ones that it is not private.
	vis, exists, err := s.visibilityOf(ctx, id)
	if err != nil {
		return err
	}
	if !exists || (!signed && vis == vodtype.Private) {
		return ErrNoMedia
	}
	if ok, err := d.liveManifest(c, key, signed); ok || err != nil {
		return err
	}
	if s.cfg.RedirectToStorage {
		if u, err := d.store.PresignGet(ctx, key, 15*time.Minute); err == nil {
			return c.Redirect(http.StatusFound, u)
		}
	}
	h.Set(echo.HeaderContentType, vodtype.ContentType(key))
	cc := vodtype.CacheControl(key)
	if signed {
		cc = strings.Replace(cc, "public", "private", 1)
	}
	h.Set("Cache-Control", cc)
	if !storage.IsLocal(d.store) {
		return d.serveRemote(c, key)
	}
	f, err := storage.Open(ctx, d.store, key)
	if errors.Is(err, storage.ErrNotFound) {
		return ErrNoMedia
	} else if err != nil {
		return err
	}
	defer f.Close()
	obj := f.Info()
	if obj.ETag != "" {
		h.Set("ETag", `"`+strings.Trim(obj.ETag, `"`)+`"`)
	}
	// Serve on the raw ResponseWriter with the *os.File itself, so a local segment goes out with
	// sendfile; echo's wrapper would copy it through a buffer.
	var content io.ReadSeeker = f
	if of, ok := f.(interface{ OSFile() *os.File }); ok {
		content = of.OSFile()
	}
	sw := &statusWriter{ResponseWriter: c.Response().Writer}
	http.ServeContent(sw, req, "", obj.ModTime, content)
	c.Response().Committed = true
	c.Response().Status = sw.status
	return nil
}

// statusWriter records the status for the access log and keeps ReadFrom (sendfile) reachable.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return io.Copy(w.ResponseWriter, r)
}

// serveRemote serves an object of remote storage (S3) with at most one request to it: hot objects
// from memory, others streamed from a GET that carries the client's range, with no metadata
// request first (the GET's own headers say the size and ETag). A whole small object read for a
// client is kept for the next ones.
func (d *Delivery) serveRemote(c echo.Context, key string) error {
	req := c.Request()
	ctx := req.Context()
	if e, ok := d.hot.get(key); ok {
		return serveBytes(c, e.obj, e.body)
	}
	off, n, ranged := singleRange(req.Header.Get("Range"))
	ttl := hotTTL(key)
	if d.hot == nil || ranged {
		ttl = 0
	}
	rc, obj, err := d.store.Get(ctx, key, off, n)
	if err != nil {
		if errors.Is(err, storage.ErrInvalidRange) {
			return c.NoContent(http.StatusRequestedRangeNotSatisfiable)
		}
		if errors.Is(err, storage.ErrNotFound) {
			return ErrNoMedia
		}
		return err
	}
	defer rc.Close()
	if ttl == 0 || obj.Size > hotMaxObject {
		return serveStream(c, rc, obj, off, n, ranged)
	}
	// Sent to the client as it arrives, and kept once it all has.
	buf := bytes.NewBuffer(make([]byte, 0, obj.Size))
	if err := serveStream(c, io.TeeReader(rc, buf), obj, 0, -1, false); err != nil {
		return err
	}
	if int64(buf.Len()) == obj.Size {
		d.hot.put(key, buf.Bytes(), obj, ttl)
	}
	return nil
}

func remoteErr(err error) error {
	if errors.Is(err, storage.ErrNotFound) {
		return ErrNoMedia
	}
	return err
}

func setValidators(h http.Header, obj storage.Object) {
	if obj.ETag != "" {
		h.Set("ETag", `"`+strings.Trim(obj.ETag, `"`)+`"`)
	}
	if !obj.ModTime.IsZero() {
		h.Set("Last-Modified", obj.ModTime.UTC().Format(http.TimeFormat))
	}
}

// serveBytes answers from memory, ranges and conditional requests included.
func serveBytes(c echo.Context, obj storage.Object, body []byte) error {
	setValidators(c.Response().Header(), obj)
	sw := &statusWriter{ResponseWriter: c.Response().Writer}
	http.ServeContent(sw, c.Request(), "", obj.ModTime, bytes.NewReader(body))
	c.Response().Committed, c.Response().Status = true, sw.status
	return nil
}

// serveStream answers with a storage response body: 304 when the client has it, 206 for a range.
func serveStream(c echo.Context, rc io.Reader, obj storage.Object, off, n int64, ranged bool) error {
	h := c.Response().Header()
	setValidators(h, obj)
	h.Set("Accept-Ranges", "bytes")
	if inm := c.Request().Header.Get("If-None-Match"); inm != "" && obj.ETag != "" && strings.Contains(inm, strings.Trim(obj.ETag, `"`)) {
		return c.NoContent(http.StatusNotModified)
	}
	status, length := http.StatusOK, obj.Size
	if ranged {
		end := obj.Size - 1
		if n > 0 {
			end = min(off+n-1, obj.Size-1)
		}
		length, status = end-off+1, http.StatusPartialContent
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", off, end, obj.Size))
	}
	h.Set(echo.HeaderContentLength, strconv.FormatInt(length, 10))
	c.Response().WriteHeader(status)
	if c.Request().Method == http.MethodHead {
		return nil
	}
	buf := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(buf)
	_, err := io.CopyBuffer(onlyWriter{c.Response().Writer}, io.LimitReader(rc, length), *buf)
	return err
}

// onlyWriter hides ReadFrom, so that the copy goes through the pooled buffer in large writes.
type onlyWriter struct{ io.Writer }

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// singleRange reads a Range header of one range with a start ("bytes=a-b" or "bytes=a-"); any other
// form (suffix, several ranges) is answered with the whole object, which HTTP allows.
func singleRange(v string) (off, n int64, ok bool) {
	spec, found := strings.CutPrefix(v, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, -1, false
	}
	a, b, _ := strings.Cut(strings.TrimSpace(spec), "-")
	start, err := strconv.ParseInt(a, 10, 64)
	if err != nil || start < 0 {
		return 0, -1, false
	}
	if b == "" {
		return start, -1, true
	}
	end, err := strconv.ParseInt(b, 10, 64)
	if err != nil || end < start {
		return 0, -1, false
	}
	return start, end - start + 1, true
}
