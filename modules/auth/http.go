package auth

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"vod/app/httpx"
)

// Routes mounts the auth API under g (/api/v1) and the key set on root.
func (s *Service) Routes(root *echo.Echo, g *echo.Group) {
	a := g.Group("/auth")
	a.POST("/signup", s.handleSignup)
	a.POST("/login", s.handleLogin)
	a.POST("/refresh", s.handleRefresh)
	a.POST("/logout", s.handleLogout)
	a.GET("/me", s.handleMe, s.RequireUser)
	root.GET("/.well-known/jwks.json", s.handleJWKS)
}

func (s *Service) handleSignup(c echo.Context) error {
	var in SignupInput
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	u, err := s.Signup(c.Request().Context(), in, RoleUser)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]any{"user": u})
}

func (s *Service) handleLogin(c echo.Context) error {
	var in struct {
		Credential string `json:"credential"`
		Password   string `json:"password"`
	}
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	t, err := s.Login(c.Request().Context(), in.Credential, in.Password, c.RealIP())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, t)
}

type refreshBody struct {
	RefreshToken string `json:"refresh_token"`
}

func bindRefresh(c echo.Context) (string, error) {
	var in refreshBody
	if err := httpx.Bind(c, &in); err != nil {
		return "", err
	}
	if in.RefreshToken == "" {
		return "", httpx.Validation(map[string]string{"refresh_token": "is required"})
	}
	return in.RefreshToken, nil
}

func (s *Service) handleRefresh(c echo.Context) error {
	tok, err := bindRefresh(c)
	if err != nil {
		return err
	}
	t, err := s.Refresh(c.Request().Context(), tok)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, t)
}

func (s *Service) handleLogout(c echo.Context) error {
	tok, err := bindRefresh(c)
	if err != nil {
		return err
	}
	if err := s.Logout(c.Request().Context(), tok); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Service) handleMe(c echo.Context) error {
	caller, _ := httpx.CallerFrom(c)
	u, err := s.UserByID(c.Request().Context(), caller.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"user": u})
}

func (s *Service) handleJWKS(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	return c.JSON(http.StatusOK, s.JWKS())
}

// bearer extracts the token of an "Authorization: Bearer" header; ok is false when the header is
// absent, err is set when it is present but malformed.
func bearer(header string) (token string, ok bool, err error) {
	if header == "" {
		return "", false, nil
	}
	scheme, tok, found := strings.Cut(header, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", true, errUnauthenticated
	}
	tok = strings.TrimSpace(tok)
	if tok == "" || len(tok) > maxTokenLen {
		return "", true, errUnauthenticated
	}
	return tok, true, nil
}

// ParseBearer authenticates an Authorization header value.
func (s *Service) ParseBearer(header string) (*Claims, bool, error) {
	tok, present, err := bearer(header)
	if !present || err != nil {
		return nil, present, err
	}
	cl, err := s.Authenticate(tok)
	if err != nil {
		return nil, true, ErrInvalidToken
	}
	return cl, true, nil
}

type identity struct {
	claims  *Claims
	present bool
	err     error
}

const identityKey = "vod.identity"

// Identify authenticates the request's bearer token once per request: the rate limiter and the
// route's guard both ask, and a signature check is the costliest step of a cached read.
func (s *Service) Identify(c echo.Context) (*Claims, bool, error) {
	if id, ok := c.Get(identityKey).(identity); ok {
		return id.claims, id.present, id.err
	}
	cl, present, err := s.ParseBearer(c.Request().Header.Get(echo.HeaderAuthorization))
	c.Set(identityKey, identity{claims: cl, present: present, err: err})
	return cl, present, err
}

func (s *Service) authenticate(c echo.Context, required bool) error {
	cl, present, err := s.Identify(c)
	if err != nil {
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer error="invalid_token"`)
		return err
	}
	if !present {
		if required {
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer`)
			return errUnauthenticated
		}
		return nil
	}
	httpx.SetCaller(c, httpx.Caller{ID: cl.UserID, Username: cl.Username, Email: cl.Email, Admin: cl.Role == RoleAdmin})
	return nil
}

// RequireUser rejects requests without a valid access token.
func (s *Service) RequireUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := s.authenticate(c, true); err != nil {
			return err
		}
		return next(c)
	}
}

// OptionalUser identifies the caller when a token is sent; an invalid token is still an error.
func (s *Service) OptionalUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := s.authenticate(c, false); err != nil {
			return err
		}
		return next(c)
	}
}

// RequireAdmin rejects everyone but administrators.
func (s *Service) RequireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return s.RequireUser(func(c echo.Context) error {
		if caller, _ := httpx.CallerFrom(c); !caller.Admin {
			return ErrForbidden
		}
		return next(c)
	})
}

// Guards bundles the middlewares for other modules.
func (s *Service) Guards() httpx.Guards {
	return httpx.Guards{RequireUser: s.RequireUser, OptionalUser: s.OptionalUser, RequireAdmin: s.RequireAdmin}
}
