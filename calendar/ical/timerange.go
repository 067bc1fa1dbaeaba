package ical

import (
	"time"

	goical "github.com/emersion/go-ical"
)

// This file holds the time-range tests of RFC 4791 §9.9. A zero bound of a
// TimeRange is -infinity (Start) or +infinity (End).

func (tr TimeRange) startBefore(t time.Time) bool     { return tr.Start.IsZero() || tr.Start.Before(t) }
func (tr TimeRange) startAtOrBefore(t time.Time) bool { return tr.Start.IsZero() || !tr.Start.After(t) }
func (tr TimeRange) endAfter(t time.Time) bool        { return tr.End.IsZero() || tr.End.After(t) }
func (tr TimeRange) endAtOrAfter(t time.Time) bool    { return tr.End.IsZero() || !tr.End.Before(t) }

// overlaps is the VEVENT test: a span [s, e) overlaps when start < e and
// end > s; an instant (e not after s) when start <= s < end. So an event
// that starts at the range start matches and one that ends there does not.
// A DTEND equal to DTSTART counts as an instant, like DURATION:PT0S.
func (tr TimeRange) overlaps(s, e time.Time) bool {
	if e.After(s) {
		return tr.startBefore(e) && tr.endAfter(s)
	}
	return tr.startAtOrBefore(s) && tr.endAfter(s)
}

// instTimes are the effective DTSTART, end and DUE of one instance.
type instTimes struct {
	start, end time.Time // end is start for an instant; for a VTODO, DTSTART+DURATION
	due        time.Time
	hasStart   bool
	hasEnd     bool // VTODO: DURATION given
	hasDue     bool
	allDay     bool
}

// times derives an instance's times from its component (RFC 5545 §3.6.1,
// §3.6.2; RFC 4791 §9.9): DTEND keeps its distance to DTSTART, DURATION
// is added nominally, an all-day VEVENT without either lasts one day, a
// DATE-TIME one without either is an instant.
func (oc occurrence) times() instTimes {
	cm := oc.cm
	it := instTimes{start: oc.start, hasStart: true, allDay: cm.anchor.kind == kindDate}
	if cm.c.Name == goical.CompToDo {
		it.hasStart = cm.start.kind != kindNone
		if cm.due.kind != kindNone {
			it.hasDue = true
			it.due = oc.start
			if it.hasStart {
				it.due = cm.dueOff.add(oc.start)
			}
		}
		if it.hasStart && cm.hasDur {
			it.end, it.hasEnd = cm.dur.add(oc.start), true
		}
		return it
	}
	switch {
	case oc.hasPeriodEnd:
		it.end = oc.periodEnd
	case cm.hasEndOff:
		it.end = cm.endOff.add(oc.start)
	case cm.hasDur:
		it.end = cm.dur.add(oc.start)
	case it.allDay:
		it.end = oc.start.AddDate(0, 0, 1)
	default:
		it.end = oc.start
	}
	if it.end.Before(it.start) {
		it.end = it.start
	}
	return it
}

// matches applies the §9.9 table of the occurrence's component type.
func (tr TimeRange) matches(oc occurrence, floating *time.Location) bool {
	if oc.timeless {
		return tr.matchesTimeless(oc.cm, floating)
	}
	it := oc.times()
	if oc.cm.c.Name != goical.CompToDo {
		// VEVENT and VJOURNAL (whose end is DTSTART, or the next day for
		// a DATE) share one test.
		return tr.overlaps(it.start, it.end)
	}
	s, e, due := it.start, it.end, it.due
	switch {
	case !it.hasStart && !it.hasDue:
		return tr.matchesTimeless(oc.cm, floating)
	case it.hasStart && it.hasDue:
		return (tr.startBefore(due) || tr.startAtOrBefore(s)) && (tr.endAfter(s) || tr.endAtOrAfter(due))
	case it.hasStart && it.hasEnd:
		return tr.startAtOrBefore(e) && (tr.endAfter(s) || tr.endAtOrAfter(e))
	case it.hasStart:
		return tr.startAtOrBefore(s) && tr.endAfter(s)
	default: // DUE only
		return tr.startBefore(due) && tr.endAtOrAfter(due)
	}
}

// matchesTimeless covers the rows without DTSTART and DUE: a VTODO is
// placed by COMPLETED and CREATED, or matches every range; a VJOURNAL
// without DTSTART matches none.
func (tr TimeRange) matchesTimeless(cm *compModel, floating *time.Location) bool {
	if cm.c.Name != goical.CompToDo {
		return false
	}
	done, made := cm.completed.kind != kindNone, cm.created.kind != kindNone
	c, cr := cm.completed.at(floating), cm.created.at(floating)
	switch {
	case done && made:
		return (tr.startAtOrBefore(cr) || tr.startAtOrBefore(c)) && (tr.endAtOrAfter(cr) || tr.endAtOrAfter(c))
	case done:
		return tr.startAtOrBefore(c) && tr.endAtOrAfter(c)
	case made:
		return tr.endAfter(cr)
	}
	return true
}

// timelessBounds is the span a timeless component can match, with a zero
// end for "open"; ok is false when it matches every range.
func timelessBounds(cm *compModel) (start, end time.Time, ok bool) {
	if cm.c.Name != goical.CompToDo {
		return time.Time{}, time.Time{}, false
	}
	done, made := cm.completed.kind != kindNone, cm.created.kind != kindNone
	c, cr := cm.completed.at(nil), cm.created.at(nil)
	switch {
	case done && made:
		return minTime(c, cr), maxTime(c, cr), true
	case done:
		return c, c, true
	case made:
		return cr, time.Time{}, true
	}
	return time.Time{}, time.Time{}, false
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// slack absorbs the hour a nominal day gains or loses over a DST change
// when windows are widened by approximate durations.
const slack = 2 * time.Hour

// window returns the anchors whose occurrences can touch tr, given the
// extent [lo, hi] of an occurrence around its anchor.
func (tr TimeRange) window(lo, hi time.Duration) (from, to time.Time) {
	if !tr.Start.IsZero() {
		from = tr.Start.Add(-hi - slack)
	}
	if !tr.End.IsZero() {
		to = tr.End.Add(-lo + slack)
	}
	return from, to
}

// anyOccurrence reports whether an occurrence for which accept holds
// matches tr under §9.9.
func (m *model) anyOccurrence(tr TimeRange, floating *time.Location, accept func(occurrence) bool) bool {
	from, to := tr.window(m.lo, m.hi)
	found := false
	m.occurrences(from, to, floating, func(oc occurrence) bool {
		if tr.matches(oc, floating) && (accept == nil || accept(oc)) {
			found = true
		}
		return !found
	})
	return found
}

// alarm is a VALARM's trigger (RFC 5545 §3.8.6.3) and repetition.
type alarm struct {
	c      *goical.Component
	abs    dtValue  // TRIGGER;VALUE=DATE-TIME
	off    duration // relative TRIGGER
	relEnd bool     // RELATED=END
	repeat int
	every  duration
	lo, hi time.Duration // triggers relative to the anchor (relative triggers)
}

// triggers calls fn with each trigger time of the alarm for one instance,
// until fn returns true.
func (a *alarm) triggers(it instTimes, floating *time.Location, fn func(time.Time) bool) bool {
	var t time.Time
	switch {
	case a.abs.kind != kindNone:
		t = a.abs.at(floating)
	case a.relEnd && it.hasDue:
		t = a.off.add(it.due)
	case a.relEnd && (it.hasEnd || !it.end.IsZero()):
		t = a.off.add(it.end)
	case !a.relEnd && it.hasStart:
		t = a.off.add(it.start)
	default:
		return false
	}
	for i := 0; i <= a.repeat; i++ {
		if fn(t) {
			return true
		}
		t = a.every.add(t)
	}
	return false
}

// alarmMatches is the VALARM test of §9.9: some trigger of some instance of
// the parent component falls in [start, end).
func (m *model) alarmMatches(tr TimeRange, floating *time.Location, parent *compModel, a *alarm) bool {
	in := func(t time.Time) bool { return tr.startAtOrBefore(t) && tr.endAfter(t) }
	if a.abs.kind != kindNone {
		return a.triggers(instTimes{}, floating, in)
	}
	from, to := tr.window(a.lo, a.hi)
	found := false
	m.occurrences(from, to, floating, func(oc occurrence) bool {
		if oc.cm == parent && !oc.timeless {
			found = a.triggers(oc.times(), floating, in)
		}
		return !found
	})
	return found
}
