// Package delegate lets a module call back into modules that are built after it, without importing
// them (ardanlabs' business/sdk/delegate): the composition root registers a function for an event
// the calling module names, and the caller calls the event. It exists for the few reverse calls the
// build order cannot avoid (auth is built first, because every module uses its guards, yet deleting
// an account must delete the account's videos).
package delegate

import (
	"context"
	"fmt"
	"sync"
)

// Func handles one event.
type Func func(ctx context.Context, data any) error

// Delegate maps events to their handlers.
type Delegate struct {
	mu  sync.RWMutex
	fns map[string][]Func
}

// New returns an empty delegate.
func New() *Delegate { return &Delegate{fns: map[string][]Func{}} }

// Register adds a handler for an event; handlers run in the order they were registered.
func (d *Delegate) Register(event string, fn Func) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.fns[event] = append(d.fns[event], fn)
}

// Call runs every handler of an event and stops at the first error. An event with no handler is a
// wiring mistake, reported as an error rather than silently doing nothing.
func (d *Delegate) Call(ctx context.Context, event string, data any) error {
	d.mu.RLock()
	fns := d.fns[event]
	d.mu.RUnlock()
	if len(fns) == 0 {
		return fmt.Errorf("delegate: no handler for %s", event)
	}
	for _, fn := range fns {
		if err := fn(ctx, data); err != nil {
			return fmt.Errorf("%s: %w", event, err)
		}
	}
	return nil
}
