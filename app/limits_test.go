package app

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"vod/app/ratelimit"
	"vod/app/testenv"
)

func TestRateLimits(t *testing.T) {
	t.Parallel()
	a := setup(t, map[string]string{"VOD_RATELIMIT_SEARCH": "3/1m", "VOD_RATELIMIT_METADATA": "1/20s"})
	tok := a.token("limited")

	// Anonymous callers are keyed by IP; a spoofed X-Forwarded-For does not give a fresh bucket.
	for i := range 3 {
		r := a.do("GET", "/api/v1/search?q=x", nil, "", "X-Forwarded-For", "198.51.100."+strconv.Itoa(i))
		require.Contains(t, []int{200, 503}, r.Status)
		require.Equal(t, "3", r.Header.Get("RateLimit-Limit"))
		require.Equal(t, strconv.Itoa(2-i), r.Header.Get("RateLimit-Remaining"))
		require.NotEmpty(t, r.Header.Get("RateLimit-Reset"))
	}
	r := a.do("GET", "/api/v1/search?q=x", nil, "", "X-Forwarded-For", "203.0.113.77")
	require.Equal(t, 429, r.Status)
	require.Equal(t, "rate_limited", r.errCode(t))
	require.Equal(t, "20", r.Header.Get("Retry-After"))

	// A logged-in user has a bucket of their own.
	require.NotEqual(t, 429, a.do("GET", "/api/v1/search?q=x", nil, tok).Status)

	// The old system's "1 metadata request per 20 seconds" is expressible.
	v := a.uploadReady(tok, clip(t, "noaudio"), nil)
	require.Equal(t, 200, a.do("PATCH", "/api/v1/videos/"+v.Id, map[string]any{"title": "one"}, tok).Status)
	r = a.do("PATCH", "/api/v1/videos/"+v.Id, map[string]any{"title": "two"}, tok)
	require.Equal(t, 429, r.Status)
	retry, _ := strconv.Atoi(r.Header.Get("Retry-After"))
	require.InDelta(t, 20, retry, 1)
	// Other groups are unaffected.
	require.Equal(t, 200, a.do("GET", "/api/v1/videos/"+v.Id, nil, tok).Status)
}

func TestRateLimitRules(t *testing.T) {
	t.Parallel()
	r, on, err := ratelimit.ParseRule("1/20m")
	require.NoError(t, err)
	require.True(t, on)
	require.Equal(t, 1, r.Burst)
	_, on, err = ratelimit.ParseRule("off")
	require.NoError(t, err)
	require.False(t, on)
	for _, bad := range []string{"fast", "0/1m", "5/never", "-1/1s"} {
		_, _, err := ratelimit.ParseRule(bad)
		require.Error(t, err, bad)
	}
	_, err = loadFor(t, nil, map[string]string{"VOD_RATELIMIT_UPLOAD": "lots"})
	require.ErrorContains(t, err, "ratelimit.upload")
}

// TestRateLimitSharedAcrossProcesses: on PostgreSQL two API processes enforce one limit per caller.
func TestRateLimitSharedAcrossProcesses(t *testing.T) {
	t.Parallel()
	if !testenv.Postgres() {
		t.Skip("the shared store is PostgreSQL")
	}
	a := setup(t, map[string]string{"VOD_RATELIMIT_SEARCH": "3/1m"})
	env2 := map[string]string{}
	for k, v := range a.Env {
		env2[k] = v
	}
	env2["VOD_DATA_DIR"] = t.TempDir()
	env2["VOD_HTTP_ADDR_FILE"] = env2["VOD_DATA_DIR"] + "/addr"
	env2["VOD_ROLE"] = "api"
	b := start(t, env2)
	codes := []int{
		a.do("GET", "/api/v1/search?q=x", nil, "").Status, b.do("GET", "/api/v1/search?q=x", nil, "").Status,
		a.do("GET", "/api/v1/search?q=x", nil, "").Status, b.do("GET", "/api/v1/search?q=x", nil, "").Status,
	}
	require.NotEqual(t, 429, codes[2])
	require.Equal(t, 429, codes[3], "the fourth request in a minute is refused whichever process gets it: %v", codes)
}
