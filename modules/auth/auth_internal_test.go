package auth

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func testIssuer(t testing.TB) *tokenIssuer {
	t.Helper()
	keys, err := loadKeys(nil, t.TempDir())
	require.NoError(t, err)
	return &tokenIssuer{keys: keys, issuer: "vod", audience: "vod-api", ttl: 15 * time.Minute, now: time.Now}
}

func TestPasswordHashUpgrade(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	old, err := newHasher(Argon2Params{MemoryKiB: 19456, Iterations: 2, Threads: 1}, 1)
	require.NoError(t, err)
	h, err := old.hash(ctx, "hunter22hunter22")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$"))
	ok, stale, err := old.verify(ctx, "hunter22hunter22", h)
	require.NoError(t, err)
	require.True(t, ok)
	require.False(t, stale)
	ok, _, err = old.verify(ctx, "hunter22hunter23", h)
	require.NoError(t, err)
	require.False(t, ok)

	stronger, err := newHasher(Argon2Params{MemoryKiB: 19456, Iterations: 3, Threads: 1}, 1)
	require.NoError(t, err)
	ok, stale, err = stronger.verify(ctx, "hunter22hunter22", h)
	require.NoError(t, err)
	require.True(t, ok, "old hashes still verify")
	require.True(t, stale, "and are flagged for upgrade")

	// Long passwords are not truncated: a difference at the end matters.
	long := strings.Repeat("a", 1000)
	h, err = old.hash(ctx, long+"x")
	require.NoError(t, err)
	ok, _, _ = old.verify(ctx, long+"y", h)
	require.False(t, ok)

	for _, bad := range []string{"", "$argon2id$v=19$m=1,t=1,p=1$$", "$bcrypt$x", "$argon2id$v=19$m=99999999,t=1,p=1$AAAA$AAAA"} {
		_, _, err := old.verify(ctx, "x", bad)
		require.Error(t, err, bad)
	}
}

func TestHashingIsBounded(t *testing.T) {
	t.Parallel()
	h, err := newHasher(Argon2Params{MemoryKiB: 19456, Iterations: 2, Threads: 1}, 1)
	require.NoError(t, err)
	h.sem <- struct{}{} // the only slot is busy
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = h.hash(ctx, "password123")
	require.ErrorIs(t, err, context.DeadlineExceeded, "a hash waits for a slot instead of running")
}

// TestUnknownUserCostsAVerification: the stand-in hash an unknown user's password is checked against
// is a well-formed hash of the current parameters, so checking it runs Argon2 as a wrong password
// does (a malformed one would answer at once and tell that the user does not exist).
func TestUnknownUserCostsAVerification(t *testing.T) {
	t.Parallel()
	p := Argon2Params{MemoryKiB: 19456, Iterations: 2, Threads: 1}
	h, err := newHasher(p, 1)
	require.NoError(t, err)
	real, err := h.hash(context.Background(), "password123")
	require.NoError(t, err)
	// The fastest of three: a check is only slowed, never sped up, by a busy machine.
	timed := func(encoded string) time.Duration {
		best := time.Hour
		for range 3 {
			t0 := time.Now()
			ok, _, err := h.verify(context.Background(), "wrong guess", encoded)
			require.NoError(t, err)
			require.False(t, ok)
			best = min(best, time.Since(t0))
		}
		return best
	}
	require.Equal(t, strings.SplitN(real, "$", 5)[:4], strings.SplitN(h.dummy, "$", 5)[:4], "same algorithm, version and parameters")
	wrong, unknown := timed(real), timed(h.dummy)
	require.Greater(t, unknown, wrong/3, "an unknown user's check costs what a wrong password's does (%s against %s)", unknown, wrong)
}

func TestThrottleExpires(t *testing.T) {
	t.Parallel()
	now := time.Now()
	th := newThrottle(3, time.Minute)
	th.now = func() time.Time { return now }
	for range 3 {
		require.Zero(t, th.blocked("bob", "1.1.1.1"))
		th.fail("bob", "1.1.1.1")
	}
	require.Positive(t, th.blocked("bob", "1.1.1.1"))
	require.Zero(t, th.blocked("bob", "2.2.2.2"), "the victim's own IP is not locked by an attacker's failures")
	now = now.Add(61 * time.Second)
	require.Zero(t, th.blocked("bob", "1.1.1.1"), "the lock ends with its window")
}

func FuzzBearer(f *testing.F) {
	iss := testIssuer(f)
	good, err := iss.issue(&User{ID: "0190b3a4-7d8e-7000-8000-000000000001", Username: "u", Email: "u@x.io", Role: "user"})
	require.NoError(f, err)
	for _, s := range []string{"", "Bearer ", "Bearer " + good, "bearer " + good + "x", "Basic abc", "Bearer a.b.c",
		"Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", strings.Repeat("Bearer ", 100)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		tok, present, err := bearer(header)
		if !present || err != nil {
			return
		}
		c, err := iss.verify(tok)
		if err == nil && c.UserID == "" {
			t.Fatalf("accepted a token without a subject: %q", header)
		}
	})
}
