package app

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func (a *testApp) admin(name string) string {
	a.t.Helper()
	env := map[string]string{}
	for k, v := range a.Env {
		env[k] = v
	}
	env["VOD_USER_PASSWORD"] = "admin horse battery"
	require.NoError(a.t, RunIO(context.Background(), []string{"vod", "user", "create", "--username", name, "--email", name + "@example.com", "--admin"},
		func(k string) string { return env[k] }, nil, io.Discard, io.Discard))
	return a.do("POST", "/api/v1/auth/login", map[string]string{"credential": name, "password": "admin horse battery"}, "").JSON(a.t)["access_token"].(string)
}

func TestAdmin(t *testing.T) {
	t.Parallel()
	a := setup(t)
	user := a.token("plainuser")
	boss := a.admin("boss")
	for _, ep := range []string{"GET /api/v1/admin/jobs", "GET /api/v1/admin/videos", "GET /api/v1/admin/users",
		"POST /api/v1/admin/jobs/1/retry", "POST /api/v1/admin/users/00000000-0000-0000-0000-000000000000/promote"} {
		var method, path string
		_, _ = fmt.Sscanf(ep, "%s %s", &method, &path)
		require.Equal(t, 403, a.do(method, path, nil, user).Status, ep)
		require.Equal(t, 401, a.do(method, path, nil, "").Status, ep)
	}

	v := a.uploadReady(user, clip(t, "noaudio"), map[string]string{"visibility": "private"})
	r := a.do("GET", "/api/v1/admin/jobs?kind=transcode.chunk&state=completed", nil, boss)
	require.Equal(t, 200, r.Status, "%s", r.Body)
	jobs := r.JSON(t)["items"].([]any)
	require.Len(t, jobs, 1)
	job := jobs[0].(map[string]any)
	require.Equal(t, v.Id, job["video_id"])
	require.EqualValues(t, 1, job["attempt"])
	require.Equal(t, 422, a.do("GET", "/api/v1/admin/jobs?state=sleeping", nil, boss).Status)

	// A running encode shows its video's progress.
	up := a.upload(user, clip(t, "long"), map[string]string{"title": "in progress"})
	require.Equal(t, 202, up.Status, "%s", up.Body)
	longID := str(up.JSON(t)["video"].(map[string]any)["id"])
	answers := map[string]bool{} // the distinct answers, to show if the check fails
	require.Eventually(t, func() bool {
		r := a.do("GET", "/api/v1/admin/jobs?state=running", nil, boss)
		answers[string(r.Body)] = true
		for _, it := range r.JSON(t)["items"].([]any) {
			j := it.(map[string]any)
			if j["video_id"] == longID && j["kind"] == "transcode.chunk" && j["stage"] == "transcode" && j["progress"].(float64) >= 5 {
				return true
			}
		}
		return false
	}, 90*time.Second, 100*time.Millisecond, "running encode with progress; answers: %v", answers)
	// Not waited for: what follows does not depend on it, and the app stops it with the test.

	// Retry a finished job, then cancel it before it runs again (or see it finish).
	id := int64(job["id"].(float64))
	r = a.do("POST", fmt.Sprintf("/api/v1/admin/jobs/%d/retry", id), nil, boss)
	require.Equal(t, 200, r.Status, "%s", r.Body)
	require.Equal(t, 404, a.do("POST", "/api/v1/admin/jobs/999999/cancel", nil, boss).Status)

	videos := a.do("GET", "/api/v1/admin/videos", nil, boss).JSON(t)["items"].([]any)
	var seen []string
	for _, it := range videos {
		seen = append(seen, str(it.(map[string]any)["id"]))
	}
	require.ElementsMatch(t, []string{v.Id, longID}, seen, "admins see private videos of everyone")

	// Users: promote, disable (sessions end, login refused), enable.
	users := a.do("GET", "/api/v1/admin/users?q=plain", nil, boss).JSON(t)["items"].([]any)
	require.Len(t, users, 1)
	uid := str(users[0].(map[string]any)["id"])
	require.Equal(t, "admin", a.do("POST", "/api/v1/admin/users/"+uid+"/promote", nil, boss).JSON(t)["user"].(map[string]any)["role"])
	require.Equal(t, 200, a.do("POST", "/api/v1/admin/users/"+uid+"/demote", nil, boss).Status)
	require.Equal(t, 200, a.do("POST", "/api/v1/admin/users/"+uid+"/disable", nil, boss).Status)
	r = a.do("POST", "/api/v1/auth/login", map[string]string{"credential": "plainuser", "password": "correct horse battery"}, "")
	require.Equal(t, 403, r.Status)
	require.Equal(t, "account_disabled", r.errCode(t))
	require.Equal(t, 200, a.do("POST", "/api/v1/admin/users/"+uid+"/enable", nil, boss).Status)
	require.Equal(t, 200, a.do("POST", "/api/v1/auth/login", map[string]string{"credential": "plainuser", "password": "correct horse battery"}, "").Status)
	me := a.do("GET", "/api/v1/auth/me", nil, boss).JSON(t)["user"].(map[string]any)
	require.Equal(t, 409, a.do("POST", "/api/v1/admin/users/"+str(me["id"])+"/disable", nil, boss).Status, "not on yourself")
}
