package stream

import (
	"container/list"
	"path"
	"strings"
	"sync"
	"time"

	"vod/app/storage"
)

// hotCache keeps small, hot media objects from remote storage in memory: manifests (briefly, since
// adding a subtitle rewrites them) and init segments, subtitles and images (immutable under their
// generation's keys). Every viewer of a video asks for the same few, so they cost no round trip
// to storage after the first; segments are not cached (too many, each asked for a few times).
// Bounded by total bytes, least recently used first out.
type hotCache struct {
	mu    sync.Mutex
	max   int
	size  int
	ll    *list.List
	items map[string]*list.Element
}

type hotEntry struct {
	key   string
	body  []byte
	obj   storage.Object
	until time.Time
}

// hotMaxObject is the largest object kept: a 4 s segment of the 1080p rung is ~2.5 MB.
const hotMaxObject = 4 << 20

// newHotCache makes a cache of maxBytes; nil (a cache that keeps nothing) when it is not positive.
func newHotCache(maxBytes int64) *hotCache {
	if maxBytes <= 0 {
		return nil
	}
	return &hotCache{max: int(maxBytes), ll: list.New(), items: map[string]*list.Element{}}
}

// hotTTL says whether a key is worth keeping and for how long (0: not kept).
func hotTTL(key string) time.Duration {
	name := path.Base(key)
	switch {
	case strings.Contains(key, "/poster/"):
		return 0 // an owner's thumbnail is replaced and deleted at will: never served after that
	case strings.HasSuffix(name, ".mpd"), strings.HasSuffix(name, ".m3u8"):
		return 5 * time.Second
	case strings.HasPrefix(name, "init-"), strings.HasPrefix(name, "seg-"), strings.HasSuffix(name, ".vtt"), strings.HasSuffix(name, ".jpg"):
		return time.Hour
	}
	return 0
}

func (c *hotCache) get(key string) (hotEntry, bool) {
	if c == nil {
		return hotEntry{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return hotEntry{}, false
	}
	e := el.Value.(*hotEntry)
	if time.Now().After(e.until) {
		c.remove(el)
		return hotEntry{}, false
	}
	c.ll.MoveToFront(el)
	return *e, true
}

func (c *hotCache) put(key string, body []byte, obj storage.Object, ttl time.Duration) {
	if c == nil || len(body) > hotMaxObject || len(body) > c.max/8 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.remove(el)
	}
	c.items[key] = c.ll.PushFront(&hotEntry{key: key, body: body, obj: obj, until: time.Now().Add(ttl)})
	c.size += len(body)
	for c.size > c.max {
		c.remove(c.ll.Back())
	}
}

func (c *hotCache) remove(el *list.Element) {
	e := c.ll.Remove(el).(*hotEntry)
	delete(c.items, e.key)
	c.size -= len(e.body)
}
