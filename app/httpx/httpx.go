// Package httpx holds the HTTP conventions every module shares: the error shape of the API contract,
// JSON binding with a size limit, the client-IP rule and list paging.
package httpx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"vod/app/vodtype"

	"github.com/labstack/echo/v4"
)

// Error is an error the client may see. Err, when set, is the internal cause: logged, never sent.
type Error struct {
	Status  int
	Code    string
	Message string
	Fields  map[string]string
	Header  http.Header
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// HTTPStatus is the status the error is answered with (for metrics taken before the error handler).
func (e *Error) HTTPStatus() int { return e.Status }

// E builds an Error.
func E(status int, code, message string) *Error {
	return &Error{Status: status, Code: code, Message: message}
}

// Validation is a 422 naming each field at fault.
func Validation(fields map[string]string) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: "validation_failed", Message: "some fields are invalid", Fields: fields}
}

// NotFound is the 404 for anything missing or invisible to the caller.
func NotFound(what string) *Error {
	return E(http.StatusNotFound, "not_found", what+" not found")
}

type body struct {
	Error struct {
		Code    string            `json:"code"`
		Message string            `json:"message"`
		Fields  map[string]string `json:"fields,omitempty"`
	} `json:"error"`
}

var echoCodes = map[int]string{
	http.StatusBadRequest:            "bad_request",
	http.StatusUnauthorized:          "unauthorized",
	http.StatusForbidden:             "forbidden",
	http.StatusNotFound:              "not_found",
	http.StatusMethodNotAllowed:      "method_not_allowed",
	http.StatusRequestEntityTooLarge: "too_large",
	http.StatusUnsupportedMediaType:  "unsupported_media_type",
	http.StatusTooManyRequests:       "rate_limited",
	http.StatusServiceUnavailable:    "not_ready",
}

// ErrorHandler writes every error in the contract's shape; internal errors are logged with the request
// id and reach the client as a plain 500.
func ErrorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		var ae *Error
		var he *echo.HTTPError
		var fe vodtype.FieldErrors
		switch {
		case errors.As(err, &fe):
			// Every module's validation failure, whatever module returned it.
			ae = Validation(fe)
		case errors.As(err, &ae):
			if ae.Err != nil || ae.Status >= 500 {
				log.Error("request failed", "request_id", RequestID(c), "code", ae.Code, "err", err)
			}
		case errors.As(err, &he):
			code, ok := echoCodes[he.Code]
			if !ok {
				code = strings.ReplaceAll(strings.ToLower(http.StatusText(he.Code)), " ", "_")
			}
			msg := http.StatusText(he.Code)
			if m, ok := he.Message.(string); ok && he.Code < 500 {
				msg = m
			}
			ae = E(he.Code, code, msg)
		case errors.Is(err, context.Canceled) && c.Request().Context().Err() != nil:
			return // the client went away
		default:
			log.Error("request failed", "request_id", RequestID(c), "method", c.Request().Method, "path", c.Path(), "err", err)
			ae = E(http.StatusInternalServerError, "internal_error", "an internal error occurred; it has been logged")
		}
		for k, vs := range ae.Header {
			for _, v := range vs {
				c.Response().Header().Add(k, v)
			}
		}
		var b body
		b.Error.Code, b.Error.Message, b.Error.Fields = ae.Code, ae.Message, ae.Fields
		if c.Request().Method == http.MethodHead {
			_ = c.NoContent(ae.Status)
			return
		}
		_ = c.JSON(ae.Status, b)
	}
}

// RequestID returns the id the request-id middleware assigned.
func RequestID(c echo.Context) string {
	return c.Response().Header().Get(echo.HeaderXRequestID)
}

// MaxJSONBody caps JSON request bodies unless JSONLimit set another cap.
const MaxJSONBody = 1 << 20

const bodyLimitKey = "vod.json_limit"

// JSONLimit caps the JSON bodies Bind reads to n bytes (config http.body_limit).
func JSONLimit(n int64) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Set(bodyLimitKey, n)
			return next(c)
		}
	}
}

// Bind decodes a JSON body into v: 415 when it is not JSON, 413 when too large, 400 when malformed.
func Bind(c echo.Context, v any) error {
	req := c.Request()
	// The media type must be exactly application/json (parameters such as charset allowed), not
	// anything that merely starts with it.
	if ct := req.Header.Get(echo.HeaderContentType); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != echo.MIMEApplicationJSON {
			return E(http.StatusUnsupportedMediaType, "unsupported_media_type", "the body must be application/json")
		}
	}
	limit := int64(MaxJSONBody)
	if n, ok := c.Get(bodyLimitKey).(int64); ok && n > 0 {
		limit = n
	}
	lr := &io.LimitedReader{R: req.Body, N: limit + 1}
	dec := json.NewDecoder(lr)
	if err := dec.Decode(v); err != nil {
		if lr.N <= 0 {
			return E(http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the body is larger than %d bytes", limit))
		}
		if errors.Is(err, io.EOF) {
			return E(http.StatusBadRequest, "bad_request", "the request body is empty; a JSON object is expected")
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return Validation(map[string]string{te.Field: "has the wrong type; expected " + te.Type.String()})
		}
		return E(http.StatusBadRequest, "bad_request", "the body is not valid JSON")
	}
	// One JSON value and nothing after it but white space: trailing bytes mean a confused or
	// smuggling client, not something to ignore.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if lr.N <= 0 {
			return E(http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the body is larger than %d bytes", limit))
		}
		return E(http.StatusBadRequest, "bad_request", "unexpected data after the JSON body")
	}
	return nil
}

// Page is the ?limit=&cursor= of a list request.
type Page struct {
	Limit  int
	Cursor string
}

// ParsePage reads limit (default 20, max 100) and cursor.
func ParsePage(c echo.Context) (Page, error) {
	p := Page{Limit: 20, Cursor: c.QueryParam("cursor")}
	if s := c.QueryParam("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			return p, Validation(map[string]string{"limit": "must be an integer from 1 to 100"})
		}
		p.Limit = n
	}
	return p, nil
}

// List is the response of every list endpoint.
type List[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// Caller is the authenticated user of a request, as the auth middleware established it. Modules read
// it through CallerFrom and never see tokens.
type Caller struct {
	ID       string
	Username string
	Email    string
	Admin    bool
}

const callerKey = "vod.caller"

// SetCaller records the authenticated user on the request.
func SetCaller(c echo.Context, caller Caller) { c.Set(callerKey, caller) }

// CallerFrom returns the authenticated user, if any.
func CallerFrom(c echo.Context) (Caller, bool) {
	v, ok := c.Get(callerKey).(Caller)
	return v, ok
}

// Guards are the auth middlewares other modules attach to their routes.
type Guards struct {
	RequireUser  echo.MiddlewareFunc
	OptionalUser echo.MiddlewareFunc
	RequireAdmin echo.MiddlewareFunc
}
