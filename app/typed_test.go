package app

import (
	"context"
	"net/http"
	"time"

	"github.com/stretchr/testify/require"

	"vod/app/apiclient"
)

// api is the generated Go client (app/apiclient) acting as the holder of token: end-to-end tests
// read the API through it with typed results, as the API's users do.
func (a *testApp) api(token string) *apiclient.ClientWithResponses {
	a.t.Helper()
	c, err := apiclient.NewClientWithResponses(a.URL, apiclient.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		return nil
	}))
	require.NoError(a.t, err)
	return c
}

// video reads one video through the generated client (nil when it does not exist for token).
func (a *testApp) video(id, token string) *apiclient.Video {
	a.t.Helper()
	res, err := a.api(token).GetVideosIdWithResponse(context.Background(), id, nil)
	require.NoError(a.t, err)
	if res.StatusCode() == http.StatusNotFound {
		return nil
	}
	require.NotNil(a.t, res.JSON200, "%d %s", res.StatusCode(), res.Body)
	require.NotNil(a.t, res.JSON200.Video)
	return res.JSON200.Video
}

// waitVideo polls a video through the generated client until it is ready or failed.
func (a *testApp) waitVideo(id, token string, timeout time.Duration) apiclient.Video {
	a.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		v := a.video(id, token)
		require.NotNil(a.t, v, "video %s disappeared", id)
		if v.Status == apiclient.Ready || v.Status == apiclient.Failed {
			return *v
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("video %s still %s after %s", id, v.Status, timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// The playback URLs and the error of a video, "" when absent.
func dashOf(v apiclient.Video) string {
	if v.Playback == nil || v.Playback.Dash == nil {
		return ""
	}
	return *v.Playback.Dash
}

func hlsOf(v apiclient.Video) string {
	if v.Playback == nil || v.Playback.Hls == nil {
		return ""
	}
	return *v.Playback.Hls
}

func mp4Of(v apiclient.Video) string {
	if v.Playback == nil || v.Playback.Mp4 == nil {
		return ""
	}
	return *v.Playback.Mp4
}

func errOf(v apiclient.Video) string {
	if v.Error == nil {
		return ""
	}
	return *v.Error
}

func ptrTo[T any](v T) *T { return &v }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
