package auth

import (
	"sync"
	"time"
)

// throttle counts failed logins in fixed windows under three keys: the account (its user id, so a
// username and its email are one budget) from one IP, tight, so a guesser is slowed at once; one IP
// across accounts (password spraying); and the account from everywhere (distributed guessing,
// looser). The account-wide budget binds only addresses that have failed themselves (OWASP: lockout
// must not become a denial of service): strangers' failures can never block the right password from
// an address with a clean record, and every count expires with its window.
type throttle struct {
	mu      sync.Mutex
	max     int
	window  time.Duration
	buckets map[string]*bucket
	now     func() time.Time
}

type bucket struct {
	count int
	reset time.Time
}

func newThrottle(max int, window time.Duration) *throttle {
	return &throttle{max: max, window: window, buckets: map[string]*bucket{}, now: time.Now}
}

func (t *throttle) keys(account, ip string) map[string]int {
	return map[string]int{
		"ai:" + account + "|" + ip: t.max,
		"i:" + ip:                  t.max * 10,
		"a:" + account:             t.max * 20,
	}
}

// blocked returns how long the caller must wait, or 0.
func (t *throttle) blocked(account, ip string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	live := func(k string) *bucket {
		if b := t.buckets[k]; b != nil && !now.After(b.reset) {
			return b
		}
		return nil
	}
	var wait time.Duration
	failedHere := false
	for _, k := range []string{"ai:" + account + "|" + ip, "i:" + ip} {
		if b := live(k); b != nil && b.count > 0 {
			failedHere = true
		}
	}
	for k, limit := range t.keys(account, ip) {
		b := live(k)
		if b == nil || b.count < limit {
			continue
		}
		if k == "a:"+account && !failedHere {
			continue
		}
		wait = max(wait, b.reset.Sub(now))
	}
	return wait
}

func (t *throttle) fail(account, ip string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if len(t.buckets) > 100_000 {
		for k, b := range t.buckets {
			if now.After(b.reset) {
				delete(t.buckets, k)
			}
		}
	}
	for k := range t.keys(account, ip) {
		b := t.buckets[k]
		if b == nil || now.After(b.reset) {
			b = &bucket{reset: now.Add(t.window)}
			t.buckets[k] = b
		}
		b.count++
	}
}

func (t *throttle) succeed(account, ip string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.buckets, "ai:"+account+"|"+ip)
}
