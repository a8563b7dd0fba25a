package app

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"vod/app/apiclient"

	"vod/app/testenv"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// vodBinary builds the vod binary once per test run.
func vodBinary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vod-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "vod")
		out, err := exec.Command("go", "build", "-o", binPath, "..").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("%w: %s", err, out)
		}
	})
	require.NoError(t, binErr)
	return binPath
}

// proc is one real vod process.
type proc struct {
	cmd  *exec.Cmd
	url  string
	env  map[string]string
	logs string
}

// startProc starts `vod serve` with env in its own data directory and waits for its address.
func startProc(t testing.TB, env map[string]string) *proc {
	t.Helper()
	_ = os.Remove(env["VOD_HTTP_ADDR_FILE"])
	cmd := exec.Command(vodBinary(t), "serve")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, "PATH="+os.Getenv("PATH"))
	logs := filepath.Join(env["VOD_DATA_DIR"], fmt.Sprintf("log-%d", time.Now().UnixNano()))
	logf, err := os.Create(logs)
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = logf, logf
	require.NoError(t, cmd.Start())
	p := &proc{cmd: cmd, env: env, logs: logs}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logs)
			t.Logf("logs of %s process:\n%s", env["VOD_ROLE"], b)
		}
	})
	return p
}

func (p *proc) wait(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(p.env["VOD_HTTP_ADDR_FILE"]); err == nil && len(b) > 0 {
			p.url = "http://" + string(b)
			return
		}
		if p.cmd.ProcessState != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, _ := os.ReadFile(p.logs)
	t.Fatalf("process did not start:\n%s", b)
}

func (p *proc) kill(t testing.TB) {
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	_, _ = p.cmd.Process.Wait()
}

// clusterBase is what every process of a test installation shares: PostgreSQL, S3, the media
// signing key, the key that wraps content keys, and short chunks so that a 30 s clip has eight. Without PostgreSQL and S3 there is
// nothing several processes could share, and the test is skipped.
func clusterBase(t testing.TB) map[string]string {
	if !testenv.Postgres() || !testenv.S3() {
		t.Skip("several processes need PostgreSQL and S3 storage")
	}
	base := testEnv(t)
	base["VOD_MEDIA_SIGNING_KEY"] = "cluster-shared-signing-key-0123456789"
	base["VOD_TRANSCODE_KEY_ENCRYPTION_KEY"] = "cluster-shared-key-encryption-key"
	base["VOD_TRANSCODE_CHUNK_SECONDS"] = "4"
	base["VOD_TRANSCODE_SEGMENT_SECONDS"] = "2"
	return base
}

// clusterEnv is the environment of one process of a scale-out installation: shared database,
// storage and keys, its own data directory and role.
func clusterEnv(t testing.TB, base map[string]string, role string) map[string]string {
	env := map[string]string{}
	for k, v := range base {
		env[k] = v
	}
	env["VOD_DATA_DIR"] = t.TempDir()
	env["VOD_HTTP_ADDR_FILE"] = filepath.Join(env["VOD_DATA_DIR"], "addr")
	env["VOD_ROLE"] = role
	return env
}

// startCluster starts an API and n worker processes of the binary at once (a crowd on an empty
// database) and waits until every one listens.
func startCluster(t testing.TB, base map[string]string, workers int) (*testApp, *proc, []*proc) {
	api := startProc(t, clusterEnv(t, base, "api"))
	var ws []*proc
	for range workers {
		ws = append(ws, startProc(t, clusterEnv(t, base, "worker")))
	}
	api.wait(t)
	for _, w := range ws {
		w.wait(t)
	}
	return &testApp{t: t, URL: api.url, Env: api.env}, api, ws
}

// productionLengths sets the production chunk and segment lengths instead of the tests' short ones.
func productionLengths(base map[string]string) {
	delete(base, "VOD_TRANSCODE_CHUNK_SECONDS")
	delete(base, "VOD_TRANSCODE_SEGMENT_SECONDS")
}

// chunkJobs reads the chunk jobs of the installation straight from River's table.
func chunkJobs(t testing.TB, dbURL string) (n, reran int) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	require.NoError(t, conn.QueryRow(ctx, `SELECT COUNT(*), COUNT(*) FILTER (WHERE attempt > 1) FROM river_job WHERE kind = 'transcode.chunk'`).Scan(&n, &reran))
	return n, reran
}

// TestScaleOut: one API and two worker processes of the real binary, started together on an empty
// database, each with its own data directory, process several multi-chunk uploads: every chunk job
// runs exactly once, the work spreads over both workers, every video is ready and playable, and
// search on the API finds them.
func TestScaleOut(t *testing.T) {
	t.Parallel()
	base := clusterBase(t)
	base["VOD_TRANSCODE_PRESET"] = "ultrafast"
	base["VOD_QUEUE_WORKERS"] = "2"
	api, _, workers := startCluster(t, base, 2)
	tok := api.token("scaler")
	var ids []string
	for i := range 4 {
		// The last one protected: its chunks, encrypted on whichever worker takes them, must all
		// use the one key that the probe made.
		prot := map[bool]string{true: "clearkey", false: "none"}[i == 3]
		r := api.upload(tok, clip(t, "long"), map[string]string{"title": fmt.Sprintf("Scaled number %d", i), "protection": prot})
		require.Equal(t, 202, r.Status, "%s", r.Body)
		ids = append(ids, str(r.JSON(t)["video"].(map[string]any)["id"]))
	}
	for i, id := range ids {
		v := api.waitFor(id, tok, 4*time.Minute)
		require.Equal(t, apiclient.Ready, v.Status, "%v", errOf(v))
		if i < 3 {
			decodes(t, api.URL+strings.TrimPrefix(dashOf(v), api.URL))
			continue
		}
		// Every segment of every chunk decrypts with the licence's key.
		kid := kidOf(t, api.fetch(t, dashOf(v)))
		lic := api.licence(t, deref(v.Playback.License), kid, "")
		require.Equal(t, 200, lic.Status, "%s", lic.Body)
		key, err := base64.RawURLEncoding.DecodeString(lic.JSON(t)["keys"].([]any)[0].(map[string]any)["k"].(string))
		require.NoError(t, err)
		base := strings.TrimSuffix(dashOf(v), "manifest.mpd")
		init := api.fetch(t, base+"init-0.m4s")
		for n := 1; n <= 15; n++ {
			frames, complaints := decodesWith(t, init, api.fetch(t, base+fmt.Sprintf("seg-0-%05d.m4s", n)), "-decryption_key", hex.EncodeToString(key))
			require.Positive(t, frames, "segment %d decrypts", n)
			require.Empty(t, complaints, "segment %d decrypts cleanly", n)
		}
	}
	n, reran := chunkJobs(t, base["VOD_DATABASE_URL"])
	require.Equal(t, 4*9, n, "30 s videos in chunks of 2, 2, then 4 s: 9 chunk jobs each")
	require.Zero(t, reran, "every chunk job ran exactly once")
	// Both workers took chunks, and neither read the other's disk (each has its own data dir; the
	// source comes from storage).
	for _, w := range workers {
		b, _ := os.ReadFile(w.logs)
		require.Regexp(t, regexp.MustCompile(`part done.*part=c\d`), string(b), "each worker encoded chunks")
	}
	require.Eventually(t, func() bool {
		r := api.do("GET", "/api/v1/search?q=scaled", nil, "")
		return r.Status == 200 && len(r.JSON(t)["items"].([]any)) == 4
	}, 30*time.Second, 250*time.Millisecond, "search on the API sees every video")
}

// TestWorkerKilledMidChunk: a worker is SIGKILLed while it encodes a chunk; the other worker finishes
// the video, redoing only what the dead one was running, with the default rescue settings.
func TestWorkerKilledMidChunk(t *testing.T) {
	t.Parallel()
	base := clusterBase(t)
	// One job, one chunk at a time: the worker dies with exactly one chunk in its hands.
	base["VOD_QUEUE_WORKERS"] = "1"
	base["VOD_TRANSCODE_ENCODE_JOBS"] = "1"
	a, _, ws := startCluster(t, base, 1)
	w1 := ws[0]
	tok := a.token("victim")
	r := a.upload(tok, clip(t, "long"), nil)
	require.Equal(t, 202, r.Status, "%s", r.Body)
	id := str(r.JSON(t)["video"].(map[string]any)["id"])
	// Kill the worker while a chunk's ffmpeg is writing its scratch directory.
	work := filepath.Join(w1.env["VOD_DATA_DIR"], "work", id)
	require.Eventually(t, func() bool {
		m, _ := filepath.Glob(filepath.Join(work, "c*-*", "r0.mp4"))
		return len(m) > 0
	}, 90*time.Second, 20*time.Millisecond, "the first worker is encoding a chunk")
	w1.kill(t)
	killed := time.Now()
	w2 := startProc(t, clusterEnv(t, base, "worker"))
	w2.wait(t)
	v := a.waitFor(id, tok, 4*time.Minute)
	require.Equal(t, apiclient.Ready, v.Status, "%v", errOf(v))
	t.Logf("ready %s after the kill", time.Since(killed).Round(time.Second))
	decodes(t, a.URL+strings.TrimPrefix(dashOf(v), a.URL))
	n, reran := chunkJobs(t, base["VOD_DATABASE_URL"])
	require.Equal(t, 9, n, "chunks of 2, 2, then 4 s")
	require.Equal(t, 1, reran, "only the dead worker's chunk ran again")
	require.Less(t, time.Since(killed), 60*time.Second+30*time.Second, "recovered within a minute of the death, plus the remaining encode")
}
