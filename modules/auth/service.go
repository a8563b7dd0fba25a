package auth

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"vod/app/db"
	"vod/app/vodtype"
)

// SignupInput is the signup form.
type SignupInput struct {
	Username        string `json:"username"`
	Email           string `json:"email"`
	Password        string `json:"password"`
	PasswordConfirm string `json:"password_confirm"`
	FirstName       string `json:"first_name"`
	LastName        string `json:"last_name"`
}

var usernameRe = regexp.MustCompile(`^[a-z0-9_.-]{3,32}$`)

// normalize lower-cases the username and email; both are unique case-insensitively.
func (in *SignupInput) normalize() {
	in.Username = strings.ToLower(strings.TrimSpace(in.Username))
	in.Email = strings.ToLower(strings.TrimSpace(in.Email))
	in.FirstName = strings.TrimSpace(in.FirstName)
	in.LastName = strings.TrimSpace(in.LastName)
}

func (in *SignupInput) validate() error {
	f := map[string]string{}
	if !usernameRe.MatchString(in.Username) {
		f["username"] = "must be 3 to 32 characters of a-z, 0-9, _, . and -"
	}
	if a, err := mail.ParseAddress(in.Email); err != nil || a.Address != in.Email || len(in.Email) > 254 || !strings.Contains(in.Email[strings.LastIndexByte(in.Email, '@')+1:], ".") {
		f["email"] = "must be a valid email address"
	}
	if st := CheckPassword(in.Password, in.Username, in.Email, in.FirstName, in.LastName); !st.Acceptable {
		f["password"] = st.Message
	}
	if in.PasswordConfirm != in.Password {
		f["password_confirm"] = "The passwords don't match."
	}
	// Names are optional; when given they are checked.
	for name, v := range map[string]string{"first_name": in.FirstName, "last_name": in.LastName} {
		switch {
		case v == "":
		case utf8.RuneCountInString(v) > 100:
			f[name] = "must be at most 100 characters"
		case vodtype.HasControl(v, false):
			f[name] = vodtype.ControlMessage
		}
	}
	if len(f) > 0 {
		return vodtype.FieldErrors(f)
	}
	return nil
}

// Signup creates a user account with the given role.
func (s *Service) Signup(ctx context.Context, in SignupInput, role string) (*User, error) {
	in.normalize()
	if err := in.validate(); err != nil {
		return nil, err
	}
	hash, err := s.hasher.hash(ctx, in.Password)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	r := &userRow{ID: uuid.Must(uuid.NewV7()).String(), Username: in.Username, Email: in.Email, PasswordHash: hash,
		FirstName: in.FirstName, LastName: in.LastName, Role: role, CreatedAt: now, UpdatedAt: now}
	if err := s.store.createUser(ctx, r); err != nil {
		return nil, err
	}
	return r.user(), nil
}

// Login checks a username-or-email and password from a client IP and opens a session.
func (s *Service) Login(ctx context.Context, credential, password, ip string) (*Tokens, error) {
	credential = strings.ToLower(strings.TrimSpace(credential))
	if credential == "" || password == "" {
		f := map[string]string{}
		if credential == "" {
			f["credential"] = "is required"
		}
		if password == "" {
			f["password"] = "is required"
		}
		return nil, vodtype.FieldErrors(f)
	}
	if len(password) > 4096 {
		return nil, ErrInvalidCredentials
	}
	column := "username"
	if strings.Contains(credential, "@") {
		column = "email"
	}
	u, err := s.store.userBy(ctx, column, credential)
	if err != nil && !errors.Is(err, errNotFound) {
		return nil, err
	}
	// The throttle counts per account, not per spelling: a username and its email are one budget.
	account := "unknown:" + credential
	if u != nil {
		account = u.ID
	}
	if wait := s.throttle.blocked(account, ip); wait > 0 {
		return nil, throttled(wait)
	}
	if u == nil {
		s.hasher.burn(ctx, password)
		s.throttle.fail(account, ip)
		return nil, ErrInvalidCredentials
	}
	ok, stale, err := s.hasher.verify(ctx, password, u.PasswordHash)
	if err != nil {
		return nil, err
	}
	if !ok {
		s.throttle.fail(account, ip)
		return nil, ErrInvalidCredentials
	}
	s.throttle.succeed(account, ip)
	if u.Disabled {
		return nil, ErrAccountDisabled
	}
	if stale {
		if h, err := s.hasher.hash(ctx, password); err == nil {
			if err := s.store.setPasswordHash(ctx, u.ID, h); err != nil {
				s.log.Warn("password hash upgrade failed", "user", u.ID, "err", err)
			}
		}
	}
	return s.openSession(ctx, u, uuid.NewString())
}

func throttled(wait time.Duration) error {
	return &ThrottledError{Wait: wait}
}

// openSession issues an access token and a new refresh token in a new family.
func (s *Service) openSession(ctx context.Context, u *userRow, family string) (*Tokens, error) {
	token, _ := newRefreshToken()
	return s.openSessionTx(s.store.g(ctx), u, family, token)
}

// openSessionTx issues an access token and stores token as the family's live refresh token.
func (s *Service) openSessionTx(g *gorm.DB, u *userRow, family, token string) (*Tokens, error) {
	access, err := s.tokens.issue(u.user())
	if err != nil {
		return nil, err
	}
	hash := hashRefresh(token)
	now := time.Now().UTC()
	if err := s.store.insertRefresh(g, &refreshRow{ID: uuid.NewString(), TokenHash: hash, FamilyID: family, UserID: u.ID,
		ExpiresAt: now.Add(s.cfg.RefreshTTL), CreatedAt: now}); err != nil {
		return nil, err
	}
	return &Tokens{AccessToken: access, RefreshToken: token, TokenType: "Bearer",
		ExpiresIn: int(s.cfg.AccessTTL.Seconds()), User: u.user()}, nil
}

// Refresh spends a refresh token and returns a new pair. A token presented again within the grace
// window (another tab refreshing at the same moment) gets the same successor; after the window it
// counts as theft and revokes its whole family.
func (s *Service) Refresh(ctx context.Context, token string) (*Tokens, error) {
	if !strings.HasPrefix(token, "rt_") || len(token) > 100 {
		return nil, ErrInvalidToken
	}
	hash := hashRefresh(token)
	now := time.Now().UTC()
	var out *Tokens
	var reused *refreshRow
	err := s.store.db.WithTx(ctx, func(tx *db.Tx) error {
		// The conditional update lets exactly one of several concurrent callers spend the token.
		spent, err := s.store.spendRefresh(tx.G, hash, now)
		if err != nil {
			return err
		}
		r, err := s.store.refreshByHash(tx.G, hash)
		if errors.Is(err, errNotFound) {
			return ErrInvalidToken
		} else if err != nil {
			return err
		}
		var u userRow
		if err := tx.G.Where("id = ?", r.UserID).Take(&u).Error; err != nil {
			return ErrInvalidToken
		}
		if u.Disabled {
			return ErrAccountDisabled
		}
		successor := s.tokens.successorOf(token)
		switch {
		case spent:
			out, err = s.openSessionTx(tx.G, &u, r.FamilyID, successor)
			return err
		case r.RevokedAt != nil:
			return ErrTokenRevoked
		case r.UsedAt == nil:
			return ErrInvalidToken // expired
		case now.Sub(*r.UsedAt) <= s.cfg.RefreshGrace:
			next, err := s.store.refreshByHash(tx.G, hashRefresh(successor))
			if err == nil && next.UsedAt == nil && next.RevokedAt == nil {
				access, err := s.tokens.issue(u.user())
				if err != nil {
					return err
				}
				out = &Tokens{AccessToken: access, RefreshToken: successor, TokenType: "Bearer",
					ExpiresIn: int(s.cfg.AccessTTL.Seconds()), User: u.user()}
				return nil
			}
		}
		reused = r
		return ErrTokenReused
	})
	if reused != nil {
		// Outside the failed transaction, so that the revocation sticks.
		if rerr := s.store.revokeFamily(ctx, reused.FamilyID, now); rerr != nil {
			return nil, rerr
		}
		s.log.Warn("refresh token reuse: family revoked", "user", reused.UserID, "family", reused.FamilyID)
	}
	return out, err
}

// Logout revokes the session family of a refresh token. Unknown tokens are ignored: logging out is
// idempotent.
func (s *Service) Logout(ctx context.Context, token string) error {
	r, err := s.store.refreshByHash(s.store.g(ctx), hashRefresh(token))
	if errors.Is(err, errNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	return s.store.revokeFamily(ctx, r.FamilyID, time.Now().UTC())
}

// UserByID returns an account.
func (s *Service) UserByID(ctx context.Context, id string) (*User, error) {
	r, err := s.store.userBy(ctx, "id", id)
	if errors.Is(err, errNotFound) {
		return nil, ErrNoUser
	} else if err != nil {
		return nil, err
	}
	return r.user(), nil
}

// Authenticate verifies an access token.
func (s *Service) Authenticate(raw string) (*Claims, error) {
	return s.tokens.verifyCached(raw)
}

// JWKS is the public key set.
func (s *Service) JWKS() any { return s.tokens.keys.public }

// Email returns a user's address (notifications).
func (s *Service) Email(ctx context.Context, id string) (string, error) {
	r, err := s.store.userBy(ctx, "id", id)
	if err != nil {
		return "", err
	}
	return r.Email, nil
}

// UserByUsername returns an account by its username (vod ingest).
func (s *Service) UserByUsername(ctx context.Context, username string) (*User, error) {
	r, err := s.store.userBy(ctx, "username", strings.ToLower(username))
	if errors.Is(err, errNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrNoUser, username)
	} else if err != nil {
		return nil, err
	}
	return r.user(), nil
}

// DeleteAccount deletes the caller's own account after checking the password again.
func (s *Service) DeleteAccount(ctx context.Context, userID, password, ip string) error {
	u, err := s.store.userBy(ctx, "id", userID)
	if errors.Is(err, errNotFound) {
		return ErrNoUser
	} else if err != nil {
		return err
	}
	if wait := s.throttle.blocked(u.ID, ip); wait > 0 {
		return throttled(wait)
	}
	if password == "" {
		return vodtype.FieldErrors{"password": "is required"}
	}
	ok, _, err := s.hasher.verify(ctx, password, u.PasswordHash)
	if err != nil {
		return err
	}
	if !ok {
		s.throttle.fail(u.ID, ip)
		return ErrInvalidCredentials
	}
	return s.deleteUser(ctx, u.ID)
}

// DeleteUser deletes another user's account (administrators).
func (s *Service) DeleteUser(ctx context.Context, callerID, id string) error {
	if _, err := uuid.Parse(id); err != nil {
		return ErrNoUser
	}
	if id == callerID {
		return ErrSelfChange
	}
	if _, err := s.store.userBy(ctx, "id", id); errors.Is(err, errNotFound) {
		return ErrNoUser
	} else if err != nil {
		return err
	}
	return s.deleteUser(ctx, id)
}

// deleteUser disables the account and ends its sessions first, so that nothing new starts for it,
// then lets the other modules remove what they keep for it (through the delegate), then deletes the
// row (its refresh tokens go with it). The videos table's foreign key refuses the delete while a
// video remains (an upload that was being accepted at that moment): the cleanup runs again.
func (s *Service) deleteUser(ctx context.Context, id string) error {
	now := time.Now().UTC()
	if err := s.store.g(ctx).Model(&userRow{}).Where("id = ?", id).Updates(map[string]any{"disabled": true, "updated_at": now}).Error; err != nil {
		return err
	}
	if err := s.store.revokeUser(ctx, id, now); err != nil {
		return err
	}
	s.accounts.forget(id)
	var err error
	for range 3 {
		if err = s.delegate.Call(ctx, EventUserDeleting, UserDeleting{UserID: id}); err != nil {
			return err
		}
		if err = s.store.g(ctx).Where("id = ?", id).Delete(&userRow{}).Error; err == nil {
			s.accounts.forget(id)
			s.log.Info("account deleted", "user", id)
			return nil
		}
	}
	return err
}
