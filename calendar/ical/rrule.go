package ical

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file expands RRULE (RFC 5545 §3.3.10) into wall-clock times.
//
// salon does not use rrule-go for this: its iterator cannot be stopped from
// outside, loops forever on rules such as FREQ=HOURLY;INTERVAL=24;BYHOUR=1
// with DTSTART at another hour, and scans to the year 9999 (100–200 ms) for
// a rule that never matches (FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30). Here every
// expansion has a work budget, starts at the period of the first instance
// the caller wants and stops after the last one.

type frequency int8

const (
	secondly frequency = iota
	minutely
	hourly
	daily
	weekly
	monthly
	yearly
)

var frequencies = map[string]frequency{
	"SECONDLY": secondly, "MINUTELY": minutely, "HOURLY": hourly, "DAILY": daily,
	"WEEKLY": weekly, "MONTHLY": monthly, "YEARLY": yearly,
}

var weekdays = map[string]time.Weekday{
	"SU": time.Sunday, "MO": time.Monday, "TU": time.Tuesday, "WE": time.Wednesday,
	"TH": time.Thursday, "FR": time.Friday, "SA": time.Saturday,
}

// weekdayNum is one BYDAY entry: n is 0 for every such weekday, else the
// nth (negative: from the end) in the month or year.
type weekdayNum struct {
	n   int
	day time.Weekday
}

// rule is a parsed RRULE.
type rule struct {
	freq     frequency
	interval int
	count    int     // 0: none
	until    dtValue // kind none: none
	wkst     time.Weekday

	bySecond, byMinute, byHour      []int
	byMonthDay, byYearDay, byWeekNo []int
	byMonth, bySetPos               []int
	byDay                           []weekdayNum
}

const (
	maxInterval = 100000
	maxByValues = 400 // entries in one BYxxx list
)

// parseRule parses an RRULE value. Unknown parts (X-, RSCALE, SKIP) are
// ignored; out-of-range values are errors.
func parseRule(s string) (*rule, error) {
	r := &rule{interval: 1, wkst: time.Monday}
	hasFreq := false
	for part := range strings.SplitSeq(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("RRULE part %.30q has no '='", part)
		}
		k, v = strings.ToUpper(strings.TrimSpace(k)), strings.ToUpper(strings.TrimSpace(v))
		var err error
		switch k {
		case "FREQ":
			r.freq, hasFreq = frequencies[v]
			if !hasFreq {
				return nil, fmt.Errorf("RRULE FREQ=%.20s is not a frequency", v)
			}
		case "INTERVAL":
			r.interval, err = boundedInt(k, v, 1, maxInterval)
		case "COUNT":
			r.count, err = boundedInt(k, v, 1, 1<<30)
		case "UNTIL":
			r.until.wall, r.until.kind, err = parseDateTime(v)
		case "WKST":
			var ok bool
			if r.wkst, ok = weekdays[v]; !ok {
				err = fmt.Errorf("RRULE WKST=%.10s is not a weekday", v)
			}
		case "BYSECOND":
			r.bySecond, err = intList(k, v, 0, 60, false)
		case "BYMINUTE":
			r.byMinute, err = intList(k, v, 0, 59, false)
		case "BYHOUR":
			r.byHour, err = intList(k, v, 0, 23, false)
		case "BYMONTHDAY":
			r.byMonthDay, err = intList(k, v, 1, 31, true)
		case "BYYEARDAY":
			r.byYearDay, err = intList(k, v, 1, 366, true)
		case "BYWEEKNO":
			r.byWeekNo, err = intList(k, v, 1, 53, true)
		case "BYMONTH":
			r.byMonth, err = intList(k, v, 1, 12, false)
		case "BYSETPOS":
			r.bySetPos, err = intList(k, v, 1, 366, true)
		case "BYDAY":
			r.byDay, err = dayList(v)
		}
		if err != nil {
			return nil, err
		}
	}
	if !hasFreq {
		return nil, fmt.Errorf("RRULE %.40q has no FREQ", s)
	}
	return r, nil
}

func boundedInt(k, v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(strings.TrimPrefix(v, "+"))
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("RRULE %s=%.20s is not a number from %d to %d", k, v, lo, hi)
	}
	return n, nil
}

// intList parses a BYxxx list; signed allows -hi..-lo too. The result is
// sorted and without duplicates.
func intList(k, v string, lo, hi int, signed bool) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(v, ",") {
		if len(out) == maxByValues {
			return nil, fmt.Errorf("RRULE %s has more than %d values", k, maxByValues)
		}
		n, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(f), "+"))
		if err != nil || !(n >= lo && n <= hi || signed && n <= -lo && n >= -hi) {
			return nil, fmt.Errorf("RRULE %s=%.30s: values must be from %d to %d", k, v, lo, hi)
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func dayList(v string) ([]weekdayNum, error) {
	var out []weekdayNum
	for f := range strings.SplitSeq(v, ",") {
		f = strings.TrimSpace(f)
		if len(out) == maxByValues || len(f) < 2 {
			return nil, fmt.Errorf("RRULE BYDAY=%.30s is malformed", v)
		}
		day, ok := weekdays[f[len(f)-2:]]
		if !ok {
			return nil, fmt.Errorf("RRULE BYDAY=%.30s: %q is not a weekday", v, f)
		}
		n := 0
		if num := f[:len(f)-2]; num != "" {
			var err error
			n, err = strconv.Atoi(strings.TrimPrefix(num, "+"))
			if err != nil || n == 0 || n > 53 || n < -53 {
				return nil, fmt.Errorf("RRULE BYDAY=%.30s: %q is not a week number", v, f)
			}
		}
		out = append(out, weekdayNum{n, day})
	}
	return out, nil
}

// expander generates the candidate instances of a rule for one DTSTART:
// the rule with the defaults RFC 5545 takes from DTSTART filled in.
type expander struct {
	r     *rule
	start time.Time // DTSTART wall clock, in UTC

	byMonth, byMonthDay     []int
	byDay                   []weekdayNum
	hours, minutes, seconds []int // nil: any (a limit that is not set)
	useNth, nthInMonth      bool

	buf []time.Time // candidates of one period, for BYSETPOS
}

func newExpander(r *rule, start time.Time) *expander {
	e := &expander{r: r, start: start, byMonth: r.byMonth, byMonthDay: r.byMonthDay, byDay: r.byDay}
	if len(r.byWeekNo) == 0 && len(r.byYearDay) == 0 && len(r.byMonthDay) == 0 && len(r.byDay) == 0 {
		switch r.freq {
		case yearly:
			if len(e.byMonth) == 0 {
				e.byMonth = []int{int(start.Month())}
			}
			e.byMonthDay = []int{start.Day()}
		case monthly:
			e.byMonthDay = []int{start.Day()}
		case weekly:
			e.byDay = []weekdayNum{{0, start.Weekday()}}
		}
	}
	// Parts finer than FREQ expand (and default to DTSTART's), parts as
	// coarse as FREQ or coarser limit (RFC 5545 §3.3.10, the table).
	e.hours, e.minutes, e.seconds = r.byHour, r.byMinute, r.bySecond
	if r.freq > hourly && e.hours == nil {
		e.hours = []int{start.Hour()}
	}
	if r.freq > minutely && e.minutes == nil {
		e.minutes = []int{start.Minute()}
	}
	if r.freq > secondly && e.seconds == nil {
		e.seconds = []int{start.Second()}
	}
	e.useNth = r.freq == monthly || r.freq == yearly && len(r.byWeekNo) == 0
	e.nthInMonth = r.freq == monthly || len(e.byMonth) > 0
	return e
}

// day describes one date for the BYxxx filters.
type day struct {
	y          int
	m          time.Month
	d, yd      int // day of month, day of year (1-based)
	ml, yl     int // lengths of the month and the year
	wd         time.Weekday
	daysSince0 int64 // days since 1970-01-01
}

var daysBeforeMonth = [...]int{0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334}

func dayOf(y int, m time.Month, d int) day {
	t := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	y, m, d = t.Date()
	yl := 365
	if daysIn(y, time.February) == 29 {
		yl = 366
	}
	yd := daysBeforeMonth[m] + d
	if m > time.February && yl == 366 {
		yd++
	}
	return day{y: y, m: m, d: d, yd: yd, ml: daysIn(y, m), yl: yl, wd: t.Weekday(), daysSince0: t.Unix() / 86400}
}

// next returns the following date.
func (x day) next() day {
	if x.d < x.ml {
		x.d++
		x.yd++
		x.wd = (x.wd + 1) % 7
		x.daysSince0++
		return x
	}
	return dayOf(x.y, x.m, x.d+1)
}

func (x day) time() time.Time { return time.Unix(x.daysSince0*86400, 0).UTC() }

// match applies the day-level BYxxx parts as filters.
func (e *expander) match(x day) bool {
	r := e.r
	if len(e.byMonth) > 0 && !slices.Contains(e.byMonth, int(x.m)) {
		return false
	}
	if len(r.byYearDay) > 0 && !slices.Contains(r.byYearDay, x.yd) && !slices.Contains(r.byYearDay, x.yd-x.yl-1) {
		return false
	}
	if len(e.byMonthDay) > 0 && !slices.Contains(e.byMonthDay, x.d) && !slices.Contains(e.byMonthDay, x.d-x.ml-1) {
		return false
	}
	if len(e.byDay) == 0 {
		return true
	}
	for _, bd := range e.byDay {
		if bd.day != x.wd {
			continue
		}
		if bd.n == 0 || !e.useNth {
			return true
		}
		pos, neg := (x.yd-1)/7+1, -((x.yl-x.yd)/7 + 1)
		if e.nthInMonth {
			pos, neg = (x.d-1)/7+1, -((x.ml-x.d)/7 + 1)
		}
		if bd.n == pos || bd.n == neg {
			return true
		}
	}
	return false
}

// lastYear is where every expansion stops: RFC 5545 dates have four digits.
const lastYear = 9999

// margin covers any UTC offset when a wall-clock bound stands for an
// instant (offsets stay within ±24 h, RFC 5545 §3.3.14).
const margin = 26 * time.Hour

// each calls fn with every candidate after DTSTART, in increasing order,
// until fn returns false, a candidate passes to (zero: no end) or the
// budget runs out. With a zero COUNT, it skips the periods that end before
// from; it may still return candidates before from. Both bounds are wall
// clock. each reports false when it stopped for the budget.
func (e *expander) each(from, to time.Time, budget *int, fn func(time.Time) bool) bool {
	r := e.r
	if r.count > 0 {
		from = time.Time{}
	}
	switch r.freq {
	case yearly, monthly, weekly, daily:
		return e.eachDayPeriod(from, to, budget, fn)
	default:
		return e.eachTimePeriod(from, to, budget, fn)
	}
}

// emit hands the candidates of one period to fn: directly, or through
// BYSETPOS. It returns false to stop.
func (e *expander) emit(t time.Time, budget *int, fn func(time.Time) bool) (more, ok bool) {
	*budget--
	if *budget < 0 {
		return false, false
	}
	if len(e.r.bySetPos) > 0 {
		e.buf = append(e.buf, t)
		return true, true
	}
	if !t.After(e.start) {
		return true, true
	}
	return fn(t), true
}

// flushSetPos applies BYSETPOS to the collected period.
func (e *expander) flushSetPos(fn func(time.Time) bool) bool {
	if len(e.r.bySetPos) == 0 {
		return true
	}
	n := len(e.buf)
	var picked []time.Time
	for _, p := range e.r.bySetPos {
		i := p - 1
		if p < 0 {
			i = n + p
		}
		if i >= 0 && i < n {
			picked = append(picked, e.buf[i])
		}
	}
	e.buf = e.buf[:0]
	slices.SortFunc(picked, time.Time.Compare)
	picked = slices.CompactFunc(picked, time.Time.Equal)
	for _, t := range picked {
		if t.After(e.start) && !fn(t) {
			return false
		}
	}
	return true
}

func (e *expander) eachDayPeriod(from, to time.Time, budget *int, fn func(time.Time) bool) bool {
	r, s := e.r, e.start
	iv := int64(r.interval)
	startDay := dayOf(s.Year(), s.Month(), s.Day())
	weekStart := startDay.daysSince0 - int64((int(startDay.wd)-int(r.wkst)+7)%7)

	var k int64
	if !from.IsZero() && from.After(s) {
		fromDay := from.Unix() / 86400
		switch r.freq {
		case yearly:
			k = int64(from.Year()-s.Year())/iv - 1
		case monthly:
			k = int64((from.Year()-s.Year())*12+int(from.Month()-s.Month())) / iv
		case weekly:
			k = (fromDay - weekStart) / (7 * iv)
		case daily:
			k = (fromDay - startDay.daysSince0) / iv
		}
		k = max(k, 0)
	}
	var days []day
	for ; ; k++ {
		days = days[:0]
		var first day
		switch r.freq {
		case yearly:
			y := int64(s.Year()) + k*iv
			if y > lastYear {
				return true
			}
			first = dayOf(int(y), time.January, 1)
			days = e.yearDays(int(y), days)
		case monthly:
			mi := int64(s.Year())*12 + int64(s.Month()-1) + k*iv
			if mi/12 > lastYear {
				return true
			}
			first = dayOf(int(mi/12), time.Month(mi%12+1), 1)
			for x := first; x.m == first.m; x = x.next() {
				days = append(days, x)
			}
		case weekly:
			first = dayOf(1970, time.January, int(weekStart+k*7*iv)+1)
			x := first
			for range 7 {
				days = append(days, x)
				x = x.next()
			}
		case daily:
			first = dayOf(1970, time.January, int(startDay.daysSince0+k*iv)+1)
			days = append(days, first)
		}
		if first.y > lastYear {
			return true
		}
		if !to.IsZero() && first.time().Add(-7*24*time.Hour).After(to) {
			return true
		}
		for _, x := range days {
			if *budget--; *budget < 0 {
				return false
			}
			if !e.match(x) {
				continue
			}
			base := x.time()
			for _, h := range e.hours {
				for _, m := range e.minutes {
					for _, sec := range e.seconds {
						t := base.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(sec)*time.Second)
						more, ok := e.emit(t, budget, fn)
						if !ok {
							return false
						}
						if !more {
							return true
						}
					}
				}
			}
		}
		if !e.flushSetPos(fn) {
			return true
		}
	}
}

// yearDays lists the dates a YEARLY period looks at: the weeks of BYWEEKNO
// (which may reach into the neighbouring years), else the months of
// BYMONTH, else the whole year.
func (e *expander) yearDays(y int, days []day) []day {
	if len(e.r.byWeekNo) == 0 {
		for m := time.January; m <= time.December; m++ {
			if len(e.byMonth) > 0 && !slices.Contains(e.byMonth, int(m)) {
				continue
			}
			for x := dayOf(y, m, 1); x.m == m; x = x.next() {
				days = append(days, x)
			}
		}
		return days
	}
	// Week 1 is the first week, starting on WKST, with at least four days
	// of the year; it is the week holding January 4 (RFC 5545 §3.3.10).
	week1 := func(y int) int64 {
		jan4 := dayOf(y, time.January, 4)
		return jan4.daysSince0 - int64((int(jan4.wd)-int(e.r.wkst)+7)%7)
	}
	w1 := week1(y)
	weeks := int((week1(y+1) - w1) / 7)
	var starts []int64
	for _, w := range e.r.byWeekNo {
		if w < 0 {
			w = weeks + 1 + w
		}
		if w >= 1 && w <= weeks {
			starts = append(starts, w1+int64(w-1)*7)
		}
	}
	slices.Sort(starts)
	for _, st := range slices.Compact(starts) {
		x := dayOf(1970, time.January, int(st)+1)
		for range 7 {
			days = append(days, x)
			x = x.next()
		}
	}
	return days
}

// eachTimePeriod handles HOURLY, MINUTELY and SECONDLY. A period that fails
// a limit skips straight to the next day, hour or minute that could pass.
func (e *expander) eachTimePeriod(from, to time.Time, budget *int, fn func(time.Time) bool) bool {
	r, s := e.r, e.start
	unit := int64(1)
	switch r.freq {
	case hourly:
		unit = 3600
	case minutely:
		unit = 60
	}
	base := s.Unix() - s.Unix()%unit
	step := unit * int64(r.interval)
	// kAt is the first period starting at or after t.
	kAt := func(t time.Time) int64 {
		d := t.Unix() - base
		if d <= 0 {
			return 0
		}
		return (d + step - 1) / step
	}
	var k int64
	if !from.IsZero() && from.Unix() > base {
		k = (from.Unix() - base) / step
	}
	var oneMinute, oneSecond [1]int
	for {
		if *budget--; *budget < 0 {
			return false
		}
		t := time.Unix(base+k*step, 0).UTC()
		if t.Year() > lastYear || !to.IsZero() && t.After(to) {
			return true
		}
		x := dayOf(t.Year(), t.Month(), t.Day())
		switch {
		case !e.match(x):
			k = kAt(x.time().Add(24 * time.Hour))
			continue
		case r.byHour != nil && !slices.Contains(r.byHour, t.Hour()):
			k = kAt(t.Truncate(time.Hour).Add(time.Hour))
			continue
		case r.freq <= minutely && r.byMinute != nil && !slices.Contains(r.byMinute, t.Minute()):
			k = kAt(t.Truncate(time.Minute).Add(time.Minute))
			continue
		case r.freq == secondly && r.bySecond != nil && !slices.Contains(r.bySecond, t.Second()):
			k++
			continue
		}
		minutes, seconds := e.minutes, e.seconds
		if r.freq <= minutely {
			oneMinute[0] = t.Minute()
			minutes = oneMinute[:]
		}
		if r.freq == secondly {
			oneSecond[0] = t.Second()
			seconds = oneSecond[:]
		}
		hourStart := t.Truncate(time.Hour)
		for _, m := range minutes {
			for _, sec := range seconds {
				c := hourStart.Add(time.Duration(m)*time.Minute + time.Duration(sec)*time.Second)
				more, ok := e.emit(c, budget, fn)
				if !ok {
					return false
				}
				if !more {
					return true
				}
			}
		}
		if !e.flushSetPos(fn) {
			return true
		}
		k++
	}
}
