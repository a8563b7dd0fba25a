// Package ratelimit is the in-process token-bucket limiter behind the API's per-group limits. Each
// group (upload, metadata, search, api) has a rule; each caller (user id when logged in, else the
// client IP from the trusted-proxy aware extractor) has a bucket per group.
//
// On SQLite (one process) the buckets live in memory. On PostgreSQL every API process shares them in
// the ratelimit_buckets table (Postgres store), so N processes still enforce one limit per caller.
package ratelimit

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Rule allows Burst requests at once, refilled at Burst per Per.
type Rule struct {
	Burst int
	Per   time.Duration
}

// ParseRule reads "N/duration", e.g. "1/20m" or "600/1m"; "off" disables the group.
func ParseRule(s string) (Rule, bool, error) {
	s = strings.TrimSpace(s)
	if s == "off" || s == "" {
		return Rule{}, false, nil
	}
	n, d, ok := strings.Cut(s, "/")
	burst, err1 := strconv.Atoi(n)
	per, err2 := time.ParseDuration(d)
	if !ok || err1 != nil || err2 != nil || burst < 1 || per <= 0 {
		return Rule{}, false, fmt.Errorf("%q is not N/duration like 1/20m, or off", s)
	}
	return Rule{Burst: burst, Per: per}, true, nil
}

type bucket struct {
	tokens float64
	last   time.Time
}

// Limiter holds the buckets.
type Limiter struct {
	mu      sync.Mutex
	rules   map[string]Rule
	buckets map[string]*bucket
	now     func() time.Time
	sweep   time.Time
	store   Store
}

// New builds a limiter for the given group rules.
func New(rules map[string]Rule) *Limiter {
	return &Limiter{rules: rules, buckets: map[string]*bucket{}, now: time.Now}
}

// Decision is the outcome of one request.
type Decision struct {
	Allowed    bool
	Limit      int
	Remaining  int
	Reset      time.Duration // until the bucket is full again
	RetryAfter time.Duration // until one token is available (when refused)
}

// Allow takes one token from the caller's bucket of a group. Groups without a rule always allow. With
// a shared store that fails, the request is allowed (limits must not take the API down).
func (l *Limiter) Allow(ctx context.Context, group, key string) (Decision, bool) {
	rule, ok := l.rules[group]
	if !ok {
		return Decision{Allowed: true}, false
	}
	if l.store != nil {
		d, err := l.allowShared(ctx, rule, group+"|"+key)
		if err != nil {
			return Decision{Allowed: true}, false
		}
		return d, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	rate := float64(rule.Burst) / rule.Per.Seconds() // tokens per second
	if now.Sub(l.sweep) > time.Minute {
		l.sweep = now
		for k, b := range l.buckets {
			if b.tokens+now.Sub(b.last).Seconds()*rate >= float64(rule.Burst) && len(l.buckets) > 1000 {
				delete(l.buckets, k)
			}
		}
	}
	id := group + "|" + key
	b := l.buckets[id]
	if b == nil {
		b = &bucket{tokens: float64(rule.Burst), last: now}
		l.buckets[id] = b
	}
	b.tokens = math.Min(float64(rule.Burst), b.tokens+now.Sub(b.last).Seconds()*rate)
	b.last = now
	d := Decision{Limit: rule.Burst}
	if b.tokens >= 1 {
		b.tokens--
		d.Allowed = true
	} else {
		d.RetryAfter = time.Duration((1 - b.tokens) / rate * float64(time.Second))
	}
	d.Remaining = int(b.tokens)
	d.Reset = time.Duration((float64(rule.Burst) - b.tokens) / rate * float64(time.Second))
	return d, true
}
