package ical

import (
	"time"

	goical "github.com/emersion/go-ical"
)

// Object is a parsed calendar object resource (RFC 4791 §4.1).
type Object struct {
	Cal       *goical.Calendar
	UID       string
	Component string // VEVENT, VTODO or VJOURNAL
	// Start and End bound every instance in UTC (floating times taken as
	// UTC, widened by a day each way); End is zero when the object recurs
	// without end. The store keeps them to skip objects in time-range
	// queries; Match decides exactly.
	//
	// The bounds cover alarm triggers too, and hold whatever floating zone
	// a query uses. Start is zero as well when nothing bounds the object
	// (a VTODO without dates matches every range). An object can match
	// [s, e) only if (Start.IsZero() || e.After(Start)) &&
	// (End.IsZero() || !s.After(End)), with a zero s or e open.
	Start, End time.Time

	// m is the time structure Parse read; nil for an Object built by hand.
	m *model
}

// InvalidError says why data cannot be stored; Precondition is the CalDAV
// precondition element to report (RFC 4791 §5.3.2.1), for example
// "valid-calendar-data", "valid-calendar-object-resource" or
// "supported-calendar-component". Parse also reports "max-resource-size"
// (the data passes MaxObjectSize) and Match "valid-filter" (RFC 4791
// §7.8); Msg is meant for the client.
type InvalidError struct {
	Precondition string
	Msg          string
}

func (e *InvalidError) Error() string { return e.Precondition + ": " + e.Msg }

// TimeRange is a CALDAV:time-range; a zero Start or End is open.
type TimeRange struct {
	Start, End time.Time
}

// CompFilter is a CALDAV:comp-filter (RFC 4791 §9.7.1).
type CompFilter struct {
	Name         string
	IsNotDefined bool
	TimeRange    *TimeRange
	Props        []PropFilter
	Comps        []CompFilter
}

// PropFilter is a CALDAV:prop-filter (RFC 4791 §9.7.2).
type PropFilter struct {
	Name         string
	IsNotDefined bool
	TimeRange    *TimeRange
	TextMatch    *TextMatch
	Params       []ParamFilter
}

// ParamFilter is a CALDAV:param-filter (RFC 4791 §9.7.3).
type ParamFilter struct {
	Name         string
	IsNotDefined bool
	TextMatch    *TextMatch
}

// TextMatch is a CALDAV:text-match (RFC 4791 §9.7.5). Collation is
// "i;ascii-casemap" (the default when empty), "i;unicode-casemap" or
// "i;octet".
type TextMatch struct {
	Text      string
	Collation string
	Negate    bool
}

// CompSelect is a CALDAV:comp inside calendar-data: which components and
// properties to return (RFC 4791 §9.6.1).
type CompSelect struct {
	Name     string
	AllProps bool
	Props    []string
	AllComps bool
	Comps    []CompSelect
}

// DataRequest is what a CALDAV:calendar-data element in a REPORT asks for.
// The zero value asks for the object as stored.
type DataRequest struct {
	Comp               *CompSelect
	Expand             *TimeRange
	LimitRecurrenceSet *TimeRange
	LimitFreeBusySet   *TimeRange
}

// Busy types of free-busy periods (RFC 5545 §3.2.9).
const (
	Busy            = "BUSY"
	BusyTentative   = "BUSY-TENTATIVE"
	BusyUnavailable = "BUSY-UNAVAILABLE"
)

// Period is one busy interval, in UTC.
type Period struct {
	Start, End time.Time
	Type       string
}
