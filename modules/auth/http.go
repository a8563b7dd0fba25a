package auth

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"vod/app/httpx"
)

func adminUserRoute(action string, h echo.HandlerFunc) httpx.Route {
	return httpx.Route{Method: http.MethodPost, Path: "/api/v1/admin/users/:id/" + action, Handler: h, Auth: httpx.Admin, Limit: httpx.LimitAPI,
		Doc: httpx.Doc{Tag: "admin", Summary: strings.ToUpper(action[:1]) + action[1:] + " a user", Params: []httpx.Obj{httpx.PathParam("id", "user id")},
			Responses: httpx.Obj{"200": httpx.Resp("user", userBody), "403": httpx.ErrResp("admins only"), "404": httpx.ErrResp("no such user"),
				"409": httpx.ErrResp("not on yourself")}}}
}

var userBody = httpx.Object(nil, httpx.Obj{"user": httpx.Ref("User")})

// httpError is the module's one map from domain errors to HTTP.
func httpError(err error) error {
	var throttled *ThrottledError
	unauthorized := func(code string) error { return httpx.E(http.StatusUnauthorized, code, err.Error()) }
	switch {
	case errors.As(err, &throttled):
		secs := int(math.Ceil(throttled.Wait.Seconds()))
		e := httpx.E(http.StatusTooManyRequests, "rate_limited", err.Error())
		e.Header = http.Header{"Retry-After": {strconv.Itoa(secs)}}
		return e
	case errors.Is(err, ErrInvalidCredentials):
		return unauthorized("invalid_credentials")
	case errors.Is(err, ErrInvalidToken):
		return unauthorized("invalid_token")
	case errors.Is(err, ErrTokenReused):
		return unauthorized("token_reused")
	case errors.Is(err, ErrTokenRevoked):
		return unauthorized("token_revoked")
	case errors.Is(err, ErrNoAccount):
		return unauthorized("invalid_token")
	case errors.Is(err, errUnauthenticated):
		return unauthorized("unauthenticated")
	case errors.Is(err, ErrAccountDisabled):
		return httpx.E(http.StatusForbidden, "account_disabled", err.Error())
	case errors.Is(err, ErrForbidden):
		return httpx.E(http.StatusForbidden, "forbidden", err.Error())
	case errors.Is(err, ErrUsernameTaken):
		return httpx.E(http.StatusConflict, "username_taken", err.Error())
	case errors.Is(err, ErrEmailTaken):
		return httpx.E(http.StatusConflict, "email_taken", err.Error())
	case errors.Is(err, ErrSelfChange):
		return httpx.E(http.StatusConflict, "self_change", err.Error())
	case errors.Is(err, ErrNoUser):
		return httpx.NotFound("user")
	}
	return err
}

// Routes declares the auth API, user administration and the key set.
func (s *Service) Routes(root *httpx.Router) {
	refreshBody := httpx.JSONBody(httpx.Object([]string{"refresh_token"}, httpx.Obj{"refresh_token": httpx.StrType}))
	tokens := httpx.Resp("tokens", httpx.Ref("Tokens"))
	r := root.WithErrors(httpError)
	r.Add(
		httpx.Route{Method: http.MethodPost, Path: "/api/v1/auth/password-check", Handler: s.handlePasswordCheck, Limit: httpx.LimitAPI,
			Doc: httpx.Doc{Tag: "auth", Summary: "Rate a new password as sign-up will (zxcvbn score 0-4; 3 needed)",
				Body: httpx.JSONBody(httpx.Object([]string{"password"}, httpx.Obj{"password": httpx.StrType, "username": httpx.StrType,
					"email": httpx.StrType, "first_name": httpx.StrType, "last_name": httpx.StrType})),
				Responses: httpx.Obj{"200": httpx.Resp("the rating", httpx.Object([]string{"score", "acceptable", "message"}, httpx.Obj{
					"score": httpx.Obj{"type": "integer", "minimum": 0, "maximum": 4}, "acceptable": httpx.Obj{"type": "boolean"}, "message": httpx.StrType})),
					"400": httpx.ErrResp("not JSON"), "429": httpx.ErrResp("rate limited")}}},
		httpx.Route{Method: http.MethodPost, Path: "/api/v1/auth/signup", Handler: s.handleSignup, Limit: httpx.LimitAPI,
			Doc: httpx.Doc{Tag: "auth", Summary: "Create an account",
				Body: httpx.JSONBody(httpx.Object([]string{"username", "email", "password", "password_confirm"},
					httpx.Obj{"username": httpx.StrType, "email": httpx.StrType, "password": httpx.StrType, "password_confirm": httpx.StrType,
						"first_name": httpx.StrType, "last_name": httpx.StrType})),
				Responses: httpx.Obj{"201": httpx.Resp("created", userBody), "409": httpx.ErrResp("username or email taken"), "422": httpx.ErrResp("invalid fields")}}},
		httpx.Route{Method: http.MethodPost, Path: "/api/v1/auth/login", Handler: s.handleLogin, Limit: httpx.LimitAPI,
			Doc: httpx.Doc{Tag: "auth", Summary: "Log in with username or email",
				Body:      httpx.JSONBody(httpx.Object([]string{"credential", "password"}, httpx.Obj{"credential": httpx.StrType, "password": httpx.StrType})),
				Responses: httpx.Obj{"200": tokens, "401": httpx.ErrResp("wrong credentials"), "403": httpx.ErrResp("account disabled"), "429": httpx.ErrResp("too many failures; see Retry-After")}}},
		httpx.Route{Method: http.MethodPost, Path: "/api/v1/auth/refresh", Handler: s.handleRefresh, Limit: httpx.LimitAPI,
			Doc: httpx.Doc{Tag: "auth", Summary: "Rotate a refresh token", Body: refreshBody,
				Responses: httpx.Obj{"200": tokens, "401": httpx.ErrResp("invalid, expired or reused token")}}},
		httpx.Route{Method: http.MethodPost, Path: "/api/v1/auth/logout", Handler: s.handleLogout, Limit: httpx.LimitAPI,
			Doc: httpx.Doc{Tag: "auth", Summary: "Revoke a session", Body: refreshBody,
				Responses: httpx.Obj{"204": httpx.NoBody("logged out"), "422": httpx.ErrResp("no refresh token")}}},
		httpx.Route{Method: http.MethodGet, Path: "/api/v1/auth/me", Handler: s.handleMe, Auth: httpx.User, Limit: httpx.LimitAPI,
			Doc: httpx.Doc{Tag: "auth", Summary: "The current user", Responses: httpx.Obj{"200": httpx.Resp("user", userBody), "401": httpx.ErrResp("not logged in")}}},
		httpx.Route{Method: http.MethodDelete, Path: "/api/v1/auth/me", Handler: s.handleDeleteMe, Auth: httpx.User, Limit: httpx.LimitAPI,
			Doc: httpx.Doc{Tag: "auth", Summary: "Delete my account and everything it owns (videos, sessions)",
				Body: httpx.JSONBody(httpx.Object([]string{"password"}, httpx.Obj{"password": httpx.StrType})),
				Responses: httpx.Obj{"204": httpx.NoBody("deleted"), "401": httpx.ErrResp("not logged in or wrong password"),
					"422": httpx.ErrResp("no password"), "429": httpx.ErrResp("too many wrong passwords")}}},
		httpx.Route{Method: http.MethodDelete, Path: "/api/v1/admin/users/:id", Handler: s.handleDeleteUser, Auth: httpx.Admin, Limit: httpx.LimitAPI,
			Doc: httpx.Doc{Tag: "admin", Summary: "Delete a user and everything it owns", Params: []httpx.Obj{httpx.PathParam("id", "user id")},
				Responses: httpx.Obj{"204": httpx.NoBody("deleted"), "403": httpx.ErrResp("admins only"), "404": httpx.ErrResp("no such user"),
					"409": httpx.ErrResp("not on yourself")}}},
		httpx.Route{Method: http.MethodGet, Path: "/.well-known/jwks.json", Handler: s.handleJWKS,
			Doc: httpx.Doc{Tag: "auth", Summary: "Public keys that verify access tokens", Responses: httpx.Obj{"200": httpx.Resp("JWK set", httpx.AnyObj)}}},
		httpx.Route{Method: http.MethodGet, Path: "/api/v1/admin/users", Handler: s.handleListUsers, Auth: httpx.Admin, Limit: httpx.LimitAPI,
			Doc: httpx.Doc{Tag: "admin", Summary: "Users",
				Params:    append([]httpx.Obj{httpx.QueryParam("q", "username or email contains", httpx.StrType)}, httpx.Paging...),
				Responses: httpx.Obj{"200": httpx.Resp("page", httpx.AnyObj), "403": httpx.ErrResp("admins only")}}},
		adminUserRoute("disable", s.handleSetDisabled(true)), adminUserRoute("enable", s.handleSetDisabled(false)),
		adminUserRoute("promote", s.handleSetRole(RoleAdmin)), adminUserRoute("demote", s.handleSetRole(RoleUser)),
	)
}

func (s *Service) handlePasswordCheck(c echo.Context) error {
	var in SignupInput
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, CheckPassword(in.Password, in.Username, in.Email, in.FirstName, in.LastName))
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

func (s *Service) handleDeleteMe(c echo.Context) error {
	var in struct {
		Password string `json:"password"`
	}
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	caller, _ := httpx.CallerFrom(c)
	if err := s.DeleteAccount(c.Request().Context(), caller.ID, in.Password, c.RealIP()); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Service) handleDeleteUser(c echo.Context) error {
	caller, _ := httpx.CallerFrom(c)
	if err := s.DeleteUser(c.Request().Context(), caller.ID, c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
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
	// The token says who; the account's current state says what they may do (disabled, demoted and
	// deleted accounts lose their access at once, not when the token expires).
	st, err := s.accounts.get(c.Request().Context(), cl.UserID)
	switch {
	case err != nil:
		return err
	case !st.exists:
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer error="invalid_token"`)
		return ErrNoAccount
	case st.disabled:
		return ErrAccountDisabled
	}
	httpx.SetCaller(c, httpx.Caller{ID: cl.UserID, Username: cl.Username, Email: cl.Email, Admin: st.role == RoleAdmin})
	return nil
}

// RequireUser rejects requests without a valid access token.
func (s *Service) RequireUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := s.authenticate(c, true); err != nil {
			return httpError(err)
		}
		return next(c)
	}
}

// OptionalUser identifies the caller when a token is sent; an invalid token is still an error.
func (s *Service) OptionalUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := s.authenticate(c, false); err != nil {
			return httpError(err)
		}
		return next(c)
	}
}

// RequireAdmin rejects everyone but administrators.
func (s *Service) RequireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return s.RequireUser(func(c echo.Context) error {
		if caller, _ := httpx.CallerFrom(c); !caller.Admin {
			return httpError(ErrForbidden)
		}
		return next(c)
	})
}

// Guards bundles the middlewares for other modules.
func (s *Service) Guards() httpx.Guards {
	return httpx.Guards{RequireUser: s.RequireUser, OptionalUser: s.OptionalUser, RequireAdmin: s.RequireAdmin}
}
