package calendar

import (
	"bytes"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/salonhq/salon/calendar/ical"
)

func itoa(n int) string { return strconv.Itoa(n) }

// get answers GET and HEAD. An object comes back byte for byte as stored.
func (h *Handler) get(w http.ResponseWriter, r *request) error {
	if r.target.kind != kindObject {
		return h.getCollection(w, r)
	}
	res, err := h.resourceOf(r)
	if err != nil {
		return err
	}
	o := res.obj
	hd := w.Header()
	hd.Set("ETag", o.ETag)
	if o.ScheduleTag != "" {
		// RFC 6638 §8.2: what an attendee sends back in If-Schedule-Tag-Match.
		hd.Set("Schedule-Tag", o.ScheduleTag)
	}
	if !o.Modified.IsZero() {
		hd.Set("Last-Modified", httpTime(o.Modified))
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagListed(inm, o.ETag, true) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	if im := r.Header.Get("If-Match"); im != "" && !etagListed(im, o.ETag, false) {
		hd.Del("ETag")
		return errStatus(http.StatusPreconditionFailed, "If-Match does not match the current ETag")
	}
	hd.Set("Content-Type", "text/calendar; charset=utf-8")
	hd.Set("Content-Length", itoa(len(o.Data)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(o.Data)
	}
	return nil
}

// normalizeETag quotes an entity tag sent without quotes, as some clients
// do after unquoting the one they received.
func normalizeETag(t string) string {
	t = strings.TrimSpace(t)
	if t == "*" || strings.HasPrefix(t, `"`) || strings.HasPrefix(t, "W/") {
		return t
	}
	return strconv.Quote(t)
}

// etagListed reports whether etag is in the If-Match / If-None-Match list
// header; weak compares as RFC 9110 §8.8.3.2 does for If-None-Match.
func etagListed(header, etag string, weak bool) bool {
	for _, t := range strings.Split(header, ",") {
		t = normalizeETag(t)
		if weak {
			t = strings.TrimPrefix(t, "W/")
		}
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// precondition turns If-Match, If-None-Match and If-Schedule-Tag-Match
// into what the store checks atomically. Lists and If-Match: * are
// resolved against the current object first, and a schedule tag that
// already differs is refused here with a message saying what changed.
func (h *Handler) precondition(r *request, calID int64, name string) (Precondition, error) {
	var pre Precondition
	im := strings.TrimSpace(r.Header.Get("If-Match"))
	inm := strings.TrimSpace(r.Header.Get("If-None-Match"))
	if inm == "*" {
		pre.IfNoneMatchAny = true
		inm = ""
	}
	if im != "" && !strings.Contains(im, ",") && im != "*" {
		pre.IfMatch = normalizeETag(im)
		im = ""
	}
	if st := strings.TrimSpace(r.Header.Get("If-Schedule-Tag-Match")); st != "" {
		// RFC 6638 §8.3: exactly one tag, as the Schedule-Tag header gave it.
		st = normalizeETag(st)
		if st == "*" || strings.HasPrefix(st, "W/") || strings.Contains(st, ",") {
			return pre, errStatus(http.StatusBadRequest, "If-Schedule-Tag-Match takes one schedule tag, as the Schedule-Tag header of a GET returned it")
		}
		pre.IfScheduleTag = st
	}
	if im == "" && inm == "" && pre.IfScheduleTag == "" {
		return pre, nil
	}
	cur, err := h.store.Object(r.Context(), calID, name)
	if errors.Is(err, ErrNotFound) {
		if im != "" {
			return pre, errStatus(http.StatusPreconditionFailed, "If-Match: the resource does not exist")
		}
		if pre.IfScheduleTag != "" {
			return pre, errStatus(http.StatusPreconditionFailed, "If-Schedule-Tag-Match: the resource does not exist")
		}
		return pre, nil
	}
	if err != nil {
		return pre, err
	}
	if pre.IfScheduleTag != "" && pre.IfScheduleTag != cur.ScheduleTag {
		return pre, errStatus(http.StatusPreconditionFailed,
			"If-Schedule-Tag-Match: the organizer changed this event since you read it; fetch it again, reapply your change and retry")
	}
	if im != "" && !etagListed(im, cur.ETag, false) || inm != "" && etagListed(inm, cur.ETag, true) {
		return pre, errStatus(http.StatusPreconditionFailed, "the resource's ETag does not satisfy If-Match or If-None-Match")
	}
	// A schedule tag alone lets an attendee write over changes that only
	// touched replies (RFC 6638 §3.2.10), so it does not pin the ETag.
	if (im != "" || inm != "") && pre.IfMatch == "" && !pre.IfNoneMatchAny {
		pre.IfMatch = cur.ETag
	}
	return pre, nil
}

var errCalendarMissing = errStatus(http.StatusConflict, "the calendar does not exist; create it with MKCALENDAR first")

// put answers PUT of a calendar object resource (RFC 4791 §5.3.2).
func (h *Handler) put(w http.ResponseWriter, r *request) error {
	if r.target.kind != kindObject {
		w.Header().Set("Allow", allow(r.target.kind))
		return errStatus(http.StatusMethodNotAllowed, "PUT stores calendar objects: use a URL inside a calendar, such as "+h.hrefs.home(r.user.Name)+"{calendar}/{uid}.ics")
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !strings.EqualFold(mt, "text/calendar") {
			return errCond(http.StatusUnsupportedMediaType, nsCalDAV, "supported-calendar-data", "calendar objects are stored as text/calendar (iCalendar 2.0), not "+ct)
		}
	}
	c, err := h.calendarOf(r)
	if errors.Is(err, ErrNotFound) {
		return errCalendarMissing
	}
	if err != nil {
		return err
	}
	data, err := h.readBody(w, r)
	if err != nil {
		return err
	}
	if int64(len(data)) > h.cfg.MaxResourceSize {
		return errCond(http.StatusForbidden, nsCalDAV, "max-resource-size",
			"the object is "+itoa(len(data))+" bytes; this server stores at most "+strconv.FormatInt(h.cfg.MaxResourceSize, 10))
	}
	parsed, err := ical.Parse(data)
	if err != nil {
		return err
	}
	if !slices.Contains(componentsOf(&c), parsed.Component) {
		return errCond(http.StatusForbidden, nsCalDAV, "supported-calendar-component",
			"this calendar holds "+strings.Join(componentsOf(&c), ", ")+", not "+parsed.Component)
	}
	pre, err := h.precondition(r, c.ID, r.target.object)
	if err != nil {
		return err
	}
	o := &Object{
		CalendarID: c.ID,
		Name:       r.target.object,
		UID:        parsed.UID,
		Component:  parsed.Component,
		Data:       data,
		Size:       len(data),
		Start:      parsed.Start,
		End:        parsed.End,
		Modified:   h.now().UTC(),
	}
	var (
		etag    string
		created bool
		handled bool
	)
	if h.sched != nil {
		var res Write
		handled, res, err = h.sched.Put(r.Context(), r.user, &c, o, parsed, pre)
		if err != nil {
			return h.uidConflict(&c, err)
		}
		etag, created = res.ETag, res.Created
	}
	if !handled {
		if etag, created, err = h.store.PutObject(r.Context(), o, pre); err != nil {
			return h.uidConflict(&c, err)
		}
	}
	// RFC 4791 §5.3.4: an ETag only when the stored data is what the client
	// sent; a server that changes the object leaves it out.
	if bytes.Equal(o.Data, data) {
		w.Header().Set("ETag", etag)
	}
	if o.ScheduleTag != "" {
		w.Header().Set("Schedule-Tag", o.ScheduleTag)
	}
	if created {
		w.Header().Set("Location", h.hrefs.object(c.Owner, c.Name, o.Name))
		w.WriteHeader(http.StatusCreated)
	} else {
		w.WriteHeader(http.StatusNoContent)
	}
	return nil
}

// uidConflict adds the href of the object that holds the UID to a
// no-uid-conflict refusal (RFC 4791 §5.3.2.1).
func (h *Handler) uidConflict(c *Calendar, err error) error {
	var uc *UIDConflictError
	if !errors.As(err, &uc) {
		return err
	}
	de := toDAVError(err)
	de.Href = h.hrefs.object(c.Owner, c.Name, uc.Name)
	return de
}

// copyMove answers COPY and MOVE of an object between the user's own
// calendars (RFC 4918 §9.8, §9.9; RFC 4791 §5.3.2.1 preconditions).
func (h *Handler) copyMove(w http.ResponseWriter, r *request) error {
	if r.target.kind != kindObject {
		w.Header().Set("Allow", allow(r.target.kind))
		return errStatus(http.StatusMethodNotAllowed, r.Method+" moves calendar objects, not collections")
	}
	dt, err := h.destination(r)
	if err != nil {
		return err
	}
	overwrite := true
	switch strings.ToUpper(strings.TrimSpace(r.Header.Get("Overwrite"))) {
	case "", "T":
	case "F":
		overwrite = false
	default:
		return errStatus(http.StatusBadRequest, "Overwrite must be T or F")
	}
	src, err := h.resourceOf(r)
	if err != nil {
		return err
	}
	dc, err := h.store.Calendar(r.Context(), dt.user, dt.calendar)
	if errors.Is(err, ErrNotFound) {
		return errCalendarMissing
	}
	if err != nil {
		return err
	}
	if !slices.Contains(componentsOf(&dc), src.obj.Component) {
		return errCond(http.StatusForbidden, nsCalDAV, "supported-calendar-component",
			"the destination calendar holds "+strings.Join(componentsOf(&dc), ", ")+", not "+src.obj.Component)
	}
	o := *src.obj
	o.CalendarID, o.Name, o.Modified = dc.ID, dt.object, h.now().UTC()
	pre := Precondition{IfNoneMatchAny: !overwrite}
	sameCalendar := dc.ID == src.cal.ID
	move := r.Method == "MOVE"

	var created bool
	if move && sameCalendar {
		// A rename: the UID moves with the object, so the source goes
		// first and comes back if the destination cannot be written.
		if !overwrite {
			if _, err := h.store.Object(r.Context(), dc.ID, dt.object); err == nil {
				return errStatus(http.StatusPreconditionFailed, "the destination exists and Overwrite is F")
			} else if !errors.Is(err, ErrNotFound) {
				return err
			}
		}
		if err := h.store.DeleteObject(r.Context(), src.cal.ID, src.obj.Name, Precondition{IfMatch: src.obj.ETag}); err != nil {
			return err
		}
		if _, created, err = h.store.PutObject(r.Context(), &o, pre); err != nil {
			restore := *src.obj
			if _, _, rerr := h.store.PutObject(r.Context(), &restore, Precondition{IfNoneMatchAny: true}); rerr != nil {
				r.log.ErrorContext(r.Context(), "MOVE failed and the source could not be restored", "object", src.href, "err", rerr)
			}
			return h.uidConflict(&dc, err)
		}
	} else {
		if _, created, err = h.store.PutObject(r.Context(), &o, pre); err != nil {
			return h.uidConflict(&dc, err)
		}
		if move {
			if err := h.store.DeleteObject(r.Context(), src.cal.ID, src.obj.Name, Precondition{IfMatch: src.obj.ETag}); err != nil {
				r.log.WarnContext(r.Context(), "MOVE copied the object but could not delete the source", "object", src.href, "err", err)
				return err
			}
		}
	}
	if created {
		w.Header().Set("Location", h.hrefs.object(dc.Owner, dc.Name, dt.object))
		w.WriteHeader(http.StatusCreated)
	} else {
		w.WriteHeader(http.StatusNoContent)
	}
	return nil
}

// destination reads the Destination header of COPY and MOVE: an object
// URL in one of the user's own calendars on this server.
func (h *Handler) destination(r *request) (target, error) {
	raw := r.Header.Get("Destination")
	if raw == "" {
		return target{}, errStatus(http.StatusBadRequest, "the Destination header is missing")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return target{}, errStatus(http.StatusBadRequest, "the Destination header is not a URL")
	}
	if u.Host != "" && !strings.EqualFold(u.Host, r.Host) {
		return target{}, errStatus(http.StatusBadGateway, "the Destination is on another server")
	}
	dt, err := parseHref(h.cfg.Prefix, raw)
	if errors.Is(err, errNoResource) || err == nil && dt.kind != kindObject {
		return target{}, errStatus(http.StatusConflict, "the Destination must be an object URL inside one of your calendars")
	}
	if err != nil {
		return target{}, err
	}
	if dt.user != r.user.Name {
		if err := h.checkAccess(r.Context(), r.user, dt); err != nil {
			return target{}, err
		}
	}
	if dt == r.target {
		return target{}, errStatus(http.StatusForbidden, "the Destination is the source itself")
	}
	return dt, nil
}
