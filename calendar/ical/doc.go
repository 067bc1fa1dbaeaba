// Package ical is salon's iCalendar logic for CalDAV: pure functions over
// bytes and go-ical values, with no XML, HTTP or storage in them.
//
// It owns validating a calendar object resource before it is stored
// (Parse, RFC 4791 §4.1), time zones as real clients write them
// (ResolveTZID: IANA, Windows and Outlook names, embedded VTIMEZONEs),
// recurrence expansion (RRULE, RDATE, EXDATE, RECURRENCE-ID overrides), the
// calendar-query filter (Match, RFC 4791 §9.7 and the §9.9 time-range
// tables), the calendar-data a REPORT returns (Render: expand,
// limit-recurrence-set, partial data) and free-busy (FreeBusy,
// FreeBusyCalendar).
//
// It does not own the CalDAV protocol, the store or scheduling: package
// calendar parses requests into the types of this package, maps
// InvalidError to CalDAV preconditions, and keeps Object.Start and
// Object.End to skip objects before calling Match.
//
// Client data is hostile until proven otherwise: decoding, recurrence
// expansion and time-zone construction all run under fixed limits, so that
// no input makes a request slow or makes this package panic.
package ical
