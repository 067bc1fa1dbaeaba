package ical

import (
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // time zones work on hosts without /usr/share/zoneinfo

	goical "github.com/emersion/go-ical"
)

// ResolveTZID returns the location a TZID parameter stands for, or nil when
// nothing sensible is known: the caller then treats the time as floating,
// as RFC 5545 §3.2.19 allows. It never fails. In order it tries:
//
//   - an IANA name ("Europe/Berlin"), also at the end of a vendor prefix
//     ("/mozilla.org/20050126_1/Europe/Berlin", libical's
//     "/freeassociation.sourceforge.net/Europe/Berlin");
//   - a Windows ID ("W. Europe Standard Time"), mapped with CLDR's table;
//   - an Outlook display name ("(UTC+01:00) Amsterdam, Berlin, …") whose
//     city is an IANA zone with the offset in parentheses;
//   - the object's VTIMEZONE with that TZID, turned into a location with
//     its STANDARD and DAYLIGHT rules (RFC 5545 §3.6.5);
//   - the fixed offset an Outlook display name or "GMT+01:00" states.
//
// An IANA name beats the object's VTIMEZONE (RFC 7809 lets servers use
// their own definitions; tzdata is better maintained than what clients
// embed). Results are cached; cal may be nil.
func ResolveTZID(tzid string, cal *goical.Calendar) *time.Location {
	return resolveTZID(tzid, cal, true)
}

// resolveTZID is ResolveTZID; without build, a VTIMEZONE only gives its
// standard offset, which costs nothing to compute.
func resolveTZID(tzid string, cal *goical.Calendar, build bool) *time.Location {
	tzid = strings.TrimSpace(tzid)
	if tzid == "" {
		return nil
	}
	named, fixed := namedZone(tzid)
	if named != nil {
		return named
	}
	if cal != nil {
		if vtz := findVTimezone(cal, tzid); vtz != nil {
			if loc := vtimezoneLocation(tzid, vtz, build); loc != nil {
				return loc
			}
		}
	}
	return fixed
}

// Cache limits: past zoneCacheMax entries results are computed each time,
// and keys longer than zoneKeyMax are never kept, so that hostile names
// cannot grow memory without bound. maxNameLen is longer than any real
// TZID, Outlook's included.
const (
	zoneCacheMax = 4096
	zoneKeyMax   = 4096
	maxNameLen   = 256
)

type zoneCache struct {
	mu sync.RWMutex
	m  map[string][2]*time.Location
}

func (c *zoneCache) get(k string) ([2]*time.Location, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	v, ok := c.m[k]
	return v, ok
}

func (c *zoneCache) put(k string, v [2]*time.Location) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string][2]*time.Location)
	}
	if len(c.m) < zoneCacheMax && len(k) <= zoneKeyMax {
		c.m[k] = v
	}
}

var namedZones, vtimezoneZones zoneCache

// namedZone resolves a TZID by its name alone: named is a real zone with
// its rules, fixed only a fixed offset read from the name.
func namedZone(tzid string) (named, fixed *time.Location) {
	if tzid == "" || len(tzid) > maxNameLen {
		return nil, nil
	}
	if v, ok := namedZones.get(tzid); ok {
		return v[0], v[1]
	}
	named, fixed = resolveName(tzid)
	namedZones.put(tzid, [2]*time.Location{named, fixed})
	return named, fixed
}

func resolveName(tzid string) (named, fixed *time.Location) {
	switch strings.ToUpper(tzid) {
	case "UTC", "GMT", "Z", "ETC/UTC", "ETC/GMT", "UNIVERSAL", "ZULU", "COORDINATED UNIVERSAL TIME":
		return time.UTC, nil
	}
	if loc := loadIANA(tzid); loc != nil {
		return loc, nil
	}
	if name := windowsZone(tzid); name != "" {
		if loc := loadIANA(name); loc != nil {
			return loc, nil
		}
	}
	// A vendor prefix before an IANA name: try each suffix after a '/'.
	for i, tries := 0, 0; tries < 8; tries++ {
		j := strings.IndexByte(tzid[i:], '/')
		if j < 0 {
			break
		}
		i += j + 1
		if rest := tzid[i:]; strings.Contains(rest, "/") {
			if loc := loadIANA(rest); loc != nil {
				return loc, nil
			}
		}
	}
	if off, cities, ok := outlookName(tzid); ok {
		if loc := cityZone(cities, off); loc != nil {
			return loc, nil
		}
		return nil, fixedZone(off)
	}
	if off, ok := offsetName(tzid); ok {
		return nil, fixedZone(off)
	}
	return nil, nil
}

// loadIANA loads name from tzdata if it looks like an IANA name; the check
// keeps odd strings away from the file system.
func loadIANA(name string) *time.Location {
	if name == "" || len(name) > 64 || name == "Local" || name[0] == '/' || strings.Contains(name, "..") {
		return nil
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("/_-+", c) >= 0) {
			return nil
		}
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil
	}
	return loc
}

// outlookName splits "(UTC+01:00) Amsterdam, Berlin" (Outlook 2010 and
// later) or "(GMT+01.00) Amsterdam / Berlin" (Outlook 2003) into the offset
// in seconds and the city list.
func outlookName(tzid string) (off int, cities string, ok bool) {
	if !strings.HasPrefix(tzid, "(") {
		return 0, "", false
	}
	end := strings.IndexByte(tzid, ')')
	if end < 0 {
		return 0, "", false
	}
	off, ok = offsetName(tzid[1:end])
	return off, strings.TrimSpace(tzid[end+1:]), ok
}

// offsetName reads "UTC", "GMT+01:00", "UTC-5", "GMT+05.30", "UTC+0530".
func offsetName(s string) (int, bool) {
	s = strings.TrimSpace(s)
	u := strings.ToUpper(s)
	if !strings.HasPrefix(u, "UTC") && !strings.HasPrefix(u, "GMT") {
		return 0, false
	}
	s = s[3:]
	if s == "" {
		return 0, true
	}
	if s[0] != '+' && s[0] != '-' {
		return 0, false
	}
	sign := 1
	if s[0] == '-' {
		sign = -1
	}
	s = strings.NewReplacer(":", "", ".", "").Replace(s[1:])
	var hh, mm int
	var ok1, ok2 = true, true
	switch len(s) {
	case 1, 2:
		hh, ok1 = digits(s)
	case 3, 4:
		hh, ok1 = digits(s[:len(s)-2])
		mm, ok2 = digits(s[len(s)-2:])
	default:
		return 0, false
	}
	if !ok1 || !ok2 || hh > 14 || mm > 59 {
		return 0, false
	}
	return sign * (hh*3600 + mm*60), true
}

func fixedZone(off int) *time.Location {
	if off == 0 {
		return time.UTC
	}
	sign, a := '+', off
	if off < 0 {
		sign, a = '-', -off
	}
	name := "UTC" + string(sign) + twoDigits(a/3600) + ":" + twoDigits(a%3600/60)
	return time.FixedZone(name, off)
}

func twoDigits(n int) string { return string([]byte{byte('0' + n/10%10), byte('0' + n%10)}) }

var regions = []string{"Europe", "America", "Asia", "Africa", "Australia", "Pacific", "Atlantic", "Indian"}

// cityZone finds the first city of an Outlook display name that is an IANA
// zone whose standard offset is off.
func cityZone(cities string, off int) *time.Location {
	if name := outlookZone(cities); name != "" {
		return loadIANA(name)
	}
	fields := strings.FieldsFunc(cities, func(r rune) bool { return r == ',' || r == '/' || r == ';' })
	for i, city := range fields {
		if i == 6 {
			break
		}
		city = strings.TrimSpace(city)
		if name := outlookZone(city); name != "" {
			if loc := loadIANA(name); loc != nil && standardOffset(loc) == off {
				return loc
			}
			continue
		}
		city = strings.ReplaceAll(city, " ", "_")
		for _, r := range regions {
			if loc := loadIANA(r + "/" + city); loc != nil && standardOffset(loc) == off {
				return loc
			}
		}
	}
	return nil
}

// standardOffset is the smaller of loc's January and July offsets, which
// is what Outlook names put in parentheses.
func standardOffset(loc *time.Location) int {
	_, jan := time.Date(2025, time.January, 1, 0, 0, 0, 0, loc).Zone()
	_, jul := time.Date(2025, time.July, 1, 0, 0, 0, 0, loc).Zone()
	return min(jan, jul)
}

func findVTimezone(cal *goical.Calendar, tzid string) *goical.Component {
	var fold *goical.Component
	for _, c := range cal.Children {
		if c.Name != goical.CompTimezone {
			continue
		}
		p := c.Props.Get(goical.PropTimezoneID)
		if p == nil {
			continue
		}
		id := strings.TrimSpace(p.Value)
		if id == tzid {
			return c
		}
		if fold == nil && strings.EqualFold(id, tzid) {
			fold = c
		}
	}
	return fold
}
