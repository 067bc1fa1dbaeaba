package calendar

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/salonhq/salon/calendar/ical"
)

// queryResult is the answer to one calendar-query on one calendar, kept
// with the sync token it reflects. When the same query comes again, only
// the objects changed since that token (from the store's change log) are
// matched and rendered again: a month view asked again costs a few rows,
// not the month.
type queryResult struct {
	mu    sync.Mutex // held while brought up to date: one refresh at a time
	ready bool
	token int64
	parts map[string]string // object name → its DAV:response, matching objects only
}

// collectionQuery answers job over the whole calendar c, from the query
// cache when it can.
func (h *Handler) collectionQuery(r *request, c *Calendar, job *queryJob) ([]string, error) {
	comp, start, end := narrowing(job.filter)
	if h.queries == nil {
		candidates, err := h.rangeWithData(r, c.ID, comp, start, end, job.fingerprint)
		if err != nil {
			return nil, err
		}
		return h.matchAll(r, c, candidates, job)
	}
	key := strconv.FormatInt(c.ID, 10) + "|" + job.fingerprint + "|" + filterFingerprint(job.filter)
	qr, ok := h.queries.get(key)
	if !ok {
		qr = &queryResult{}
		h.queries.put(key, qr)
	}
	qr.mu.Lock()
	defer qr.mu.Unlock()
	if qr.ready && qr.token != c.SyncToken && !h.applyChanges(r, c, qr, job, comp, start, end) {
		qr.ready = false // answer afresh below
	}
	if !qr.ready {
		// c was read before the objects, so changes made meanwhile are
		// applied again next time, which is harmless.
		candidates, err := h.rangeWithData(r, c.ID, comp, start, end, job.fingerprint)
		if err != nil {
			return nil, err
		}
		parts, err := h.matchEach(r, c, candidates, job)
		if err != nil {
			return nil, err
		}
		qr.parts = make(map[string]string, len(candidates))
		for i, p := range parts {
			if p != "" {
				qr.parts[candidates[i].Name] = p
			}
		}
		qr.token, qr.ready = c.SyncToken, true
	}
	names := make([]string, 0, len(qr.parts))
	for n := range qr.parts {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = qr.parts[n]
	}
	if len(qr.parts) > maxCachedAnswer {
		// Whole-calendar queries are answered each time rather than kept:
		// the cache holds views, not copies of calendars.
		qr.parts, qr.ready = nil, false
	}
	return out, nil
}

// maxCachedAnswer bounds the objects of one kept answer (a busy month has
// a few hundred), so that the cache of 128 answers stays small.
const maxCachedAnswer = 1000

// applyChanges brings qr up to c's token from the change log. It reports
// false when qr must be computed afresh instead: the log no longer reaches
// back, the calendar's own properties changed (they decide floating
// times), or the store failed.
func (h *Handler) applyChanges(r *request, c *Calendar, qr *queryResult, job *queryJob, comp string, start, end time.Time) bool {
	changes, current, err := h.store.Changes(r.Context(), c.ID, qr.token)
	if err != nil {
		return false
	}
	var names []string
	for _, ch := range changes {
		if ch.Name == "" {
			return false
		}
		delete(qr.parts, ch.Name)
		if !ch.Deleted {
			names = append(names, ch.Name)
		}
	}
	if len(names) > 0 {
		objs, err := h.store.Objects(r.Context(), c.ID, names)
		if err != nil {
			return false
		}
		var candidates []Object
		for _, o := range objs {
			if overlaps(&o, comp, start, end) {
				candidates = append(candidates, o)
			}
		}
		parts, err := h.matchEach(r, c, candidates, job)
		if err != nil {
			return false
		}
		for i, p := range parts {
			if p != "" {
				qr.parts[candidates[i].Name] = p
			}
		}
	}
	qr.token = current
	return true
}

// overlaps is Store.ObjectsInRange's test for one object.
func overlaps(o *Object, comp string, start, end time.Time) bool {
	if comp != "" && o.Component != comp {
		return false
	}
	if !end.IsZero() && !o.Start.Before(end) {
		return false
	}
	return start.IsZero() || o.End.IsZero() || o.End.After(start) || o.Start.Equal(start)
}

// filterFingerprint identifies a filter for the query cache.
func filterFingerprint(f ical.CompFilter) string {
	b, _ := json.Marshal(f)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}
