package calendar

import (
	"net/http"
	"strings"
	"time"

	goical "github.com/emersion/go-ical"

	"github.com/salonhq/salon/calendar/ical"
)

// decodeTimezone reads a CALDAV:calendar-timezone value: an iCalendar
// object with exactly one VTIMEZONE (RFC 4791 §5.2.2). It returns the
// calendar and the zone's TZID.
func decodeTimezone(text string) (cal *goical.Calendar, tzid string, err error) {
	defer func() {
		// go-ical is not expected to panic, but this text comes from a client.
		if recover() != nil {
			cal, tzid, err = nil, "", errStatus(http.StatusBadRequest, "calendar-timezone is not valid iCalendar")
		}
	}()
	cal, err = goical.NewDecoder(strings.NewReader(text)).Decode()
	if err != nil {
		return nil, "", errCond(http.StatusConflict, nsCalDAV, "valid-calendar-data", "calendar-timezone is not valid iCalendar: "+err.Error())
	}
	var zones []*goical.Component
	for _, c := range cal.Children {
		if c.Name == goical.CompTimezone {
			zones = append(zones, c)
		}
	}
	if len(zones) != 1 {
		return nil, "", errCond(http.StatusConflict, nsCalDAV, "valid-calendar-data", "calendar-timezone must hold exactly one VTIMEZONE")
	}
	p := zones[0].Props.Get(goical.PropTimezoneID)
	if p == nil || strings.TrimSpace(p.Value) == "" {
		return nil, "", errCond(http.StatusConflict, nsCalDAV, "valid-calendar-data", "the VTIMEZONE in calendar-timezone has no TZID")
	}
	return cal, p.Value, nil
}

// floatingZone is the location floating times are read in for a calendar
// whose calendar-timezone is text; UTC when there is none or it cannot be
// used, as RFC 5545 §3.3.5 leaves floating times to the reader.
func floatingZone(text string) *time.Location {
	if strings.TrimSpace(text) == "" {
		return time.UTC
	}
	cal, tzid, err := decodeTimezone(text)
	if err != nil {
		return time.UTC
	}
	if loc := ical.ResolveTZID(tzid, cal); loc != nil {
		return loc
	}
	return time.UTC
}
