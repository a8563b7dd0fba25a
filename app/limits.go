package app

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"vod/app/db"
	"vod/app/httpx"
	"vod/app/ratelimit"
)

func (a *App) limiter() (*ratelimit.Limiter, error) {
	rules := map[string]ratelimit.Rule{}
	for group, spec := range map[string]string{"upload": a.cfg.RateLimit.Upload, "metadata": a.cfg.RateLimit.Metadata,
		"search": a.cfg.RateLimit.Search, "api": a.cfg.RateLimit.API} {
		r, on, err := ratelimit.ParseRule(spec)
		if err != nil {
			return nil, err
		}
		if on {
			rules[group] = r
		}
	}
	l := ratelimit.New(rules)
	if a.db.Dialect == db.Postgres {
		l.UseStore(ratelimit.Postgres{DB: a.db.Gorm})
	}
	return l, nil
}

// rateLimit keys each request by its user when it carries a valid token, else by the client IP
// (never a raw X-Forwarded-For: echo's extractor only believes trusted proxies), and answers 429
// with Retry-After once the group's bucket is empty.
func (a *App) rateLimit(l *ratelimit.Limiter) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			group := a.router.LimitGroup(c.Request().Method, c.Path())
			if group == "" {
				return next(c)
			}
			key := "ip:" + c.RealIP()
			if cl, present, err := a.auth.Identify(c); present && err == nil {
				key = "user:" + cl.UserID
			}
			d, limited := l.Allow(c.Request().Context(), group, key)
			if !limited {
				return next(c)
			}
			h := c.Response().Header()
			h.Set("RateLimit-Limit", strconv.Itoa(d.Limit))
			h.Set("RateLimit-Remaining", strconv.Itoa(d.Remaining))
			h.Set("RateLimit-Reset", strconv.Itoa(int(math.Ceil(d.Reset.Seconds()))))
			if !d.Allowed {
				secs := int(math.Ceil(max(d.RetryAfter, time.Second).Seconds()))
				e := httpx.E(http.StatusTooManyRequests, "rate_limited", "too many "+group+" requests; try again in "+strconv.Itoa(secs)+" seconds")
				e.Header = http.Header{"Retry-After": {strconv.Itoa(secs)}}
				return e
			}
			return next(c)
		}
	}
}
