package auth

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"vod/app/httpx"
	"vod/app/testenv"
)

// fakeDelegate records account deletions and can refuse them.
type fakeDelegate struct {
	mu      sync.Mutex
	deleted []string
	err     error
}

func (f *fakeDelegate) Call(_ context.Context, event string, data any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if event == EventUserDeleting {
		f.deleted = append(f.deleted, data.(UserDeleting).UserID)
	}
	return f.err
}

type bundle struct {
	svc      *Service
	delegate *fakeDelegate
}

func setup(t *testing.T, cfg ...Config) *bundle {
	t.Helper()
	d := testenv.ModuleDB(t, "auth", Migrations())
	c := Config{DataDir: t.TempDir()}
	if len(cfg) > 0 {
		c = cfg[0]
		c.DataDir = t.TempDir()
	}
	b := &bundle{delegate: &fakeDelegate{}}
	var err error
	b.svc, err = New(d, b.delegate, c, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	return b
}

const pw = "correct horse battery"

func (b *bundle) user(t *testing.T, name, role string) *User {
	t.Helper()
	u, err := b.svc.Signup(context.Background(), SignupInput{Username: name, Email: name + "@example.org", Password: pw,
		PasswordConfirm: pw, FirstName: "F", LastName: "L"}, role)
	require.NoError(t, err)
	return u
}

func (b *bundle) login(t *testing.T, name string) *Tokens {
	t.Helper()
	tok, err := b.svc.Login(context.Background(), name, pw, "10.0.0.1")
	require.NoError(t, err)
	return tok
}

// guard runs a request with an access token through a guard and answers the status and error code.
func (b *bundle) guard(t *testing.T, mw echo.MiddlewareFunc, access string) (int, string) {
	t.Helper()
	e := echo.New()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "Bearer "+access)
	rec := httptest.NewRecorder()
	c := e.NewContext(req, rec)
	err := mw(func(c echo.Context) error { return c.NoContent(http.StatusOK) })(c)
	if err == nil {
		return rec.Code, ""
	}
	var he *httpx.Error
	require.True(t, errors.As(err, &he), "%v", err)
	return he.Status, he.Code
}

// TestAccessFollowsAccountState: an access token stops working the moment its account is disabled,
// demoted or deleted, not when it expires (review finding 1).
func TestAccessFollowsAccountState(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	root := b.user(t, "root", RoleAdmin)
	dave := b.user(t, "dave", RoleUser)
	eve := b.user(t, "eve", RoleAdmin)
	daveTok, eveTok := b.login(t, "dave").AccessToken, b.login(t, "eve").AccessToken

	status, _ := b.guard(t, b.svc.RequireUser, daveTok)
	require.Equal(t, http.StatusOK, status)
	status, _ = b.guard(t, b.svc.RequireAdmin, eveTok)
	require.Equal(t, http.StatusOK, status)

	require.NoError(t, b.svc.store.g(ctx).Model(&userRow{}).Where("id = ?", dave.ID).Update("disabled", true).Error)
	b.svc.accounts.forget(dave.ID) // what the admin handlers do on a change
	status, code := b.guard(t, b.svc.RequireUser, daveTok)
	require.Equal(t, http.StatusForbidden, status)
	require.Equal(t, "account_disabled", code)

	require.NoError(t, b.svc.store.g(ctx).Model(&userRow{}).Where("id = ?", eve.ID).Update("role", RoleUser).Error)
	b.svc.accounts.forget(eve.ID)
	status, code = b.guard(t, b.svc.RequireAdmin, eveTok)
	require.Equal(t, http.StatusForbidden, status, "a demoted admin's old token no longer opens admin routes")
	require.Equal(t, "forbidden", code)

	require.NoError(t, b.svc.DeleteUser(ctx, root.ID, dave.ID))
	status, code = b.guard(t, b.svc.RequireUser, daveTok)
	require.Equal(t, http.StatusUnauthorized, status, "a deleted user's token is refused")
	require.Equal(t, "invalid_token", code)
}

// TestAccountCacheExpires: a change made by another process (straight in the database here) is seen
// within the cache's lifetime.
func TestAccountCacheExpires(t *testing.T) {
	b := setup(t, Config{AccountCacheTTL: 50 * time.Millisecond})
	dave := b.user(t, "dave", RoleUser)
	tok := b.login(t, "dave").AccessToken
	status, _ := b.guard(t, b.svc.RequireUser, tok)
	require.Equal(t, http.StatusOK, status)
	require.NoError(t, b.svc.store.g(context.Background()).Model(&userRow{}).Where("id = ?", dave.ID).Update("disabled", true).Error)
	require.Eventually(t, func() bool {
		status, _ := b.guard(t, b.svc.RequireUser, tok)
		return status == http.StatusForbidden
	}, 2*time.Second, 10*time.Millisecond)
}

// TestParallelRefreshesShareOneSuccessor: twenty tabs refreshing with one token all get the same new
// refresh token and the session survives; reuse after the grace window still revokes it all.
func TestParallelRefreshesShareOneSuccessor(t *testing.T) {
	b := setup(t, Config{RefreshGrace: 300 * time.Millisecond})
	b.user(t, "ann", RoleUser)
	first := b.login(t, "ann").RefreshToken
	var wg sync.WaitGroup
	results := make([]*Tokens, 20)
	errs := make([]error, 20)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = b.svc.Refresh(context.Background(), first)
		}()
	}
	wg.Wait()
	for i := range results {
		require.NoError(t, errs[i], "refresh %d", i)
		require.Equal(t, results[0].RefreshToken, results[i].RefreshToken, "one successor for all")
	}
	next, err := b.svc.Refresh(context.Background(), results[0].RefreshToken)
	require.NoError(t, err, "the successor still works: nobody was logged out")

	time.Sleep(350 * time.Millisecond)
	_, err = b.svc.Refresh(context.Background(), first)
	require.ErrorIs(t, err, ErrTokenReused, "after the window, reuse is theft")
	_, err = b.svc.Refresh(context.Background(), next.RefreshToken)
	require.ErrorIs(t, err, ErrTokenRevoked, "and the family is revoked")
}

// TestRefreshRefusalsHaveTheirOwnCodes: after logout the token is revoked, not reused; a disabled
// user's refresh says so (review finding 4).
func TestRefreshRefusalsHaveTheirOwnCodes(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	root := b.user(t, "root", RoleAdmin)
	dave := b.user(t, "dave", RoleUser)
	tok := b.login(t, "dave")
	require.NoError(t, b.svc.Logout(ctx, tok.RefreshToken))
	_, err := b.svc.Refresh(ctx, tok.RefreshToken)
	require.ErrorIs(t, err, ErrTokenRevoked)

	tok = b.login(t, "dave")
	require.NoError(t, b.svc.store.g(ctx).Model(&userRow{}).Where("id = ?", dave.ID).Update("disabled", true).Error)
	_, err = b.svc.Refresh(ctx, tok.RefreshToken)
	require.ErrorIs(t, err, ErrAccountDisabled)
	require.Equal(t, "token_revoked", httpError(ErrTokenRevoked).(*httpx.Error).Code)
	_ = root
}

// TestThrottleKeysOnTheAccount: the username and the email are one budget, and strangers' failures do
// not lock the owner out of a fresh address (review finding 5).
func TestThrottleKeysOnTheAccount(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	b.user(t, "carol", RoleUser)
	fails := 0
	for i := 0; ; i++ {
		cred := "carol"
		if i%2 == 1 {
			cred = "carol@example.org"
		}
		_, err := b.svc.Login(ctx, cred, "wrong password", "10.0.0.9")
		var th *ThrottledError
		if errors.As(err, &th) {
			break
		}
		require.ErrorIs(t, err, ErrInvalidCredentials)
		fails++
	}
	require.Equal(t, 5, fails, "five guesses per account and address, however it is spelled")

	// 100 failures from 20 other addresses use up the account-wide budget...
	for ip := range 20 {
		for range 5 {
			_, _ = b.svc.Login(ctx, "carol", "wrong password", "192.0.2."+string(rune('a'+ip)))
		}
	}
	_, err := b.svc.Login(ctx, "carol", "wrong password", "198.51.100.7")
	require.ErrorIs(t, err, ErrInvalidCredentials, "a clean address may still try")
	_, err = b.svc.Login(ctx, "carol", "wrong password", "192.0.2.a")
	var th *ThrottledError
	require.ErrorAs(t, err, &th, "an address that failed is blocked")
	// ...but the owner from an address that has not failed gets in.
	_, err = b.svc.Login(ctx, "carol", pw, "203.0.113.5")
	require.NoError(t, err)
}

// TestClockSkew: access tokens are accepted only a few seconds past expiry (review finding 6).
func TestClockSkew(t *testing.T) {
	b := setup(t)
	u := b.user(t, "ann", RoleUser)
	now := time.Now()
	b.svc.tokens.now = func() time.Time { return now.Add(-15*time.Minute - 10*time.Second) }
	tok, err := b.svc.tokens.issue(u)
	require.NoError(t, err)
	b.svc.tokens.now = func() time.Time { return now }
	_, err = b.svc.tokens.verify(tok)
	require.Error(t, err, "expired 10 s ago: refused (the old 30 s leeway accepted it)")
	b.svc.tokens.now = func() time.Time { return now.Add(-15*time.Minute + 10*time.Second) }
	tok, err = b.svc.tokens.issue(u)
	require.NoError(t, err)
	b.svc.tokens.now = func() time.Time { return now.Add(3 * time.Second) }
	_, err = b.svc.tokens.verify(tok)
	require.NoError(t, err, "expired 3 s ago: within the leeway")
	_, err = b.svc.tokens.verifyCached(tok)
	require.NoError(t, err)
	b.svc.tokens.now = func() time.Time { return now.Add(20 * time.Second) }
	_, err = b.svc.tokens.verifyCached(tok)
	require.Error(t, err, "a remembered token still expires")
}

// TestDeleteAccount: the password is checked again, the other modules are asked to remove the user's
// data, and the account with its sessions is gone.
func TestDeleteAccount(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	root := b.user(t, "root", RoleAdmin)
	ann := b.user(t, "ann", RoleUser)
	tok := b.login(t, "ann")
	require.ErrorIs(t, b.svc.DeleteAccount(ctx, ann.ID, "wrong password", "10.0.0.1"), ErrInvalidCredentials)
	require.Empty(t, b.delegate.deleted)
	b.delegate.err = errors.New("storage down")
	require.Error(t, b.svc.DeleteAccount(ctx, ann.ID, pw, "10.0.0.1"))
	_, err := b.svc.UserByID(ctx, ann.ID)
	require.NoError(t, err, "a failed cleanup keeps the account (disabled), so it can be retried")
	b.delegate.err = nil
	require.NoError(t, b.svc.DeleteAccount(ctx, ann.ID, pw, "10.0.0.1"))
	require.Equal(t, []string{ann.ID, ann.ID}, b.delegate.deleted)
	_, err = b.svc.UserByID(ctx, ann.ID)
	require.ErrorIs(t, err, ErrNoUser)
	_, err = b.svc.Refresh(ctx, tok.RefreshToken)
	require.ErrorIs(t, err, ErrInvalidToken, "its sessions went with it")
	require.ErrorIs(t, b.svc.DeleteUser(ctx, root.ID, root.ID), ErrSelfChange)
	require.ErrorIs(t, b.svc.DeleteUser(ctx, root.ID, ann.ID), ErrNoUser)
}
