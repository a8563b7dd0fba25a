package app

import (
	"bufio"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"vod/app/apiclient"
	"vod/app/db"
)

// bigClip is a ~60 MB video (4 s of lossless noise): big enough for a dozen 5 MiB chunks, quick to
// process.
func bigClip(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "big.mp4")
	ffmpegRun(t, "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30:duration=4", "-f", "lavfi", "-i", "sine=duration=4",
		"-vf", "noise=alls=100:allf=t", "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-shortest", out)
	return out
}

func fileSHA256(t testing.TB, path string) string {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	h := sha256.New()
	_, err = io.Copy(h, f)
	require.NoError(t, err)
	return hex.EncodeToString(h.Sum(nil))
}

// sourceSHA256 downloads a video's original through the API and hashes it.
func (a *testApp) sourceSHA256(id, token string) string {
	a.t.Helper()
	link, err := a.api(token).GetVideosIdSourceWithResponse(context.Background(), id)
	require.NoError(a.t, err)
	require.NotNil(a.t, link.JSON200, "%s", link.Body)
	url := link.JSON200.Url
	if strings.HasPrefix(url, "/") {
		url = a.URL + url
	}
	res, err := http.Get(url)
	require.NoError(a.t, err)
	defer res.Body.Close()
	require.Equal(a.t, 200, res.StatusCode)
	h := sha256.New()
	_, err = io.Copy(h, res.Body)
	require.NoError(a.t, err)
	return hex.EncodeToString(h.Sum(nil))
}

// cutProxy stands between a client and the server like a flaky network: it forwards TCP
// connections to the current backend (which the test may switch, as a restarted server comes back on
// another port) and, once, cuts every open connection when the client has sent cutAt bytes.
type cutProxy struct {
	ln      net.Listener
	backend atomic.Value
	cutAt   atomic.Int64
	sent    atomic.Int64
	cuts    atomic.Int32
	mu      sync.Mutex
	conns   []net.Conn
}

func newCutProxy(t *testing.T, backendURL string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &cutProxy{ln: ln}
	p.setBackend(backendURL)
	t.Cleanup(func() { ln.Close(); p.cutAll() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *cutProxy) URL() string { return "http://" + p.ln.Addr().String() }

func (p *cutProxy) setBackend(url string) { p.backend.Store(strings.TrimPrefix(url, "http://")) }

func (p *cutProxy) cutAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *cutProxy) serve(c net.Conn) {
	up, err := net.Dial("tcp", p.backend.Load().(string))
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns = append(p.conns, c, up)
	p.mu.Unlock()
	go func() { _, _ = io.Copy(c, up); c.Close() }()
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := up.Write(buf[:n]); werr != nil {
				break
			}
			total := p.sent.Add(int64(n))
			if at := p.cutAt.Load(); at > 0 && total >= at && p.cutAt.CompareAndSwap(at, 0) {
				p.cuts.Add(1)
				p.cutAll()
				return
			}
		}
		if err != nil {
			break
		}
	}
	up.Close()
}

type tusEvent struct {
	Event   string `json:"event"`
	Sent    int64  `json:"sent"`
	Total   int64  `json:"total"`
	URL     string `json:"url"`
	VideoID string `json:"videoId"`
	Status  int    `json:"status"`
	Message string `json:"message"`
}

// tusClient runs tus-js-client (Node) on a file and calls on for every line it reports; it returns
// the last event (success or error).
func tusClient(t *testing.T, opts map[string]any, on func(tusEvent)) tusEvent {
	t.Helper()
	modules := playersDir(t)
	raw, err := json.Marshal(opts)
	require.NoError(t, err)
	script, err := filepath.Abs("testdata/tus/upload.cjs")
	require.NoError(t, err)
	cmd := exec.Command("node", script, string(raw))
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	var last tusEvent
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var ev tusEvent
		require.NoError(t, json.Unmarshal(sc.Bytes(), &ev), sc.Text())
		if on != nil {
			on(ev)
		}
		last = ev
	}
	_ = cmd.Wait()
	require.Contains(t, []string{"success", "error"}, last.Event, "tus-js-client ended without a verdict: %s", stderr.String())
	return last
}

// TestTusResumeAfterCut (issue 15): tus-js-client uploads 60 MB in 5 MiB chunks through a proxy
// that cuts the connection in the middle of a chunk; the client resumes where the server says,
// and the video comes out ready with a source byte-identical to the file. Both backends.
func TestTusResumeAfterCut(t *testing.T) {
	t.Parallel()
	a := setup(t)
	tok := a.token("tessa")
	file := bigClip(t)
	proxy := newCutProxy(t, a.URL)
	proxy.cutAt.Store(32<<20 + 5<<19) // 34.5 MiB: half-way through the seventh chunk
	var retries int
	var chunks []int64
	ev := tusClient(t, map[string]any{"endpoint": proxy.URL() + "/api/v1/tus/", "token": tok, "file": file, "chunkSize": 5 << 20,
		"metadata": map[string]string{"filename": "noise.mp4", "title": "Resumed", "visibility": "private"}}, func(ev tusEvent) {
		switch ev.Event {
		case "retry":
			retries++
		case "chunk":
			chunks = append(chunks, ev.Sent)
		}
	})
	require.Equal(t, "success", ev.Event, "%+v", ev)
	require.EqualValues(t, 1, proxy.cuts.Load(), "the connection was cut once")
	require.GreaterOrEqual(t, retries, 1, "the client noticed and resumed")
	require.NotEmpty(t, ev.VideoID, "Vod-Video-Id reached the client (exposed header)")
	v := a.waitVideo(ev.VideoID, tok, 3*time.Minute)
	require.Equal(t, apiclient.Ready, v.Status, "error: %v", v.Error)
	require.Equal(t, "Resumed", v.Title)
	require.Equal(t, apiclient.VideoVisibilityPrivate, v.Visibility)
	require.Equal(t, fileSHA256(t, file), a.sourceSHA256(ev.VideoID, tok), "the source is the file, byte for byte")
	fi, _ := os.Stat(file)
	require.Equal(t, fi.Size(), chunks[len(chunks)-1])
}

// TestTusResumeAfterRestart (issue 15): the server process is killed (SIGKILL) in the middle of a
// tus upload and started again on the same data; the client, retrying, finds the offset where the
// dead process left it and finishes.
func TestTusResumeAfterRestart(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	first := startProc(t, env)
	first.wait(t)
	a := &testApp{t: t, URL: first.url, Env: env}
	tok := a.token("rita")
	file := bigClip(t)
	fi, err := os.Stat(file)
	require.NoError(t, err)
	proxy := newCutProxy(t, first.url)
	var once sync.Once
	var second *proc
	ev := tusClient(t, map[string]any{"endpoint": proxy.URL() + "/api/v1/tus/", "token": tok, "file": file, "chunkSize": 4 << 20,
		"metadata": map[string]string{"filename": "restart.mp4"}}, func(ev tusEvent) {
		if ev.Event == "chunk" && ev.Sent >= fi.Size()*2/5 {
			once.Do(func() {
				first.kill(t)
				proxy.cutAll()
				second = startProc(t, env)
				second.wait(t)
				proxy.setBackend(second.url)
			})
		}
	})
	require.NotNil(t, second, "the server was restarted mid-upload")
	require.Equal(t, "success", ev.Event, "%+v", ev)
	a.URL = second.url
	v := a.waitVideo(ev.VideoID, tok, 3*time.Minute)
	require.Equal(t, apiclient.Ready, v.Status, "error: %v", v.Error)
	require.Equal(t, "restart", v.Title)
	require.Equal(t, fileSHA256(t, file), a.sourceSHA256(ev.VideoID, tok))
}

// tusReq sends one raw tus request (for what tus-js-client never sends wrong).
func (a *testApp) tusReq(method, url, token string, body io.Reader, headers ...string) *http.Response {
	a.t.Helper()
	if strings.HasPrefix(url, "/") {
		url = a.URL + url
	}
	req, err := http.NewRequest(method, url, body)
	require.NoError(a.t, err)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Authorization", "Bearer "+token)
	if method == http.MethodPatch {
		req.Header.Set("Content-Type", "application/offset+octet-stream")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(a.t, err)
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

// TestTusErrors (issue 15): every refusal of the protocol on the running app and both backends,
// and that none corrupts the upload: after all of them the file arrives whole.
func TestTusErrors(t *testing.T) {
	t.Parallel()
	a := setup(t, map[string]string{"VOD_UPLOAD_MAX_BYTES": strconv.Itoa(64 << 20)})
	tok, other := a.token("owner"), a.token("intruder")
	file := clip(t, "mp4")
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	length := strconv.Itoa(len(data))

	res := a.tusReq("OPTIONS", "/api/v1/tus/", "", nil)
	require.Equal(t, 204, res.StatusCode)
	require.Equal(t, "1.0.0", res.Header.Get("Tus-Version"))
	require.Equal(t, strconv.Itoa(64<<20), res.Header.Get("Tus-Max-Size"))
	require.Contains(t, res.Header.Get("Access-Control-Allow-Headers"), "Upload-Offset")

	require.Equal(t, 401, a.tusReq("POST", "/api/v1/tus/", "", nil, "Upload-Length", length).StatusCode)
	require.Equal(t, 413, a.tusReq("POST", "/api/v1/tus/", tok, nil, "Upload-Length", strconv.Itoa(65<<20)).StatusCode, "over the size limit")
	res = a.tusReq("POST", "/api/v1/tus/", tok, nil, "Upload-Length", length, "Upload-Metadata",
		"filename "+base64.StdEncoding.EncodeToString([]byte("checked.mp4")))
	require.Equal(t, 201, res.StatusCode)
	loc, vid := res.Header.Get("Location"), res.Header.Get("Vod-Video-Id")
	require.Contains(t, res.Header.Get("Access-Control-Expose-Headers"), "Vod-Video-Id")
	require.NotEmpty(t, res.Header.Get("Upload-Expires"))
	require.Equal(t, apiclient.Uploading, a.video(vid, tok).Status)

	require.Equal(t, 404, a.tusReq("HEAD", loc, other, nil).StatusCode, "another user's upload does not exist for them")
	require.Equal(t, 404, a.tusReq("PATCH", loc, other, strings.NewReader("x"), "Upload-Offset", "0").StatusCode)
	require.Equal(t, 404, a.tusReq("DELETE", loc, other, nil).StatusCode)
	require.Equal(t, 412, a.tusReq("PATCH", loc, tok, strings.NewReader("x"), "Upload-Offset", "0", "Tus-Resumable", "0.2.2").StatusCode)
	require.Equal(t, 415, a.tusReq("PATCH", loc, tok, strings.NewReader("x"), "Upload-Offset", "0", "Content-Type", "video/mp4").StatusCode)
	require.Equal(t, 409, a.tusReq("PATCH", loc, tok, strings.NewReader("x"), "Upload-Offset", "7").StatusCode, "offset mismatch")
	require.Equal(t, 413, a.tusReq("PATCH", loc, tok, strings.NewReader(string(data)+"extra"), "Upload-Offset", "0").StatusCode, "past Upload-Length")
	bad := sha1.Sum([]byte("something else"))
	require.Equal(t, 460, a.tusReq("PATCH", loc, tok, strings.NewReader(string(data[:1000])), "Upload-Offset", "0",
		"Upload-Checksum", "sha1 "+base64.StdEncoding.EncodeToString(bad[:])).StatusCode)
	require.Equal(t, "0", a.tusReq("HEAD", loc, tok, nil).Header.Get("Upload-Offset"), "refused chunks left nothing")

	// Two PATCHes at once: the first holds the upload while its body trickles in; the second is
	// refused with 423, and the first completes untouched. The probe holds the lock for a moment
	// itself (it is refused only after reading its body), so a first PATCH that arrives during a
	// probe is the one refused: then the pair starts again.
	var res1 *http.Response
	for attempt := 0; res1 == nil; attempt++ {
		require.Less(t, attempt, 5, "a second writer is refused while the first writes")
		pr, pw := io.Pipe()
		first := make(chan *http.Response, 1)
		go func() { first <- a.tusReq("PATCH", loc, tok, pr, "Upload-Offset", "0") }()
		_, _ = pw.Write(data[:1000]) // fails only when the first was refused and its body closed
		deadline := time.Now().Add(10 * time.Second)
		for res1 == nil && time.Now().Before(deadline) {
			select {
			case r := <-first:
				require.Equal(t, 423, r.StatusCode, "the first PATCH can only have met the probe")
				deadline = time.Time{}
				continue
			default:
			}
			// The probe's checksum is wrong: should it run before the first PATCH holds the upload,
			// it is refused (460) and writes nothing.
			if a.tusReq("PATCH", loc, tok, strings.NewReader("zzz"), "Upload-Offset", "0",
				"Upload-Checksum", "sha1 "+base64.StdEncoding.EncodeToString(bad[:])).StatusCode == 423 {
				_, err = pw.Write(data[1000:2000])
				require.NoError(t, err)
				require.NoError(t, pw.Close())
				res1 = <-first
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		pw.Close()
	}
	res = res1
	require.Equal(t, 204, res.StatusCode)
	require.Equal(t, "2000", res.Header.Get("Upload-Offset"))

	good := sha1.Sum(data[2000:])
	res = a.tusReq("PATCH", loc, tok, strings.NewReader(string(data[2000:])), "Upload-Offset", "2000",
		"Upload-Checksum", "sha1 "+base64.StdEncoding.EncodeToString(good[:]))
	require.Equal(t, 204, res.StatusCode)
	require.Equal(t, length, res.Header.Get("Upload-Offset"))
	v := a.waitVideo(vid, tok, 2*time.Minute)
	require.Equal(t, apiclient.Ready, v.Status, "error: %v", v.Error)
	require.Equal(t, fileSHA256(t, file), a.sourceSHA256(vid, tok))
	require.Equal(t, 409, a.tusReq("DELETE", loc, tok, nil).StatusCode, "a finished upload is not terminated (its video is deleted instead)")

	// A file that is not a video: the upload completes, the video fails with the reason.
	junk := []byte(strings.Repeat("not a video at all ", 100))
	res = a.tusReq("POST", "/api/v1/tus/", tok, strings.NewReader(string(junk)), "Upload-Length", strconv.Itoa(len(junk)),
		"Content-Type", "application/offset+octet-stream")
	require.Equal(t, 201, res.StatusCode)
	require.Equal(t, strconv.Itoa(len(junk)), res.Header.Get("Upload-Offset"), "creation-with-upload took the whole file")
	v = a.waitVideo(res.Header.Get("Vod-Video-Id"), tok, time.Minute)
	require.Equal(t, apiclient.Failed, v.Status)
	require.NotNil(t, v.Error)
	require.NotEmpty(t, *v.Error)

	// Termination removes the unfinished upload and its video.
	res = a.tusReq("POST", "/api/v1/tus/", tok, strings.NewReader(string(data[:500])), "Upload-Length", length,
		"Content-Type", "application/offset+octet-stream")
	require.Equal(t, "500", res.Header.Get("Upload-Offset"))
	loc, vid = res.Header.Get("Location"), res.Header.Get("Vod-Video-Id")
	require.Equal(t, 204, a.tusReq("DELETE", loc, tok, nil).StatusCode)
	require.Equal(t, 404, a.tusReq("HEAD", loc, tok, nil).StatusCode)
	require.Nil(t, a.video(vid, tok), "the video went with the upload")
}

// TestTusExpiry (issue 15): an upload nobody continues is swept when it expires: its parts aborted
// (S3) or staging file removed, its video and row gone. A chunk of 6 MiB puts a part on S3.
func TestTusExpiry(t *testing.T) {
	t.Parallel()
	a := setup(t)
	tok := a.token("idle")
	res := a.tusReq("POST", "/api/v1/tus/", tok, strings.NewReader(strings.Repeat("v", 6<<20+100)), "Upload-Length", strconv.Itoa(8<<20),
		"Content-Type", "application/offset+octet-stream")
	require.Equal(t, 201, res.StatusCode)
	require.Equal(t, strconv.Itoa(6<<20+100), res.Header.Get("Upload-Offset"))
	loc, vid := res.Header.Get("Location"), res.Header.Get("Vod-Video-Id")
	require.NoError(t, a.stop())

	d, err := db.Open(context.Background(), a.Env["VOD_DATABASE_URL"], 1)
	require.NoError(t, err)
	require.NoError(t, d.Gorm.Exec(`UPDATE tus_uploads SET expires_at = ?`, time.Now().UTC().Add(-time.Minute)).Error)
	require.NoError(t, d.Close())
	a = a.restart() // the sweeper runs at start
	require.Eventually(t, func() bool { return a.do("GET", "/api/v1/videos/"+vid, nil, tok).Status == 404 }, 30*time.Second, 200*time.Millisecond)
	require.Equal(t, 404, a.tusReq("HEAD", loc, tok, nil).StatusCode)
	require.Contains(t, a.logs.String(), "removing expired resumable upload")
	require.NotContains(t, a.logs.String(), "abort multipart upload", "the parts were aborted without error")
}

// TestTusRateLimit (issue 15): the upload rate limit counts creations, not chunks: with room for
// two uploads, one sent in many chunks passes, the second creation too, the third is refused.
func TestTusRateLimit(t *testing.T) {
	t.Parallel()
	a := setup(t, map[string]string{"VOD_RATELIMIT_UPLOAD": "2/1h"})
	tok := a.token("chunky")
	data, err := os.ReadFile(clip(t, "mp4"))
	require.NoError(t, err)
	res := a.tusReq("POST", "/api/v1/tus/", tok, nil, "Upload-Length", strconv.Itoa(len(data)))
	require.Equal(t, 201, res.StatusCode)
	loc := res.Header.Get("Location")
	const chunk = 4096
	for off := 0; off < len(data); off += chunk {
		end := min(off+chunk, len(data))
		require.Equal(t, 200, a.tusReq("HEAD", loc, tok, nil).StatusCode)
		require.Equal(t, 204, a.tusReq("PATCH", loc, tok, strings.NewReader(string(data[off:end])), "Upload-Offset", strconv.Itoa(off)).StatusCode, "chunk at %d", off)
	}
	require.Equal(t, 201, a.tusReq("POST", "/api/v1/tus/", tok, nil, "Upload-Length", "10").StatusCode)
	res = a.tusReq("POST", "/api/v1/tus/", tok, nil, "Upload-Length", "10")
	require.Equal(t, 429, res.StatusCode)
	require.NotEmpty(t, res.Header.Get("Retry-After"))
}
