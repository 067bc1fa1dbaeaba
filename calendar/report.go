package calendar

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/salonhq/salon/calendar/ical"
)

// REPORT (RFC 3253 §3.6) with the reports of RFC 4791 §7, RFC 6578 §3,
// RFC 3253 §3.8 and RFC 3744 §9.

func (h *Handler) report(w http.ResponseWriter, r *request) error {
	root, err := h.readXML(w, r)
	if err != nil {
		return err
	}
	if root == nil {
		return errStatus(http.StatusBadRequest, "REPORT needs an XML body naming the report")
	}
	k := r.target.kind
	// The inbox answers the reports a client syncs a calendar with
	// (RFC 6638 §2.2); free-busy is asked of calendars only.
	inCalendar := k == kindCalendar || k == kindObject || k == kindInbox
	if k == kindInbox {
		if _, err := ensureInbox(r.Context(), h.store, r.target.user); err != nil {
			return err
		}
	}
	switch {
	case root.is(nsCalDAV, "calendar-multiget") && inCalendar:
		return h.multiget(w, r, root)
	case root.is(nsCalDAV, "calendar-query") && inCalendar:
		return h.calendarQuery(w, r, root)
	case root.is(nsCalDAV, "free-busy-query") && k == kindCalendar:
		return h.freeBusyQuery(w, r, root)
	case root.is(nsDAV, "sync-collection") && (k == kindCalendar || k == kindInbox):
		return h.syncCollection(w, r, root)
	case root.is(nsDAV, "expand-property"):
		return h.expandProperty(w, r, root)
	case root.is(nsDAV, "principal-property-search"):
		return h.principalPropertySearch(w, r, root)
	case root.is(nsDAV, "principal-search-property-set"):
		return h.principalSearchPropertySet(w)
	}
	return errCond(http.StatusForbidden, nsDAV, "supported-report",
		"report "+root.Name.Local+" is not supported on this resource; see DAV:supported-report-set")
}

// reportProps reads the (allprop | propname | prop) of a report body;
// without one, a report returns the ETag.
func reportProps(root *node) (props []propReq, names bool, err error) {
	switch {
	case root.Child(nsDAV, "prop") != nil:
		props, err = parsePropList(root.Child(nsDAV, "prop"))
		return props, false, err
	case root.Child(nsDAV, "propname") != nil:
		return nil, true, nil
	case root.Child(nsDAV, "allprop") != nil:
		return nil, false, nil
	}
	return []propReq{{name: pGetETag}}, false, nil
}

func describeIn(ms *multistatus, pc *propCtx, res *resource, props []propReq, names bool) {
	switch {
	case names:
		ms.describe(pc, res, namesOf(allNames(res, false)), true)
	case props == nil:
		ms.describe(pc, res, namesOf(allNames(res, true)), false)
	default:
		ms.describe(pc, res, props, false)
	}
}

// multiget answers CALDAV:calendar-multiget (RFC 4791 §7.9).
func (h *Handler) multiget(w http.ResponseWriter, r *request, root *node) error {
	props, names, err := reportProps(root)
	if err != nil {
		return err
	}
	c, err := h.calendarOf(r)
	if err != nil {
		return err
	}
	type wanted struct {
		href   string
		name   string
		status int
	}
	var (
		list  []wanted
		load  []string
		added = map[string]bool{}
	)
	for _, hn := range root.Children {
		if !hn.is(nsDAV, "href") {
			continue
		}
		raw := hn.Text()
		t, err := parseHref(h.cfg.Prefix, raw)
		switch {
		case err != nil:
			list = append(list, wanted{href: raw, status: toDAVError(err).Status})
		case t.kind != kindObject || t.user != c.Owner || t.calendar != c.Name:
			status := http.StatusNotFound
			if t.user != "" && t.user != r.user.Name {
				status = http.StatusForbidden
			}
			list = append(list, wanted{href: h.hrefs.of(t), status: status})
		default:
			list = append(list, wanted{href: h.hrefs.of(t), name: t.object})
			if !added[t.object] {
				added[t.object] = true
				load = append(load, t.object)
			}
		}
	}
	if len(list) == 0 {
		return errStatus(http.StatusBadRequest, "calendar-multiget needs at least one DAV:href")
	}
	found := make(map[string]*Object, len(load))
	for start := 0; start < len(load); start += objectBatch {
		objs, err := h.store.Objects(r.Context(), c.ID, load[start:min(start+objectBatch, len(load))])
		if err != nil {
			return err
		}
		for i := range objs {
			found[objs[i].Name] = &objs[i]
		}
	}
	pc := h.newPropCtx(r)
	ms := newMultistatus()
	for _, wt := range list {
		o := found[wt.name]
		if wt.name == "" || o == nil {
			status := wt.status
			if status == 0 {
				status = http.StatusNotFound
			}
			ms.status(wt.href, status)
			continue
		}
		res := &resource{kind: kindObject, href: wt.href, user: r.user, cal: &c, obj: o, info: infoOf(o)}
		describeIn(ms, pc, res, props, names)
	}
	ms.write(w)
	return nil
}

// calendarQuery answers CALDAV:calendar-query (RFC 4791 §7.8). The store
// narrows by the outermost time-range; calendar/ical decides each object.
func (h *Handler) calendarQuery(w http.ResponseWriter, r *request, root *node) error {
	props, names, err := reportProps(root)
	if err != nil {
		return err
	}
	fn := root.Child(nsCalDAV, "filter")
	if fn == nil {
		return invalidFilter("calendar-query needs a CALDAV:filter")
	}
	filter, err := parseFilter(fn)
	if err != nil {
		return err
	}
	c, err := h.calendarOf(r)
	if err != nil {
		return err
	}
	pc := h.newPropCtx(r)
	floating := pc.floating(&c)
	if tzn := root.Child(nsCalDAV, "timezone"); tzn != nil {
		floating = floatingZone(tzn.Text())
	}

	job := &queryJob{filter: filter, floating: floating, props: props, names: names,
		fingerprint: requestFingerprint(props, names, floating)}
	if r.target.kind == kindObject {
		o, err := h.store.Object(r.Context(), c.ID, r.target.object)
		if err != nil {
			return err
		}
		parts, err := h.matchAll(r, &c, []Object{o}, job)
		if err != nil {
			return err
		}
		writeParts(w, parts)
		return nil
	}
	parts, err := h.collectionQuery(r, &c, job)
	if err != nil {
		return err
	}
	writeParts(w, parts)
	return nil
}

// queryJob is one calendar-query: what to match and what to answer.
type queryJob struct {
	filter      ical.CompFilter
	floating    *time.Location
	props       []propReq
	names       bool
	fingerprint string // requestFingerprint of props, names and floating
}

// writeParts writes a multistatus of the given responses.
func writeParts(w http.ResponseWriter, parts []string) {
	ms := newMultistatus()
	for _, p := range parts {
		ms.b.WriteString(p)
	}
	ms.write(w)
}

// matchAll answers job for each candidate, in name order; objects that do
// not match are left out.
func (h *Handler) matchAll(r *request, c *Calendar, candidates []Object, job *queryJob) ([]string, error) {
	sort.Slice(candidates, func(i, j int) bool { return candidates[i].Name < candidates[j].Name })
	parts, err := h.matchEach(r, c, candidates, job)
	if err != nil {
		return nil, err
	}
	out := parts[:0]
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return out, nil
}

// matchEach answers job for each candidate: parts[i] is candidate i's
// DAV:response, or "" when it does not match.
func (h *Handler) matchEach(r *request, c *Calendar, candidates []Object, job *queryJob) ([]string, error) {
	// Matching and rendering are independent per object: spread them over
	// the cores, keep the answer in name order.
	parts := make([]string, len(candidates))
	var (
		next      atomic.Int64
		collation atomic.Pointer[error]
		wg        sync.WaitGroup
	)
	workers := min(runtime.GOMAXPROCS(0), 1+len(candidates)/32)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wpc := h.newPropCtx(r)
			for i := int(next.Add(1) - 1); i < len(candidates); i = int(next.Add(1) - 1) {
				part, err := h.objectPart(r, wpc, c, &candidates[i], job)
				if err != nil {
					collation.Store(&err)
					return
				}
				parts[i] = part
			}
		}()
	}
	wg.Wait()
	if err := collation.Load(); err != nil {
		return nil, errCond(http.StatusForbidden, nsCalDAV, "supported-collation", (*err).Error())
	}
	return parts, nil
}

// objectPart returns o's DAV:response to job, or "" when o does not match.
// The only error is ical.ErrUnsupportedCollation; other problems leave the
// object out and are logged.
func (h *Handler) objectPart(r *request, wpc *propCtx, c *Calendar, o *Object, job *queryJob) (string, error) {
	// An object without data is one rangeWithData found in the caches;
	// they may have dropped it since, and then it is loaded after all.
	var parsed *ical.Object
	if o.Data == nil {
		if p, ok := h.parsed.get(objectKey(o)); ok {
			parsed = p
		} else if !h.load(r, c, o) {
			return "", nil
		}
	}
	if parsed == nil {
		var err error
		if parsed, err = h.parseStored(c, o); err != nil {
			r.log.WarnContext(r.Context(), "stored object does not parse; left out of calendar-query", "object", o.Name, "err", err)
			return "", nil
		}
	}
	ok, err := ical.Match(parsed, job.filter, job.floating)
	if errors.Is(err, ical.ErrUnsupportedCollation) {
		return "", err
	}
	if err != nil {
		r.log.WarnContext(r.Context(), "cannot evaluate filter; object left out", "object", o.Name, "err", err)
		return "", nil
	}
	if !ok {
		return "", nil
	}
	// The response for one version of an object to one kind of request
	// never changes, so month views that come back reuse it.
	key := objectKey(o) + "|" + job.fingerprint
	if frag, ok := h.fragments.get(key); ok {
		return frag, nil
	}
	if o.Data == nil {
		etag := o.ETag
		if !h.load(r, c, o) {
			return "", nil
		}
		if o.ETag != etag {
			// Written meanwhile: describe, and cache, the version just read.
			parsed = nil
			key = objectKey(o) + "|" + job.fingerprint
		}
	}
	res := &resource{kind: kindObject, href: h.hrefs.object(c.Owner, c.Name, o.Name), user: r.user, cal: c, obj: o, info: infoOf(o), parsed: parsed}
	part := &multistatus{}
	describeIn(part, wpc, res, job.props, job.names)
	frag := part.b.String()
	h.fragments.put(key, frag)
	return frag, nil
}

// narrowing picks what the store can pre-select for filter: the component
// type and time range of the one component filter below VCALENDAR.
func narrowing(f ical.CompFilter) (comp string, start, end time.Time) {
	if len(f.Comps) != 1 || f.Comps[0].IsNotDefined {
		return "", time.Time{}, time.Time{}
	}
	cf := f.Comps[0]
	switch cf.Name {
	case "VEVENT", "VTODO", "VJOURNAL":
		comp = cf.Name
	default:
		return "", time.Time{}, time.Time{}
	}
	if cf.TimeRange != nil {
		start, end = cf.TimeRange.Start, cf.TimeRange.End
	}
	return comp, start, end
}

// freeBusyQuery answers CALDAV:free-busy-query (RFC 4791 §7.10) with a
// VFREEBUSY over the calendar's objects.
func (h *Handler) freeBusyQuery(w http.ResponseWriter, r *request, root *node) error {
	tn := root.Child(nsCalDAV, "time-range")
	if tn == nil {
		return invalidFilter("free-busy-query needs a CALDAV:time-range with start and end")
	}
	tr, err := parseTimeRange(tn, true)
	if err != nil {
		return err
	}
	c, err := h.calendarOf(r)
	if err != nil {
		return err
	}
	objs, err := h.store.ObjectsInRange(r.Context(), c.ID, "", tr.Start, tr.End)
	if err != nil {
		return err
	}
	parsed := make([]*ical.Object, 0, len(objs))
	for i := range objs {
		o, err := h.parsed.parse(&objs[i])
		if err != nil {
			r.log.WarnContext(r.Context(), "stored object does not parse; left out of free-busy", "object", objs[i].Name, "err", err)
			continue
		}
		parsed = append(parsed, o)
	}
	pc := h.newPropCtx(r)
	periods := ical.FreeBusy(parsed, *tr, pc.floating(&c))
	body := ical.FreeBusyCalendar(periods, *tr, h.now())
	w.Header().Set("Content-Type", "text/calendar; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	return nil
}

// requestFingerprint identifies what a REPORT asks of each object (which
// properties, which part of the calendar data, in which floating zone), so
// that cached responses are only reused for the same question.
func requestFingerprint(props []propReq, names bool, floating *time.Location) string {
	var b strings.Builder
	fmt.Fprintf(&b, "names=%t;tz=%s", names, floating)
	for _, p := range props {
		b.WriteString(";" + p.name.Space + " " + p.name.Local)
		if p.data != nil {
			d, _ := json.Marshal(*p.data)
			b.Write(d)
		}
	}
	// A digest keeps the cache keys short: they are hashed and compared
	// for every object of every query.
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:16])
}

// load reads o's data, after the caches lost it; false means it is gone.
func (h *Handler) load(r *request, c *Calendar, o *Object) bool {
	full, err := h.store.Object(r.Context(), c.ID, o.Name)
	if err != nil {
		r.log.WarnContext(r.Context(), "object vanished during calendar-query", "object", o.Name, "err", err)
		return false
	}
	*o = full
	return true
}

// cached reports whether answering fingerprint for o needs nothing but the
// caches: its parsed form and its rendered response.
func (h *Handler) cached(o *Object, fingerprint string) bool {
	if h.fragments == nil {
		return false
	}
	key := objectKey(o)
	if _, ok := h.parsed.get(key); !ok {
		return false
	}
	_, ok := h.fragments.get(key + "|" + fingerprint)
	return ok
}

// rangeWithData returns the objects in the range, reading the data only of
// those the caches cannot answer for: a month view asked again costs an
// index scan, not thousands of rows of iCalendar.
func (h *Handler) rangeWithData(r *request, calendarID int64, comp string, start, end time.Time, fingerprint string) ([]Object, error) {
	if h.fragments == nil {
		return h.store.ObjectsInRange(r.Context(), calendarID, comp, start, end)
	}
	heads, err := h.store.ObjectHeadsInRange(r.Context(), calendarID, comp, start, end)
	if err != nil {
		return nil, err
	}
	var missing []string
	for i := range heads {
		if !h.cached(&heads[i], fingerprint) {
			missing = append(missing, heads[i].Name)
		}
	}
	if len(missing) == 0 {
		return heads, nil
	}
	full, err := h.store.Objects(r.Context(), calendarID, missing)
	if err != nil {
		return nil, err
	}
	byName := make(map[string]*Object, len(full))
	for i := range full {
		byName[full[i].Name] = &full[i]
	}
	for i := range heads {
		if o := byName[heads[i].Name]; o != nil {
			heads[i] = *o // the newest version, even if it changed meanwhile
		}
	}
	return heads, nil
}
