package app

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The outside review's findings (issue 17), each reproduced against the running server.

// TestAccountStateAppliesAtOnce: disabled, demoted and deleted accounts lose access with their next
// request, not when their access token expires.
func TestAccountStateAppliesAtOnce(t *testing.T) {
	t.Parallel()
	a := setup(t)
	boss := a.admin("boss")
	dave := a.signup("dave")
	daveTok, daveID := str(dave["access_token"]), str(dave["user"].(map[string]any)["id"])

	require.Equal(t, 200, a.do("POST", "/api/v1/admin/users/"+daveID+"/disable", nil, boss).Status)
	r := a.do("GET", "/api/v1/auth/me", nil, daveTok)
	require.Equal(t, 403, r.Status)
	require.Equal(t, "account_disabled", r.errCode(t))
	r = a.upload(daveTok, clip(t, "noaudio"), nil)
	require.Equal(t, 403, r.Status, "a disabled user cannot upload: %s", r.Body)
	page := a.do("GET", "/api/v1/admin/videos", nil, boss).JSON(t)
	require.Empty(t, page["items"], "and no video was created")
	r = a.do("POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": str(dave["refresh_token"])}, "")
	require.Equal(t, "account_disabled", r.errCode(t), "a disabled user's refresh says so")

	eve := a.admin("eve")
	eveID := str(a.do("GET", "/api/v1/auth/me", nil, eve).JSON(t)["user"].(map[string]any)["id"])
	require.Equal(t, 200, a.do("GET", "/api/v1/admin/users", nil, eve).Status)
	require.Equal(t, 200, a.do("POST", "/api/v1/admin/users/"+eveID+"/demote", nil, boss).Status)
	require.Equal(t, 403, a.do("GET", "/api/v1/admin/users", nil, eve).Status, "a demoted admin's old token is an ordinary user's")

	frank := a.signup("frank")
	frankTok := str(frank["access_token"])
	frankID := str(frank["user"].(map[string]any)["id"])
	require.Equal(t, 204, a.do("DELETE", "/api/v1/admin/users/"+frankID, nil, boss).Status)
	r = a.upload(frankTok, clip(t, "noaudio"), nil)
	require.Equal(t, 401, r.Status, "a deleted user's token uploads nothing: %s", r.Body)
	require.Equal(t, 404, a.do("DELETE", "/api/v1/admin/users/"+frankID, nil, boss).Status)
	bossID := str(a.do("GET", "/api/v1/auth/me", nil, boss).JSON(t)["user"].(map[string]any)["id"])
	require.Equal(t, 409, a.do("DELETE", "/api/v1/admin/users/"+bossID, nil, boss).Status, "not on yourself")
}

// TestDeleteAccount: DELETE /auth/me with the password removes the account, its videos (rows,
// objects, search entries) and its sessions.
func TestDeleteAccount(t *testing.T) {
	t.Parallel()
	a := setup(t)
	ann := a.signup("ann")
	tok := str(ann["access_token"])
	v := a.uploadReady(tok, clip(t, "mkv-subs"), map[string]string{"title": "Annual report"})
	id := v.Id
	media := dashOf(v)
	require.Equal(t, 200, a.do("GET", strings.TrimPrefix(media, a.URL), nil, "").Status)
	require.Eventually(t, func() bool {
		return len(a.do("GET", "/api/v1/search?q=annual", nil, "").JSON(t)["items"].([]any)) == 1
	}, 15*time.Second, 200*time.Millisecond)

	r := a.do("DELETE", "/api/v1/auth/me", map[string]string{"password": "wrong password"}, tok)
	require.Equal(t, 401, r.Status)
	require.Equal(t, 200, a.do("GET", "/api/v1/videos/"+id, nil, "").Status, "a wrong password deletes nothing")
	require.Equal(t, 422, a.do("DELETE", "/api/v1/auth/me", map[string]string{}, tok).Status)

	require.Equal(t, 204, a.do("DELETE", "/api/v1/auth/me", map[string]string{"password": "correct horse battery"}, tok).Status)
	require.Equal(t, 404, a.do("GET", "/api/v1/videos/"+id, nil, "").Status)
	require.Equal(t, 404, a.do("GET", strings.TrimPrefix(media, a.URL), nil, "").Status)
	require.Equal(t, 401, a.do("GET", "/api/v1/auth/me", nil, tok).Status)
	r = a.do("POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": str(ann["refresh_token"])}, "")
	require.Equal(t, 401, r.Status)
	r = a.do("POST", "/api/v1/auth/login", map[string]string{"credential": "ann", "password": "correct horse battery"}, "")
	require.Equal(t, 401, r.Status)
	require.Eventually(t, func() bool {
		return len(a.do("GET", "/api/v1/search?q=annual", nil, "").JSON(t)["items"].([]any)) == 0
	}, 15*time.Second, 200*time.Millisecond, "gone from search")
	if a.Env["VOD_STORAGE_BACKEND"] != "s3" {
		_, err := os.Stat(filepath.Join(a.Env["VOD_DATA_DIR"], "media", "videos", id))
		require.True(t, os.IsNotExist(err), "objects removed")
	}
	a.signup("ann") // the name is free again
}

// TestParallelRefresh: twenty tabs refreshing with one token all stay logged in.
func TestParallelRefresh(t *testing.T) {
	t.Parallel()
	a := setup(t)
	rt := str(a.signup("tabs")["refresh_token"])
	var wg sync.WaitGroup
	got := make([]response, 20)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = a.do("POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": rt}, "")
		}()
	}
	wg.Wait()
	next := ""
	for _, r := range got {
		require.Equal(t, 200, r.Status, "%s", r.Body)
		n := str(r.JSON(t)["refresh_token"])
		require.True(t, next == "" || next == n, "one successor")
		next = n
	}
	r := a.do("POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": next}, "")
	require.Equal(t, 200, r.Status, "the winner's token was not revoked")

	require.Equal(t, 204, a.do("POST", "/api/v1/auth/logout", map[string]string{"refresh_token": str(r.JSON(t)["refresh_token"])}, "").Status)
	r = a.do("POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": str(r.JSON(t)["refresh_token"])}, "")
	require.Equal(t, "token_revoked", r.errCode(t), "after logout: revoked, not reused")
	require.NotContains(t, a.logs.String(), "refresh token reuse")
}

// TestLoginThrottleByAccount: the username and the email share one budget per address, and
// strangers' failures never lock the owner out of an address that has not failed.
func TestLoginThrottleByAccount(t *testing.T) {
	t.Parallel()
	a := setup(t, map[string]string{"VOD_HTTP_TRUSTED_PROXIES": "127.0.0.1/32"})
	a.signup("carol")
	login := func(cred, pass, ip string) response {
		return a.do("POST", "/api/v1/auth/login", map[string]string{"credential": cred, "password": pass}, "", "X-Forwarded-For", ip)
	}
	n := 0
	for ; n < 20; n++ {
		cred := []string{"carol", "carol@example.com"}[n%2]
		if login(cred, "wrong password", "198.51.100.1").Status == 429 {
			break
		}
	}
	require.Equal(t, 5, n, "five guesses, however the account is named")
	for ip := range 20 {
		for range 5 {
			login("carol", "wrong password", fmt.Sprintf("192.0.2.%d", ip+10))
		}
	}
	r := login("carol", "correct horse battery", "203.0.113.9")
	require.Equal(t, 200, r.Status, "the owner from a clean address logs in: %s", r.Body)
	require.Equal(t, 429, login("carol", "wrong password", "192.0.2.10").Status)
}

// TestSourcesAreNeverMedia: an uploaded file is never served from /media, even as HTML; its owner
// downloads it through a short signed link, as an attachment that is not sniffed.
func TestSourcesAreNeverMedia(t *testing.T) {
	t.Parallel()
	a := setup(t)
	tok := a.token("host")
	page := []byte("<html><script>alert(document.cookie)</script></html>")
	r := a.do("POST", "/api/v1/uploads", map[string]any{"title": "x", "filename": "x.html", "size": len(page), "visibility": "public"}, tok)
	require.Equal(t, 201, r.Status, "%s", r.Body)
	up := r.JSON(t)
	a.putUpload(up, bytes.NewReader(page), int64(len(page)))
	id := str(up["video_id"])
	require.Equal(t, 404, a.do("GET", "/media/videos/"+id+"/source", nil, "").Status)
	require.Equal(t, 404, a.do("GET", "/api/v1/videos/"+id+"/source", nil, tok).Status, "not before it passed validation")

	v := a.uploadReady(tok, clip(t, "noaudio"), map[string]string{"visibility": "public"})
	id = v.Id
	require.Equal(t, 404, a.do("GET", "/media/videos/"+id+"/source", nil, "").Status, "a public video's original is not public")
	require.Equal(t, 401, a.do("GET", "/api/v1/videos/"+id+"/source", nil, "").Status)
	require.Equal(t, 403, a.do("GET", "/api/v1/videos/"+id+"/source", nil, a.token("other")).Status)
	r = a.do("GET", "/api/v1/videos/"+id+"/source", nil, tok)
	require.Equal(t, 200, r.Status, "%s", r.Body)
	link := r.JSON(t)
	dl := a.do("GET", str(link["url"]), nil, "")
	require.Equal(t, 200, dl.Status)
	require.Equal(t, "application/octet-stream", dl.Header.Get("Content-Type"))
	require.Contains(t, dl.Header.Get("Content-Disposition"), "attachment")
	require.Equal(t, "nosniff", dl.Header.Get("X-Content-Type-Options"))
	require.Empty(t, dl.Header.Get("Access-Control-Allow-Origin"))
	require.EqualValues(t, link["size"], len(dl.Body))
	require.Equal(t, 404, a.do("GET", str(link["url"])+"x", nil, "").Status, "a tampered link")
	other := strings.Replace(str(link["url"]), id, a.uploadReady(tok, clip(t, "noaudio"), nil).Id, 1)
	require.Equal(t, 404, a.do("GET", other, nil, "").Status, "a link is for one video")
}

// TestSecurityHeaders: nothing is sniffed, nothing but the embed page may be framed, /doc has a CSP.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	a := setup(t)
	tok := a.token("headers")
	v := a.uploadReady(tok, clip(t, "noaudio"), nil)
	media := strings.TrimPrefix(dashOf(v), a.URL)
	for _, p := range []string{"/", "/watch/" + v.Id, "/api/v1/videos", "/api/v1/videos/nope", media, "/doc", "/static/app.js", "/openapi.json", "/healthz"} {
		r := a.do("GET", p, nil, "")
		require.Equal(t, "nosniff", r.Header.Get("X-Content-Type-Options"), p)
		require.Equal(t, "DENY", r.Header.Get("X-Frame-Options"), p)
		require.Contains(t, r.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'", p)
	}
	csp := a.do("GET", "/doc", nil, "").Header.Get("Content-Security-Policy")
	require.Contains(t, csp, "script-src 'self'")
	require.NotContains(t, csp, "unsafe-eval")
}

// TestSlowClients: a body trickling in is cut off after the rate window; a slow but real upload
// (50 KB/s) goes through; headers sent slowly are cut off too.
func TestSlowClients(t *testing.T) {
	t.Parallel()
	a := setup(t, map[string]string{"VOD_HTTP_BODY_RATE_WINDOW": "2s", "VOD_HTTP_MIN_BODY_RATE": "4096", "VOD_HTTP_READ_HEADER_TIMEOUT": "2s"})
	tok := a.token("slow")
	addr := strings.TrimPrefix(a.URL, "http://")

	// One body byte per second.
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	fmt.Fprintf(c, "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
	start := time.Now()
	closed := make(chan time.Duration, 1)
	go func() {
		_, _ = io.Copy(io.Discard, c)
		closed <- time.Since(start)
	}()
	go func() {
		for range 30 {
			if _, err := c.Write([]byte("{")); err != nil {
				return
			}
			time.Sleep(time.Second)
		}
	}()
	select {
	case d := <-closed:
		require.Less(t, d, 6*time.Second, "cut off after the window")
	case <-time.After(15 * time.Second):
		t.Fatal("a trickling body kept its connection open")
	}

	// Headers one line every second.
	h, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer h.Close()
	start = time.Now()
	go func() {
		fmt.Fprintf(h, "GET / HTTP/1.1\r\n")
		for range 30 {
			if _, err := fmt.Fprintf(h, "X-A: b\r\n"); err != nil {
				return
			}
			time.Sleep(time.Second)
		}
	}()
	_, _ = io.Copy(io.Discard, bufio.NewReader(h))
	require.Less(t, time.Since(start), 6*time.Second, "slow headers are cut off")

	// A slow upload at 50 KB/s succeeds.
	path := clip(t, "mp4")
	fi, _ := os.Stat(path)
	r := a.do("POST", "/api/v1/uploads", map[string]any{"title": "slow", "filename": "clip.mp4", "size": fi.Size()}, tok)
	require.Equal(t, 201, r.Status, "%s", r.Body)
	up := r.JSON(t)
	f, _ := os.Open(path)
	defer f.Close()
	require.Equal(t, 200, a.putUpload(up, &paced{r: f, rate: 50 << 10}, fi.Size()))
	require.Equal(t, 202, a.do("POST", "/api/v1/uploads/"+str(up["upload_id"])+"/complete", nil, tok).Status)
}

// paced reads at most rate bytes per second.
type paced struct {
	r     io.Reader
	rate  int
	start time.Time
	n     int
}

func (p *paced) Read(b []byte) (int, error) {
	if p.start.IsZero() {
		p.start = time.Now()
	}
	if len(b) > p.rate/10 {
		b = b[:p.rate/10]
	}
	if ahead := time.Duration(float64(p.n)/float64(p.rate)*float64(time.Second)) - time.Since(p.start); ahead > 0 {
		time.Sleep(ahead)
	}
	n, err := p.r.Read(b)
	p.n += n
	return n, err
}

// TestMetricsAddr: metrics.addr serves /metrics on its own listener; the main one has none.
func TestMetricsAddr(t *testing.T) {
	t.Parallel()
	a := setup(t, map[string]string{"VOD_METRICS_ADDR": "127.0.0.1:0", "VOD_METRICS_TOKEN": ""})
	require.Equal(t, 404, a.do("GET", "/metrics", nil, "").Status)
	m := regexp.MustCompile(`metrics are listening.*addr=(\S+)`).FindStringSubmatch(a.logs.String())
	require.NotNil(t, m, a.logs.String())
	res, err := http.Get("http://" + m[1] + "/metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, 200, res.StatusCode)
	require.Contains(t, string(body), "go_goroutines")
}

// TestStrictInput: one JSON value of exactly application/json, and no control characters in names.
func TestStrictInput(t *testing.T) {
	t.Parallel()
	a := setup(t)
	tok := a.token("strict")
	login := `{"credential":"strict","password":"correct horse battery"}`
	require.Equal(t, 200, a.do("POST", "/api/v1/auth/login", login, "").Status)
	require.Equal(t, 400, a.do("POST", "/api/v1/auth/login", login+`{"x":1}`, "").Status, "trailing bytes")
	require.Equal(t, 400, a.do("POST", "/api/v1/auth/login", login+"garbage", "").Status)
	require.Equal(t, 415, a.do("POST", "/api/v1/auth/login", login, "", "Content-Type", "application/jsonfoo").Status)
	require.Equal(t, 200, a.do("POST", "/api/v1/auth/login", login, "", "Content-Type", "application/json; charset=utf-8").Status)

	r := a.do("POST", "/api/v1/auth/signup", with(signupBody("ctl", "ctl@example.com"), "first_name", "A\x00B"), "")
	require.Equal(t, 422, r.Status)
	require.Contains(t, string(r.Body), "first_name")
	r = a.do("POST", "/api/v1/auth/signup", with(signupBody("ctl", "ctl@example.com"), "last_name", "\x1b[31mred"), "")
	require.Equal(t, 422, r.Status)
	v := a.uploadReady(tok, clip(t, "noaudio"), nil)
	r = a.do("PATCH", "/api/v1/videos/"+v.Id, map[string]string{"title": "bell\x07"}, tok)
	require.Equal(t, 422, r.Status)
	r = a.do("PATCH", "/api/v1/videos/"+v.Id, map[string]string{"description": "line one\nline two\ttab"}, tok)
	require.Equal(t, 200, r.Status, "descriptions keep line breaks and tabs")
	r = a.upload(tok, clip(t, "noaudio"), map[string]string{"title": "nul\x00title"})
	require.Equal(t, 422, r.Status)
}

// TestNoLeftovers: deleting a video while it encodes removes its work files at once; a rejected
// upload leaves no directory behind.
func TestNoLeftovers(t *testing.T) {
	t.Parallel()
	a := setup(t)
	tok := a.token("tidy")
	work := filepath.Join(a.Env["VOD_DATA_DIR"], "work")
	r := a.upload(tok, clip(t, "long"), nil)
	require.Equal(t, 202, r.Status, "%s", r.Body)
	id := str(r.JSON(t)["video"].(map[string]any)["id"])
	require.Eventually(t, func() bool {
		v := a.do("GET", "/api/v1/videos/"+id, nil, tok).JSON(t)["video"].(map[string]any)
		_, err := os.Stat(filepath.Join(work, id))
		return v["stage"] == "transcode" && err == nil
	}, 60*time.Second, 50*time.Millisecond, "encoding, with work files")
	require.Equal(t, 204, a.do("DELETE", "/api/v1/videos/"+id, nil, tok).Status)
	require.Eventually(t, func() bool {
		_, err := os.Stat(filepath.Join(work, id))
		return os.IsNotExist(err)
	}, 10*time.Second, 100*time.Millisecond, "work files removed: %v", listTree(filepath.Join(work, id)))

	junk := filepath.Join(t.TempDir(), "junk.mp4")
	require.NoError(t, os.WriteFile(junk, bytes.Repeat([]byte("not a video "), 1000), 0o644))
	require.Equal(t, 422, a.upload(tok, junk, nil).Status)
	entries, _ := os.ReadDir(work)
	require.Empty(t, entries, "no work files of the deleted video or the rejected upload")
	if a.Env["VOD_STORAGE_BACKEND"] != "s3" {
		vids, _ := os.ReadDir(filepath.Join(a.Env["VOD_DATA_DIR"], "media", "videos"))
		for _, e := range vids {
			sub, _ := os.ReadDir(filepath.Join(a.Env["VOD_DATA_DIR"], "media", "videos", e.Name()))
			require.NotEmpty(t, sub, "no empty directory for %s", e.Name())
		}
	}
}

func listTree(dir string) []string {
	var out []string
	_ = filepath.Walk(dir, func(p string, _ os.FileInfo, _ error) error { out = append(out, p); return nil })
	return out
}

// TestBidiOverridesRefused (issue 19): a title, description or subtitle label with a
// bidirectional override is refused with a field error; a file name with one becomes a default
// title without it.
func TestBidiOverridesRefused(t *testing.T) {
	t.Parallel()
	a := setup(t)
	tok := a.token("bidi")
	src := clip(t, "mp4")
	spoof := filepath.Join(t.TempDir(), "holiday\u202e4pm.exe.mp4")
	raw, err := os.ReadFile(src)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(spoof, raw, 0o644))
	r := a.upload(tok, spoof, nil)
	require.Equal(t, 202, r.Status, "%s", r.Body)
	v := r.JSON(t)["video"].(map[string]any)
	require.Equal(t, "holiday4pm.exe", v["title"], "the override is gone from the default title")
	id := str(v["id"])
	for field, value := range map[string]string{"title": "photo\u202egpj.exe", "description": "fine\n\u2067spoof\u2069"} {
		r := a.do("PATCH", "/api/v1/videos/"+id, map[string]any{field: value}, tok)
		require.Equal(t, 422, r.Status, "%s: %s", field, r.Body)
		require.Contains(t, string(r.Body), "bidirectional", field)
	}
	r = a.upload(tok, src, map[string]string{"title": "clip\u202eexe.mp4"})
	require.Equal(t, 422, r.Status, "%s", r.Body)
	a.waitFor(id, tok, time.Minute)
	r = a.postSubtitle(tok, id, "s.vtt", "WEBVTT\n\n00:00.000 --> 00:01.000\nhi\n", "en", "English\u202e")
	require.Equal(t, 422, r.Status, "%s", r.Body)
}
