package app

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"vod/app/apiclient"
)

// remoteCLI runs `vod remote ...` as a user would: the real binary in its own process, with its own
// config directory, against a server in another process.
func remoteCLI(t *testing.T, home, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(vodBinary(t), append([]string{"remote"}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config")}
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return out.String(), errb.String(), code
}

// TestRemoteCLI (issue 21): from another process, a user logs in, uploads two clips with --wait
// (over tus), lists them, reads one, gets a non-zero exit with the reason for a file that is not a
// video, and deletes a video; the session file is private (0600). The API is also read here with
// the generated client, as a script would.
func TestRemoteCLI(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	server := startProc(t, env)
	server.wait(t)
	a := &testApp{t: t, URL: server.url, Env: env}
	tok := str(a.signup("remy")["access_token"])
	home := t.TempDir()

	_, errOut, code := remoteCLI(t, home, "wrong password\n", "login", "--server", server.url, "--username", "remy")
	require.NotZero(t, code)
	require.Contains(t, errOut, "401")
	_, errOut, code = remoteCLI(t, home, "correct horse battery\n", "login", "--server", server.url, "--username", "remy")
	require.Zero(t, code, errOut)
	fi, err := os.Stat(filepath.Join(home, ".config", "vod", "remote.json"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "the tokens are private")

	out, errOut, code := remoteCLI(t, home, "", "upload", clip(t, "mp4"), clip(t, "noaudio"), "--visibility", "unlisted", "--protection", "clearkey", "--wait", "--json")
	require.Zero(t, code, errOut)
	require.Contains(t, errOut, "%", "a progress bar")
	var uploaded []struct {
		VideoID string `json:"video_id"`
		Status  string `json:"status"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &uploaded), out)
	require.Len(t, uploaded, 2)
	for _, u := range uploaded {
		require.Equal(t, "ready", u.Status)
	}

	out, errOut, code = remoteCLI(t, home, "", "ls", "--json")
	require.Zero(t, code, errOut)
	var listed []apiclient.Video
	require.NoError(t, json.Unmarshal([]byte(out), &listed))
	require.Len(t, listed, 2)
	for _, v := range listed {
		require.Equal(t, apiclient.Ready, v.Status)
		require.Equal(t, apiclient.VideoVisibilityUnlisted, v.Visibility)
		require.Equal(t, apiclient.VideoProtectionClearkey, deref(v.Protection), "encrypted, as asked")
	}
	out, _, code = remoteCLI(t, home, "", "status", uploaded[0].VideoID)
	require.Zero(t, code)
	require.Contains(t, out, "status:     ready")

	junk := filepath.Join(t.TempDir(), "notes.mp4")
	require.NoError(t, os.WriteFile(junk, bytes.Repeat([]byte("not a video "), 200), 0o644))
	_, errOut, code = remoteCLI(t, home, "", "upload", junk, "--wait")
	require.NotZero(t, code, "a file that is not a video fails the command")
	require.Contains(t, errOut, "processing failed:")

	_, errOut, code = remoteCLI(t, home, "", "rm", uploaded[1].VideoID)
	require.Zero(t, code, errOut)

	// The same API through the generated client: typed results.
	c, err := apiclient.NewClientWithResponses(server.url, apiclient.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+tok)
		return nil
	}))
	require.NoError(t, err)
	owner := "remy"
	res, err := c.GetVideosWithResponse(context.Background(), &apiclient.GetVideosParams{Owner: &owner})
	require.NoError(t, err)
	require.NotNil(t, res.JSON200, "%s", res.Body)
	statuses := map[apiclient.VideoStatus]int{}
	for _, v := range res.JSON200.Items {
		statuses[v.Status]++
	}
	require.Equal(t, map[apiclient.VideoStatus]int{apiclient.Ready: 1, apiclient.Failed: 1}, statuses)
}
