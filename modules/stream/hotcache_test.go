package stream

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"vod/app/storage"
)

// TestHotCacheBounds: the cache keeps to its byte budget, least recently used out first, never
// keeps an object over an eighth of it, and forgets entries whose time is up.
func TestHotCacheBounds(t *testing.T) {
	c := newHotCache(8 << 10)
	body := func(n int) []byte { return bytes.Repeat([]byte("x"), n) }
	c.put("a", body(1000), storage.Object{}, time.Hour)
	c.put("b", body(1000), storage.Object{}, time.Hour)
	_, ok := c.get("a") // a is now the most recent
	require.True(t, ok)
	for i := range 7 {
		c.put(string(rune('c'+i)), body(1000), storage.Object{}, time.Hour)
	}
	require.LessOrEqual(t, c.size, 8<<10)
	_, ok = c.get("b")
	require.False(t, ok, "the least recently used went first")
	_, ok = c.get("a")
	require.True(t, ok)
	c.put("big", body(2000), storage.Object{}, time.Hour)
	_, ok = c.get("big")
	require.False(t, ok, "over an eighth of the budget: not kept")
	c.put("brief", body(10), storage.Object{}, -time.Second)
	_, ok = c.get("brief")
	require.False(t, ok, "expired")
	var off *hotCache = newHotCache(0)
	off.put("x", body(1), storage.Object{}, time.Hour)
	_, ok = off.get("x")
	require.False(t, ok, "a zero budget keeps nothing")
}
