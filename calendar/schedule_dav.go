package calendar

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	goical "github.com/emersion/go-ical"

	"github.com/salonhq/salon/calendar/ical"
	"github.com/salonhq/salon/internal/auth"
)

// The DAV side of CalDAV scheduling (RFC 6638): the scheduling inbox and
// outbox, the properties that lead clients to them, and free-busy requests
// POSTed to the outbox. What an organizer's save does to the attendees
// (implicit scheduling, RFC 6638 §3) is the scheduler's, not this file's.

// defaultCalendarName is the calendar every account starts with.
const defaultCalendarName = "default"

// Limits of one free-busy request.
const (
	// maxFreeBusyAttendees bounds the recipients of one POST; each costs
	// a directory look-up and a scan of that user's calendars.
	maxFreeBusyAttendees = 100
	// maxFreeBusySpan is the longest range answered; a longer request is
	// answered up to it, and the reply's DTEND says where it stopped.
	maxFreeBusySpan = 366 * 24 * time.Hour
)

// errInboxTaken is a calendar named "inbox" made before salon scheduled,
// sitting where the user's scheduling inbox belongs.
var errInboxTaken = &davError{Status: http.StatusConflict,
	Msg: `a calendar named "inbox", made before salon supported scheduling, sits where your scheduling inbox belongs; ask your administrator to rename it`}

// ensureInbox returns owner's scheduling inbox (RFC 6638 §2.2), making it
// on first use. Another request making it at the same moment is no error.
func ensureInbox(ctx context.Context, store Store, owner string) (Calendar, error) {
	c, err := store.Calendar(ctx, owner, InboxName)
	if errors.Is(err, ErrNotFound) {
		c = Calendar{Owner: owner, Name: InboxName, Kind: KindInbox, DisplayName: "Inbox",
			Components: append([]string(nil), defaultComponents...)}
		err = store.CreateCalendar(ctx, &c)
		if errors.Is(err, ErrExists) {
			c, err = store.Calendar(ctx, owner, InboxName)
		}
	}
	if err != nil {
		return Calendar{}, fmt.Errorf("scheduling inbox of %s: %w", owner, err)
	}
	if c.Kind != KindInbox {
		return Calendar{}, fmt.Errorf("scheduling inbox of %s: %w", owner, errInboxTaken)
	}
	return c, nil
}

// defaultCalendarOf returns the calendar scheduling files owner's new
// invitations in (RFC 6638 §9.2): the one named "default" if it holds
// events, else the first ordinary calendar that does, else ErrNotFound.
func defaultCalendarOf(ctx context.Context, store Store, owner string) (Calendar, error) {
	cals, err := store.Calendars(ctx, owner)
	if err != nil {
		return Calendar{}, err
	}
	holdsEvents := func(c *Calendar) bool { return isCalendar(c) && slices.Contains(componentsOf(c), "VEVENT") }
	for i := range cals {
		if cals[i].Name == defaultCalendarName && holdsEvents(&cals[i]) {
			return cals[i], nil
		}
	}
	for i := range cals {
		if holdsEvents(&cals[i]) {
			return cals[i], nil
		}
	}
	return Calendar{}, ErrNotFound
}

// isCalendar reports whether c is one of its owner's calendars, as opposed
// to the scheduling inbox; only calendars are listed as calendars and count
// for free-busy.
func isCalendar(c *Calendar) bool {
	return c.Kind == KindCalendar && !reservedName(c.Name)
}

func reservedName(name string) bool { return name == InboxName || name == OutboxName }

// schedule-calendar-transp values (RFC 6638 §9.1), as kept among a
// calendar's dead properties and written back; opaque is the default.
const (
	transpOpaque      = `<C:opaque xmlns:C="urn:ietf:params:xml:ns:caldav"/>`
	transpTransparent = `<C:transparent xmlns:C="urn:ietf:params:xml:ns:caldav"/>`
)

// isTransparent reports whether c's events leave its owner free
// (RFC 6638 §9.1).
func isTransparent(c *Calendar) bool {
	return c.DeadProps[propKey(pScheduleTransp)] == transpTransparent
}

// setScheduleTransp applies a PROPPATCH or MKCALENDAR of
// schedule-calendar-transp.
func setScheduleTransp(c *Calendar, op propOp) *davError {
	key := propKey(pScheduleTransp)
	if op.remove {
		delete(c.DeadProps, key)
		return nil
	}
	var v string
	for _, n := range op.prop.Children {
		switch {
		case v != "":
			v = "?"
		case n.is(nsCalDAV, "opaque"):
			v = transpOpaque
		case n.is(nsCalDAV, "transparent"):
			v = transpTransparent
		default:
			v = "?"
		}
	}
	if v == "" || v == "?" {
		return errStatus(http.StatusConflict, "schedule-calendar-transp holds one element, CALDAV:opaque (events make you busy) or CALDAV:transparent (they do not)")
	}
	if v == transpOpaque {
		delete(c.DeadProps, key)
		return nil
	}
	if c.DeadProps == nil {
		c.DeadProps = map[string]string{}
	}
	c.DeadProps[key] = v
	return nil
}

// inboxValue returns a property of the scheduling inbox.
func (pc *propCtx) inboxValue(res *resource, n xml.Name) (string, bool) {
	c := res.cal
	switch n {
	case pDisplayName:
		return escapeText(c.DisplayName), c.DisplayName != ""
	case pCTag, pSyncToken:
		return escapeText(syncToken(c)), true
	case pComponentSet:
		var b strings.Builder
		for _, comp := range componentsOf(c) {
			b.WriteString(`<C:comp name="` + escapeAttr(comp) + `"/>`)
		}
		return b.String(), true
	case pScheduleDefault:
		// RFC 6638 §9.2: empty when the owner has no calendar for events.
		def, err := defaultCalendarOf(pc.r.Context(), pc.h.store, res.user.Name)
		switch {
		case errors.Is(err, ErrNotFound):
			return "", true
		case err != nil:
			pc.r.log.WarnContext(pc.r.Context(), "cannot find the default calendar", "err", err)
			return "", false
		}
		return hrefElem(pc.h.calendarHref(&def)), true
	}
	return "", false
}

// parseStored parses a stored object as h.parsed.parse does, also the
// messages of a scheduling inbox, which clients query like a calendar's
// objects (RFC 6638 §2.2): they are iTIP messages, whose METHOD a calendar
// object must not have (RFC 4791 §4.1), so they are parsed without it and
// the METHOD put back on the result.
func (h *Handler) parseStored(c *Calendar, o *Object) (*ical.Object, error) {
	if c == nil || c.Kind != KindInbox {
		return h.parsed.parse(o)
	}
	key := objectKey(o)
	if h.parsed != nil {
		if p, ok := h.parsed.get(key); ok {
			return p, nil
		}
	}
	cal, err := ical.Decode(o.Data)
	if err != nil {
		return nil, err
	}
	method := cal.Props.Get(goical.PropMethod)
	cal.Props.Del(goical.PropMethod)
	p, err := ical.Parse(ical.Encode(cal))
	if err != nil {
		return nil, err
	}
	if method != nil {
		p.Cal.Props.Set(method)
	}
	if h.parsed != nil && o.ETag != "" {
		h.parsed.put(key, p)
	}
	return p, nil
}

// serveScheduling answers what the scheduling collections change about a
// request before the generic methods see it; handled false passes it on.
func (h *Handler) serveScheduling(w http.ResponseWriter, r *request) (handled bool, err error) {
	t := r.target
	outbox := h.hrefs.calendar(r.user.Name, OutboxName)
	switch {
	case t.kind == kindInbox || t.kind == kindOutbox:
		switch r.Method {
		case "PROPFIND", "PROPPATCH", "REPORT":
			return false, nil
		case "MKCALENDAR", "MKCOL":
			return true, errStatus(http.StatusForbidden, `"inbox" and "outbox" are reserved for scheduling (RFC 6638 §2); give your calendar another name`)
		case http.MethodDelete:
			return true, errStatus(http.StatusForbidden, "the scheduling inbox and outbox come with your account and cannot be deleted; delete the messages in the inbox instead")
		case http.MethodPost:
			if t.kind == kindOutbox {
				return true, h.outboxPost(w, r)
			}
		case http.MethodGet, http.MethodHead:
			if t.kind == kindInbox {
				return false, nil
			}
		}
		w.Header().Set("Allow", allow(t.kind))
		if t.kind == kindOutbox {
			return true, errStatus(http.StatusMethodNotAllowed, "the outbox keeps nothing: POST free-busy requests (text/calendar, METHOD:REQUEST, VFREEBUSY) to "+outbox)
		}
		return true, errStatus(http.StatusMethodNotAllowed, r.Method+" is not supported on the scheduling inbox")
	case t.kind == kindObject && t.calendar == OutboxName:
		if r.Method == http.MethodPut || r.Method == "COPY" || r.Method == "MOVE" {
			return true, errStatus(http.StatusForbidden, "the outbox keeps nothing: save events in one of your calendars (salon sends the invitations) and POST free-busy requests to "+outbox)
		}
		return true, errNotFound
	case t.kind == kindObject && t.calendar == InboxName && (r.Method == http.MethodPut || r.Method == "COPY" || r.Method == "MOVE"):
		// RFC 6638 §2.2: clients read the inbox, they do not write to it;
		// its messages carry a METHOD, which a calendar object must not.
		return true, errStatus(http.StatusForbidden, "salon delivers invitations and replies to your scheduling inbox, and has already put them in your calendar; clients only read and delete them here. Save events in one of your calendars instead")
	case r.Method == "COPY" || r.Method == "MOVE":
		if dt, err := parseHref(h.cfg.Prefix, r.Header.Get("Destination")); err == nil && reservedName(dt.calendar) {
			return true, errStatus(http.StatusForbidden, "events cannot be copied or moved into the scheduling inbox or outbox; choose one of your calendars")
		}
	}
	return false, nil
}

// freeBusyRequest is a VFREEBUSY request POSTed to the outbox (RFC 6638
// §5, RFC 5546 §3.3.2).
type freeBusyRequest struct {
	uid       *goical.Prop // nil when the request has none
	organizer goical.Prop
	attendees []goical.Prop
	tr        ical.TimeRange
}

// errImplicit refuses iTIP messages other than free-busy requests: salon
// schedules implicitly, from what clients store in their calendars.
var errImplicit = errCond(http.StatusForbidden, nsCalDAV, "valid-scheduling-message",
	"the outbox only answers free-busy requests (METHOD:REQUEST with one VFREEBUSY); salon sends invitations, replies and cancellations itself when you save or delete the event in your calendar (implicit scheduling, RFC 6638 §3)")

// outboxPost answers a free-busy request POSTed to the outbox (RFC 6638
// §5) with one CALDAV:response per attendee (RFC 6638 §10.1).
func (h *Handler) outboxPost(w http.ResponseWriter, r *request) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !strings.EqualFold(mt, "text/calendar") {
			return errCond(http.StatusUnsupportedMediaType, nsCalDAV, "supported-calendar-data", "free-busy requests are text/calendar (iCalendar 2.0), not "+ct)
		}
	}
	data, err := h.readBody(w, r)
	if err != nil {
		return err
	}
	req, err := h.parseFreeBusyRequest(r, data)
	if err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString(xmlHeader + "<C:schedule-response" + nsDecls + ">\n")
	busy := map[string][]ical.Period{} // by user name: one scan per user
	for _, att := range req.attendees {
		u, status, why, err := h.recipient(r, att.Value)
		if err != nil {
			return err
		}
		b.WriteString("<C:response><C:recipient>" + hrefElem(att.Value) + "</C:recipient>")
		b.WriteString("<C:request-status>" + escapeText(status) + "</C:request-status>")
		if u == nil {
			b.WriteString("<D:responsedescription>" + escapeText(why) + "</D:responsedescription></C:response>\n")
			continue
		}
		periods, ok := busy[u.Name]
		if !ok {
			if periods, err = h.busyTime(r, u.Name, req.tr); err != nil {
				return err
			}
			busy[u.Name] = periods
		}
		reply := freeBusyReply(req, att, periods, h.now())
		b.WriteString("<C:calendar-data>" + escapeText(string(reply)) + "</C:calendar-data></C:response>\n")
	}
	b.WriteString("</C:schedule-response>\n")
	r.log.DebugContext(r.Context(), "free-busy request answered", "attendees", len(req.attendees))
	writeXML(w, http.StatusOK, b.String())
	return nil
}

// parseFreeBusyRequest reads and checks a free-busy request: one VFREEBUSY
// with the signed-in user as ORGANIZER, DTSTART, DTEND and the ATTENDEEs
// (RFC 5546 §3.3.2). Repeated attendees are answered once.
func (h *Handler) parseFreeBusyRequest(r *request, data []byte) (*freeBusyRequest, error) {
	cal, err := ical.Decode(data)
	if err != nil {
		msg := err.Error()
		var ie *ical.InvalidError
		if errors.As(err, &ie) {
			msg = ie.Msg
		}
		return nil, errCond(http.StatusBadRequest, nsCalDAV, "valid-calendar-data", "the body is not valid iCalendar: "+msg)
	}
	invalid := func(msg string) error {
		return errCond(http.StatusForbidden, nsCalDAV, "valid-scheduling-message", msg)
	}
	if m := cal.Props.Get(goical.PropMethod); m == nil || !strings.EqualFold(strings.TrimSpace(m.Value), "REQUEST") {
		return nil, errImplicit
	}
	var fb *goical.Component
	for _, c := range cal.Children {
		switch c.Name {
		case goical.CompFreeBusy:
			if fb != nil {
				return nil, invalid("a free-busy request has exactly one VFREEBUSY")
			}
			fb = c
		case goical.CompEvent, goical.CompToDo, goical.CompJournal:
			return nil, errImplicit
		}
	}
	if fb == nil {
		return nil, errImplicit
	}
	req := &freeBusyRequest{uid: fb.Props.Get(goical.PropUID)}

	u := r.user
	orgs := fb.Props.Values(goical.PropOrganizer)
	if len(orgs) != 1 {
		return nil, errCond(http.StatusForbidden, nsCalDAV, "valid-organizer",
			"the VFREEBUSY needs one ORGANIZER: your own calendar user address, "+ownAddressHint(u))
	}
	req.organizer = orgs[0]
	if !h.isOwnAddress(u, req.organizer.Value) {
		return nil, errCond(http.StatusForbidden, nsCalDAV, "organizer-allowed",
			fmt.Sprintf("ORGANIZER %.100q is not one of your calendar user addresses; ask for free-busy time as yourself, %s", req.organizer.Value, ownAddressHint(u)))
	}

	start, err := dateTimeOf(fb, goical.PropDateTimeStart, cal)
	if err != nil {
		return nil, err
	}
	end, err := dateTimeOf(fb, goical.PropDateTimeEnd, cal)
	if err != nil {
		return nil, err
	}
	if !end.After(start) {
		return nil, invalid("DTEND must be after DTSTART")
	}
	if end.Sub(start) > maxFreeBusySpan {
		end = start.Add(maxFreeBusySpan)
	}
	req.tr = ical.TimeRange{Start: start, End: end}

	all := fb.Props.Values(goical.PropAttendee)
	switch {
	case len(all) == 0:
		return nil, invalid("name at least one ATTENDEE whose free-busy time you want")
	case len(all) > maxFreeBusyAttendees:
		return nil, errCond(http.StatusForbidden, nsCalDAV, "max-attendees-per-instance",
			fmt.Sprintf("a free-busy request may name at most %d attendees, not %d; split it", maxFreeBusyAttendees, len(all)))
	}
	seen := map[string]bool{}
	for _, a := range all {
		key := strings.ToLower(strings.TrimSpace(a.Value))
		if !seen[key] {
			seen[key] = true
			req.attendees = append(req.attendees, a)
		}
	}
	return req, nil
}

// dateTimeOf reads the date-time property name of c, in UTC; a TZID is
// resolved as in stored objects, a floating time is taken as UTC.
func dateTimeOf(c *goical.Component, name string, cal *goical.Calendar) (time.Time, error) {
	p := c.Props.Get(name)
	if p == nil {
		return time.Time{}, errCond(http.StatusForbidden, nsCalDAV, "valid-scheduling-message",
			"the VFREEBUSY needs DTSTART and DTEND: the range to report busy time for")
	}
	loc := time.UTC
	if tzid := p.Params.Get(goical.PropTimezoneID); tzid != "" {
		if l := ical.ResolveTZID(tzid, cal); l != nil {
			loc = l
		}
	}
	bare := *p
	bare.Params = goical.Params{}
	if vt := p.Params.Get(goical.ParamValue); vt != "" {
		bare.Params.Set(goical.ParamValue, vt)
	}
	t, err := bare.DateTime(loc)
	if err != nil {
		return time.Time{}, errCond(http.StatusBadRequest, nsCalDAV, "valid-calendar-data",
			fmt.Sprintf("%s %.40q is not an iCalendar date-time such as 20250314T090000Z", name, p.Value))
	}
	return t.UTC(), nil
}

// ownAddressHint names the address a user should send as.
func ownAddressHint(u auth.User) string {
	if u.Email != "" {
		return "mailto:" + u.Email
	}
	return "your principal URL"
}

// isOwnAddress reports whether cua is one of u's calendar user addresses
// (RFC 6638 §2.4.1): their e-mail address or their principal URL.
func (h *Handler) isOwnAddress(u auth.User, cua string) bool {
	if email := address(cua); email != "" {
		return u.Email != "" && strings.EqualFold(email, u.Email)
	}
	t, err := parseHref(h.cfg.Prefix, cua)
	return err == nil && t.kind == kindPrincipal && t.user == u.Name
}

// recipient finds the salon user a free-busy request asks about, or says
// why there is none with an iTIP request status (RFC 5546 §3.6) and a
// message for the client. err is for the directory failing.
func (h *Handler) recipient(r *request, cua string) (u *auth.User, status, why string, err error) {
	const (
		invalidUser = "3.7;Invalid calendar user"
		noSupport   = "5.3;No scheduling support for user"
	)
	var (
		found auth.User
		ferr  = auth.ErrUserNotFound
	)
	email := address(cua)
	t, herr := parseHref(h.cfg.Prefix, cua)
	byName := email == "" && herr == nil && t.kind == kindPrincipal
	switch {
	case h.isOwnAddress(r.user, cua):
		found, ferr = r.user, nil
	case email != "" && h.dir != nil:
		found, ferr = h.dir.UserByEmail(r.Context(), email)
	case byName && h.dir != nil:
		found, ferr = h.dir.UserByName(r.Context(), t.user)
	}
	switch {
	case ferr == nil:
		return &found, "2.0;Success", "", nil
	case !errors.Is(ferr, auth.ErrUserNotFound):
		return nil, "", "", fmt.Errorf("look up free-busy recipient %q: %w", cua, ferr)
	case email != "":
		return nil, noSupport, "no salon user has this address; salon cannot see the calendars of people outside it", nil
	case byName:
		return nil, invalidUser, "no salon user has this principal URL", nil
	}
	return nil, invalidUser, "not a calendar user address salon knows: use mailto: and the person's e-mail address", nil
}

// busyTime returns owner's busy periods within tr: those of every calendar
// that holds events and is not schedule-calendar-transp transparent
// (RFC 6638 §9.1). Only the periods leave salon, never what the events
// are (RFC 5545 §3.6.4).
func (h *Handler) busyTime(r *request, owner string, tr ical.TimeRange) ([]ical.Period, error) {
	cals, err := h.store.Calendars(r.Context(), owner)
	if err != nil {
		return nil, err
	}
	pc := h.newPropCtx(r)
	var all []ical.Period
	for i := range cals {
		c := &cals[i]
		if !isCalendar(c) || isTransparent(c) || !slices.Contains(componentsOf(c), "VEVENT") {
			continue
		}
		objs, err := h.store.ObjectsInRange(r.Context(), c.ID, "VEVENT", tr.Start, tr.End)
		if err != nil {
			return nil, err
		}
		parsed := make([]*ical.Object, 0, len(objs))
		for j := range objs {
			o, err := h.parsed.parse(&objs[j])
			if err != nil {
				r.log.WarnContext(r.Context(), "stored object does not parse; left out of free-busy", "calendar", c.Name, "object", objs[j].Name, "err", err)
				continue
			}
			parsed = append(parsed, o)
		}
		all = append(all, ical.FreeBusy(parsed, tr, pc.floating(c))...)
	}
	return mergeBusy(all), nil
}

// mergeBusy joins the periods of one busy type that overlap or touch, as
// ical.FreeBusy does within one calendar, across calendars; the result is
// sorted by start.
func mergeBusy(ps []ical.Period) []ical.Period {
	slices.SortFunc(ps, func(a, b ical.Period) int {
		if c := strings.Compare(a.Type, b.Type); c != 0 {
			return c
		}
		return a.Start.Compare(b.Start)
	})
	var out []ical.Period
	for _, p := range ps {
		if n := len(out); n > 0 && out[n-1].Type == p.Type && !p.Start.After(out[n-1].End) {
			if p.End.After(out[n-1].End) {
				out[n-1].End = p.End
			}
			continue
		}
		out = append(out, p)
	}
	slices.SortStableFunc(out, func(a, b ical.Period) int { return a.Start.Compare(b.Start) })
	return out
}

// freeBusyReply is one attendee's answer (RFC 5546 §3.3.3): a VFREEBUSY
// REPLY echoing the request's UID, ORGANIZER, range and the ATTENDEE, with
// one FREEBUSY line per busy period, in UTC.
func freeBusyReply(req *freeBusyRequest, attendee goical.Prop, periods []ical.Period, now time.Time) []byte {
	const utc = "20060102T150405Z"
	fb := goical.NewComponent(goical.CompFreeBusy)
	if req.uid != nil {
		fb.Props.Add(req.uid)
	}
	for name, t := range map[string]time.Time{
		goical.PropDateTimeStamp: now, goical.PropDateTimeStart: req.tr.Start, goical.PropDateTimeEnd: req.tr.End,
	} {
		p := goical.NewProp(name)
		p.Value = t.UTC().Format(utc)
		fb.Props.Set(p)
	}
	org := req.organizer
	fb.Props.Add(&org)
	fb.Props.Add(&attendee)
	for _, pe := range periods {
		p := goical.NewProp(goical.PropFreeBusy)
		p.Params.Set(goical.ParamFreeBusyType, pe.Type)
		p.Value = pe.Start.UTC().Format(utc) + "/" + pe.End.UTC().Format(utc)
		fb.Props.Add(p)
	}
	cal := goical.NewCalendar()
	cal.Props.SetText(goical.PropVersion, "2.0")
	cal.Props.SetText(goical.PropProductID, "-//salon//salon//EN")
	cal.Props.SetText(goical.PropMethod, "REPLY")
	cal.Children = []*goical.Component{fb}
	return ical.Encode(cal)
}
