package auth

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"

	"vod/app/db"
)

type userRow struct {
	ID           string `gorm:"primaryKey"`
	Username     string
	Email        string
	PasswordHash string
	FirstName    string
	LastName     string
	Role         string
	Disabled     bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

func (userRow) TableName() string { return "users" }

func (r *userRow) user() *User {
	return &User{ID: r.ID, Username: r.Username, Email: r.Email, FirstName: r.FirstName, LastName: r.LastName,
		Role: r.Role, Disabled: r.Disabled, CreatedAt: r.CreatedAt.UTC()}
}

type refreshRow struct {
	ID        string `gorm:"primaryKey"`
	TokenHash string
	FamilyID  string
	UserID    string
	ExpiresAt time.Time
	UsedAt    *time.Time
	RevokedAt *time.Time
	CreatedAt time.Time
}

func (refreshRow) TableName() string { return "refresh_tokens" }

type store struct{ db *db.DB }

func (s *store) g(ctx context.Context) *gorm.DB { return s.db.Gorm.WithContext(ctx) }

func (s *store) createUser(ctx context.Context, r *userRow) error {
	err := s.g(ctx).Create(r).Error
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		// Tell which one is taken; a race between the two checks only changes the message.
		var n int64
		s.g(ctx).Model(&userRow{}).Where("username = ?", r.Username).Count(&n)
		if n > 0 {
			return ErrUsernameTaken
		}
		return ErrEmailTaken
	}
	return err
}

func (s *store) userBy(ctx context.Context, column, value string) (*userRow, error) {
	var r userRow
	err := s.g(ctx).Where(column+" = ?", value).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, errNotFound
	}
	return &r, err
}

func (s *store) setPasswordHash(ctx context.Context, id, hash string) error {
	return s.g(ctx).Model(&userRow{}).Where("id = ?", id).
		Updates(map[string]any{"password_hash": hash, "updated_at": time.Now().UTC()}).Error
}

func (s *store) insertRefresh(g *gorm.DB, r *refreshRow) error { return g.Create(r).Error }

// spendRefresh marks an unused, unrevoked, unexpired token used. Exactly one of several concurrent
// callers sees true: the update is conditional on used_at still being NULL.
func (s *store) spendRefresh(g *gorm.DB, hash string, now time.Time) (bool, error) {
	res := g.Model(&refreshRow{}).
		Where("token_hash = ? AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?", hash, now).
		Update("used_at", now)
	return res.RowsAffected == 1, res.Error
}

func (s *store) refreshByHash(g *gorm.DB, hash string) (*refreshRow, error) {
	var r refreshRow
	err := g.Where("token_hash = ?", hash).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, errNotFound
	}
	return &r, err
}

func (s *store) revokeFamily(ctx context.Context, family string, now time.Time) error {
	return s.g(ctx).Model(&refreshRow{}).Where("family_id = ? AND revoked_at IS NULL", family).
		Update("revoked_at", now).Error
}

// revokeUser ends every session of a user.
func (s *store) revokeUser(ctx context.Context, userID string, now time.Time) error {
	return s.g(ctx).Model(&refreshRow{}).Where("user_id = ? AND revoked_at IS NULL", userID).Update("revoked_at", now).Error
}

func (s *store) deleteExpiredRefresh(ctx context.Context, before time.Time) error {
	return s.g(ctx).Where("expires_at < ?", before).Delete(&refreshRow{}).Error
}
