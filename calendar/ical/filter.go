package ical

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	goical "github.com/emersion/go-ical"
)

// ErrUnsupportedCollation is returned (wrapped, with the collation's name)
// by Match for a text-match collation other than i;ascii-casemap,
// i;unicode-casemap and i;octet; report it as the CALDAV:supported-collation
// precondition (RFC 4791 §7.5.1).
var ErrUnsupportedCollation = errors.New("unsupported collation; use i;ascii-casemap, i;unicode-casemap or i;octet")

// validFilter is the precondition for a filter Match cannot evaluate
// (RFC 4791 §7.8, CALDAV:valid-filter).
const validFilter = "valid-filter"

// maxFilterDepth bounds comp-filter nesting; calendars nest four deep.
const maxFilterDepth = 8

// Match evaluates a calendar-query filter (RFC 4791 §9.7) against o. f is
// the top comp-filter, which must name VCALENDAR. Times without a time
// zone (floating, and all-day dates) are read in floating, or UTC when it
// is nil; pass the calendar's calendar-timezone.
//
// A comp-filter with a time-range matches when any instance of the
// recurrence set overlaps it (§9.9), taking RDATE, EXDATE and overrides
// into account; its prop-filters and nested comp-filters must hold for the
// component (master or override) that instance comes from. A text-match
// on a multi-valued property (CATEGORIES, RESOURCES) matches when any
// value does; negate-condition negates the whole test. Errors:
// ErrUnsupportedCollation, or *InvalidError "valid-filter".
func Match(o *Object, f CompFilter, floating *time.Location) (bool, error) {
	if !strings.EqualFold(f.Name, goical.CompCalendar) {
		return false, &InvalidError{Precondition: validFilter, Msg: "the top comp-filter must name VCALENDAR"}
	}
	if err := checkCompFilter(f, 0); err != nil {
		return false, err
	}
	if o == nil || o.Cal == nil || f.IsNotDefined {
		return false, nil
	}
	mt := matcher{o: o, m: o.modelOf(), floating: floating}
	cal := o.Cal.Component
	return mt.props(cal, nil, f.Props) && mt.comps(cal, nil, f.Comps), nil
}

func checkCompFilter(f CompFilter, depth int) error {
	if depth > maxFilterDepth {
		return &InvalidError{Precondition: validFilter, Msg: fmt.Sprintf("comp-filters nested deeper than %d", maxFilterDepth)}
	}
	if f.Name == "" {
		return &InvalidError{Precondition: validFilter, Msg: "a comp-filter has no name"}
	}
	if err := checkTimeRange(f.TimeRange); err != nil {
		return err
	}
	for _, p := range f.Props {
		if p.Name == "" {
			return &InvalidError{Precondition: validFilter, Msg: "a prop-filter has no name"}
		}
		if err := checkTimeRange(p.TimeRange); err != nil {
			return err
		}
		if err := checkTextMatch(p.TextMatch); err != nil {
			return err
		}
		for _, pa := range p.Params {
			if err := checkTextMatch(pa.TextMatch); err != nil {
				return err
			}
		}
	}
	for _, c := range f.Comps {
		if err := checkCompFilter(c, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func checkTimeRange(tr *TimeRange) error {
	if tr != nil && !tr.Start.IsZero() && !tr.End.IsZero() && !tr.End.After(tr.Start) {
		return &InvalidError{Precondition: validFilter, Msg: "a time-range must end after it starts"}
	}
	return nil
}

func checkTextMatch(tm *TextMatch) error {
	if tm == nil {
		return nil
	}
	switch strings.ToLower(tm.Collation) {
	case "", "i;ascii-casemap", "i;unicode-casemap", "i;octet":
		return nil
	}
	return fmt.Errorf("%w: %q", ErrUnsupportedCollation, tm.Collation)
}

type matcher struct {
	o        *Object
	m        *model
	floating *time.Location
}

// compModel returns the model of a main component, or nil.
func (mt *matcher) compModel(c *goical.Component) *compModel {
	for _, cm := range mt.m.comps {
		if cm.c == c {
			return cm
		}
	}
	return nil
}

// comps reports whether every comp-filter in fs matches among the children
// of parent; parentCM is parent's model when parent is a main component.
func (mt *matcher) comps(parent *goical.Component, parentCM *compModel, fs []CompFilter) bool {
	for _, f := range fs {
		if !mt.comp(parent, parentCM, f) {
			return false
		}
	}
	return true
}

func (mt *matcher) comp(parent *goical.Component, parentCM *compModel, f CompFilter) bool {
	name := strings.ToUpper(f.Name)
	if f.IsNotDefined {
		for _, c := range parent.Children {
			if c.Name == name {
				return false
			}
		}
		return true
	}
	if parentCM == nil && f.TimeRange != nil && name == mt.m.kind {
		return mt.mainInRange(*f.TimeRange, f)
	}
	for _, c := range parent.Children {
		if c.Name != name {
			continue
		}
		cm := mt.compModel(c)
		if mt.body(c, cm, f) && (f.TimeRange == nil || mt.inRange(c, parentCM, *f.TimeRange)) {
			return true
		}
	}
	return false
}

// body checks a component's prop-filters and nested comp-filters.
func (mt *matcher) body(c *goical.Component, cm *compModel, f CompFilter) bool {
	return mt.props(c, cm, f.Props) && mt.comps(c, cm, f.Comps)
}

// mainInRange matches VEVENT, VTODO or VJOURNAL with a time-range: some
// instance overlaps and its component passes the rest of the filter.
func (mt *matcher) mainInRange(tr TimeRange, f CompFilter) bool {
	o := mt.o
	// Parse's bounds hold for any floating zone: most objects of a large
	// calendar stop here without expanding anything.
	if !tr.End.IsZero() && !o.Start.IsZero() && !tr.End.After(o.Start) ||
		!tr.Start.IsZero() && !o.End.IsZero() && tr.Start.After(o.End) {
		return false
	}
	if len(f.Props) == 0 && len(f.Comps) == 0 {
		return mt.m.anyOccurrence(tr, mt.floating, nil)
	}
	var known, ok [8]bool // per component, for the first few
	return mt.m.anyOccurrence(tr, mt.floating, func(oc occurrence) bool {
		i := indexOf(mt.m.comps, oc.cm)
		if i >= 0 && i < len(known) && known[i] {
			return ok[i]
		}
		r := mt.body(oc.cm.c, oc.cm, f)
		if i >= 0 && i < len(known) {
			known[i], ok[i] = true, r
		}
		return r
	})
}

func indexOf(cms []*compModel, cm *compModel) int {
	for i, x := range cms {
		if x == cm {
			return i
		}
	}
	return -1
}

// inRange applies a time-range to a component that is not a main one:
// VALARM (§9.9 triggers), VFREEBUSY; others have no time to test.
func (mt *matcher) inRange(c *goical.Component, parentCM *compModel, tr TimeRange) bool {
	switch c.Name {
	case goical.CompAlarm:
		if parentCM == nil {
			return false
		}
		for i := range parentCM.alarms {
			if a := &parentCM.alarms[i]; a.c == c {
				return mt.m.alarmMatches(tr, mt.floating, parentCM, a)
			}
		}
		return false
	case goical.CompFreeBusy:
		return freeBusyInRange(c, tr, mt.o.Cal, mt.floating)
	}
	return true
}

func (mt *matcher) props(c *goical.Component, cm *compModel, fs []PropFilter) bool {
	for _, f := range fs {
		if !mt.prop(c, cm, f) {
			return false
		}
	}
	return true
}

// prop matches a prop-filter (RFC 4791 §9.7.2): some property of that name
// passes the time-range, the text-match and every param-filter.
func (mt *matcher) prop(c *goical.Component, cm *compModel, f PropFilter) bool {
	ps := c.Props[strings.ToUpper(f.Name)]
	if f.IsNotDefined {
		return len(ps) == 0
	}
	for i := range ps {
		p := &ps[i]
		if f.TimeRange != nil && !mt.propInRange(cm, p, *f.TimeRange) {
			continue
		}
		if f.TextMatch != nil && !textMatches(propTexts(p), f.TextMatch) {
			continue
		}
		if paramsMatch(p, f.Params) {
			return true
		}
	}
	return false
}

// propInRange tests a DATE or DATE-TIME property against a time range: a
// DATE-TIME as an instant, a DATE as its day. DTSTART, DTEND and DUE of a
// recurring component take the values of each instance.
func (mt *matcher) propInRange(cm *compModel, p *goical.Prop, tr TimeRange) bool {
	if cm != nil && cm.recurs() {
		var pick func(instTimes) (time.Time, bool)
		switch p.Name {
		case goical.PropDateTimeStart:
			pick = func(it instTimes) (time.Time, bool) { return it.start, it.hasStart }
		case goical.PropDateTimeEnd:
			pick = func(it instTimes) (time.Time, bool) { return it.end, cm.hasEndOff }
		case goical.PropDue:
			pick = func(it instTimes) (time.Time, bool) { return it.due, it.hasDue }
		}
		if pick != nil {
			from, to := tr.window(cm.lo, cm.hi)
			found := false
			allDay := cm.anchor.kind == kindDate
			mt.m.occurrences(from, to, mt.floating, func(oc occurrence) bool {
				if oc.cm != cm || oc.timeless {
					return true
				}
				if t, ok := pick(oc.times()); ok {
					found = valueInRange(tr, t, allDay)
				}
				return !found
			})
			return found
		}
	}
	z := zones{cal: mt.o.Cal}
	found := false
	_ = z.values(p, func(v dtValue, _ string) error {
		if valueInRange(tr, v.at(mt.floating), v.kind == kindDate) {
			found = true
			return errStop
		}
		return nil
	})
	return found
}

var errStop = errors.New("stop")

func valueInRange(tr TimeRange, t time.Time, date bool) bool {
	if date {
		return tr.overlaps(t, t.AddDate(0, 0, 1))
	}
	return tr.startAtOrBefore(t) && tr.endAfter(t)
}

// multiValued lists properties whose TEXT value is a comma-separated list
// (RFC 5545 §3.8.1.2, §3.8.1.10).
func multiValued(name string) bool { return name == "CATEGORIES" || name == "RESOURCES" }

// propTexts returns the values a text-match looks at: TEXT unescaped (and
// split for list properties), anything else as written.
func propTexts(p *goical.Prop) []string {
	switch p.ValueType() {
	case goical.ValueText, goical.ValueDefault:
		return unescapeText(p.Value, multiValued(p.Name))
	}
	return []string{p.Value}
}

func paramsMatch(p *goical.Prop, fs []ParamFilter) bool {
	for _, f := range fs {
		vals := p.Params[strings.ToUpper(f.Name)]
		switch {
		case f.IsNotDefined:
			if len(vals) > 0 {
				return false
			}
		case len(vals) == 0:
			return false
		case f.TextMatch != nil && !textMatches(vals, f.TextMatch):
			return false
		}
	}
	return true
}

// textMatches is a CALDAV:text-match (RFC 4791 §9.7.5): a substring test
// under the collation, true when any value contains the text, negated by
// negate-condition.
func textMatches(vals []string, tm *TextMatch) bool {
	found := false
	for _, v := range vals {
		if collationContains(v, tm.Text, tm.Collation) {
			found = true
			break
		}
	}
	return found != tm.Negate
}

// collationContains implements the collations of RFC 4790 as substring
// tests. i;ascii-casemap folds A–Z only (so "É" and "é" differ, as the RFC
// says); i;unicode-casemap uses Unicode simple case folding (the
// equivalence strings.EqualFold uses), not RFC 5051's full folding with
// normalization: "ß" does not match "SS" and composed and decomposed
// accents differ.
func collationContains(s, sub, collation string) bool {
	switch strings.ToLower(collation) {
	case "i;octet":
		return strings.Contains(s, sub)
	case "i;unicode-casemap":
		return strings.Contains(foldUnicode(s), foldUnicode(sub))
	default:
		return strings.Contains(foldASCII(s), foldASCII(sub))
	}
}

func foldASCII(s string) string {
	i := 0
	for i < len(s) && !(s[i] >= 'A' && s[i] <= 'Z') {
		i++
	}
	if i == len(s) {
		return s
	}
	b := []byte(s)
	for ; i < len(b); i++ {
		if c := b[i]; c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// foldUnicode maps each rune to one representative of its simple case
// folding orbit (the smallest, lower-cased when ASCII), so two strings
// fold equal exactly when strings.EqualFold says so.
func foldUnicode(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return foldASCII(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		if m >= 'A' && m <= 'Z' {
			m += 'a' - 'A'
		}
		b.WriteRune(m)
	}
	return b.String()
}
