package httpx

import (
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// SecurityHeaders sets what every response carries: browsers must not sniff a type other than the
// one declared, and no page may be framed by another site (clickjacking) except the paths listed in
// frameable (the embed player). Pages that set a full Content-Security-Policy of their own keep
// frame-ancestors in it.
func SecurityHeaders(frameable ...string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Response().Header()
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
			framed := false
			for _, p := range frameable {
				if strings.HasPrefix(c.Request().URL.Path, p) {
					framed = true
				}
			}
			if !framed {
				h.Set("X-Frame-Options", "DENY")
				h.Set("Content-Security-Policy", "frame-ancestors 'none'")
			}
			return next(c)
		}
	}
}

// ErrSlowBody is a request body that arrived slower than the minimum rate.
var ErrSlowBody = errors.New("the request body arrived too slowly")

// MinBodyRate closes requests whose body trickles in (slow-loris): the body must bring at least
// rate bytes per second, counted over windows of the given length. Each window's quota met opens the
// next one, so a real slow upload (tens of KB/s) never notices, while one byte every few seconds
// ends with the window. It works through the connection's read deadline, so a stalled read is cut
// off by the kernel, not by polling.
func MinBodyRate(rate int64, window time.Duration) echo.MiddlewareFunc {
	quota := rate * int64(window/time.Second)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			if rate <= 0 || req.Body == nil || req.Body == http.NoBody || req.ContentLength == 0 {
				return next(c)
			}
			rc := http.NewResponseController(c.Response().Writer)
			if err := rc.SetReadDeadline(time.Now().Add(window)); err != nil {
				return next(c) // not a network connection (tests with recorders)
			}
			req.Body = &rateReader{ReadCloser: req.Body, rc: rc, quota: quota, window: window}
			return next(c)
		}
	}
}

type rateReader struct {
	io.ReadCloser
	rc     *http.ResponseController
	quota  int64
	window time.Duration
	n      int64
	done   bool
}

func (r *rateReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.n += int64(n)
	if r.n >= r.quota && !r.done {
		r.n = 0
		_ = r.rc.SetReadDeadline(time.Now().Add(r.window))
	}
	if err == io.EOF && !r.done {
		r.done = true
		_ = r.rc.SetReadDeadline(time.Time{})
	}
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		return n, ErrSlowBody
	}
	return n, err
}
