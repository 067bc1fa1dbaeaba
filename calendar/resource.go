package calendar

import (
	"encoding/xml"
	"sort"
)

func namesOf(names []xml.Name) []propReq {
	props := make([]propReq, len(names))
	for i, n := range names {
		props[i] = propReq{name: n}
	}
	return props
}

// resourceOf loads what the request URL names; a calendar or object that
// does not exist is ErrNotFound.
func (h *Handler) resourceOf(r *request) (*resource, error) { return h.resourceAt(r, r.target) }

// resourceAt loads the resource t names, which must be the user's own.
func (h *Handler) resourceAt(r *request, t target) (*resource, error) {
	res := &resource{kind: t.kind, href: h.hrefs.of(t), user: r.user}
	switch t.kind {
	case kindCalendar:
		c, err := h.store.Calendar(r.Context(), t.user, t.calendar)
		if err != nil {
			return nil, err
		}
		res.cal = &c
	case kindObject:
		c, err := h.store.Calendar(r.Context(), t.user, t.calendar)
		if err != nil {
			return nil, err
		}
		o, err := h.store.Object(r.Context(), c.ID, t.object)
		if err != nil {
			return nil, err
		}
		res.cal, res.obj, res.info = &c, &o, infoOf(&o)
	case kindInbox:
		// RFC 6638 §2.2: every user has an inbox; it is made on first use.
		c, err := ensureInbox(r.Context(), h.store, t.user)
		if err != nil {
			return nil, err
		}
		res.cal = &c
	}
	return res, nil
}

func infoOf(o *Object) ObjectInfo {
	return ObjectInfo{Name: o.Name, UID: o.UID, ETag: o.ETag, Size: o.Size, Modified: o.Modified}
}

// objectBatch bounds how many objects one store call loads.
const objectBatch = 200

// children lists the members of a collection for Depth: 1; withData loads
// the objects' data too.
func (h *Handler) children(r *request, self *resource, withData bool) ([]*resource, error) {
	u, hr := r.user, h.hrefs
	switch self.kind {
	case kindRoot:
		return []*resource{
			{kind: kindPrincipals, href: hr.principals(), user: u},
			{kind: kindCalendars, href: hr.calendars(), user: u},
		}, nil
	case kindPrincipals:
		return []*resource{{kind: kindPrincipal, href: hr.principal(u.Name), user: u}}, nil
	case kindCalendars:
		return []*resource{{kind: kindHome, href: hr.home(u.Name), user: u}}, nil
	case kindHome:
		return h.homeMembers(r)
	case kindCalendar, kindInbox:
		return h.objectResources(r, self.cal, withData)
	}
	return nil, nil
}

// homeMembers lists a calendar home: the calendars, then the scheduling
// inbox and outbox (RFC 6638 §2.1, §2.2), the inbox made if missing.
func (h *Handler) homeMembers(r *request) ([]*resource, error) {
	u, hr := r.user, h.hrefs
	cals, err := h.store.Calendars(r.Context(), u.Name)
	if err != nil {
		return nil, err
	}
	out := make([]*resource, 0, len(cals)+2)
	var inbox *Calendar
	for i := range cals {
		c := &cals[i]
		switch {
		case c.Kind == KindInbox && c.Name == InboxName:
			inbox = c
		case isCalendar(c):
			out = append(out, &resource{kind: kindCalendar, href: hr.calendar(u.Name, c.Name), user: u, cal: c})
		}
	}
	if inbox == nil {
		c, err := ensureInbox(r.Context(), h.store, u.Name)
		if err != nil {
			// A home without its inbox still lists the calendars: clients
			// that do not schedule keep working.
			r.log.ErrorContext(r.Context(), "scheduling inbox unavailable; left out of the home listing", "err", err)
		} else {
			inbox = &c
		}
	}
	if inbox != nil {
		out = append(out, &resource{kind: kindInbox, href: hr.calendar(u.Name, InboxName), user: u, cal: inbox})
	}
	return append(out, &resource{kind: kindOutbox, href: hr.calendar(u.Name, OutboxName), user: u}), nil
}

func (h *Handler) objectResources(r *request, c *Calendar, withData bool) ([]*resource, error) {
	infos, err := h.store.ObjectInfos(r.Context(), c.ID)
	if err != nil {
		return nil, err
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Name < infos[j].Name })
	out := make([]*resource, len(infos))
	byName := make(map[string]*resource, len(infos))
	for i, info := range infos {
		out[i] = &resource{kind: kindObject, href: h.hrefs.object(c.Owner, c.Name, info.Name), user: r.user, cal: c, info: info}
		byName[info.Name] = out[i]
	}
	if !withData {
		return out, nil
	}
	for start := 0; start < len(infos); start += objectBatch {
		end := min(start+objectBatch, len(infos))
		names := make([]string, 0, end-start)
		for _, info := range infos[start:end] {
			names = append(names, info.Name)
		}
		objs, err := h.store.Objects(r.Context(), c.ID, names)
		if err != nil {
			return nil, err
		}
		for i := range objs {
			if res := byName[objs[i].Name]; res != nil {
				res.obj, res.info = &objs[i], infoOf(&objs[i])
			}
		}
	}
	// An object deleted between the listing and the load is left out.
	kept := out[:0]
	for _, res := range out {
		if res.obj != nil {
			kept = append(kept, res)
		}
	}
	return kept, nil
}
