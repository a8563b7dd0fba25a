package app

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func (a *testApp) cli(args ...string) (string, string, error) {
	var out, errOut strings.Builder
	err := RunIO(context.Background(), append([]string{"vod"}, args...), func(k string) string { return a.Env[k] }, nil, &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestCLI(t *testing.T) {
	t.Parallel()
	a := setup(t)
	tok := a.token("importer")

	help, _, err := a.cli("--help")
	require.NoError(t, err)
	for _, c := range []string{"serve", "migrate", "user create", "search reindex", "ingest", "jobs list", "jobs retry", "jobs cancel"} {
		require.Contains(t, help, c)
	}
	_, flagsHelp, err := a.cli("ingest", "--help")
	require.NoError(t, err)
	for _, f := range []string{"--owner", "--title", "--visibility", "--wait", "--database-url"} {
		require.Contains(t, flagsHelp, f)
	}

	out, progress, err := a.cli("ingest", clip(t, "noaudio"), clip(t, "mov"), "--owner", "importer", "--title", "Batch", "--wait")
	require.NoError(t, err, progress)
	require.Contains(t, progress, "100%", "a progress bar was drawn")
	ids := regexp.MustCompile(`(?m)^([0-9a-f-]{36})\tready$`).FindAllStringSubmatch(out, -1)
	require.Len(t, ids, 2, out)
	for _, m := range ids {
		v := a.do("GET", "/api/v1/videos/"+m[1], nil, tok).JSON(t)["video"].(map[string]any)
		require.Equal(t, "ready", v["status"])
		require.True(t, strings.HasPrefix(str(v["title"]), "Batch – "))
	}
	_, _, err = a.cli("ingest", "/nonexistent.mp4", "--owner", "importer")
	require.Error(t, err)
	_, _, err = a.cli("ingest", clip(t, "noaudio"), "--owner", "nobody")
	require.Error(t, err)

	list, _, err := a.cli("jobs", "list", "--kind", "transcode.chunk")
	require.NoError(t, err)
	require.Contains(t, list, "transcode.chunk")
	require.Contains(t, list, "completed")
	jobID := regexp.MustCompile(`(?m)^(\d+)\s+transcode\.chunk`).FindStringSubmatch(list)
	require.NotNil(t, jobID, list)
	res, _, err := a.cli("jobs", "retry", jobID[1])
	require.NoError(t, err)
	require.Contains(t, res, "retry requested")
	_, _, err = a.cli("jobs", "cancel", "notanumber")
	require.Error(t, err)
}
