package app

import (
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"vod/app/apiclient"

	"vod/app/testenv"
)

func (a *testApp) postSubtitle(token, id, filename, content, lang, label string) response {
	a.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("lang", lang)
	_ = mw.WriteField("label", label)
	fw, _ := mw.CreateFormFile("file", filename)
	_, _ = fw.Write([]byte(content))
	_ = mw.Close()
	return a.do("POST", "/api/v1/videos/"+id+"/subtitles", buf.Bytes(), token, "Content-Type", mw.FormDataContentType())
}

func TestSubtitleUploadReprocessAndMedia(t *testing.T) {
	t.Parallel()
	a := setup(t)
	tok := a.token("subber")
	v := a.uploadReady(tok, clip(t, "mp4"), map[string]string{"title": "Subtitled", "description": "with tracks"})
	id := v.Id

	srt := "1\n00:00:00,500 --> 00:00:02,000\n<i>Hola</i> mundo\n\n2\n00:00:02,100 --> 00:00:02,900\nAdiós\n"
	r := a.postSubtitle(tok, id, "es.srt", srt, "es", "Español")
	require.Equal(t, 201, r.Status, "%s", r.Body)
	sub := r.JSON(t)["subtitle"].(map[string]any)
	require.Equal(t, "uploaded", sub["source"])
	vtt := a.do("GET", str(sub["url"]), nil, "")
	require.Equal(t, 200, vtt.Status)
	require.Equal(t, "text/vtt; charset=utf-8", vtt.Header.Get("Content-Type"))
	require.Contains(t, string(vtt.Body), "00:00:00.500 --> 00:00:02.000")
	vtt2 := a.postSubtitle(tok, id, "de.vtt", "WEBVTT\n\n00:01.000 --> 00:02.000\nHallo\n", "de", "")
	require.Equal(t, 201, vtt2.Status, "%s", vtt2.Body)
	require.Equal(t, "Deutsch", vtt2.JSON(t)["subtitle"].(map[string]any)["label"])

	v = *a.video(id, "")
	require.Len(t, deref(v.Subtitles), 2)
	mpd := string(a.do("GET", dashOf(v), nil, "").Body)
	require.Contains(t, mpd, `lang="es"`)
	require.Contains(t, mpd, `lang="de"`)
	hls := string(a.do("GET", hlsOf(v), nil, "").Body)
	require.Contains(t, hls, `LANGUAGE="es"`)
	require.Contains(t, hls, `URI="../subs/es.m3u8"`)
	base := hlsOf(v)[:strings.LastIndex(hlsOf(v), "/")+1]
	require.Equal(t, 200, a.do("GET", path.Clean(base+"../subs/es.m3u8"), nil, "").Status, "relative subtitle playlists resolve")

	for name, c := range map[string]struct {
		file, body, lang string
		code             int
	}{
		"bad lang":   {"x.srt", srt, "not a language!", 422},
		"not subs":   {"x.srt", "hello there", "en", 422},
		"binary":     {"x.srt", "\xff\xfe\x00garbage", "en", 422},
		"empty file": {"x.vtt", "", "en", 422},
	} {
		r := a.postSubtitle(tok, id, c.file, c.body, c.lang, "")
		require.Equal(t, c.code, r.Status, "%s: %s", name, r.Body)
	}
	other := a.token("notowner")
	require.Equal(t, 403, a.postSubtitle(other, id, "x.srt", srt, "en", "").Status)

	// Media delivery: Range, ETag, 304, Cache-Control, CORS.
	seg := base + "seg-0-00001.m4s"
	full := a.do("GET", seg, nil, "")
	require.Equal(t, 200, full.Status)
	require.Equal(t, "video/iso.segment", full.Header.Get("Content-Type"))
	require.Equal(t, "public, max-age=31536000, immutable", full.Header.Get("Cache-Control"))
	require.Equal(t, "*", full.Header.Get("Access-Control-Allow-Origin"))
	etag := full.Header.Get("ETag")
	require.NotEmpty(t, etag)
	require.NotEmpty(t, full.Header.Get("Last-Modified"))
	part := a.do("GET", seg, nil, "", "Range", "bytes=10-19")
	require.Equal(t, 206, part.Status)
	require.Equal(t, full.Body[10:20], part.Body)
	require.Equal(t, fmt.Sprintf("bytes 10-19/%d", len(full.Body)), part.Header.Get("Content-Range"))
	require.Equal(t, 304, a.do("GET", seg, nil, "", "If-None-Match", etag).Status)
	require.Equal(t, 416, a.do("GET", seg, nil, "", "Range", fmt.Sprintf("bytes=%d-", len(full.Body)+10)).Status)
	require.Equal(t, "public, max-age=10", a.do("GET", dashOf(v), nil, "").Header.Get("Cache-Control"))
	// Small hot objects (init segments, manifests) are answered from memory after the first time
	// on S3: the same bytes, validators and ranges.
	init1 := a.do("GET", base+"init-0.m4s", nil, "")
	init2 := a.do("GET", base+"init-0.m4s", nil, "", "Range", "bytes=4-11")
	require.Equal(t, 200, init1.Status)
	require.Equal(t, 206, init2.Status)
	require.Equal(t, init1.Body[4:12], init2.Body)
	require.Equal(t, 304, a.do("GET", base+"init-0.m4s", nil, "", "If-None-Match", init1.Header.Get("ETag")).Status)
	pre := a.do("OPTIONS", seg, nil, "", "Origin", "https://player.example", "Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "range")
	require.Equal(t, 204, pre.Status)
	require.Contains(t, pre.Header.Get("Access-Control-Allow-Methods"), "GET")
	require.Contains(t, strings.ToLower(pre.Header.Get("Access-Control-Allow-Headers")), "range")

	// Traversal in every spelling is a 404 that never reaches storage.
	for _, p := range []string{
		"/media/videos/" + id + "/../../keys/media.key", "/media/videos/%2e%2e/%2e%2e/keys/media.key",
		"/media/videos/" + id + "/..%2f..%2fkeys%2fmedia.key", "/media//etc/passwd", "/media/%2fetc%2fpasswd",
		"/media/videos/" + id + "/g1/..\\..\\x", "/media/keys/media.key", "/media/vod.db", "/media/s/123.abc/videos/" + id + "/g1/manifest.mpd",
		"/media/videos/" + id + "/g1/%00", "/media/videos/" + id,
	} {
		req, _ := http.NewRequest("GET", a.URL+"/x", nil)
		req.URL.Opaque = p // sent exactly as written
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		require.Contains(t, []int{400, 404}, res.StatusCode, "%s -> %d", p, res.StatusCode)
		require.NotContains(t, string(body), "BEGIN", p)
	}

	// Reprocess makes a new generation and removes the old one.
	require.Equal(t, 403, a.do("POST", "/api/v1/videos/"+id+"/reprocess", nil, other).Status)
	r = a.do("POST", "/api/v1/videos/"+id+"/reprocess", nil, tok)
	require.Equal(t, 202, r.Status, "%s", r.Body)
	requireAccepted(t, r.JSON(t)["video"].(map[string]any))
	require.Equal(t, 409, a.do("POST", "/api/v1/videos/"+id+"/reprocess", nil, tok).Status, "already queued")
	v = a.waitFor(id, tok, 2*time.Minute)
	require.Equal(t, apiclient.Ready, v.Status)
	require.Contains(t, dashOf(v), "/g2/")
	require.Len(t, deref(v.Subtitles), 2, "uploaded tracks survive reprocessing")
	require.Contains(t, string(a.do("GET", dashOf(v), nil, "").Body), `lang="es"`)
	require.Eventually(t, func() bool {
		for _, k := range a.storedKeys(t, "videos/"+id+"/") {
			if strings.Contains(k, "/g1/") {
				return false
			}
		}
		return true
	}, 10*time.Second, 100*time.Millisecond, "generation 1 removed")
}

// putUpload sends a body to a direct upload's URL (a presigned storage URL, or the app's own)
// with the headers the creation answered, and returns the status.
func (a *testApp) putUpload(up map[string]any, body io.Reader, size int64) int {
	a.t.Helper()
	u := str(up["upload_url"])
	if strings.HasPrefix(u, "/") {
		u = a.URL + u
	}
	req, err := http.NewRequest(str(up["method"]), u, body)
	require.NoError(a.t, err)
	req.ContentLength = size
	for k, v := range up["headers"].(map[string]any) {
		req.Header.Set(k, str(v))
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(a.t, err)
	res.Body.Close()
	return res.StatusCode
}

func TestDirectUpload(t *testing.T) {
	t.Parallel()
	a := setup(t)
	tok := a.token("direct")
	path := clip(t, "mov")
	fi, _ := os.Stat(path)
	r := a.do("POST", "/api/v1/uploads", map[string]any{"title": "Direct", "filename": "clip.mov", "size": fi.Size(), "content_type": "video/quicktime", "visibility": "unlisted"}, tok)
	require.Equal(t, 201, r.Status, "%s", r.Body)
	up := r.JSON(t)
	id := str(up["video_id"])
	v := a.do("GET", "/api/v1/videos/"+id, nil, tok).JSON(t)["video"].(map[string]any)
	require.Equal(t, "uploading", v["status"])
	require.Equal(t, 409, a.do("POST", "/api/v1/uploads/"+str(up["upload_id"])+"/complete", nil, tok).Status, "nothing uploaded yet")

	f, _ := os.Open(path)
	defer f.Close()
	require.Equal(t, 200, a.putUpload(up, f, fi.Size()))

	require.Equal(t, 404, a.do("POST", "/api/v1/uploads/"+str(up["upload_id"])+"/complete", nil, a.token("thief")).Status)
	r = a.do("POST", "/api/v1/uploads/"+str(up["upload_id"])+"/complete", nil, tok)
	require.Equal(t, 202, r.Status, "%s", r.Body)
	requireAccepted(t, r.JSON(t)["video"].(map[string]any))
	require.Equal(t, 404, a.do("POST", "/api/v1/uploads/"+str(up["upload_id"])+"/complete", nil, tok).Status, "completes once")
	require.Equal(t, apiclient.Ready, a.waitFor(id, tok, 2*time.Minute).Status)

	// Bad requests.
	require.Equal(t, 413, a.do("POST", "/api/v1/uploads", map[string]any{"title": "x", "filename": "x.mp4", "size": int64(1) << 50}, tok).Status)
	require.Equal(t, 422, a.do("POST", "/api/v1/uploads", map[string]any{"title": "x", "filename": "x.mp4", "size": 0}, tok).Status)
	require.Equal(t, 415, a.do("POST", "/api/v1/uploads", map[string]any{"title": "x", "filename": "x.mp4", "size": 10, "content_type": "text/html"}, tok).Status)
	require.Equal(t, 403, a.do("PUT", "/api/v1/uploads/"+str(up["upload_id"])+"/data?expires=99999999999&signature=forged", "x", "").Status)
}

func TestListingVisibilityAndEdits(t *testing.T) {
	t.Parallel()
	a := setup(t)
	alice := a.token("alice")
	bob := a.token("bob")
	path := clip(t, "noaudio")
	var ids []string
	for i := range 5 {
		vis := "public"
		if i == 3 {
			vis = "unlisted"
		}
		if i == 4 {
			vis = "private"
		}
		r := a.upload(alice, path, map[string]string{"title": fmt.Sprintf("video %d", i), "visibility": vis})
		require.Equal(t, 202, r.Status, "%s", r.Body)
		ids = append(ids, str(r.JSON(t)["video"].(map[string]any)["id"]))
	}
	for _, id := range ids {
		require.Equal(t, "ready", string(a.waitFor(id, alice, 2*time.Minute).Status))
	}

	// Pages of 2 while new videos keep arriving: no duplicates, no gaps.
	var seen []string
	cursor := ""
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.upload(bob, path, map[string]string{"title": "arrives during paging"})
	}()
	for {
		q := "/api/v1/videos?limit=2"
		if cursor != "" {
			q += "&cursor=" + cursor
		}
		r := a.do("GET", q, nil, "")
		require.Equal(t, 200, r.Status)
		body := r.JSON(t)
		for _, it := range body["items"].([]any) {
			seen = append(seen, str(it.(map[string]any)["id"]))
		}
		if body["next_cursor"] == nil {
			break
		}
		cursor = str(body["next_cursor"])
	}
	wg.Wait()
	require.Equal(t, []string{ids[2], ids[1], ids[0]}, seen, "public ready videos, newest first, once each")

	mine := a.do("GET", "/api/v1/videos?owner=alice&limit=100", nil, alice).JSON(t)["items"].([]any)
	require.Len(t, mine, 5, "owners see all of theirs")
	theirs := a.do("GET", "/api/v1/videos?owner=alice", nil, bob).JSON(t)["items"].([]any)
	require.Len(t, theirs, 3)
	require.Equal(t, 200, a.do("GET", "/api/v1/videos/"+ids[3], nil, "").Status, "unlisted by id")
	require.Equal(t, 404, a.do("GET", "/api/v1/videos/"+ids[4], nil, bob).Status, "private is 404 for others")
	require.Equal(t, 404, a.do("GET", "/api/v1/videos/"+ids[4], nil, "").Status)
	require.Equal(t, 404, a.do("GET", "/api/v1/videos/not-a-uuid", nil, "").Status)
	require.Equal(t, 422, a.do("GET", "/api/v1/videos?limit=1000", nil, "").Status)
	require.Equal(t, 422, a.do("GET", "/api/v1/videos?cursor=garbage", nil, "").Status)

	// Edits: owner yes, others no, validation.
	require.Equal(t, 403, a.do("PATCH", "/api/v1/videos/"+ids[0], map[string]any{"title": "mine now"}, bob).Status)
	require.Equal(t, 401, a.do("PATCH", "/api/v1/videos/"+ids[0], map[string]any{"title": "x"}, "").Status)
	r := a.do("PATCH", "/api/v1/videos/"+ids[0], map[string]any{"title": "", "visibility": "world"}, alice)
	require.Equal(t, 422, r.Status)
	require.Len(t, r.JSON(t)["error"].(map[string]any)["fields"], 2)
	r = a.do("PATCH", "/api/v1/videos/"+ids[0], map[string]any{"title": "  Renamed  ", "visibility": "private"}, alice)
	require.Equal(t, 200, r.Status, "%s", r.Body)
	v := r.JSON(t)["video"].(map[string]any)
	require.Equal(t, "Renamed", v["title"])
	require.Equal(t, "private", v["visibility"])
	require.Equal(t, 404, a.do("GET", "/api/v1/videos/"+ids[0], nil, bob).Status, "now private")
	require.Equal(t, 404, a.do("GET", str(v["playback"].(map[string]any)["hls"])[0:0]+"/media/"+strings.SplitN(str(v["playback"].(map[string]any)["hls"]), "/videos/", 2)[1][0:0]+"videos/"+ids[0]+"/g1/master.m3u8", nil, "").Status, "its media too")
	require.Equal(t, 200, a.do("GET", str(v["playback"].(map[string]any)["hls"]), nil, "").Status, "through the signed URL")

	// An admin may edit anyone's video.
	adm := a.admin("boss")
	require.Equal(t, 200, a.do("PATCH", "/api/v1/videos/"+ids[1], map[string]any{"description": "moderated"}, adm).Status)
	require.Equal(t, 204, a.do("DELETE", "/api/v1/videos/"+ids[1], nil, adm).Status)
}

// TestWorkerKilledMidTranscode SIGKILLs a real vod process during the encode and checks that, after a
// restart with the default settings, the job it was running runs again within a minute (at once on
// SQLite; once its heartbeat is 30 s old on PostgreSQL) and the video ends ready with complete output.
func TestWorkerKilledMidTranscode(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary and waits for River's rescuer")
	}
	env := testEnv(t)
	env["VOD_TRANSCODE_PRESET"] = "ultrafast"
	p := startProc(t, env)
	p.wait(t)
	url := p.url
	a := &testApp{t: t, URL: url, Env: env}
	tok := a.token("crash")
	r := a.upload(tok, clip(t, "long"), map[string]string{"title": "crash test"})
	require.Equal(t, 202, r.Status, "%s", r.Body)
	id := str(r.JSON(t)["video"].(map[string]any)["id"])
	// Killed while a chunk's ffmpeg is writing.
	require.Eventually(t, func() bool {
		m, _ := filepath.Glob(filepath.Join(env["VOD_DATA_DIR"], "work", id, "c*-*", "r0.mp4"))
		return len(m) > 0
	}, 60*time.Second, 20*time.Millisecond)
	p.kill(t)

	p = startProc(t, env)
	p.wait(t)
	a.URL = p.url
	restarted := time.Now()
	v := a.waitFor(id, tok, 3*time.Minute)
	require.Equal(t, apiclient.Ready, v.Status, "%v", errOf(v))
	require.Less(t, time.Since(restarted), 90*time.Second, "within a minute of the restart, plus the remaining encode")
	decodes(t, a.URL+dashOf(v))
	decodes(t, a.URL+hlsOf(v))
	base := dashOf(v)[:strings.LastIndex(dashOf(v), "/")+1]
	for n := 1; n <= 8; n++ {
		require.Equal(t, 200, a.do("HEAD", fmt.Sprintf("%sseg-0-%05d.m4s", base, n), nil, "").Status)
	}
	require.Equal(t, 404, a.do("HEAD", fmt.Sprintf("%sseg-0-%05d.m4s", base, 9), nil, "").Status, "no stray segments")
	keys := a.storedKeys(t, "videos/"+id+"/")
	for _, k := range keys {
		require.NotContains(t, k, ".tmp", "no partial output")
	}
}

// TestMediaRedirectToStorage: with media.redirect_to_storage, media GETs answer with a presigned
// storage URL after the same access checks, and the storage serves the bytes (ranges included).
func TestMediaRedirectToStorage(t *testing.T) {
	t.Parallel()
	if !testenv.S3() {
		t.Skip("presigned redirects need S3 storage")
	}
	a := setup(t, map[string]string{"VOD_MEDIA_REDIRECT_TO_STORAGE": "true"})
	tok := a.token("redirector")
	vs := a.uploadReadyAll(tok, fileUpload{clip(t, "noaudio"), map[string]string{"title": "Public"}},
		fileUpload{clip(t, "noaudio"), map[string]string{"title": "Private", "visibility": "private"}})
	pub, priv := vs[0], vs[1]
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(u string, headers ...string) (*http.Response, []byte) {
		req, err := http.NewRequest("GET", u, nil)
		require.NoError(t, err)
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		res, err := noFollow.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res, body
	}

	dash := dashOf(pub)
	res, _ := get(a.URL + dash)
	require.Equal(t, http.StatusFound, res.StatusCode)
	loc, err := url.Parse(res.Header.Get("Location"))
	require.NoError(t, err)
	require.Contains(t, a.Env["VOD_S3_ENDPOINT"], loc.Host, "redirected to the storage")
	require.NotEmpty(t, loc.Query().Get("X-Amz-Signature"))
	res, body := get(loc.String())
	require.Equal(t, 200, res.StatusCode)
	require.Contains(t, string(body), "<MPD")
	res, part := get(loc.String(), "Range", "bytes=0-9")
	require.Equal(t, 206, res.StatusCode)
	require.Equal(t, body[:10], part)

	// A private video's unsigned path is refused before any redirect; its signed path redirects.
	privID := priv.Id
	res, _ = get(a.URL + "/media/videos/" + privID + "/" + path.Base(path.Dir(dash)) + "/manifest.mpd")
	require.Equal(t, 404, res.StatusCode)
	v := a.do("GET", "/api/v1/videos/"+privID, nil, tok).JSON(t)["video"].(map[string]any)
	signed := str(v["playback"].(map[string]any)["dash"])
	require.Contains(t, signed, "/media/s/")
	res, _ = get(a.URL + signed)
	require.Equal(t, http.StatusFound, res.StatusCode)
	res, body = get(res.Header.Get("Location"))
	require.Equal(t, 200, res.StatusCode)
	require.Contains(t, string(body), "<MPD")
}
