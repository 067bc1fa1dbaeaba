package ical

import (
	"fmt"
	"time"

	goical "github.com/emersion/go-ical"
)

// VTimezone writes a VTIMEZONE for loc (RFC 5545 §3.6.5) that is exact
// from one year before from to three years after it: one observance per
// offset change in that window, each with its own DTSTART, and the offset
// in force before the window as the first. It is for iTIP messages whose
// object names a TZID without defining it (RFC 7809 lets CalDAV clients
// leave standard zones out; mail recipients need them).
func VTimezone(tzid string, loc *time.Location, from time.Time) *goical.Component {
	start := from.AddDate(-1, 0, 0)
	end := from.AddDate(3, 0, 0)
	vtz := &goical.Component{Name: goical.CompTimezone, Props: goical.Props{}}
	vtz.Props.SetText(goical.PropTimezoneID, tzid)

	name, offset := start.In(loc).Zone()
	observance := func(at time.Time, fromOff, toOff int, abbr string, dst bool) {
		kind := goical.CompTimezoneStandard
		if dst {
			kind = goical.CompTimezoneDaylight
		}
		o := &goical.Component{Name: kind, Props: goical.Props{}}
		o.Props.Set(&goical.Prop{Name: goical.PropDateTimeStart, Params: goical.Params{},
			Value: at.Add(time.Duration(fromOff) * time.Second).UTC().Format("20060102T150405")})
		o.Props.Set(&goical.Prop{Name: goical.PropTimezoneOffsetFrom, Params: goical.Params{}, Value: utcOffset(fromOff)})
		o.Props.Set(&goical.Prop{Name: goical.PropTimezoneOffsetTo, Params: goical.Params{}, Value: utcOffset(toOff)})
		if abbr != "" {
			o.Props.SetText(goical.PropTimezoneName, abbr)
		}
		vtz.Children = append(vtz.Children, o)
	}
	// The offset in force when the window opens, from 1970 on.
	observance(time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC).Add(-time.Duration(offset)*time.Second), offset, offset, name, start.In(loc).IsDST())

	// Offsets change at most a few times a year: step a day at a time and
	// narrow each change down to the second.
	prev := offset
	for t := start; t.Before(end); t = t.Add(24 * time.Hour) {
		next := t.Add(24 * time.Hour)
		_, off := next.In(loc).Zone()
		if off == prev {
			continue
		}
		lo, hi := t, next
		for hi.Sub(lo) > time.Second {
			mid := lo.Add(hi.Sub(lo) / 2)
			if _, o := mid.In(loc).Zone(); o == prev {
				lo = mid
			} else {
				hi = mid
			}
		}
		abbr, _ := hi.In(loc).Zone()
		observance(hi, prev, off, abbr, hi.In(loc).IsDST())
		prev = off
	}
	return vtz
}

// utcOffset writes seconds east of UTC as RFC 5545 §3.3.14 does.
func utcOffset(sec int) string {
	sign := '+'
	if sec < 0 {
		sign, sec = '-', -sec
	}
	s := fmt.Sprintf("%c%02d%02d", sign, sec/3600, sec/60%60)
	if sec%60 != 0 {
		s += fmt.Sprintf("%02d", sec%60)
	}
	return s
}
