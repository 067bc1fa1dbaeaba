package calendar

import (
	"container/list"
	"strconv"
	"sync"

	"github.com/salonhq/salon/calendar/ical"
)

// lru is a small least-recently-used cache bounded by a cost (entries or
// bytes). Values must not be modified once stored: they are shared.
type lru[V any] struct {
	mu      sync.Mutex
	maxCost int
	cost    int
	costOf  func(V) int
	order   *list.List // front: most recently used
	items   map[string]*list.Element
}

type lruEntry[V any] struct {
	key  string
	val  V
	cost int
}

func newLRU[V any](maxCost int, costOf func(V) int) *lru[V] {
	return &lru[V]{maxCost: maxCost, costOf: costOf, order: list.New(), items: map[string]*list.Element{}}
}

func (c *lru[V]) get(key string) (V, bool) {
	var zero V
	if c == nil {
		return zero, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[key]
	if !ok {
		return zero, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*lruEntry[V]).val, true
}

func (c *lru[V]) put(key string, v V) {
	if c == nil {
		return
	}
	cost := c.costOf(v)
	if cost > c.maxCost/8 {
		return // one entry may not push out much of the rest
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[key]; ok {
		return
	}
	c.items[key] = c.order.PushFront(&lruEntry[V]{key: key, val: v, cost: cost})
	c.cost += cost
	for c.cost > c.maxCost {
		last := c.order.Back()
		ent := last.Value.(*lruEntry[V])
		c.order.Remove(last)
		delete(c.items, ent.key)
		c.cost -= ent.cost
	}
}

// objectKey names one version of one object: an ETag changes with every
// write, so an entry under it is never stale, and old ones age out.
func objectKey(o *Object) string {
	return strconv.FormatInt(o.CalendarID, 10) + "/" + o.Name + "/" + o.ETag
}

// parseCache keeps recently parsed objects so that month views and syncs
// do not parse the same bytes again. A parsed ical.Object is never
// modified, so concurrent requests share it.
type parseCache struct{ *lru[*ical.Object] }

func newParseCache(max int) *parseCache {
	return &parseCache{newLRU(max, func(*ical.Object) int { return 1 })}
}

// parse returns the parsed form of o, from the cache when it is there.
func (c *parseCache) parse(o *Object) (*ical.Object, error) {
	if c == nil || o.ETag == "" {
		return ical.Parse(o.Data)
	}
	key := objectKey(o)
	if obj, ok := c.get(key); ok {
		return obj, nil
	}
	obj, err := ical.Parse(o.Data)
	if err != nil {
		return nil, err
	}
	c.put(key, obj)
	return obj, nil
}
