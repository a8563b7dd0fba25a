package cli

// The remote commands (vod remote ...) work against a running server over its HTTP API, through the
// generated client (app/apiclient), as a script or a CI job would: log in once, upload files over tus
// (resumable: run the same command again after a failure and it continues), follow processing,
// list, inspect and delete videos.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"vod/app/apiclient"
)

// Remote is a session with a server: where it is, who is logged in, and the uploads to resume. It
// is kept in Dir (the user's config directory) with 0600 permissions.
type Remote struct {
	Dir     string                  `json:"-"`
	Server  string                  `json:"server"`
	User    string                  `json:"username"`
	Access  string                  `json:"access_token"`
	Refresh string                  `json:"refresh_token"`
	Expires time.Time               `json:"access_expires"`
	Uploads map[string]remoteUpload `json:"uploads,omitempty"`
	// HTTP is the client's transport (tests); nil is http.DefaultClient.
	HTTP *http.Client `json:"-"`
}

type remoteUpload struct {
	ID      string `json:"id"`
	VideoID string `json:"video_id"`
}

// ErrNotLoggedIn is a remote command before vod remote login.
var ErrNotLoggedIn = errors.New("not logged in: run vod remote login --server URL --username NAME first")

// ErrProcessingFailed is an upload --wait whose video failed (the reasons were printed).
var ErrProcessingFailed = errors.New("processing failed")

func (r *Remote) file() string { return filepath.Join(r.Dir, "remote.json") }

// LoadRemote reads the session kept in dir (an empty one when there is none).
func LoadRemote(dir string) (*Remote, error) {
	r := &Remote{Dir: dir}
	b, err := os.ReadFile(r.file())
	if errors.Is(err, os.ErrNotExist) {
		return r, nil
	} else if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, r); err != nil {
		return nil, fmt.Errorf("%s: %w", r.file(), err)
	}
	return r, nil
}

func (r *Remote) save() error {
	if err := os.MkdirAll(r.Dir, 0o700); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(r, "", "  ")
	tmp := r.file() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, r.file())
}

func (r *Remote) client() (*apiclient.ClientWithResponses, error) {
	var opts []apiclient.ClientOption
	if r.HTTP != nil {
		opts = append(opts, apiclient.WithHTTPClient(r.HTTP))
	}
	opts = append(opts, apiclient.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
		if r.Access != "" {
			req.Header.Set("Authorization", "Bearer "+r.Access)
		}
		return nil
	}))
	return apiclient.NewClientWithResponses(r.Server, opts...)
}

// apiError is the server's error body as the user reads it.
func apiError(status int, e *apiclient.Error, body []byte) error {
	if e != nil {
		return fmt.Errorf("%s (%d %s)", e.Error.Message, status, e.Error.Code)
	}
	var shaped apiclient.Error
	if json.Unmarshal(body, &shaped) == nil && shaped.Error.Message != "" {
		return fmt.Errorf("%s (%d %s)", shaped.Error.Message, status, shaped.Error.Code)
	}
	return fmt.Errorf("the server answered %d", status)
}

// Login logs in with a username (or email) and password and keeps the tokens.
func (r *Remote) Login(ctx context.Context, s Streams, server, username, password string) error {
	r.Server, r.User, r.Access = strings.TrimRight(server, "/"), username, ""
	c, err := r.client()
	if err != nil {
		return err
	}
	res, err := c.PostAuthLoginWithResponse(ctx, apiclient.PostAuthLoginJSONRequestBody{Credential: username, Password: password})
	if err != nil {
		return err
	}
	if res.JSON200 == nil {
		return apiError(res.StatusCode(), firstErr(res.JSON401, res.JSON403, res.JSON429), res.Body)
	}
	r.keep(res.JSON200)
	if err := r.save(); err != nil {
		return err
	}
	fmt.Fprintf(s.Err, "logged in to %s as %s\n", r.Server, res.JSON200.User.Username)
	return nil
}

func firstErr(errs ...*apiclient.Error) *apiclient.Error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func (r *Remote) keep(t *apiclient.Tokens) {
	r.Access, r.Refresh = t.AccessToken, t.RefreshToken
	r.Expires = time.Now().Add(time.Duration(t.ExpiresIn) * time.Second)
	r.User = t.User.Username
}

// session returns a client with a fresh access token, refreshing it when it is about to expire.
func (r *Remote) session(ctx context.Context) (*apiclient.ClientWithResponses, error) {
	if r.Server == "" || r.Refresh == "" {
		return nil, ErrNotLoggedIn
	}
	if time.Until(r.Expires) < time.Minute {
		if err := r.refresh(ctx); err != nil {
			return nil, err
		}
	}
	return r.client()
}

func (r *Remote) refresh(ctx context.Context) error {
	r.Access = ""
	c, err := r.client()
	if err != nil {
		return err
	}
	res, err := c.PostAuthRefreshWithResponse(ctx, apiclient.PostAuthRefreshJSONRequestBody{RefreshToken: r.Refresh})
	if err != nil {
		return err
	}
	if res.JSON200 == nil {
		return fmt.Errorf("the session has ended (%d): log in again with vod remote login", res.StatusCode())
	}
	r.keep(res.JSON200)
	return r.save()
}

// UploadOptions are the flags of vod remote upload.
type UploadOptions struct {
	Files             []string
	Title, Visibility string
	Description       string
	// Protection: none or clearkey; empty for the server's default.
	Protection string
	Wait, JSON bool
	// ChunkSize is the size of a tus PATCH (default 8 MiB).
	ChunkSize int64
}

type uploadResult struct {
	File    string  `json:"file"`
	VideoID string  `json:"video_id"`
	Status  string  `json:"status"`
	Error   *string `json:"error"`
}

// Upload sends each file over tus, resuming an upload of the same file this session started, and
// with Wait follows each video until it is ready or failed. It fails when any video failed.
func (r *Remote) Upload(ctx context.Context, s Streams, o UploadOptions) error {
	if o.ChunkSize <= 0 {
		o.ChunkSize = 8 << 20
	}
	var results []uploadResult
	failed := false
	for _, f := range o.Files {
		id, err := r.uploadOne(ctx, s, f, o)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		res := uploadResult{File: f, VideoID: id, Status: "uploaded"}
		if o.Wait {
			status, reason, err := r.follow(ctx, s, id)
			if err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			res.Status = status
			if status == "failed" {
				failed = true
				res.Error = &reason
				fmt.Fprintf(s.Err, "%s: processing failed: %s\n", f, reason)
			}
		}
		if !o.JSON {
			fmt.Fprintf(s.Out, "%s\t%s\t%s\n", res.VideoID, res.Status, f)
		}
		results = append(results, res)
	}
	if o.JSON {
		if err := json.NewEncoder(s.Out).Encode(results); err != nil {
			return err
		}
	}
	if failed {
		return ErrProcessingFailed
	}
	return nil
}

func fingerprint(server, file string, fi os.FileInfo) string {
	abs, _ := filepath.Abs(file)
	h := sha256.Sum256([]byte(fmt.Sprintf("%s|%s|%d|%d", server, abs, fi.Size(), fi.ModTime().UnixNano())))
	return hex.EncodeToString(h[:12])
}

func tusMeta(kv ...string) string {
	var parts []string
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			parts = append(parts, kv[i]+" "+base64.StdEncoding.EncodeToString([]byte(kv[i+1])))
		}
	}
	return strings.Join(parts, ",")
}

// uploadOne sends one file over tus and returns its video id.
func (r *Remote) uploadOne(ctx context.Context, s Streams, file string, o UploadOptions) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	c, err := r.session(ctx)
	if err != nil {
		return "", err
	}
	fp := fingerprint(r.Server, file, fi)
	up, resuming := r.Uploads[fp]
	offset := int64(0)
	if resuming {
		res, err := c.HeadTusId(ctx, up.ID, &apiclient.HeadTusIdParams{TusResumable: "1.0.0"})
		if err != nil {
			return "", err
		}
		res.Body.Close()
		if res.StatusCode == http.StatusOK {
			offset, _ = strconv.ParseInt(res.Header.Get("Upload-Offset"), 10, 64)
			fmt.Fprintf(s.Err, "%s: resuming at %d %%\n", file, percent(offset, fi.Size()))
		} else {
			resuming = false // expired or removed: start over
		}
	}
	if !resuming {
		meta := tusMeta("filename", filepath.Base(file), "title", o.Title, "description", o.Description, "visibility", o.Visibility, "protection", o.Protection)
		res, err := c.PostTusWithBodyWithResponse(ctx, &apiclient.PostTusParams{TusResumable: "1.0.0", UploadLength: int(fi.Size()), UploadMetadata: &meta},
			"application/offset+octet-stream", http.NoBody)
		if err != nil {
			return "", err
		}
		if res.StatusCode() != http.StatusCreated {
			return "", apiError(res.StatusCode(), nil, res.Body)
		}
		up = remoteUpload{ID: path.Base(res.HTTPResponse.Header.Get("Location")), VideoID: res.HTTPResponse.Header.Get("Vod-Video-Id")}
		if r.Uploads == nil {
			r.Uploads = map[string]remoteUpload{}
		}
		r.Uploads[fp] = up
		if err := r.save(); err != nil {
			return "", err
		}
	}
	bar := newProgress(s.Err, filepath.Base(file), fi.Size(), offset)
	retries := 0
	for offset < fi.Size() {
		n := min(o.ChunkSize, fi.Size()-offset)
		res, err := c.PatchTusIdWithBody(ctx, up.ID, &apiclient.PatchTusIdParams{TusResumable: "1.0.0", UploadOffset: int(offset)},
			"application/offset+octet-stream", io.NewSectionReader(f, offset, n))
		if err == nil && res.StatusCode == http.StatusNoContent {
			res.Body.Close()
			offset, _ = strconv.ParseInt(res.Header.Get("Upload-Offset"), 10, 64)
			bar.set(offset)
			retries = 0
			continue
		}
		// A dropped connection or a busy upload: ask where the server is and go on from there.
		status := 0
		if err == nil {
			status = res.StatusCode
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if status == http.StatusUnauthorized {
				if rerr := r.refresh(ctx); rerr != nil {
					return "", rerr
				}
			} else if status != http.StatusConflict && status != http.StatusLocked && status < 500 {
				return "", apiError(status, nil, body)
			}
		}
		if retries++; retries > 8 || ctx.Err() != nil {
			if err != nil {
				return "", fmt.Errorf("upload interrupted at %d %% (run the same command to resume): %w", percent(offset, fi.Size()), err)
			}
			return "", fmt.Errorf("upload interrupted at %d %% (run the same command to resume): the server answered %d", percent(offset, fi.Size()), status)
		}
		time.Sleep(time.Duration(retries) * 500 * time.Millisecond)
		if head, herr := c.HeadTusId(ctx, up.ID, &apiclient.HeadTusIdParams{TusResumable: "1.0.0"}); herr == nil {
			head.Body.Close()
			if head.StatusCode == http.StatusOK {
				offset, _ = strconv.ParseInt(head.Header.Get("Upload-Offset"), 10, 64)
			}
		}
	}
	bar.done()
	delete(r.Uploads, fp)
	if err := r.save(); err != nil {
		return "", err
	}
	return up.VideoID, nil
}

func percent(n, total int64) int64 {
	if total == 0 {
		return 100
	}
	return 100 * n / total
}

// progress draws a one-line bar on a terminal-like stream: name, bar, percent, speed.
type progress struct {
	w           io.Writer
	name        string
	total, from int64
	start, last time.Time
}

func newProgress(w io.Writer, name string, total, from int64) *progress {
	return &progress{w: w, name: name, total: total, from: from, start: time.Now()}
}

func (p *progress) set(n int64) {
	if time.Since(p.last) < 200*time.Millisecond && n < p.total {
		return
	}
	p.last = time.Now()
	const width = 30
	fill := int(percent(n, p.total) * width / 100)
	speed := float64(n-p.from) / time.Since(p.start).Seconds() / (1 << 20)
	fmt.Fprintf(p.w, "\r%s [%s%s] %3d %% %6.1f MiB/s", p.name, strings.Repeat("#", fill), strings.Repeat(" ", width-fill), percent(n, p.total), speed)
}

func (p *progress) done() { p.set(p.total); fmt.Fprintln(p.w) }

type videoEvent struct {
	Status   string `json:"status"`
	Stage    string `json:"stage"`
	Progress int    `json:"progress"`
	Error    string `json:"error"`
}

// follow reads a video's events until it is ready or failed, reporting stages on the error stream.
func (r *Remote) follow(ctx context.Context, s Streams, id string) (status, reason string, err error) {
	for attempt := 0; ; attempt++ {
		c, err := r.session(ctx)
		if err != nil {
			return "", "", err
		}
		res, err := c.GetVideosIdEvents(ctx, id)
		if err == nil && res.StatusCode != http.StatusOK {
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			return "", "", apiError(res.StatusCode, nil, body)
		}
		if err == nil {
			last := ""
			sc := bufio.NewScanner(res.Body)
			for sc.Scan() {
				line, ok := strings.CutPrefix(sc.Text(), "data: ")
				if !ok {
					continue
				}
				var ev videoEvent
				if json.Unmarshal([]byte(line), &ev) != nil {
					continue
				}
				if now := ev.Status + "/" + ev.Stage; now != last {
					last = now
					fmt.Fprintf(s.Err, "%s: %s %s %d %%\n", id, ev.Status, ev.Stage, ev.Progress)
				}
				if ev.Status == "ready" || ev.Status == "failed" {
					res.Body.Close()
					return ev.Status, ev.Error, nil
				}
			}
			res.Body.Close()
		}
		// The stream ended early (a restart, a proxy's timeout): follow it again.
		if attempt > 20 || ctx.Err() != nil {
			return "", "", fmt.Errorf("lost the video's events: %v", err)
		}
		time.Sleep(time.Second)
	}
}

// List prints the logged-in user's videos.
func (r *Remote) List(ctx context.Context, s Streams, asJSON bool) error {
	c, err := r.session(ctx)
	if err != nil {
		return err
	}
	var all []apiclient.Video
	var cursor *string
	limit := 100
	for {
		res, err := c.GetVideosWithResponse(ctx, &apiclient.GetVideosParams{Owner: &r.User, Limit: &limit, Cursor: cursor})
		if err != nil {
			return err
		}
		if res.JSON200 == nil {
			return apiError(res.StatusCode(), nil, res.Body)
		}
		all = append(all, res.JSON200.Items...)
		if res.JSON200.NextCursor == nil || *res.JSON200.NextCursor == "" {
			break
		}
		cursor = res.JSON200.NextCursor
	}
	if asJSON {
		return json.NewEncoder(s.Out).Encode(all)
	}
	for _, v := range all {
		fmt.Fprintf(s.Out, "%s\t%s\t%s\t%s\n", v.Id, v.Status, v.Visibility, v.Title)
	}
	return nil
}

// Status prints one video.
func (r *Remote) Status(ctx context.Context, s Streams, id string, asJSON bool) error {
	c, err := r.session(ctx)
	if err != nil {
		return err
	}
	res, err := c.GetVideosIdWithResponse(ctx, id, nil)
	if err != nil {
		return err
	}
	if res.JSON200 == nil || res.JSON200.Video == nil {
		return apiError(res.StatusCode(), res.JSON404, res.Body)
	}
	v := res.JSON200.Video
	if asJSON {
		return json.NewEncoder(s.Out).Encode(v)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "id:         %s\ntitle:      %s\nstatus:     %s\nvisibility: %s\n", v.Id, v.Title, v.Status, v.Visibility)
	if v.Error != nil && *v.Error != "" {
		fmt.Fprintf(&b, "error:      %s\n", *v.Error)
	}
	if v.DurationSeconds != nil {
		fmt.Fprintf(&b, "duration:   %.1f s\n", *v.DurationSeconds)
	}
	if v.Playback != nil && v.Playback.Dash != nil {
		fmt.Fprintf(&b, "dash:       %s\n", *v.Playback.Dash)
	}
	_, err = s.Out.Write(b.Bytes())
	return err
}

// Remove deletes one video.
func (r *Remote) Remove(ctx context.Context, s Streams, id string) error {
	c, err := r.session(ctx)
	if err != nil {
		return err
	}
	res, err := c.DeleteVideosIdWithResponse(ctx, id)
	if err != nil {
		return err
	}
	if res.StatusCode() != http.StatusNoContent {
		return apiError(res.StatusCode(), nil, res.Body)
	}
	fmt.Fprintf(s.Err, "deleted %s\n", id)
	return nil
}
