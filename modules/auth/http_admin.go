package auth

import (
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"vod/app/httpx"
)

func (s *Service) handleListUsers(c echo.Context) error {
	page, err := httpx.ParsePage(c)
	if err != nil {
		return err
	}
	q := s.store.g(c.Request().Context()).Model(&userRow{}).Order("id DESC").Limit(page.Limit + 1)
	if page.Cursor != "" {
		q = q.Where("id < ?", page.Cursor)
	}
	if term := strings.ToLower(strings.TrimSpace(c.QueryParam("q"))); term != "" {
		q = q.Where("username LIKE ? OR email LIKE ?", "%"+term+"%", "%"+term+"%")
	}
	var rows []userRow
	if err := q.Find(&rows).Error; err != nil {
		return err
	}
	out := httpx.List[*User]{Items: []*User{}}
	if len(rows) > page.Limit {
		rows = rows[:page.Limit]
		next := rows[len(rows)-1].ID
		out.NextCursor = &next
	}
	for i := range rows {
		out.Items = append(out.Items, rows[i].user())
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Service) updateUser(c echo.Context, field string, value any) error {
	id := c.Param("id")
	if _, err := uuid.Parse(id); err != nil {
		return ErrNoUser
	}
	caller, _ := httpx.CallerFrom(c)
	if id == caller.ID {
		return ErrSelfChange
	}
	ctx := c.Request().Context()
	res := s.store.g(ctx).Model(&userRow{}).Where("id = ?", id).Updates(map[string]any{field: value, "updated_at": time.Now().UTC()})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return ErrNoUser
	}
	// Access tokens are checked against the account's state on every request: drop ours now.
	s.accounts.forget(id)
	if field == "disabled" && value == true {
		if err := s.store.revokeUser(ctx, id, time.Now().UTC()); err != nil {
			return err
		}
	}
	u, err := s.UserByID(ctx, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"user": u})
}

func (s *Service) handleSetDisabled(v bool) echo.HandlerFunc {
	return func(c echo.Context) error { return s.updateUser(c, "disabled", v) }
}

func (s *Service) handleSetRole(role string) echo.HandlerFunc {
	return func(c echo.Context) error { return s.updateUser(c, "role", role) }
}
