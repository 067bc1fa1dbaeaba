package ical

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	goical "github.com/emersion/go-ical"
)

// Render returns the calendar-data a REPORT answers with (RFC 4791 §9.6)
// for an object stored as raw and parsed as o. The zero DataRequest, and a
// comp that selects everything, give raw unchanged. Otherwise, in order:
//
//   - Expand (§9.6.5) replaces the recurrence set by its instances that
//     overlap the range (§9.9), overrides applied: no RRULE, RDATE, EXDATE
//     or VTIMEZONE; DTSTART, DTEND, DUE and RECURRENCE-ID in UTC (all-day
//     values stay DATEs; floating times are read in floating); every
//     instance of a recurring object carries a RECURRENCE-ID.
//   - LimitRecurrenceSet (§9.6.6) keeps the master and the overrides whose
//     new or original times overlap the range.
//   - LimitFreeBusySet (§9.6.7) keeps the FREEBUSY values that overlap.
//   - Comp (§9.6.1) keeps the selected components and properties.
//
// The result is iCalendar text with CRLF line ends and folded lines. Render
// does not modify o. Its only error is a request whose top comp is not
// VCALENDAR: answer it with 400 Bad Request.
func Render(o *Object, raw []byte, req DataRequest, floating *time.Location) ([]byte, error) {
	if req.Comp == nil && req.Expand == nil && req.LimitRecurrenceSet == nil && req.LimitFreeBusySet == nil {
		return raw, nil
	}
	if req.Comp != nil && !strings.EqualFold(req.Comp.Name, goical.CompCalendar) {
		return nil, fmt.Errorf("ical: calendar-data selects %q; the top comp must be VCALENDAR", req.Comp.Name)
	}
	if req.Expand == nil && req.LimitRecurrenceSet == nil && req.LimitFreeBusySet == nil && selectsAll(req.Comp) {
		return raw, nil
	}
	if o == nil || o.Cal == nil {
		return nil, fmt.Errorf("ical: nothing to render")
	}
	m := o.modelOf()
	if req.Expand != nil {
		return renderExpanded(o, len(raw), m, req, floating), nil
	}
	root := o.Cal.Component
	if req.LimitRecurrenceSet != nil {
		root = limitRecurrenceSet(root, m, *req.LimitRecurrenceSet, floating)
	}
	if req.LimitFreeBusySet != nil {
		root = limitFreeBusySet(root, *req.LimitFreeBusySet, floating)
	}
	if req.Comp != nil {
		root = selectComp(root, req.Comp)
	}
	return encode(root), nil
}

func selectsAll(sel *CompSelect) bool { return sel.AllProps && sel.AllComps }

// toUTC returns c with every DATE-TIME that refers to a VTIMEZONE turned
// into UTC (§9.6.5), sharing what it does not change; c itself when
// nothing refers to one. Properties in skip are left alone.
func toUTC(c *goical.Component, cal *goical.Calendar, floating *time.Location, skip map[string]bool) *goical.Component {
	var out *goical.Component
	for name, ps := range c.Props {
		if skip[name] || !slices.ContainsFunc(ps, hasTZID) {
			continue
		}
		if out == nil {
			out = &goical.Component{Name: c.Name, Props: maps.Clone(c.Props), Children: c.Children}
		}
		out.Props[name] = propsToUTC(ps, cal, floating)
	}
	cloned := false
	for i, child := range c.Children {
		if cc := toUTC(child, cal, floating, nil); cc != child {
			if out == nil {
				out = &goical.Component{Name: c.Name, Props: c.Props, Children: c.Children}
			}
			if !cloned {
				out.Children, cloned = slices.Clone(c.Children), true
			}
			out.Children[i] = cc
		}
	}
	if out == nil {
		return c
	}
	return out
}

func hasTZID(p goical.Prop) bool {
	v := p.Params[goical.ParamTimezoneID]
	return len(v) > 0 && v[0] != ""
}

// propsToUTC converts the DATE-TIME values of ps that carry a TZID.
func propsToUTC(ps []goical.Prop, cal *goical.Calendar, floating *time.Location) []goical.Prop {
	z := zones{cal: cal}
	out := slices.Clone(ps)
	for i := range out {
		p := &out[i]
		if !hasTZID(*p) {
			continue
		}
		var vals []string
		err := z.values(p, func(v dtValue, _ string) error {
			if v.kind == kindDate {
				vals = append(vals, v.wall.Format(dateFormat))
			} else {
				vals = append(vals, v.at(floating).UTC().Format(utcFormat))
			}
			return nil
		})
		if err != nil {
			continue // not a date-time list: leave as written
		}
		params := maps.Clone(p.Params)
		delete(params, goical.ParamTimezoneID)
		*p = goical.Prop{Name: p.Name, Params: params, Value: strings.Join(vals, ",")}
	}
	return out
}

// limitRecurrenceSet keeps the master and the overrides that impact tr:
// their new or original times overlap it, or, for RANGE=THISANDFUTURE,
// they start before its end (§9.6.6).
func limitRecurrenceSet(src *goical.Component, m *model, tr TimeRange, floating *time.Location) *goical.Component {
	out := &goical.Component{Name: src.Name, Props: src.Props}
	for _, c := range src.Children {
		cm := (&matcher{m: m}).compModel(c)
		if cm == nil || cm == m.master || overrideImpacts(m, cm, tr, floating) {
			out.Children = append(out.Children, c)
		}
	}
	return out
}

func overrideImpacts(m *model, cm *compModel, tr TimeRange, floating *time.Location) bool {
	rid := cm.rid.at(floating)
	if tr.matches(occurrence{cm: cm, start: cm.anchor.at(floating), rid: rid}, floating) {
		return true
	}
	if cm.thisAndFuture && (tr.End.IsZero() || rid.Before(tr.End)) {
		return true
	}
	return m.master != nil && tr.matches(occurrence{cm: m.master, start: rid, rid: rid}, floating)
}

// limitFreeBusySet keeps the FREEBUSY values that overlap tr (§9.6.7).
func limitFreeBusySet(src *goical.Component, tr TimeRange, floating *time.Location) *goical.Component {
	out := &goical.Component{Name: src.Name, Props: src.Props}
	for _, c := range src.Children {
		if c.Name != goical.CompFreeBusy {
			out.Children = append(out.Children, c)
			continue
		}
		fb := &goical.Component{Name: c.Name, Props: make(goical.Props, len(c.Props)), Children: c.Children}
		for name, ps := range c.Props {
			if name != goical.PropFreeBusy {
				fb.Props[name] = ps
				continue
			}
			for _, p := range ps {
				var keep []string
				for raw := range strings.SplitSeq(p.Value, ",") {
					one := p
					one.Value = raw
					eachPeriod(&one, floating, func(s, e time.Time) {
						if tr.startBefore(e) && tr.endAfter(s) {
							keep = append(keep, strings.TrimSpace(raw))
						}
					})
				}
				if len(keep) > 0 {
					p.Value = strings.Join(keep, ",")
					fb.Props[name] = append(fb.Props[name], p)
				}
			}
		}
		out.Children = append(out.Children, fb)
	}
	return out
}

// selectComp keeps what a CALDAV:comp selects (§9.6.1): the named
// properties (or all), the named sub-components (or all, whole).
func selectComp(c *goical.Component, sel *CompSelect) *goical.Component {
	out := &goical.Component{Name: c.Name, Props: c.Props}
	if !sel.AllProps {
		out.Props = make(goical.Props, len(sel.Props))
		for _, name := range sel.Props {
			name = strings.ToUpper(name)
			if ps, ok := c.Props[name]; ok {
				out.Props[name] = ps
			}
		}
	}
	if sel.AllComps {
		out.Children = c.Children
		return out
	}
	for _, child := range c.Children {
		for i := range sel.Comps {
			if strings.EqualFold(sel.Comps[i].Name, child.Name) {
				out.Children = append(out.Children, selectComp(child, &sel.Comps[i]))
				break
			}
		}
	}
	return out
}
