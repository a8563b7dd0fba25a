// Package auth owns accounts and sessions: signup, login by username or email, short-lived JWT access
// tokens signed with an asymmetric key, rotating single-use refresh tokens with theft detection, login
// throttling, and the middlewares other modules use to require a user or an admin.
package auth

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"vod/app/db"
)

// Migrations are this module's tables.
//
//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the module's versioned SQL files.
func Migrations() embed.FS { return migrations }

// Roles.
const (
	RoleUser  = "user"
	RoleAdmin = "admin"
)

// User is an account as the API shows it.
type User struct {
	ID        string    `json:"id"`
	Username  string    `json:"username"`
	Email     string    `json:"email"`
	FirstName string    `json:"first_name"`
	LastName  string    `json:"last_name"`
	Role      string    `json:"role"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
}

// Tokens is the answer to login and refresh.
type Tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	User         *User  `json:"user"`
}

// Config is the module's part of the configuration.
type Config struct {
	DataDir         string
	Issuer          string
	Audience        string
	AccessTTL       time.Duration
	RefreshTTL      time.Duration
	KeyFiles        []string
	HashConcurrency int
	Argon2          Argon2Params
	LoginMaxFails   int
	LoginWindow     time.Duration
	// ClockSkew is how far an access token's times may be off (exp, nbf, iat).
	ClockSkew time.Duration
	// RefreshGrace is how long a spent refresh token still answers with the successor it was
	// exchanged for (two tabs refreshing at once), instead of counting as reuse.
	RefreshGrace time.Duration
	// AccountCacheTTL bounds how long another process may act on an account's old state
	// (disabled, role, deleted); this process forgets its entry at the change.
	AccountCacheTTL time.Duration
}

// WithDefaults returns the config with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Issuer == "" {
		c.Issuer = "vod"
	}
	if c.Audience == "" {
		c.Audience = "vod-api"
	}
	if c.AccessTTL == 0 {
		c.AccessTTL = 15 * time.Minute
	}
	if c.RefreshTTL == 0 {
		c.RefreshTTL = 30 * 24 * time.Hour
	}
	if c.HashConcurrency == 0 {
		c.HashConcurrency = 2
	}
	if c.Argon2.MemoryKiB == 0 {
		c.Argon2.MemoryKiB = 19456
	}
	if c.Argon2.Iterations == 0 {
		c.Argon2.Iterations = 2
	}
	if c.Argon2.Threads == 0 {
		c.Argon2.Threads = 1
	}
	if c.LoginMaxFails == 0 {
		c.LoginMaxFails = 5
	}
	if c.LoginWindow == 0 {
		c.LoginWindow = 15 * time.Minute
	}
	if c.ClockSkew == 0 {
		c.ClockSkew = 5 * time.Second
	}
	if c.RefreshGrace == 0 {
		c.RefreshGrace = 10 * time.Second
	}
	if c.AccountCacheTTL == 0 {
		c.AccountCacheTTL = time.Second
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.DataDir == "" && len(c.KeyFiles) == 0:
		return errors.New("auth: a data directory or key files are needed for the signing keys")
	case c.AccessTTL < time.Minute || c.AccessTTL > 24*time.Hour:
		return errors.New("auth: access token lifetime must be between 1m and 24h")
	case c.RefreshTTL < c.AccessTTL:
		return errors.New("auth: refresh token lifetime must be at least the access token's")
	case c.HashConcurrency <= 0:
		return errors.New("auth: hash concurrency must be positive")
	case c.Argon2.MemoryKiB < 19456 || c.Argon2.Iterations < 2:
		return errors.New("auth: argon2 parameters are below the OWASP minimum (19456 KiB, 2 iterations)")
	case c.LoginMaxFails <= 0 || c.LoginWindow <= 0:
		return errors.New("auth: login throttle limits must be positive")
	case c.ClockSkew < 0 || c.ClockSkew > time.Minute:
		return errors.New("auth: clock skew must be between 0 and 1m")
	case c.RefreshGrace < 0 || c.RefreshGrace > time.Minute:
		return errors.New("auth: refresh grace must be between 0 and 1m")
	case c.AccountCacheTTL < 0 || c.AccountCacheTTL > time.Minute:
		return errors.New("auth: account cache TTL must be between 0 and 1m")
	}
	return nil
}

// Domain errors; the handlers map them to HTTP in one table (http.go).
var (
	ErrInvalidCredentials = errors.New("the credential or password is wrong")
	ErrInvalidToken       = errors.New("the token is missing, malformed, expired or revoked")
	ErrTokenReused        = errors.New("this refresh token was already used; every session of its family has been revoked")
	ErrTokenRevoked       = errors.New("this session has ended (logged out or revoked); log in again")
	ErrNoAccount          = errors.New("the account of this token no longer exists")
	ErrAccountDisabled    = errors.New("this account is disabled")
	ErrUsernameTaken      = errors.New("that username is taken")
	ErrEmailTaken         = errors.New("an account with that email exists")
	ErrForbidden          = errors.New("you are not allowed to do this")
	ErrNoUser             = errors.New("user not found")
	ErrSelfChange         = errors.New("admins cannot disable or demote themselves")
	errUnauthenticated    = errors.New("a valid access token is required")
)

// ThrottledError is a login refused after too many failures, with how long to wait.
type ThrottledError struct{ Wait time.Duration }

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many failed logins; try again in %d seconds", int(math.Ceil(e.Wait.Seconds())))
}

// EventUserDeleting is called on the Delegate before an account is deleted, with a UserDeleting: the
// modules that keep data for a user remove it then (videos: rows, objects, index entries, jobs).
const EventUserDeleting = "auth.user.deleting"

// UserDeleting is the data of EventUserDeleting.
type UserDeleting struct{ UserID string }

// Delegate lets auth call back into modules built after it (they depend on auth's guards), without
// importing them: the composition root registers the handlers.
type Delegate interface {
	Call(ctx context.Context, event string, data any) error
}

// Service is the auth module.
type Service struct {
	cfg      Config
	store    *store
	hasher   *hasher
	tokens   *tokenIssuer
	throttle *throttle
	accounts *accounts
	delegate Delegate
	log      *slog.Logger
}

// New loads (or creates) the signing keys and builds the service.
func New(d *db.DB, delegate Delegate, cfg Config, log *slog.Logger) (*Service, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	keys, err := loadKeys(cfg.KeyFiles, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	h, err := newHasher(cfg.Argon2, cfg.HashConcurrency)
	if err != nil {
		return nil, err
	}
	st := &store{db: d}
	return &Service{
		cfg:      cfg,
		store:    st,
		hasher:   h,
		tokens:   &tokenIssuer{keys: keys, issuer: cfg.Issuer, audience: cfg.Audience, ttl: cfg.AccessTTL, skew: cfg.ClockSkew, now: time.Now},
		throttle: newThrottle(cfg.LoginMaxFails, cfg.LoginWindow),
		accounts: newAccounts(st, cfg.AccountCacheTTL),
		delegate: delegate,
		log:      log,
	}, nil
}

var errNotFound = errors.New("auth: not found")
