package calendar

import (
	"net/http"
	"strings"
)

// mkcalendar answers MKCALENDAR (RFC 4791 §5.3.1) and extended MKCOL
// (RFC 5689 §3) of a calendar in the user's home.
func (h *Handler) mkcalendar(w http.ResponseWriter, r *request) error {
	mkcol := r.Method == "MKCOL"
	switch r.target.kind {
	case kindCalendar:
	case kindObject:
		return errStatus(http.StatusConflict, "calendars can only be made in your calendar home, "+h.hrefs.home(r.user.Name))
	default:
		return errCond(http.StatusMethodNotAllowed, nsDAV, "resource-must-be-null", "a resource already exists at this URL")
	}
	root, err := h.readXML(w, r)
	if err != nil {
		return err
	}
	rootName := "mkcalendar"
	if mkcol {
		rootName = "mkcol"
	}
	var ops []propOp
	switch {
	case root == nil && mkcol:
		return errCond(http.StatusForbidden, nsDAV, "valid-resourcetype",
			"only calendars can be made here: send an extended MKCOL body with a calendar resourcetype, or use MKCALENDAR")
	case root == nil:
	case mkcol && root.is(nsDAV, rootName), !mkcol && root.is(nsCalDAV, rootName):
		ops = parsePropOps(root)
	default:
		return errStatus(http.StatusBadRequest, r.Method+" body must be a "+rootName+" element")
	}
	if mkcol && !isCalendarResourceType(ops) {
		return errCond(http.StatusForbidden, nsDAV, "valid-resourcetype",
			"only calendars can be made here: the resourcetype must be DAV:collection and CALDAV:calendar")
	}

	c := &Calendar{Owner: r.user.Name, Name: r.target.calendar}
	results, failed := applyProps(c, ops, true)
	if failed {
		// RFC 4791 §5.3.1.2 and RFC 5689 §3: the whole request fails and the
		// body says why, property by property.
		tag := "C:mkcalendar-response"
		if mkcol {
			tag = "D:mkcol-response"
		}
		var b strings.Builder
		b.WriteString(xmlHeader + "<" + tag + nsDecls + ">")
		for _, g := range propstats(results) {
			b.WriteString(propstatXML(g))
		}
		b.WriteString("</" + tag + ">\n")
		body := b.String()
		writeXML(w, http.StatusForbidden, body)
		return nil
	}
	if len(c.Components) == 0 {
		c.Components = append([]string(nil), defaultComponents...)
	}
	if err := h.store.CreateCalendar(r.Context(), c); err != nil {
		return err
	}
	r.log.InfoContext(r.Context(), "calendar created", "calendar", c.Name)
	w.Header().Set("Location", h.calendarHref(c))
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusCreated)
	return nil
}

func isCalendarResourceType(ops []propOp) bool {
	for _, op := range ops {
		if op.remove || op.prop.Name != pResourceType {
			continue
		}
		return op.prop.Child(nsDAV, "collection") != nil && op.prop.Child(nsCalDAV, "calendar") != nil
	}
	return false
}

// delete answers DELETE of a calendar (with all its objects) or of an
// object (RFC 4918 §9.6, If-Match honoured).
func (h *Handler) delete(w http.ResponseWriter, r *request) error {
	switch r.target.kind {
	case kindCalendar:
		if _, err := h.calendarOf(r); err != nil {
			return err
		}
		if err := h.store.DeleteCalendar(r.Context(), r.user.Name, r.target.calendar); err != nil {
			return err
		}
		r.log.InfoContext(r.Context(), "calendar deleted", "calendar", r.target.calendar)
	case kindObject:
		c, err := h.calendarOf(r)
		if err != nil {
			return err
		}
		pre, err := h.precondition(r, c.ID, r.target.object)
		if err != nil {
			return err
		}
		if pre.IfNoneMatchAny {
			return errStatus(http.StatusPreconditionFailed, "If-None-Match: * cannot hold for an existing resource")
		}
		handled := false
		if h.sched != nil {
			reply := !strings.EqualFold(strings.TrimSpace(r.Header.Get("Schedule-Reply")), "F")
			if handled, err = h.sched.Delete(r.Context(), r.user, &c, r.target.object, pre, reply); err != nil {
				return err
			}
		}
		if !handled {
			if err := h.store.DeleteObject(r.Context(), c.ID, r.target.object, pre); err != nil {
				return err
			}
		}
	default:
		w.Header().Set("Allow", allow(r.target.kind))
		return errStatus(http.StatusMethodNotAllowed, "this collection cannot be deleted")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// getCollection answers GET on a collection: there is no single document
// to return, so a short note says where to point a CalDAV client.
func (h *Handler) getCollection(w http.ResponseWriter, r *request) error {
	if _, err := h.resourceOf(r); err != nil {
		return err
	}
	body := "This is salon's CalDAV service. Point a CalDAV client at " + h.hrefs.root() + " and sign in.\n"
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(body))
	}
	return nil
}
