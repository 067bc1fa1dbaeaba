package ical

import (
	"encoding/binary"
	"slices"
	"strings"
	"time"

	goical "github.com/emersion/go-ical"
)

// Limits for turning a VTIMEZONE into a location.
const (
	maxObservances = 64
	maxTransitions = 2000
	vtzFirstYear   = 1900
	vtzLastYear    = 2100 // after it, the last observance stays in force
	// vtzBudget is the work for all the rules of one VTIMEZONE: two
	// yearly rules from 1601, as Outlook writes them, take about 13,000.
	vtzBudget = 50000
)

// vtimezoneLocation builds a location from a VTIMEZONE's STANDARD and
// DAYLIGHT observances (RFC 5545 §3.6.5), for TZIDs no time-zone database
// knows ("Customized Time Zone", "tzone://Microsoft/Custom"). It returns nil
// when the VTIMEZONE has no usable observance, and a fixed zone when it has
// a single one.
//
// Without build it returns the fixed offset of the first STANDARD
// observance, which is cheap; Parse builds at most a few per object.
func vtimezoneLocation(tzid string, vtz *goical.Component, build bool) *time.Location {
	key := vtimezoneKey(tzid, vtz)
	if v, ok := vtimezoneZones.get(key); ok {
		return v[0]
	}
	if !build {
		return standardZone(tzid, vtz)
	}
	loc := buildVTimezone(tzid, vtz)
	vtimezoneZones.put(key, [2]*time.Location{loc})
	return loc
}

// standardZone is the fixed zone of a VTIMEZONE's first STANDARD
// observance, or of its first observance; nil when none has an offset.
func standardZone(tzid string, vtz *goical.Component) *time.Location {
	var loc *time.Location
	for _, c := range vtz.Children {
		if off, err := propOffset(c, goical.PropTimezoneOffsetTo); err == nil {
			if c.Name == goical.CompTimezoneStandard {
				return time.FixedZone(tzid, off)
			}
			if loc == nil {
				loc = time.FixedZone(tzid, off)
			}
		}
	}
	return loc
}

// vtimezoneKey identifies a VTIMEZONE by what the location depends on, so
// that two objects defining the same custom TZID differently do not share
// a cache entry.
func vtimezoneKey(tzid string, vtz *goical.Component) string {
	var b strings.Builder
	b.WriteString(tzid)
	for i, c := range vtz.Children {
		if i == maxObservances {
			break
		}
		b.WriteString("\x00" + c.Name)
		for _, name := range []string{"DTSTART", "TZOFFSETFROM", "TZOFFSETTO", "RRULE", "RDATE", "TZNAME"} {
			for _, p := range c.Props[name] {
				b.WriteString("\x01" + p.Value)
			}
		}
	}
	return b.String()
}

type observance struct {
	from, to int // UTC offsets in seconds
	dst      bool
	name     string
}

type transition struct {
	at  int64 // Unix seconds
	obs int
}

func buildVTimezone(tzid string, vtz *goical.Component) *time.Location {
	var obs []observance
	var trans []transition
	budget := vtzBudget // shared by the observances' rules
	for _, c := range vtz.Children {
		if c.Name != goical.CompTimezoneStandard && c.Name != goical.CompTimezoneDaylight {
			continue
		}
		if len(obs) == maxObservances {
			break
		}
		o, onsets, ok := readObservance(c, &budget, maxTransitions-len(trans))
		if !ok {
			continue
		}
		for _, at := range onsets {
			trans = append(trans, transition{at, len(obs)})
		}
		obs = append(obs, o)
	}
	switch {
	case len(obs) == 0:
		return nil
	case len(obs) == 1 || len(trans) == 0:
		return time.FixedZone(tzid, obs[0].to)
	}
	slices.SortStableFunc(trans, func(a, b transition) int { return int(sign(a.at - b.at)) })
	trans = slices.CompactFunc(trans, func(a, b transition) bool { return a.at == b.at })
	first := obs[trans[0].obs]
	initial := observance{to: first.from, name: abbreviation("", first.from)}
	for _, o := range obs {
		if !o.dst && o.to == first.from {
			initial.name = o.name
			break
		}
	}
	loc, err := time.LoadLocationFromTZData(tzid, tzif(append([]observance{initial}, obs...), trans))
	if err != nil {
		return time.FixedZone(tzid, obs[0].to)
	}
	return loc
}

func sign(n int64) int64 {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

// readObservance reads one STANDARD or DAYLIGHT component and lists the
// instants (Unix seconds), at most limit, at which it takes effect between
// vtzFirstYear and vtzLastYear.
func readObservance(c *goical.Component, budget *int, limit int) (observance, []int64, bool) {
	to, err := propOffset(c, goical.PropTimezoneOffsetTo)
	if err != nil {
		return observance{}, nil, false
	}
	from, err := propOffset(c, goical.PropTimezoneOffsetFrom)
	if err != nil {
		from = to
	}
	o := observance{from: from, to: to, dst: c.Name == goical.CompTimezoneDaylight}
	if p := c.Props.Get(goical.PropTimezoneName); p != nil {
		o.name = p.Value
	}
	o.name = abbreviation(o.name, to)
	p := c.Props.Get(goical.PropDateTimeStart)
	if p == nil {
		return o, nil, true
	}
	start, _, err := parseDateTime(strings.TrimSpace(p.Value))
	if err != nil {
		return o, nil, true
	}
	var onsets []int64
	add := func(wall time.Time) bool {
		if wall.Year() >= vtzFirstYear && wall.Year() <= vtzLastYear {
			onsets = append(onsets, wall.Unix()-int64(from))
		}
		return len(onsets) < limit
	}
	more := add(start)
	for _, rp := range c.Props[goical.PropRecurrenceDates] {
		for v := range strings.SplitSeq(rp.Value, ",") {
			if wall, _, err := parseDateTime(strings.TrimSpace(v)); err == nil && more {
				more = add(wall)
			}
		}
	}
	if rp := c.Props.Get(goical.PropRecurrenceRule); rp != nil && more {
		if r, err := parseRule(rp.Value); err == nil {
			n := 1
			lastWall := time.Date(vtzLastYear, time.December, 31, 23, 59, 59, 0, time.UTC)
			newExpander(r, start).each(time.Date(vtzFirstYear, 1, 1, 0, 0, 0, 0, time.UTC), lastWall, budget, func(wall time.Time) bool {
				if r.until.kind == kindUTC && wall.Add(-time.Duration(from)*time.Second).After(r.until.wall) ||
					r.until.kind != kindUTC && r.until.kind != kindNone && wall.After(r.until.wall) {
					return false
				}
				if n++; r.count > 0 && n > r.count {
					return false
				}
				return add(wall)
			})
		}
	}
	return o, onsets, true
}

func propOffset(c *goical.Component, name string) (int, error) {
	p := c.Props.Get(name)
	if p == nil {
		return 0, errNoValue
	}
	return parseUTCOffset(p.Value)
}

// abbreviation keeps a TZNAME that looks like one, else writes the offset
// ("+0130").
func abbreviation(name string, off int) string {
	ok := len(name) >= 1 && len(name) <= 10
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '-'
	}
	if ok {
		return name
	}
	s := "+"
	if off < 0 {
		s, off = "-", -off
	}
	return s + twoDigits(off/3600) + twoDigits(off%3600/60)
}

// tzif encodes a TZif version 2 file (RFC 8536) that
// time.LoadLocationFromTZData reads: an empty version 1 block, then types
// (the first is the zone before the first transition) and transitions.
// Transition i switches to type trans[i].obs+1.
func tzif(types []observance, trans []transition) []byte {
	// Abbreviation indexes are one byte: share equal names, and fall back
	// to the first name when the table would pass 255 bytes.
	var chars []byte
	index := make([]int, len(types))
	seen := make(map[string]int)
	for i, t := range types {
		if at, ok := seen[t.name]; ok {
			index[i] = at
			continue
		}
		if len(chars)+len(t.name)+1 > 255 {
			continue
		}
		index[i] = len(chars)
		seen[t.name] = len(chars)
		chars = append(append(chars, t.name...), 0)
	}
	b := make([]byte, 0, 2*44+len(trans)*9+len(types)*6+len(chars))
	header := func(timecnt, typecnt, charcnt int) {
		b = append(b, "TZif2"...)
		b = append(b, make([]byte, 15)...)
		for _, n := range []int{0, 0, 0, timecnt, typecnt, charcnt} {
			b = binary.BigEndian.AppendUint32(b, uint32(n))
		}
	}
	header(0, 0, 0)
	header(len(trans), len(types), len(chars))
	for _, t := range trans {
		b = binary.BigEndian.AppendUint64(b, uint64(t.at))
	}
	for _, t := range trans {
		b = append(b, byte(t.obs+1))
	}
	for i, t := range types {
		b = binary.BigEndian.AppendUint32(b, uint32(int32(t.to)))
		dst := byte(0)
		if t.dst {
			dst = 1
		}
		b = append(b, dst, byte(index[i]))
	}
	return append(b, chars...)
}
