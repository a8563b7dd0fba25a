package auth

import (
	"context"
	"errors"
	"sync"
	"time"
)

// accountState is what authorisation needs to know about an account at the moment of a request:
// an access token says who the caller is, never what they may still do.
type accountState struct {
	role     string
	disabled bool
	exists   bool
	read     time.Time
}

// accounts caches account states for a short time so that a request costs no database read in the
// common case. A change made by this process (disable, demote, delete) drops the entry at once;
// another process of the same installation sees it when its entry expires (ttl, one second by
// default). This is the whole revocation delay of an access token.
type accounts struct {
	mu    sync.Mutex
	ttl   time.Duration
	m     map[string]accountState
	store *store
	now   func() time.Time
}

func newAccounts(s *store, ttl time.Duration) *accounts {
	return &accounts{ttl: ttl, m: map[string]accountState{}, store: s, now: time.Now}
}

func (a *accounts) get(ctx context.Context, id string) (accountState, error) {
	now := a.now()
	a.mu.Lock()
	st, ok := a.m[id]
	a.mu.Unlock()
	if ok && now.Sub(st.read) < a.ttl {
		return st, nil
	}
	r, err := a.store.userBy(ctx, "id", id)
	switch {
	case errors.Is(err, errNotFound):
		st = accountState{read: now}
	case err != nil:
		return accountState{}, err
	default:
		st = accountState{role: r.Role, disabled: r.Disabled, exists: true, read: now}
	}
	a.mu.Lock()
	if len(a.m) > 100_000 {
		clear(a.m) // bounded: a flood of distinct valid tokens costs reads, not memory
	}
	a.m[id] = st
	a.mu.Unlock()
	return st, nil
}

func (a *accounts) forget(id string) {
	a.mu.Lock()
	delete(a.m, id)
	a.mu.Unlock()
}
