package ical

import (
	"errors"
	"fmt"
	"strings"
	"time"

	goical "github.com/emersion/go-ical"
)

// timeKind is the form of a DATE or DATE-TIME value (RFC 5545 §3.3.4, §3.3.5).
type timeKind uint8

const (
	kindNone     timeKind = iota // property absent
	kindDate                     // VALUE=DATE: a whole day, floating
	kindFloating                 // local time without TZID, or with a TZID nobody knows
	kindUTC                      // ends in Z
	kindZoned                    // TZID resolved to a location
)

// dtValue is one DATE or DATE-TIME value. wall holds the written wall-clock
// fields in time.UTC; for kindUTC it is the instant itself.
type dtValue struct {
	wall time.Time
	kind timeKind
	loc  *time.Location // kindZoned only
}

// at returns the instant the value denotes; floating and DATE values are
// read in floating (UTC when nil).
func (v dtValue) at(floating *time.Location) time.Time {
	switch v.kind {
	case kindUTC:
		return v.wall
	case kindZoned:
		return wallIn(v.wall, v.loc)
	default:
		if floating == nil {
			return v.wall
		}
		return wallIn(v.wall, floating)
	}
}

// wallIn reads the wall-clock fields of w (a time in UTC) in loc.
func wallIn(w time.Time, loc *time.Location) time.Time {
	if loc == time.UTC {
		return w
	}
	y, m, d := w.Date()
	hh, mm, ss := w.Clock()
	return time.Date(y, m, d, hh, mm, ss, 0, loc)
}

// wallOf returns the wall-clock fields of t as a time in UTC.
func wallOf(t time.Time) time.Time {
	y, m, d := t.Date()
	hh, mm, ss := t.Clock()
	return time.Date(y, m, d, hh, mm, ss, 0, time.UTC)
}

var errNoValue = errors.New("empty value")

// parseDateTime parses one DATE, DATE-TIME or DATE-TIME with Z. It also
// accepts the ISO 8601 extended form ("2024-03-01T10:00:00Z") that a few
// exporters write, and a lower-case t or z.
func parseDateTime(s string) (wall time.Time, kind timeKind, err error) {
	if strings.ContainsAny(s, "-:") && len(s) >= 10 {
		s = strings.NewReplacer("-", "", ":", "").Replace(s)
	}
	n := len(s)
	switch {
	case n == 8:
		kind = kindDate
	case n == 15 && (s[8] == 'T' || s[8] == 't'):
		kind = kindFloating
	case n == 16 && (s[8] == 'T' || s[8] == 't') && (s[15] == 'Z' || s[15] == 'z'):
		kind = kindUTC
	case n == 0:
		return time.Time{}, 0, errNoValue
	default:
		return time.Time{}, 0, fmt.Errorf("%.40q is not a DATE or DATE-TIME", s)
	}
	y, ok1 := digits(s[0:4])
	mo, ok2 := digits(s[4:6])
	d, ok3 := digits(s[6:8])
	var hh, mm, ss int
	ok4, ok5, ok6 := true, true, true
	if kind != kindDate {
		hh, ok4 = digits(s[9:11])
		mm, ok5 = digits(s[11:13])
		ss, ok6 = digits(s[13:15])
	}
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, time.Month(mo)) ||
		hh > 24 || mm > 59 || ss > 60 {
		return time.Time{}, 0, fmt.Errorf("%.40q is not a valid DATE or DATE-TIME", s)
	}
	return time.Date(y, time.Month(mo), d, hh, mm, ss, 0, time.UTC), kind, nil
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(y int, m time.Month) int {
	switch m {
	case time.February:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}

// zones resolves TZID parameters for one calendar object, remembering each
// answer so that an object repeating a TZID pays for it once.
type zones struct {
	cal    *goical.Calendar
	seen   map[string]*time.Location
	custom int // TZIDs no time-zone database knows
}

// maxTZIDs bounds the distinct TZIDs one object may use: each unknown name
// costs several tzdata look-ups. Real objects use one to three.
// maxCustomZones bounds the VTIMEZONEs one object may have turned into
// locations with DST rules (a millisecond or so each); later ones get their
// standard offset.
const (
	maxTZIDs       = 64
	maxCustomZones = 8
)

var errTooManyTZIDs = fmt.Errorf("more than %d different TZIDs", maxTZIDs)

func (z *zones) resolve(tzid string) (*time.Location, error) {
	if loc, ok := z.seen[tzid]; ok {
		return loc, nil
	}
	if z.seen == nil {
		z.seen = make(map[string]*time.Location)
	}
	if len(z.seen) >= maxTZIDs {
		return nil, errTooManyTZIDs
	}
	if named, _ := namedZone(strings.TrimSpace(tzid)); named == nil {
		z.custom++
	}
	loc := resolveTZID(tzid, z.cal, z.custom <= maxCustomZones)
	z.seen[tzid] = loc
	return loc, nil
}

// values parses the DATE / DATE-TIME values of p (one, or a comma-separated
// list for EXDATE and RDATE). A TZID that resolves to nothing leaves the
// values floating, as RFC 5545 §3.2.19 allows for unknown zones.
func (z *zones) values(p *goical.Prop, fn func(v dtValue, raw string) error) error {
	var loc *time.Location
	if tzid := p.Params.Get(goical.ParamTimezoneID); tzid != "" {
		var err error
		if loc, err = z.resolve(tzid); err != nil {
			return err
		}
	}
	isDate := strings.EqualFold(p.Params.Get(goical.ParamValue), "DATE")
	for raw := range strings.SplitSeq(p.Value, ",") {
		raw = strings.TrimSpace(raw)
		wall, kind, err := parseDateTime(raw)
		if err != nil {
			return fmt.Errorf("%s: %w", p.Name, err)
		}
		if isDate && kind == kindFloating {
			// VALUE=DATE with a time: keep the day, as the parameter says.
			wall, kind = time.Date(wall.Year(), wall.Month(), wall.Day(), 0, 0, 0, 0, time.UTC), kindDate
		}
		v := dtValue{wall: wall, kind: kind}
		if kind == kindFloating && loc != nil {
			v.kind, v.loc = kindZoned, loc
		}
		if err := fn(v, raw); err != nil {
			return err
		}
	}
	return nil
}

// value parses a single-valued DATE or DATE-TIME property.
func (z *zones) value(p *goical.Prop) (dtValue, error) {
	var out dtValue
	n := 0
	err := z.values(p, func(v dtValue, _ string) error {
		out = v
		n++
		return nil
	})
	if err == nil && n != 1 {
		err = fmt.Errorf("%s: expected one value", p.Name)
	}
	return out, err
}

// duration is an RFC 5545 §3.3.6 duration: days are nominal (a day is the
// same wall-clock time on the next date, whatever DST does), the rest exact.
type duration struct {
	days int
	secs int64
}

func (d duration) positive() bool { return d.days > 0 || d.days == 0 && d.secs > 0 }

// add returns t plus d; nominal days are added in t's location.
func (d duration) add(t time.Time) time.Time {
	if d.days != 0 {
		t = t.AddDate(0, 0, d.days)
	}
	return t.Add(time.Duration(d.secs) * time.Second)
}

// approx is d as an exact time.Duration, for widening search windows.
func (d duration) approx() time.Duration {
	return time.Duration(d.days)*24*time.Hour + time.Duration(d.secs)*time.Second
}

// maxDurationDays keeps durations to something a calendar could mean
// (about 270 years) so that arithmetic on them cannot overflow.
const maxDurationDays = 100000

// parseDuration parses dur-value (RFC 5545 §3.3.6), leniently: lower case,
// and designators in any order.
func parseDuration(s string) (duration, error) {
	orig := s
	bad := func() (duration, error) { return duration{}, fmt.Errorf("%.40q is not a DURATION", orig) }
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" || (s[0] != 'P' && s[0] != 'p') {
		return bad()
	}
	s = s[1:]
	var d duration
	seen := false
	inTime := false
	for s != "" {
		if s[0] == 'T' || s[0] == 't' {
			inTime = true
			s = s[1:]
			continue
		}
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 || i > 9 || i == len(s) {
			return bad()
		}
		n, _ := digits(s[:i])
		switch s[i] | 0x20 {
		case 'w':
			d.days += 7 * n
		case 'd':
			d.days += n
		case 'h':
			d.secs += int64(n) * 3600
		case 'm':
			if !inTime {
				return bad() // months have no fixed length; RFC 5545 has none
			}
			d.secs += int64(n) * 60
		case 's':
			d.secs += int64(n)
		default:
			return bad()
		}
		seen = true
		s = s[i+1:]
	}
	if !seen || d.days > maxDurationDays || d.secs > maxDurationDays*86400 {
		return bad()
	}
	if neg {
		d.days, d.secs = -d.days, -d.secs
	}
	return d, nil
}

// parseUTCOffset parses utc-offset (RFC 5545 §3.3.14): ±HHMM[SS], with a
// colon tolerated.
func parseUTCOffset(s string) (int, error) {
	s = strings.ReplaceAll(strings.TrimSpace(s), ":", "")
	if len(s) != 5 && len(s) != 7 || s[0] != '+' && s[0] != '-' {
		return 0, fmt.Errorf("%.20q is not a UTC offset", s)
	}
	hh, ok1 := digits(s[1:3])
	mm, ok2 := digits(s[3:5])
	ss, ok3 := 0, true
	if len(s) == 7 {
		ss, ok3 = digits(s[5:7])
	}
	if !ok1 || !ok2 || !ok3 || hh > 23 || mm > 59 || ss > 59 {
		return 0, fmt.Errorf("%.20q is not a UTC offset", s)
	}
	off := hh*3600 + mm*60 + ss
	if s[0] == '-' {
		off = -off
	}
	return off, nil
}

// unescapeText undoes TEXT escaping (RFC 5545 §3.3.11). With split, it
// also splits at unescaped commas, for multi-valued properties. Unknown
// escapes are kept as written: clients produce them and matching should
// still work.
func unescapeText(s string, split bool) []string {
	if !strings.ContainsAny(s, `\,`) || !split && !strings.Contains(s, `\`) {
		return []string{s}
	}
	var out []string
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			switch s[i] {
			case 'n', 'N':
				b.WriteByte('\n')
			case '\\', ';', ',':
				b.WriteByte(s[i])
			default:
				b.WriteByte('\\')
				b.WriteByte(s[i])
			}
		case c == ',' && split:
			out = append(out, b.String())
			b.Reset()
		default:
			b.WriteByte(c)
		}
	}
	return append(out, b.String())
}

// Formats for writing values.
const (
	dateFormat     = "20060102"
	dateTimeFormat = "20060102T150405"
	utcFormat      = "20060102T150405Z"
)
