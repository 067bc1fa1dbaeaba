package ical

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	goical "github.com/emersion/go-ical"
)

// Preconditions of RFC 4791 §5.3.2.1 that Parse reports.
const (
	validData     = "valid-calendar-data"
	validObject   = "valid-calendar-object-resource"
	supportedComp = "supported-calendar-component"
)

// MaxObjectSize is the largest calendar object Parse reads; the CalDAV
// layer should advertise it, or less, as CALDAV:max-resource-size.
const MaxObjectSize = 10 << 20

// Limits on what one component may ask for.
const (
	maxRepeat = 1000 // VALARM REPEAT honoured
	maxRDates = 10000
	// probeBudget is the work allowed to find a rule's first instance
	// after DTSTART; the rarest sensible rule (a leap day that is a
	// Friday, day by day) needs about 10,000.
	probeBudget = 50000
)

// Parse reads a calendar object resource (RFC 4791 §4.1) as a client sends
// it. It is strict where the RFC's preconditions are (one VCALENDAR, no
// METHOD, one component type, one UID shared by the master and its
// RECURRENCE-ID overrides, at most one master) and lenient where real
// clients are sloppy (missing DTSTAMP, LF line ends, DTEND before DTSTART,
// unknown time zones, X- components). It never panics; errors are
// *InvalidError. The Object it returns is not modified by Match, Render or
// FreeBusy, so it may be cached and shared between goroutines.
func Parse(data []byte) (*Object, error) {
	if len(data) > MaxObjectSize {
		return nil, &InvalidError{Precondition: "max-resource-size",
			Msg: fmt.Sprintf("the object has %d bytes; the limit is %d", len(data), MaxObjectSize)}
	}
	cal, err := decode(data)
	if err != nil {
		var oe *objectError
		if errors.As(err, &oe) {
			return nil, &InvalidError{Precondition: validObject, Msg: oe.msg}
		}
		return nil, &InvalidError{Precondition: validData, Msg: err.Error()}
	}
	if cal.Props.Get(goical.PropMethod) != nil {
		return nil, &InvalidError{Precondition: validObject,
			Msg: "a stored calendar object must not have a METHOD property (RFC 4791 §4.1); remove it"}
	}
	kind, uid, err := checkObject(cal)
	if err != nil {
		return nil, err
	}
	m, err := buildModel(cal, kind)
	if err != nil {
		return nil, &InvalidError{Precondition: validData, Msg: err.Error()}
	}
	o := &Object{Cal: cal, UID: uid, Component: kind, m: m}
	o.Start, o.End = m.bounds()
	return o, nil
}

// checkObject enforces RFC 4791 §4.1 and returns the component type and
// the UID.
func checkObject(cal *goical.Calendar) (kind, uid string, err error) {
	invalid := func(format string, args ...any) (string, string, error) {
		return "", "", &InvalidError{Precondition: validObject, Msg: fmt.Sprintf(format, args...)}
	}
	other := ""
	for _, c := range cal.Children {
		switch c.Name {
		case goical.CompTimezone:
			if c.Props.Get(goical.PropTimezoneID) == nil {
				return "", "", &InvalidError{Precondition: validData, Msg: "a VTIMEZONE has no TZID"}
			}
		case goical.CompEvent, goical.CompToDo, goical.CompJournal:
			if kind != "" && kind != c.Name {
				return invalid("%s and %s in one object; store each in its own resource (RFC 4791 §4.1)", kind, c.Name)
			}
			kind = c.Name
		default:
			if !strings.HasPrefix(c.Name, "X-") && other == "" {
				other = c.Name
			}
		}
	}
	switch {
	case kind == "" && other != "":
		return "", "", &InvalidError{Precondition: supportedComp,
			Msg: fmt.Sprintf("%s cannot be stored in a calendar; salon stores VEVENT, VTODO and VJOURNAL objects", other)}
	case kind == "":
		return invalid("the calendar holds no VEVENT, VTODO or VJOURNAL")
	case other != "":
		return invalid("%s and %s in one object; store each in its own resource (RFC 4791 §4.1)", kind, other)
	}
	masters := 0
	for _, c := range cal.Children {
		if c.Name != kind {
			continue
		}
		ps := c.Props[goical.PropUID]
		if len(ps) != 1 || strings.TrimSpace(ps[0].Value) == "" {
			return invalid("every %s needs exactly one UID (RFC 5545 §3.8.4.7)", kind)
		}
		switch u := ps[0].Value; {
		case uid == "":
			uid = u
		case u != uid:
			return invalid("%s components with different UIDs (%.60q, %.60q); store each in its own resource (RFC 4791 §4.1)", kind, uid, u)
		}
		if c.Props.Get(goical.PropRecurrenceID) == nil {
			if masters++; masters > 1 {
				return invalid("two %s components with UID %.60q and no RECURRENCE-ID; give the exceptions a RECURRENCE-ID", kind, uid)
			}
		}
	}
	return kind, uid, nil
}

// modelOf returns o's time structure, reading it now for an Object that
// did not come from Parse. Data Parse would reject gives a partial model.
func (o *Object) modelOf() *model {
	if o.m != nil {
		return o.m
	}
	kind := o.Component
	if kind == "" && o.Cal != nil {
		for _, c := range o.Cal.Children {
			if c.Name == goical.CompEvent || c.Name == goical.CompToDo || c.Name == goical.CompJournal {
				kind = c.Name
				break
			}
		}
	}
	if o.Cal == nil || kind == "" {
		return &model{}
	}
	m, err := buildModel(o.Cal, kind)
	if err != nil {
		return &model{kind: kind}
	}
	return m
}

// buildModel reads the time structure of the components of type kind.
func buildModel(cal *goical.Calendar, kind string) (*model, error) {
	z := &zones{cal: cal}
	m := &model{kind: kind}
	for _, c := range cal.Children {
		if c.Name != kind {
			continue
		}
		cm, err := buildComp(z, c)
		if err != nil {
			uid := ""
			if p := c.Props.Get(goical.PropUID); p != nil {
				uid = p.Value
			}
			return nil, fmt.Errorf("%s %.60q: %w", kind, uid, err)
		}
		if cm.rid.kind == kindNone && m.master == nil {
			m.master = cm
			m.comps = append([]*compModel{cm}, m.comps...)
			continue
		}
		m.comps = append(m.comps, cm)
		m.overridden.add(cm.rid)
		if cm.thisAndFuture {
			m.future = append(m.future, cm)
			shift := cm.anchor.at(nil).Sub(cm.rid.at(nil))
			m.shift = max(m.shift, shift, -shift)
		}
	}
	m.overridden.sort()
	slices.SortFunc(m.future, func(a, b *compModel) int { return a.rid.at(nil).Compare(b.rid.at(nil)) })
	for _, cm := range m.comps {
		m.lo, m.hi = min(m.lo, cm.lo), max(m.hi, cm.hi)
		for _, rd := range cm.rdates {
			if rd.end.kind != kindNone {
				m.hi = max(m.hi, rd.end.at(nil).Sub(rd.v.at(nil)))
			} else if rd.hasDur {
				m.hi = max(m.hi, rd.dur.approx())
			}
		}
		for _, a := range cm.alarms {
			if a.abs.kind == kindNone {
				m.alarmLo, m.alarmHi = min(m.alarmLo, a.lo), max(m.alarmHi, a.hi)
			}
		}
	}
	return m, nil
}

func buildComp(z *zones, c *goical.Component) (*compModel, error) {
	cm := &compModel{c: c}
	var err error
	get := func(name string) dtValue {
		p := c.Props.Get(name)
		if p == nil || err != nil {
			return dtValue{}
		}
		var v dtValue
		v, err = z.value(p)
		return v
	}
	cm.start = get(goical.PropDateTimeStart)
	cm.rid = get(goical.PropRecurrenceID)
	switch c.Name {
	case goical.CompEvent:
		cm.end = get(goical.PropDateTimeEnd)
	case goical.CompToDo:
		cm.due = get(goical.PropDue)
	}
	if err != nil {
		return nil, err
	}
	if cm.rid.kind != kindNone {
		cm.thisAndFuture = strings.EqualFold(c.Props.Get(goical.PropRecurrenceID).Params.Get(goical.ParamRange), "THISANDFUTURE")
		if cm.start.kind == kindNone && (c.Name != goical.CompToDo || cm.due.kind == kindNone) {
			cm.start = cm.rid // an override without DTSTART keeps the instance's
		}
	}
	if c.Name == goical.CompEvent && cm.start.kind == kindNone {
		return nil, errors.New("no DTSTART; a VEVENT needs one (RFC 5545 §3.6.1)")
	}
	if c.Name == goical.CompToDo {
		// COMPLETED and CREATED only place a VTODO without DTSTART and DUE;
		// a malformed one is ignored rather than refused.
		if p := c.Props.Get(goical.PropCompleted); p != nil {
			cm.completed, _ = z.value(p)
		}
		if p := c.Props.Get(goical.PropCreated); p != nil {
			cm.created, _ = z.value(p)
		}
	}
	if p := c.Props.Get(goical.PropDuration); p != nil {
		if cm.dur, err = parseDuration(strings.TrimSpace(p.Value)); err != nil {
			return nil, fmt.Errorf("DURATION: %w", err)
		}
		cm.hasDur = true
	}
	cm.anchor = cm.start
	if cm.anchor.kind == kindNone {
		cm.anchor = cm.due
	}
	if cm.start.kind != kindNone && cm.end.kind != kindNone {
		cm.endOff, cm.hasEndOff = between(cm.start, cm.end), true
	}
	if cm.start.kind != kindNone && cm.due.kind != kindNone {
		cm.dueOff, cm.hasDueOff = between(cm.start, cm.due), true
	}
	if err := readRecurrence(z, cm); err != nil {
		return nil, err
	}
	cm.lo, cm.hi = extent(cm)
	for _, child := range c.Children {
		if child.Name == goical.CompAlarm {
			cm.alarms = append(cm.alarms, readAlarm(z, cm, child))
		}
	}
	return cm, nil
}

// between is b − a: whole days between two DATEs, else exact; never
// negative (a DTEND before DTSTART makes an instant).
func between(a, b dtValue) duration {
	if a.kind == kindDate && b.kind == kindDate {
		return duration{days: max(0, int(b.wall.Sub(a.wall).Hours()+12)/24)}
	}
	return duration{secs: max(0, int64(b.at(nil).Sub(a.at(nil))/time.Second))}
}

// extent is the span of §9.9 times of one instance around its anchor.
func extent(cm *compModel) (lo, hi time.Duration) {
	switch {
	case cm.c.Name == goical.CompToDo:
		if cm.hasDueOff {
			d := cm.dueOff.approx()
			lo, hi = min(lo, d), max(hi, d)
		}
		if cm.hasDur && cm.start.kind != kindNone {
			hi = max(hi, cm.dur.approx())
		}
	case cm.hasEndOff:
		hi = cm.endOff.approx()
	case cm.hasDur:
		hi = max(0, cm.dur.approx())
	case cm.anchor.kind == kindDate:
		hi = 24 * time.Hour
	}
	return lo, hi
}

// readRecurrence reads RRULE, RDATE and EXDATE of a master component.
// Overrides keep none (RFC 5545 §3.8.4.4 gives them one instance).
func readRecurrence(z *zones, cm *compModel) error {
	c := cm.c
	if cm.rid.kind != kindNone || cm.anchor.kind == kindNone {
		return nil
	}
	if p := c.Props.Get(goical.PropRecurrenceRule); p != nil {
		r, err := parseRule(p.Value)
		if err != nil {
			return err
		}
		// A rule that yields nothing within probeBudget steps is
		// pathological (FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30): drop it here
		// rather than let every query scan for instances that never come.
		budget, found := probeBudget, false
		newExpander(r, cm.anchor.wall).each(time.Time{}, time.Time{}, &budget, func(time.Time) bool {
			found = true
			return false
		})
		if found {
			cm.rule = r
			cm.counted = countedInstances(r, cm.anchor.wall)
		}
	}
	for i := range c.Props[goical.PropRecurrenceDates] {
		p := &c.Props[goical.PropRecurrenceDates][i]
		if strings.EqualFold(p.Params.Get(goical.ParamValue), "PERIOD") || strings.Contains(p.Value, "/") {
			if err := readPeriods(z, p, cm); err != nil {
				return err
			}
			continue
		}
		err := z.values(p, func(v dtValue, _ string) error {
			if len(cm.rdates) == maxRDates {
				return fmt.Errorf("more than %d RDATE values", maxRDates)
			}
			cm.rdates = append(cm.rdates, rdate{v: v})
			return nil
		})
		if err != nil {
			return err
		}
	}
	for i := range c.Props[goical.PropExceptionDates] {
		err := z.values(&c.Props[goical.PropExceptionDates][i], func(v dtValue, _ string) error {
			cm.exdates.add(v)
			return nil
		})
		if err != nil {
			return err
		}
	}
	cm.exdates.sort()
	return nil
}

// maxCounted is the largest COUNT whose instances Parse lists.
const maxCounted = 1000

// countedInstances lists the instances after start of a rule with a COUNT
// of at most maxCounted; nil for other rules or when the budget runs out.
func countedInstances(r *rule, start time.Time) []int64 {
	if r.count == 0 || r.count > maxCounted {
		return nil
	}
	out := make([]int64, 0, r.count-1)
	budget := ruleBudget
	complete := newExpander(r, start).each(time.Time{}, time.Time{}, &budget, func(t time.Time) bool {
		if len(out) == r.count-1 {
			return false
		}
		out = append(out, t.Unix())
		return true
	})
	if !complete {
		return nil
	}
	return out
}

// readPeriods reads RDATE;VALUE=PERIOD values: start/end or start/duration
// (RFC 5545 §3.3.9).
func readPeriods(z *zones, p *goical.Prop, cm *compModel) error {
	for raw := range strings.SplitSeq(p.Value, ",") {
		if len(cm.rdates) == maxRDates {
			return fmt.Errorf("more than %d RDATE values", maxRDates)
		}
		a, b, ok := strings.Cut(strings.TrimSpace(raw), "/")
		if !ok {
			return fmt.Errorf("RDATE: %.40q is not a PERIOD", raw)
		}
		one := *p
		one.Params = goical.Params{goical.ParamTimezoneID: p.Params.Values(goical.ParamTimezoneID)}
		one.Value = a
		start, err := z.value(&one)
		if err != nil {
			return err
		}
		rd := rdate{v: start}
		if strings.ContainsAny(b, "Pp") {
			if rd.dur, err = parseDuration(b); err != nil {
				return fmt.Errorf("RDATE: %w", err)
			}
			rd.hasDur = true
		} else {
			one.Value = b
			if rd.end, err = z.value(&one); err != nil {
				return err
			}
		}
		cm.rdates = append(cm.rdates, rd)
	}
	return nil
}

// readAlarm reads a VALARM's trigger. An alarm without a usable TRIGGER
// never matches a time range but does not make the object invalid.
func readAlarm(z *zones, parent *compModel, c *goical.Component) alarm {
	a := alarm{c: c}
	p := c.Props.Get(goical.PropTrigger)
	if p == nil {
		return a
	}
	if strings.EqualFold(p.Params.Get(goical.ParamValue), "DATE-TIME") || !strings.ContainsAny(p.Value, "Pp") {
		a.abs, _ = z.value(p)
	} else if d, err := parseDuration(strings.TrimSpace(p.Value)); err == nil {
		a.off = d
		a.relEnd = strings.EqualFold(p.Params.Get(goical.ParamRelated), "END")
	} else {
		return a
	}
	if rp := c.Props.Get(goical.PropRepeat); rp != nil {
		if n, ok := digits(strings.TrimSpace(rp.Value)); ok && rp.Value != "" {
			if dp := c.Props.Get(goical.PropDuration); dp != nil {
				if d, err := parseDuration(strings.TrimSpace(dp.Value)); err == nil && d.positive() {
					a.repeat, a.every = min(n, maxRepeat), d
				}
			}
		}
	}
	var base time.Duration
	if a.relEnd {
		switch {
		case parent.hasDueOff:
			base = parent.dueOff.approx()
		case parent.c.Name != goical.CompToDo:
			_, base = extent(parent)
		case parent.hasDur:
			base = parent.dur.approx()
		}
	}
	a.lo = base + a.off.approx()
	a.hi = a.lo + a.every.approx()*time.Duration(a.repeat)
	return a
}
