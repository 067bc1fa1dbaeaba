package ical

import (
	"slices"
	"strings"
	"time"

	goical "github.com/emersion/go-ical"
)

// FreeBusy returns the busy time of objs within tr (RFC 4791 §7.10), for
// the free-busy-query REPORT: the instances of VEVENTs, recurrence
// expanded, except those with TRANSP:TRANSPARENT or STATUS:CANCELLED
// (STATUS:TENTATIVE gives BUSY-TENTATIVE, anything else BUSY), and the
// FREEBUSY periods of VFREEBUSY components (FBTYPE=FREE left out, unknown
// types taken as BUSY, RFC 5545 §3.2.9). Instants block nothing. Periods
// are in UTC, clipped to tr, merged per type where they overlap or touch,
// and sorted by start.
func FreeBusy(objs []*Object, tr TimeRange, floating *time.Location) []Period {
	var out []Period
	add := func(s, e time.Time, typ string) {
		if !tr.Start.IsZero() && s.Before(tr.Start) {
			s = tr.Start
		}
		if !tr.End.IsZero() && e.After(tr.End) {
			e = tr.End
		}
		if e.After(s) {
			out = append(out, Period{Start: s.UTC(), End: e.UTC(), Type: typ})
		}
	}
	for _, o := range objs {
		if o == nil || o.Cal == nil {
			continue
		}
		if m := o.modelOf(); m.kind == goical.CompEvent && mayOverlap(o, tr) {
			from, to := tr.window(m.lo, m.hi)
			m.occurrences(from, to, floating, func(oc occurrence) bool {
				if oc.timeless {
					return true
				}
				if typ := busyType(oc.cm.c); typ != "" {
					if it := oc.times(); it.end.After(it.start) && tr.overlaps(it.start, it.end) {
						add(it.start, it.end, typ)
					}
				}
				return true
			})
		}
		for _, c := range o.Cal.Children {
			if c.Name != goical.CompFreeBusy {
				continue
			}
			for i := range c.Props[goical.PropFreeBusy] {
				p := &c.Props[goical.PropFreeBusy][i]
				typ := fbType(p)
				if typ == "" {
					continue
				}
				eachPeriod(p, floating, func(s, e time.Time) {
					if tr.startBefore(e) && tr.endAfter(s) {
						add(s, e, typ)
					}
				})
			}
		}
	}
	return mergePeriods(out)
}

// mayOverlap checks Parse's bounds, which hold for any floating zone.
func mayOverlap(o *Object, tr TimeRange) bool {
	return (tr.End.IsZero() || o.Start.IsZero() || tr.End.After(o.Start)) &&
		(tr.Start.IsZero() || o.End.IsZero() || !tr.Start.After(o.End))
}

func busyType(c *goical.Component) string {
	if p := c.Props.Get(goical.PropTransparency); p != nil && strings.EqualFold(strings.TrimSpace(p.Value), "TRANSPARENT") {
		return ""
	}
	status := ""
	if p := c.Props.Get(goical.PropStatus); p != nil {
		status = strings.ToUpper(strings.TrimSpace(p.Value))
	}
	switch status {
	case "CANCELLED":
		return ""
	case "TENTATIVE":
		return BusyTentative
	}
	return Busy
}

func fbType(p *goical.Prop) string {
	switch t := strings.ToUpper(p.Params.Get(goical.ParamFreeBusyType)); t {
	case "FREE":
		return ""
	case BusyTentative, BusyUnavailable:
		return t
	}
	return Busy
}

// eachPeriod calls fn with the periods of a FREEBUSY value: start/end or
// start/duration (RFC 5545 §3.3.9); malformed periods are skipped.
func eachPeriod(p *goical.Prop, floating *time.Location, fn func(s, e time.Time)) {
	for raw := range strings.SplitSeq(p.Value, ",") {
		a, b, ok := strings.Cut(strings.TrimSpace(raw), "/")
		if !ok {
			continue
		}
		sw, sk, err := parseDateTime(a)
		if err != nil {
			continue
		}
		s := dtValue{wall: sw, kind: sk}.at(floating)
		var e time.Time
		if strings.ContainsAny(b, "Pp") {
			d, err := parseDuration(b)
			if err != nil {
				continue
			}
			e = d.add(s)
		} else {
			ew, ek, err := parseDateTime(b)
			if err != nil {
				continue
			}
			e = dtValue{wall: ew, kind: ek}.at(floating)
		}
		fn(s, e)
	}
}

// freeBusyInRange is the VFREEBUSY test of RFC 4791 §9.9.
func freeBusyInRange(c *goical.Component, tr TimeRange, cal *goical.Calendar, floating *time.Location) bool {
	z := zones{cal: cal}
	sp, ep := c.Props.Get(goical.PropDateTimeStart), c.Props.Get(goical.PropDateTimeEnd)
	if sp != nil && ep != nil {
		s, err1 := z.value(sp)
		e, err2 := z.value(ep)
		if err1 == nil && err2 == nil {
			return tr.startAtOrBefore(e.at(floating)) && tr.endAfter(s.at(floating))
		}
	}
	found := false
	for i := range c.Props[goical.PropFreeBusy] {
		eachPeriod(&c.Props[goical.PropFreeBusy][i], floating, func(s, e time.Time) {
			found = found || tr.startBefore(e) && tr.endAfter(s)
		})
	}
	return found
}

var busyOrder = map[string]int{BusyUnavailable: 0, Busy: 1, BusyTentative: 2}

// mergePeriods joins the periods of one type that overlap or touch and
// sorts the result by start, then type.
func mergePeriods(ps []Period) []Period {
	slices.SortFunc(ps, func(a, b Period) int {
		if a.Type != b.Type {
			return busyOrder[a.Type] - busyOrder[b.Type]
		}
		return a.Start.Compare(b.Start)
	})
	var out []Period
	for _, p := range ps {
		if n := len(out); n > 0 && out[n-1].Type == p.Type && !p.Start.After(out[n-1].End) {
			if p.End.After(out[n-1].End) {
				out[n-1].End = p.End
			}
			continue
		}
		out = append(out, p)
	}
	slices.SortStableFunc(out, func(a, b Period) int { return a.Start.Compare(b.Start) })
	return out
}

// FreeBusyCalendar renders the answer to a free-busy-query REPORT (RFC 4791
// §7.10): a VCALENDAR with one VFREEBUSY giving the range, the time of the
// answer and one FREEBUSY line, with its FBTYPE, per period.
func FreeBusyCalendar(periods []Period, tr TimeRange, now time.Time) []byte {
	fb := goical.NewComponent(goical.CompFreeBusy)
	fb.Props.Add(utcProp(goical.PropDateTimeStamp, now))
	if !tr.Start.IsZero() {
		fb.Props.Add(utcProp(goical.PropDateTimeStart, tr.Start))
	}
	if !tr.End.IsZero() {
		fb.Props.Add(utcProp(goical.PropDateTimeEnd, tr.End))
	}
	for _, p := range periods {
		prop := goical.NewProp(goical.PropFreeBusy)
		prop.Params.Set(goical.ParamFreeBusyType, p.Type)
		prop.Value = p.Start.UTC().Format(utcFormat) + "/" + p.End.UTC().Format(utcFormat)
		fb.Props.Add(prop)
	}
	cal := calendarShell()
	cal.Children = []*goical.Component{fb}
	return encode(cal)
}

// calendarShell is an empty VCALENDAR as salon writes it.
func calendarShell() *goical.Component {
	cal := goical.NewComponent(goical.CompCalendar)
	cal.Props.SetText(goical.PropVersion, "2.0")
	cal.Props.SetText(goical.PropProductID, "-//salon//salon//EN")
	return cal
}

func utcProp(name string, t time.Time) *goical.Prop {
	p := goical.NewProp(name)
	p.Value = t.UTC().Format(utcFormat)
	return p
}
