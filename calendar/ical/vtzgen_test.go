package ical

import (
	"testing"
	"time"
)

// TestVTimezoneMatchesTheZone: a generated VTIMEZONE, read back as a
// client would (under a TZID no database knows), gives the zone's offsets
// throughout its window, across both changes of each year.
func TestVTimezoneMatchesTheZone(t *testing.T) {
	for _, name := range []string{"Europe/Paris", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC"} {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		from := time.Date(2030, 3, 1, 0, 0, 0, 0, time.UTC)
		vtz := VTimezone("Custom "+name, loc, from)
		// Through text and back, as a recipient gets it.
		back, err := Decode(append(append([]byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n"), encode(vtz)...), "END:VCALENDAR\r\n"...))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := ResolveTZID("Custom "+name, back)
		if got == nil {
			t.Fatalf("%s: the generated VTIMEZONE does not resolve", name)
		}
		for at := from.AddDate(0, -6, 0); at.Before(from.AddDate(2, 6, 0)); at = at.Add(37 * time.Hour) {
			_, want := at.In(loc).Zone()
			_, have := at.In(got).Zone()
			if want != have {
				t.Fatalf("%s at %s: offset %d, want %d", name, at, have, want)
			}
		}
	}
}
