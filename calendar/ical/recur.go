package ical

import (
	"slices"
	"time"

	goical "github.com/emersion/go-ical"
)

// Bounds on the work of one expansion (RFC 4791 §9.9 asks for every
// instance; these keep a hostile rule from costing more than milliseconds).
const (
	maxInstances = 10000  // instances of one rule handed out per expansion
	ruleBudget   = 100000 // dates and times one expansion may look at
)

// compModel is what salon reads from one VEVENT, VTODO or VJOURNAL to place
// it in time.
type compModel struct {
	c *goical.Component

	start, due, end      dtValue // DTSTART, DUE, DTEND as written
	completed, created   dtValue // VTODO without DTSTART and DUE (§9.9)
	dur                  duration
	hasDur               bool
	endOff, dueOff       duration // DTEND and DUE relative to DTSTART
	hasEndOff, hasDueOff bool

	// anchor is the time instances are generated from: DTSTART; DUE for a
	// VTODO without DTSTART; RECURRENCE-ID for an override without either.
	anchor dtValue

	rule *rule
	// counted lists, for a rule with a small COUNT, the wall clock (Unix
	// seconds) of its instances after DTSTART, so that queries need not
	// walk the rule from DTSTART each time.
	counted []int64
	rdates  []rdate
	exdates instantSet

	rid           dtValue // RECURRENCE-ID
	thisAndFuture bool    // RANGE=THISANDFUTURE

	alarms []alarm
	// lo and hi bound, relative to the anchor, every time the §9.9 tables
	// look at for one instance (alarms aside).
	lo, hi time.Duration
}

// rdate is one RDATE value; a PERIOD carries its own end or duration.
type rdate struct {
	v      dtValue
	end    dtValue
	dur    duration
	hasDur bool
}

func (cm *compModel) recurs() bool { return cm.rule != nil || len(cm.rdates) > 0 }

// instantSet matches instances against EXDATE or RECURRENCE-ID values the
// way clients write them: by instant when both sides name one, else by
// wall clock, and a DATE by the day.
type instantSet struct {
	abs   []int64 // Unix seconds of UTC and zoned values
	walls []int64 // wall clock, as Unix seconds in UTC, of floating values
	days  []int64 // days since 1970-01-01 of DATE values
}

func (s *instantSet) add(v dtValue) {
	switch v.kind {
	case kindUTC, kindZoned:
		s.abs = append(s.abs, v.at(nil).Unix())
	case kindFloating:
		s.walls = append(s.walls, v.wall.Unix())
	case kindDate:
		s.days = append(s.days, floorDiv(v.wall.Unix(), 86400))
	}
}

func (s *instantSet) sort() {
	slices.Sort(s.abs)
	slices.Sort(s.walls)
	slices.Sort(s.days)
}

func (s *instantSet) empty() bool { return len(s.abs)+len(s.walls)+len(s.days) == 0 }

// has reports whether the instance at real, whose wall clock in its own
// zone is wall, is in the set.
func (s *instantSet) has(wall, real time.Time) bool {
	if s.empty() {
		return false
	}
	_, a := slices.BinarySearch(s.abs, real.Unix())
	_, w := slices.BinarySearch(s.walls, wall.Unix())
	_, d := slices.BinarySearch(s.days, floorDiv(wall.Unix(), 86400))
	return a || w || d
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// model is the time structure of a calendar object: its master component,
// its overrides and what expansions need to know about them.
type model struct {
	kind       string       // VEVENT, VTODO or VJOURNAL
	comps      []*compModel // the master first, when there is one
	master     *compModel
	overridden instantSet   // RECURRENCE-IDs of the overrides
	future     []*compModel // RANGE=THISANDFUTURE overrides, by RECURRENCE-ID
	// lo and hi bound the §9.9 times of any occurrence relative to its
	// anchor; shift bounds how far a THISANDFUTURE override moves later
	// instances; alarmLo and alarmHi bound relative alarm triggers.
	lo, hi, shift    time.Duration
	alarmLo, alarmHi time.Duration
}

// occurrence is one instance of the recurrence set.
type occurrence struct {
	cm    *compModel // whose properties and durations apply
	start time.Time  // the anchor of this instance
	rid   time.Time  // RECURRENCE-ID; zero when the object does not recur
	// periodEnd is the end an RDATE PERIOD gives.
	periodEnd    time.Time
	hasPeriodEnd bool
	// timeless is set for components without any anchor (a VTODO without
	// DTSTART or DUE, a VJOURNAL without DTSTART).
	timeless bool
}

// occurrences calls fn with the occurrences whose anchor lies in [from, to]
// (a zero bound is open) until fn returns false, in no particular order.
// A timeless component is always handed out. An RDATE that repeats a rule
// instance comes twice; callers that list instances deduplicate. It
// reports false when fn stopped it.
func (m *model) occurrences(from, to time.Time, floating *time.Location, fn func(occurrence) bool) bool {
	in := func(t time.Time) bool {
		return (from.IsZero() || !t.Before(from)) && (to.IsZero() || !t.After(to))
	}
	for _, cm := range m.comps {
		if cm == m.master {
			continue
		}
		oc := occurrence{cm: cm, start: cm.anchor.at(floating), rid: cm.rid.at(floating)}
		if in(oc.start) && !fn(oc) {
			return false
		}
	}
	ms := m.master
	if ms == nil {
		return true
	}
	if ms.anchor.kind == kindNone {
		return fn(occurrence{cm: ms, timeless: true})
	}
	if !ms.recurs() {
		oc := occurrence{cm: ms, start: ms.anchor.at(floating)}
		if len(m.comps) > 1 {
			if m.overridden.has(ms.anchor.wall, oc.start) {
				return true
			}
			oc.rid = oc.start
		}
		return !in(oc.start) || fn(oc)
	}

	stopped := false
	emit := func(wall, real time.Time, rd *rdate) bool {
		if ms.exdates.has(wall, real) || m.overridden.has(wall, real) {
			return true
		}
		oc := occurrence{cm: ms, start: real, rid: real}
		if f := m.futureOverride(real, floating); f != nil {
			oc.cm = f
			oc.start = real.Add(f.anchor.at(floating).Sub(f.rid.at(floating)))
		} else if rd != nil && rd.end.kind != kindNone {
			oc.periodEnd, oc.hasPeriodEnd = rd.end.at(floating), true
		} else if rd != nil && rd.hasDur {
			oc.periodEnd, oc.hasPeriodEnd = rd.dur.add(real), true
		}
		if in(oc.start) && !fn(oc) {
			stopped = true
		}
		return !stopped
	}
	if !emit(ms.anchor.wall, ms.anchor.at(floating), nil) {
		return false
	}
	if ms.rule != nil {
		m.eachRuleInstance(from, to, floating, emit)
		if stopped {
			return false
		}
	}
	for i := range ms.rdates {
		rd := &ms.rdates[i]
		if !emit(rd.v.wall, rd.v.at(floating), rd) {
			return false
		}
	}
	return true
}

// eachRuleInstance feeds emit with the master's RRULE instances after
// DTSTART whose RECURRENCE-ID can place an occurrence in [from, to].
//
// It reports whether the rule has no instances beyond those it handed out:
// false when emit stopped it, or the instance cap or the budget did.
func (m *model) eachRuleInstance(from, to time.Time, floating *time.Location, emit func(wall, real time.Time, rd *rdate) bool) (exhausted bool) {
	ms := m.master
	r := ms.rule
	real := func(wall time.Time) time.Time {
		return dtValue{wall: wall, kind: ms.anchor.kind, loc: ms.anchor.loc}.at(floating)
	}
	var fromWall, toWall time.Time
	if !from.IsZero() {
		fromWall = wallOf(from.UTC()).Add(-margin - m.shift)
	}
	if !to.IsZero() {
		toWall = wallOf(to.UTC()).Add(margin + m.shift)
	}
	untilWall := r.until.wall
	if r.until.kind == kindDate && ms.anchor.kind != kindDate {
		// A DATE UNTIL with DATE-TIME instances: the whole day counts.
		untilWall = untilWall.Add(24*time.Hour - time.Second)
	}
	n := 1 // DTSTART is the first instance (RFC 5545 §3.3.10, COUNT)
	emitted := 0
	ended := true
	visit := func(wall time.Time) bool {
		t := real(wall)
		switch {
		case r.until.kind == kindUTC && t.After(r.until.wall),
			r.until.kind != kindUTC && r.until.kind != kindNone && wall.After(untilWall):
			return false
		}
		if n++; r.count > 0 && n > r.count {
			return false
		}
		if !toWall.IsZero() && wall.After(toWall) {
			return false
		}
		if emitted++; emitted > maxInstances || !emit(wall, t, nil) {
			ended = false
			return false
		}
		return true
	}
	if ms.counted != nil {
		// COUNT instances listed by Parse: skip those before the window.
		i := 0
		if !fromWall.IsZero() {
			i, _ = slices.BinarySearch(ms.counted, fromWall.Unix())
			n += i
		}
		for _, w := range ms.counted[i:] {
			if !visit(time.Unix(w, 0).UTC()) {
				break
			}
		}
		return ended
	}
	budget := ruleBudget
	complete := newExpander(r, ms.anchor.wall).each(fromWall, toWall, &budget, visit)
	return complete && ended
}

// futureOverride returns the THISANDFUTURE override in force for the
// instance with RECURRENCE-ID rid: the latest one before it.
func (m *model) futureOverride(rid time.Time, floating *time.Location) *compModel {
	var found *compModel
	for _, f := range m.future {
		if f.rid.at(floating).Before(rid) {
			found = f
		}
	}
	return found
}

// bounds computes Object.Start and End: every §9.9 time and alarm of every
// instance, with floating times read as UTC, widened by a day each way.
// A zero Start or End is open.
func (m *model) bounds() (start, end time.Time) {
	var lo, hi time.Time
	openLo, openHi := false, false
	widen := func(a, b time.Time) {
		if lo.IsZero() || a.Before(lo) {
			lo = a
		}
		if hi.IsZero() || b.After(hi) {
			hi = b
		}
	}
	before, after := min(m.lo, m.alarmLo), max(m.hi, m.alarmHi)
	instance := func(t time.Time) { widen(t.Add(before), t.Add(after+m.shift)) }
	for _, cm := range m.comps {
		for _, a := range cm.alarms {
			if a.abs.kind != kindNone {
				t := a.abs.at(nil)
				widen(t, t.Add(a.every.approx()*time.Duration(a.repeat)))
			}
		}
		switch {
		case cm.anchor.kind != kindNone:
			instance(cm.anchor.at(nil))
		case cm == m.master:
			a, b, ok := timelessBounds(cm)
			openLo, openHi = openLo || !ok, openHi || !ok || b.IsZero()
			if ok {
				widen(a, maxTime(a, b))
			}
		}
	}
	if ms := m.master; ms != nil && ms.anchor.kind != kindNone {
		for _, rd := range ms.rdates {
			t := rd.v.at(nil)
			instance(t)
			if rd.end.kind != kindNone {
				widen(t, rd.end.at(nil))
			} else if rd.hasDur {
				widen(t, rd.dur.add(t))
			}
		}
		if r := ms.rule; r != nil {
			switch {
			case r.count == 0 && r.until.kind == kindNone:
				openHi = true
			case r.count == 0:
				instance(r.until.wall.Add(24 * time.Hour))
			default:
				exhausted := m.eachRuleInstance(time.Time{}, time.Time{}, nil, func(_, t time.Time, _ *rdate) bool {
					instance(t)
					return true
				})
				openHi = openHi || !exhausted
			}
		}
	}
	if openLo || lo.IsZero() {
		lo = time.Time{}
	} else {
		lo = lo.Add(-24 * time.Hour)
	}
	if openHi || hi.IsZero() {
		hi = time.Time{}
	} else {
		hi = hi.Add(24 * time.Hour)
	}
	return lo.UTC(), hi.UTC()
}
