package calendar

import (
	"container/list"
	"strconv"
	"sync"

	"github.com/salonhq/salon/calendar/ical"
)

// parseCache keeps recently parsed objects, keyed by calendar, name and
// ETag, so that month views and syncs do not parse the same bytes again. A
// parsed ical.Object is never modified, so one can be shared by concurrent
// requests. An ETag changes with every write, so an entry is never stale;
// old ones simply age out.
type parseCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // front: most recently used
	items map[string]*list.Element
}

type parseEntry struct {
	key string
	obj *ical.Object
}

func newParseCache(max int) *parseCache {
	return &parseCache{max: max, order: list.New(), items: make(map[string]*list.Element, max)}
}

func cacheKey(o *Object) string {
	return strconv.FormatInt(o.CalendarID, 10) + "/" + o.Name + "/" + o.ETag
}

// parse returns the parsed form of o, from the cache when it is there.
func (c *parseCache) parse(o *Object) (*ical.Object, error) {
	if c == nil || c.max <= 0 || o.ETag == "" {
		return ical.Parse(o.Data)
	}
	key := cacheKey(o)
	c.mu.Lock()
	if e, ok := c.items[key]; ok {
		c.order.MoveToFront(e)
		obj := e.Value.(*parseEntry).obj
		c.mu.Unlock()
		return obj, nil
	}
	c.mu.Unlock()

	obj, err := ical.Parse(o.Data)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[key]; !ok {
		c.items[key] = c.order.PushFront(&parseEntry{key: key, obj: obj})
		for c.order.Len() > c.max {
			last := c.order.Back()
			c.order.Remove(last)
			delete(c.items, last.Value.(*parseEntry).key)
		}
	}
	return obj, nil
}
