package app

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/stretchr/testify/require"
)

func signupBody(username, email string) map[string]string {
	return map[string]string{"username": username, "email": email, "password": "correct horse battery",
		"password_confirm": "correct horse battery", "first_name": "Ada", "last_name": "Lovelace"}
}

func randBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

func with(m map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "<delete>" {
			delete(out, kv[i])
		} else {
			out[kv[i]] = kv[i+1]
		}
	}
	return out
}

func TestSignupValidation(t *testing.T) {
	t.Parallel()
	a := setup(t)
	base := signupBody("ada", "ada@example.com")
	cases := []struct {
		name  string
		body  any
		code  int
		field string
	}{
		{"short username", with(base, "username", "ab"), 422, "username"},
		{"long username", with(base, "username", strings.Repeat("a", 33)), 422, "username"},
		{"bad username chars", with(base, "username", "ada lovelace"), 422, "username"},
		{"bad email", with(base, "email", "not-an-email"), 422, "email"},
		{"email without domain dot", with(base, "email", "a@localhost"), 422, "email"},
		{"short password", with(base, "password", "short", "password_confirm", "short"), 422, "password"},
		{"long password", with(base, "password", strings.Repeat("p", 1025), "password_confirm", strings.Repeat("p", 1025)), 422, "password"},
		{"confirm mismatch", with(base, "password_confirm", "something else"), 422, "password_confirm"},
		// Names are optional, but a given one is checked.
		{"long first name", with(base, "first_name", strings.Repeat("a", 101)), 422, "first_name"},
		{"control char in last name", with(base, "last_name", "Love\x00lace"), 422, "last_name"},
		{"wrong type", map[string]any{"username": 5}, 422, "username"},
		{"malformed json", `{"username":`, 400, ""},
		{"empty body", "", 400, ""},
	}
	for _, tc := range cases {
		r := a.do("POST", "/api/v1/auth/signup", tc.body, "")
		require.Equal(t, tc.code, r.Status, "%s: %s", tc.name, r.Body)
		code := r.errCode(t)
		if tc.field != "" {
			require.Equal(t, "validation_failed", code, tc.name)
			fields := r.JSON(t)["error"].(map[string]any)["fields"].(map[string]any)
			require.Contains(t, fields, tc.field, tc.name)
		}
	}
	// A password of exactly 1024 characters is fine and is not truncated.
	// (Random letters: a repeated one is refused as too easy to guess.)
	long := base64.RawURLEncoding.EncodeToString(randBytes(t, 768))
	require.Len(t, long, 1024)
	r := a.do("POST", "/api/v1/auth/signup", with(base, "password", long, "password_confirm", long), "")
	require.Equal(t, 201, r.Status, "%s", r.Body)
	// The last character changed (to another: a random one was "q" once in 64 runs).
	last := "q"
	if long[1023] == 'q' {
		last = "r"
	}
	r = a.do("POST", "/api/v1/auth/login", map[string]string{"credential": "ada", "password": long[:1023] + last}, "")
	require.Equal(t, 401, r.Status)
	r = a.do("POST", "/api/v1/auth/login", map[string]string{"credential": "ada", "password": long}, "")
	require.Equal(t, 200, r.Status)

	// Non-JSON bodies are refused.
	r = a.do("POST", "/api/v1/auth/signup", "username=x", "", "Content-Type", "application/x-www-form-urlencoded")
	require.Equal(t, 415, r.Status)
	require.Equal(t, "unsupported_media_type", r.errCode(t))
}

func TestSignupLoginAndDuplicates(t *testing.T) {
	t.Parallel()
	a := setup(t)
	r := a.do("POST", "/api/v1/auth/signup", signupBody("Grace.H", "  Grace@Example.COM "), "")
	require.Equal(t, 201, r.Status, "%s", r.Body)
	u := r.JSON(t)["user"].(map[string]any)
	require.Equal(t, "grace.h", u["username"])
	require.Equal(t, "grace@example.com", u["email"], "email normalised")
	require.Equal(t, "user", u["role"])
	require.NotContains(t, string(r.Body), "password")
	_, err := time.Parse(time.RFC3339, u["created_at"].(string))
	require.NoError(t, err)

	r = a.do("POST", "/api/v1/auth/signup", signupBody("GRACE.H", "other@example.com"), "")
	require.Equal(t, 409, r.Status)
	require.Equal(t, "username_taken", r.errCode(t))
	r = a.do("POST", "/api/v1/auth/signup", signupBody("other", "GRACE@example.com"), "")
	require.Equal(t, 409, r.Status)
	require.Equal(t, "email_taken", r.errCode(t))

	for _, cred := range []string{"grace.h", "GRACE.H", "grace@example.com", "Grace@Example.com"} {
		r = a.do("POST", "/api/v1/auth/login", map[string]string{"credential": cred, "password": "correct horse battery"}, "")
		require.Equal(t, 200, r.Status, "%s: %s", cred, r.Body)
		tok := r.JSON(t)
		require.Equal(t, "Bearer", tok["token_type"])
		require.EqualValues(t, 900, tok["expires_in"])
		require.NotEmpty(t, tok["refresh_token"])
		me := a.do("GET", "/api/v1/auth/me", nil, tok["access_token"].(string))
		require.Equal(t, 200, me.Status)
		require.Equal(t, u["id"], me.JSON(t)["user"].(map[string]any)["id"])
	}
	r = a.do("POST", "/api/v1/auth/login", map[string]string{"credential": "grace.h", "password": "wrong password"}, "")
	require.Equal(t, 401, r.Status)
	require.Equal(t, "invalid_credentials", r.errCode(t))
	r2 := a.do("POST", "/api/v1/auth/login", map[string]string{"credential": "nobody", "password": "wrong password"}, "")
	require.Equal(t, 401, r2.Status)
	require.Equal(t, string(r.Body), string(r2.Body), "unknown user and wrong password look the same")
	r = a.do("POST", "/api/v1/auth/login", map[string]string{"credential": "", "password": ""}, "")
	require.Equal(t, 422, r.Status)

	r = a.do("GET", "/api/v1/auth/me", nil, "")
	require.Equal(t, 401, r.Status)
	require.Equal(t, "unauthenticated", r.errCode(t))
}

func TestRefreshRotationReuseAndLogout(t *testing.T) {
	t.Parallel()
	a := setup(t, map[string]string{"VOD_AUTH_REFRESH_GRACE": "200ms"})
	tok := a.signup("rot")
	rt1 := tok["refresh_token"].(string)

	r := a.do("POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": rt1}, "")
	require.Equal(t, 200, r.Status, "%s", r.Body)
	rt2 := r.JSON(t)["refresh_token"].(string)
	require.NotEqual(t, rt1, rt2, "every refresh rotates the token")
	require.Equal(t, 200, a.do("GET", "/api/v1/auth/me", nil, r.JSON(t)["access_token"].(string)).Status)

	// rt1 is spent: presenting it again after the grace window is theft, and revokes the family
	// including rt2.
	time.Sleep(300 * time.Millisecond)
	r = a.do("POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": rt1}, "")
	require.Equal(t, 401, r.Status)
	require.Equal(t, "token_reused", r.errCode(t))
	r = a.do("POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": rt2}, "")
	require.Equal(t, 401, r.Status, "the family is revoked")

	// Another session of the same user is unaffected, until it logs out.
	login := a.do("POST", "/api/v1/auth/login", map[string]string{"credential": "rot", "password": "correct horse battery"}, "")
	rt3 := login.JSON(t)["refresh_token"].(string)
	r = a.do("POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": rt3}, "")
	require.Equal(t, 200, r.Status)
	rt4 := r.JSON(t)["refresh_token"].(string)
	require.Equal(t, 204, a.do("POST", "/api/v1/auth/logout", map[string]string{"refresh_token": rt4}, "").Status)
	require.Equal(t, 401, a.do("POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": rt4}, "").Status)
	require.Equal(t, 204, a.do("POST", "/api/v1/auth/logout", map[string]string{"refresh_token": rt4}, "").Status, "idempotent")
	require.Equal(t, 422, a.do("POST", "/api/v1/auth/logout", map[string]string{}, "").Status)
	require.Equal(t, 401, a.do("POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": "rt_forged"}, "").Status)
}

// TestConcurrentRefreshOneSuccessor: however many requests spend one refresh token at once, one
// successor exists and every request gets it (no second session, nobody logged out).
func TestConcurrentRefreshOneSuccessor(t *testing.T) {
	t.Parallel()
	a := setup(t)
	for round := range 3 {
		rt := a.signup("race" + string(rune('a'+round)))["refresh_token"].(string)
		const n = 8
		var wg sync.WaitGroup
		got := make([]string, n)
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				body, _ := json.Marshal(map[string]string{"refresh_token": rt})
				res, err := http.Post(a.URL+"/api/v1/auth/refresh", "application/json", strings.NewReader(string(body)))
				if err == nil {
					var out map[string]any
					_ = json.NewDecoder(res.Body).Decode(&out)
					res.Body.Close()
					got[i] = fmt.Sprint(res.StatusCode, " ", out["refresh_token"])
				}
			}()
		}
		close(start)
		wg.Wait()
		for _, g := range got {
			require.Equal(t, got[0], g)
		}
		require.True(t, strings.HasPrefix(got[0], "200 rt_"), got[0])
	}
}

func TestLoginThrottle(t *testing.T) {
	t.Parallel()
	// The window holds four logins: each hashes a password (Argon2), which on a machine busy with
	// the rest of the suite has taken over half a second.
	a := setup(t, map[string]string{"VOD_AUTH_LOGIN_MAX_FAILURES": "3", "VOD_AUTH_LOGIN_WINDOW": "8s"})
	a.signup("victim")
	bad := map[string]string{"credential": "victim", "password": "wrong password!"}
	for i := range 3 {
		// A different spoofed X-Forwarded-For on every try: the server is not behind a trusted proxy.
		r := a.do("POST", "/api/v1/auth/login", bad, "", "X-Forwarded-For", "203.0.113."+string(rune('1'+i)))
		require.Equal(t, 401, r.Status)
	}
	r := a.do("POST", "/api/v1/auth/login", bad, "", "X-Forwarded-For", "198.51.100.9")
	require.Equal(t, 429, r.Status, "spoofing X-Forwarded-For does not reset the throttle")
	require.Equal(t, "rate_limited", r.errCode(t))
	require.NotEmpty(t, r.Header.Get("Retry-After"))
	good := map[string]string{"credential": "victim", "password": "correct horse battery"}
	require.Equal(t, 429, a.do("POST", "/api/v1/auth/login", good, "").Status, "even the right password waits")
	time.Sleep(8100 * time.Millisecond)
	require.Equal(t, 200, a.do("POST", "/api/v1/auth/login", good, "").Status, "the lock expires")
}

// forge builds a compact JWS by hand so that every field can be wrong.
func forge(header, claims map[string]any, sign func([]byte) []byte) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	return input + "." + base64.RawURLEncoding.EncodeToString(sign([]byte(input)))
}

func TestAccessTokenAttacks(t *testing.T) {
	t.Parallel()
	a := setup(t)
	tok := a.signup("target")
	access := tok["access_token"].(string)
	require.Equal(t, 200, a.do("GET", "/api/v1/auth/me", nil, access).Status)

	raw, err := os.ReadFile(filepath.Join(a.Env["VOD_DATA_DIR"], "keys", "signing.jwk"))
	require.NoError(t, err)
	key, err := jwk.ParseKey(raw)
	require.NoError(t, err)
	var priv ed25519.PrivateKey
	require.NoError(t, key.Raw(&priv))
	kid := key.KeyID()
	_, attacker, _ := ed25519.GenerateKey(rand.Reader)
	ours := func(b []byte) []byte { return ed25519.Sign(priv, b) }

	parts := strings.Split(access, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	require.NoError(t, json.Unmarshal(payload, &claims))
	now := time.Now().Unix()
	claimsWith := func(kv ...any) map[string]any {
		out := map[string]any{}
		for k, v := range claims {
			out[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(out, kv[i].(string))
			} else {
				out[kv[i].(string)] = kv[i+1]
			}
		}
		return out
	}
	hdr := map[string]any{"alg": "EdDSA", "kid": kid, "typ": "JWT"}
	jwks := a.do("GET", "/.well-known/jwks.json", nil, "")
	require.Equal(t, 200, jwks.Status)
	require.Contains(t, string(jwks.Body), kid)
	require.NotContains(t, string(jwks.Body), `"d"`, "no private parts published")

	// A correctly forged control token is accepted, so the rejections below test what they claim.
	require.Equal(t, 200, a.do("GET", "/api/v1/auth/me", nil, forge(hdr, claimsWith("role", "user"), ours)).Status)

	tamperedPayload := base64.RawURLEncoding.EncodeToString(mustJSON(claimsWith("role", "admin")))
	attacks := map[string]string{
		"alg none": forge(map[string]any{"alg": "none", "kid": kid}, claims, func([]byte) []byte { return nil }),
		"HS256 with the public key as secret": forge(map[string]any{"alg": "HS256", "kid": kid}, claims, func(b []byte) []byte {
			m := hmac.New(sha256.New, jwks.Body)
			m.Write(b)
			return m.Sum(nil)
		}),
		"HS256 with raw public key bytes": forge(map[string]any{"alg": "HS256", "kid": kid}, claims, func(b []byte) []byte {
			m := hmac.New(sha256.New, priv.Public().(ed25519.PublicKey))
			m.Write(b)
			return m.Sum(nil)
		}),
		"expired":           forge(hdr, claimsWith("exp", now-120, "iat", now-1000, "nbf", now-1000), ours),
		"not yet valid":     forge(hdr, claimsWith("nbf", now+600), ours),
		"without exp":       forge(hdr, claimsWith("exp", nil), ours),
		"wrong iss":         forge(hdr, claimsWith("iss", "evil"), ours),
		"wrong aud":         forge(hdr, claimsWith("aud", "other-api"), ours),
		"unknown kid":       forge(map[string]any{"alg": "EdDSA", "kid": "nope"}, claims, func(b []byte) []byte { return ed25519.Sign(attacker, b) }),
		"no kid":            forge(map[string]any{"alg": "EdDSA"}, claims, ours),
		"tampered payload":  parts[0] + "." + tamperedPayload + "." + parts[2],
		"refresh as access": tok["refresh_token"].(string),
		"jwk header elsewhere": forge(map[string]any{"alg": "EdDSA", "kid": kid, "jwk": map[string]any{
			"kty": "OKP", "crv": "Ed25519", "x": base64.RawURLEncoding.EncodeToString(attacker.Public().(ed25519.PublicKey))}},
			claimsWith("role", "admin"), func(b []byte) []byte { return ed25519.Sign(attacker, b) }),
		"jku header elsewhere": forge(map[string]any{"alg": "EdDSA", "kid": "attacker", "jku": "http://127.0.0.1:1/jwks.json"},
			claimsWith("role", "admin"), func(b []byte) []byte { return ed25519.Sign(attacker, b) }),
		"garbage":         "a.b.c",
		"empty signature": parts[0] + "." + parts[1] + ".",
	}
	for name, bad := range attacks {
		r := a.do("GET", "/api/v1/auth/me", nil, bad)
		require.Equal(t, 401, r.Status, "%s: %s", name, r.Body)
		require.Equal(t, "invalid_token", r.errCode(t), name)
	}
	for _, header := range []string{"Basic dXNlcjpwYXNz", "Bearer", "Token " + access} {
		r := a.do("GET", "/api/v1/auth/me", nil, "", "Authorization", header)
		require.Equal(t, 401, r.Status, header)
	}
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	a := setup(t)
	oldTok := a.token("rotator")
	oldKey := filepath.Join(a.Env["VOD_DATA_DIR"], "keys", "signing.jwk")
	newKey := filepath.Join(t.TempDir(), "new.pem")
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	k, _ := jwk.FromRaw(priv)
	_ = k.Set(jwk.KeyIDKey, "k2")
	raw, _ := json.Marshal(k)
	require.NoError(t, os.WriteFile(newKey, raw, 0o600))

	a.Env["VOD_AUTH_KEY_FILES"] = newKey + "," + oldKey
	a = a.restart()
	require.Equal(t, 200, a.do("GET", "/api/v1/auth/me", nil, oldTok).Status, "old key still verifies")
	login := a.do("POST", "/api/v1/auth/login", map[string]string{"credential": "rotator", "password": "correct horse battery"}, "")
	newTok := login.JSON(t)["access_token"].(string)
	h, _ := base64.RawURLEncoding.DecodeString(strings.Split(newTok, ".")[0])
	require.Contains(t, string(h), `"kid":"k2"`, "new key signs")
	jwks := string(a.do("GET", "/.well-known/jwks.json", nil, "").Body)
	require.Contains(t, jwks, "k2")

	a.Env["VOD_AUTH_KEY_FILES"] = newKey
	a = a.restart()
	require.Equal(t, 401, a.do("GET", "/api/v1/auth/me", nil, oldTok).Status, "retired key no longer verifies")
	require.Equal(t, 200, a.do("GET", "/api/v1/auth/me", nil, newTok).Status)
}

func TestUserCreateAdminCommand(t *testing.T) {
	t.Parallel()
	a := setup(t)
	env := map[string]string{}
	for k, v := range a.Env {
		env[k] = v
	}
	env["VOD_USER_PASSWORD"] = "admin horse battery"
	var out strings.Builder
	err := RunIO(context.Background(), []string{"vod", "user", "create", "--username", "root", "--email", "root@example.com", "--admin"},
		func(k string) string { return env[k] }, nil, &out, &strings.Builder{})
	require.NoError(t, err)
	require.Contains(t, out.String(), "created admin root")
	r := a.do("POST", "/api/v1/auth/login", map[string]string{"credential": "root", "password": "admin horse battery"}, "")
	require.Equal(t, 200, r.Status)
	require.Equal(t, "admin", r.JSON(t)["user"].(map[string]any)["role"])
}
