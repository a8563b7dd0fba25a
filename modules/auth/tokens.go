package auth

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

const cryptoSHA256 = crypto.SHA256

// Claims are what an access token says about its user.
type Claims struct {
	UserID   string
	Username string
	Email    string
	Role     string
	ID       string
	Expires  time.Time
}

type tokenIssuer struct {
	keys     *keyring
	issuer   string
	audience string
	ttl      time.Duration
	skew     time.Duration
	now      func() time.Time

	// verified remembers tokens whose signature checked out, until they expire: a signature check is
	// the costliest step of a logged-in viewer's request, and a token's bytes cannot change.
	mu       sync.Mutex
	verified map[string]*Claims
}

// verifyCached is verify with the memory of tokens already verified. Expiry is still checked on
// every call; whether the account may still act is not the token's business (see accounts).
func (t *tokenIssuer) verifyCached(raw string) (*Claims, error) {
	t.mu.Lock()
	c, ok := t.verified[raw]
	t.mu.Unlock()
	if ok && t.now().Before(c.Expires.Add(t.skew)) {
		return c, nil
	}
	c, err := t.verify(raw)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	if t.verified == nil || len(t.verified) >= 10_000 {
		t.verified = map[string]*Claims{}
	}
	t.verified[raw] = c
	t.mu.Unlock()
	return c, nil
}

func (t *tokenIssuer) issue(u *User) (string, error) {
	now := t.now().Truncate(time.Second)
	tok, err := jwt.NewBuilder().
		Issuer(t.issuer).Audience([]string{t.audience}).Subject(u.ID).
		IssuedAt(now).NotBefore(now).Expiration(now.Add(t.ttl)).JwtID(uuid.NewString()).
		Claim("username", u.Username).Claim("email", u.Email).Claim("role", u.Role).
		Build()
	if err != nil {
		return "", err
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(t.keys.alg, t.keys.signer))
	if err != nil {
		return "", err
	}
	return string(signed), nil
}

// maxTokenLen bounds the work a hostile header can cause.
const maxTokenLen = 4096

// verify accepts only compact JWS tokens signed by one of our keys, chosen by kid, with the algorithm
// pinned to that key (no alg:none, no HMAC with a public key, no keys from jwk/jku headers), and with
// exp, iat, nbf, sub and jti present and valid for our issuer and audience.
func (t *tokenIssuer) verify(raw string) (*Claims, error) {
	if len(raw) > maxTokenLen || strings.Count(raw, ".") != 2 {
		return nil, errors.New("not a compact JWS")
	}
	provider := jws.KeyProviderFunc(func(_ context.Context, sink jws.KeySink, sig *jws.Signature, _ *jws.Message) error {
		h := sig.ProtectedHeaders()
		vk, ok := t.keys.byKid[h.KeyID()]
		if !ok {
			return fmt.Errorf("unknown kid %q", h.KeyID())
		}
		if h.Algorithm() != vk.alg {
			return fmt.Errorf("algorithm %q not allowed for kid %q", h.Algorithm(), h.KeyID())
		}
		sink.Key(vk.alg, vk.key)
		return nil
	})
	tok, err := jwt.Parse([]byte(raw),
		jwt.WithKeyProvider(provider),
		jwt.WithValidate(true),
		jwt.WithIssuer(t.issuer),
		jwt.WithAudience(t.audience),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
		jwt.WithRequiredClaim(jwt.IssuedAtKey),
		jwt.WithRequiredClaim(jwt.NotBeforeKey),
		jwt.WithRequiredClaim(jwt.SubjectKey),
		jwt.WithRequiredClaim(jwt.JwtIDKey),
		jwt.WithAcceptableSkew(t.skew),
		jwt.WithClock(jwt.ClockFunc(t.now)),
	)
	if err != nil {
		return nil, err
	}
	c := &Claims{UserID: tok.Subject(), ID: tok.JwtID(), Expires: tok.Expiration()}
	for name, dst := range map[string]*string{"username": &c.Username, "email": &c.Email, "role": &c.Role} {
		v, _ := tok.Get(name)
		s, ok := v.(string)
		if !ok || s == "" {
			return nil, fmt.Errorf("claim %s missing", name)
		}
		*dst = s
	}
	if _, err := uuid.Parse(c.UserID); err != nil {
		return nil, errors.New("bad subject")
	}
	return c, nil
}

// newRefreshToken returns an opaque token and the hash that is stored in its place.
func newRefreshToken() (token, hash string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	token = "rt_" + base64.RawURLEncoding.EncodeToString(b)
	return token, hashRefresh(token)
}

// successorOf is the refresh token that replaces token when it is spent. It is derived from a secret
// that only the server has (so holding a token tells nothing about its successor), and is the same
// every time: a request that loses a refresh race within the grace window is answered with the
// winner's successor instead of a second session.
func (t *tokenIssuer) successorOf(token string) string {
	m := hmac.New(sha256.New, t.keys.refreshSecret)
	m.Write([]byte(token))
	return "rt_" + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func hashRefresh(token string) string {
	s := sha256.Sum256([]byte(token))
	return hex.EncodeToString(s[:])
}
