package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"vod/app/testenv"
)

// testApp is a real vod process started through Run on a loopback port.
type testApp struct {
	t      testing.TB
	URL    string
	Env    map[string]string
	cancel context.CancelFunc
	done   chan error
	logs   *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// setup starts the app on this run's database and storage; overrides replace settings.
func setup(t *testing.T, overrides ...map[string]string) *testApp {
	t.Helper()
	env := testEnv(t)
	for _, o := range overrides {
		for k, v := range o {
			env[k] = v
		}
	}
	return start(t, env)
}

// backendNeutral marks a test whose subject the database and storage under the app cannot change:
// the web app's pages and flows in the browser, a check of the API description. make test runs the
// app's tests twice, on the embedded default and on PostgreSQL + MinIO; these run in the first pass
// only, where they already drive the same pages and player over the same API. The run is CPU-bound
// (docs/BENCHMARKS.md) and a Chromium test is its most expensive kind. The browser tests that upload,
// play from storage, play protected video or watch a video while it is processed run on both.
func backendNeutral(t *testing.T) {
	t.Helper()
	if testenv.Postgres() || testenv.S3() {
		t.Skip("backend-neutral: runs in the embedded default's pass")
	}
}

// metricsToken opens /metrics on test apps.
const metricsToken = "test-metrics-token"

// testEnv is the settings of a test app on this run's database and storage.
func testEnv(t testing.TB) map[string]string {
	t.Helper()
	env := testenv.Env(t)
	env["VOD_HTTP_ADDR"] = "127.0.0.1:0"
	env["VOD_HTTP_ADDR_FILE"] = filepath.Join(env["VOD_DATA_DIR"], "addr")
	env["VOD_LOG_FORMAT"] = "text"
	env["VOD_QUEUE_POLL_INTERVAL"] = "100ms"
	env["VOD_METRICS_TOKEN"] = metricsToken
	// Many apps share the test binary: a per-app soft heap limit would make the whole process
	// collect all the time. Real processes (the load benchmark) keep the default.
	env["VOD_RUNTIME_MEMORY_LIMIT"] = "0"
	return env
}

func start(t testing.TB, env map[string]string) *testApp {
	t.Helper()
	_ = os.Remove(env["VOD_HTTP_ADDR_FILE"])
	ctx, cancel := context.WithCancel(context.Background())
	a := &testApp{t: t, Env: env, cancel: cancel, done: make(chan error, 1), logs: &syncBuffer{}}
	getenv := func(k string) string { return env[k] }
	go func() {
		a.done <- RunIO(ctx, []string{"vod", "serve"}, getenv, nil, io.Discard, a.logs)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if b, err := os.ReadFile(env["VOD_HTTP_ADDR_FILE"]); err == nil && len(b) > 0 {
			a.URL = "http://" + string(b)
			break
		}
		select {
		case err := <-a.done:
			cancel()
			t.Fatalf("app exited during start: %v\n%s", err, a.logs.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("app did not start\n%s", a.logs.String())
		}
	}
	t.Cleanup(func() {
		a.stop()
		if t.Failed() {
			t.Logf("app logs:\n%s", a.logs.String())
		}
	})
	return a
}

// stop shuts the app down and waits for Run to return.
func (a *testApp) stop() error {
	if a.cancel == nil {
		return nil
	}
	a.cancel()
	a.cancel = nil
	select {
	case err := <-a.done:
		return err
	case <-time.After(60 * time.Second):
		a.t.Errorf("app did not stop")
		return nil
	}
}

// restart stops the app and starts a new process on the same data.
func (a *testApp) restart() *testApp {
	a.t.Helper()
	require.NoError(a.t, a.stop())
	return start(a.t, a.Env)
}

type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &m), "body: %s", r.Body)
	return m
}

// errCode returns error.code of an error body.
func (r response) errCode(t testing.TB) string {
	t.Helper()
	e, _ := r.JSON(t)["error"].(map[string]any)
	require.NotNil(t, e, "not an error body: %s", r.Body)
	require.NotEmpty(t, e["message"])
	code, _ := e["code"].(string)
	return code
}

func (a *testApp) do(method, path string, body any, token string, headers ...string) response {
	a.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(a.t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, a.URL+path, rd)
	require.NoError(a.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(a.t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(a.t, err)
	return response{Status: res.StatusCode, Header: res.Header, Body: raw}
}

// signup creates a user and logs in, returning the tokens body.
func (a *testApp) signup(username string) map[string]any {
	a.t.Helper()
	r := a.do("POST", "/api/v1/auth/signup", map[string]string{
		"username": username, "email": username + "@example.com", "password": "correct horse battery",
		"password_confirm": "correct horse battery", "first_name": "Test", "last_name": "User",
	}, "")
	require.Equal(a.t, http.StatusCreated, r.Status, "%s", r.Body)
	r = a.do("POST", "/api/v1/auth/login", map[string]string{"credential": username, "password": "correct horse battery"}, "")
	require.Equal(a.t, http.StatusOK, r.Status, "%s", r.Body)
	return r.JSON(a.t)
}

func (a *testApp) token(username string) string {
	return a.signup(username)["access_token"].(string)
}
