package ical

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ics wraps lines (joined with CRLF) in a VCALENDAR.
func ics(lines ...string) []byte {
	return []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n" + strings.Join(lines, "\r\n") + "\r\nEND:VCALENDAR\r\n")
}

func event(lines ...string) string {
	return "BEGIN:VEVENT\r\n" + strings.Join(lines, "\r\n") + "\r\nEND:VEVENT"
}

func mustParse(t testing.TB, data []byte) *Object {
	t.Helper()
	o, err := Parse(data)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return o
}

func readSample(t testing.TB, name string) ([]byte, *Object) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data, mustParse(t, data)
}

func TestParseSamples(t *testing.T) {
	files, err := filepath.Glob("testdata/*.ics")
	if err != nil || len(files) < 20 {
		t.Fatalf("samples: %v, %d files", err, len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			o := mustParse(t, data)
			want := "VEVENT"
			if base := filepath.Base(f); strings.HasPrefix(base, "todo") {
				want = "VTODO"
			} else if strings.HasPrefix(base, "journal") {
				want = "VJOURNAL"
			}
			if o.Component != want || o.UID == "" {
				t.Errorf("Component %q UID %q, want a %s with a UID", o.Component, o.UID, want)
			}
			if !o.Start.IsZero() && o.Start.Location() != time.UTC || !o.End.IsZero() && o.End.Location() != time.UTC {
				t.Errorf("bounds not in UTC: %v %v", o.Start, o.End)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	ev := event("UID:a", "DTSTART:20240101T100000Z")
	tests := []struct {
		name, precondition string
		data               []byte
	}{
		{"empty", validData, nil},
		{"not iCalendar", validData, []byte("<html><body>hello</body></html>")},
		{"vcard", validData, []byte("BEGIN:VCARD\r\nVERSION:4.0\r\nEND:VCARD\r\n")},
		{"unterminated", validData, []byte("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\n")},
		{"END mismatch", validData, []byte("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nEND:VTODO\r\nEND:VCALENDAR\r\n")},
		{"data after END", validData, append(ics(ev), "garbage\r\n"...)},
		{"two VCALENDARs", validObject, append(ics(ev), ics(ev)...)},
		{"METHOD", validObject, ics("METHOD:REQUEST", ev)},
		{"VEVENT and VTODO", validObject, ics(ev, "BEGIN:VTODO\r\nUID:a\r\nEND:VTODO")},
		{"VEVENT and VFREEBUSY", validObject, ics(ev, "BEGIN:VFREEBUSY\r\nUID:a\r\nEND:VFREEBUSY")},
		{"different UIDs", validObject, ics(ev, event("UID:b", "DTSTART:20240101T100000Z", "RECURRENCE-ID:20240101T100000Z"))},
		{"no UID", validObject, ics(event("DTSTART:20240101T100000Z"))},
		{"two UIDs", validObject, ics(event("UID:a", "UID:b", "DTSTART:20240101T100000Z"))},
		{"empty UID", validObject, ics(event("UID:", "DTSTART:20240101T100000Z"))},
		{"two masters", validObject, ics(ev, ev)},
		{"only VTIMEZONE", validObject, ics("BEGIN:VTIMEZONE\r\nTZID:X\r\nEND:VTIMEZONE")},
		{"no components", validObject, ics("X-WR-CALNAME:empty")},
		{"VFREEBUSY", supportedComp, ics("BEGIN:VFREEBUSY\r\nUID:a\r\nDTSTART:20240101T000000Z\r\nEND:VFREEBUSY")},
		{"VAVAILABILITY", supportedComp, ics("BEGIN:VAVAILABILITY\r\nUID:a\r\nEND:VAVAILABILITY")},
		{"VTIMEZONE without TZID", validData, ics("BEGIN:VTIMEZONE\r\nEND:VTIMEZONE", ev)},
		{"VEVENT without DTSTART", validData, ics(event("UID:a", "SUMMARY:x"))},
		{"bad DTSTART", validData, ics(event("UID:a", "DTSTART:2024-13-45"))},
		{"bad DTEND", validData, ics(event("UID:a", "DTSTART:20240101T100000Z", "DTEND:tomorrow"))},
		{"bad DURATION", validData, ics(event("UID:a", "DTSTART:20240101T100000Z", "DURATION:1 hour"))},
		{"month DURATION", validData, ics(event("UID:a", "DTSTART:20240101T100000Z", "DURATION:P1M"))},
		{"bad RRULE", validData, ics(event("UID:a", "DTSTART:20240101T100000Z", "RRULE:FREQ=SOMETIMES"))},
		{"RRULE without FREQ", validData, ics(event("UID:a", "DTSTART:20240101T100000Z", "RRULE:COUNT=3"))},
		{"RRULE out of range", validData, ics(event("UID:a", "DTSTART:20240101T100000Z", "RRULE:FREQ=MONTHLY;BYMONTHDAY=32"))},
		{"bad EXDATE", validData, ics(event("UID:a", "DTSTART:20240101T100000Z", "RRULE:FREQ=DAILY", "EXDATE:yesterday"))},
		{"bad RECURRENCE-ID", validData, ics(ev, event("UID:a", "RECURRENCE-ID:someday", "DTSTART:20240101T100000Z"))},
		{"not UTF-8", validData, ics(event("UID:a", "DTSTART:20240101T100000Z", "SUMMARY:caf\xe9"))},
		{"no colon", validData, ics(event("UID:a", "DTSTART:20240101T100000Z", "SUMMARY"))},
		// goical.Decoder panics on these two.
		{"param without colon", validData, ics(event("UID:a", "DTSTART:20240101T100000Z", "X;A=b"))},
		{"text after quoted param", validData, ics(event("UID:a", "DTSTART:20240101T100000Z", `X;A="b"c:d`))},
		{"quote in unquoted param", validData, ics(event("UID:a", "DTSTART:20240101T100000Z", `X;A=b"c:d`))},
		{"empty param name", validData, ics(event("UID:a", "DTSTART:20240101T100000Z", "X;=b:d"))},
		{"deep nesting", validData, ics("BEGIN:VEVENT\r\nBEGIN:VALARM\r\nBEGIN:X-A\r\nBEGIN:X-B\r\nEND:X-B\r\nEND:X-A\r\nEND:VALARM\r\nEND:VEVENT")},
		{"too many components", validData, ics(strings.Repeat("BEGIN:X-C\r\nEND:X-C\r\n", maxComponents) + ev)},
		{"too many TZIDs", validData, ics(tzidFlood(maxTZIDs + 1))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := Parse(tt.data)
			var ie *InvalidError
			if !errors.As(err, &ie) {
				t.Fatalf("Parse = %v, %v; want an *InvalidError", o, err)
			}
			if ie.Precondition != tt.precondition {
				t.Errorf("precondition %q (%v), want %q", ie.Precondition, ie, tt.precondition)
			}
			if ie.Msg == "" {
				t.Error("empty message")
			}
		})
	}
}

func tzidFlood(n int) string {
	lines := []string{"UID:a", "DTSTART:20240101T100000Z", "RRULE:FREQ=DAILY"}
	for i := range n {
		lines = append(lines, "EXDATE;TZID=Nowhere/Zone"+strings.Repeat("x", i%10)+string(rune('a'+i%26))+string(rune('a'+i/26))+":20240102T100000")
	}
	return event(lines...)
}

func TestParseLenient(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"LF line ends", []byte("BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:a\nDTSTART:20240101T100000Z\nEND:VEVENT\nEND:VCALENDAR\n")},
		{"no final line end", []byte("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART:20240101T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR")},
		{"byte-order mark", append([]byte("\uFEFF"), ics(event("UID:a", "DTSTART:20240101T100000Z"))...)},
		{"blank lines", []byte("\r\nBEGIN:VCALENDAR\r\n\r\nBEGIN:VEVENT\r\nUID:a\r\n\r\nDTSTART:20240101T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n\r\n")},
		{"lower case", []byte("begin:vcalendar\r\nbegin:vevent\r\nuid:a\r\ndtstart;tzid=Europe/Paris:20240101t100000\r\nend:vevent\r\nend:vcalendar\r\n")},
		{"folded with tab", ics(event("UID:a", "DTSTART:20240101T100000Z", "SUMMARY:long", "\tsummary"))},
		{"no DTSTAMP, no VERSION", []byte("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART:20240101T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")},
		{"DTEND before DTSTART", ics(event("UID:a", "DTSTART:20240101T100000Z", "DTEND:20240101T090000Z"))},
		{"DTEND and DURATION", ics(event("UID:a", "DTSTART:20240101T100000Z", "DTEND:20240101T110000Z", "DURATION:PT2H"))},
		{"unknown TZID, no VTIMEZONE", ics(event("UID:a", "DTSTART;TZID=Nowhere/Special:20240101T100000"))},
		{"X- component", ics(event("UID:a", "DTSTART:20240101T100000Z"), "BEGIN:X-APPLE-THING\r\nX-A:b\r\nEND:X-APPLE-THING")},
		{"ISO 8601 extended date", ics(event("UID:a", "DTSTART:2024-01-01T10:00:00Z"))},
		{"override without master", ics(event("UID:a", "RECURRENCE-ID:20240108T100000Z", "DTSTART:20240109T100000Z"))},
		{"override without DTSTART", ics(event("UID:a", "DTSTART:20240101T100000Z", "RRULE:FREQ=WEEKLY"), event("UID:a", "RECURRENCE-ID:20240108T100000Z", "SUMMARY:changed"))},
		{"RRULE with X- part and trailing semicolon", ics(event("UID:a", "DTSTART:20240101T100000Z", "RRULE:FREQ=WEEKLY;X-EVOLUTION-ENDDATE=20250101T000000Z;RSCALE=GREGORIAN;"))},
		{"unparseable alarm trigger", ics(event("UID:a", "DTSTART:20240101T100000Z", "BEGIN:VALARM", "TRIGGER:at some point", "END:VALARM"))},
		{"quoted param with separators", ics(event("UID:a", "DTSTART:20240101T100000Z", `ATTENDEE;CN="Doe, John; Jr.":mailto:j@example.org`))},
		{"24:00", ics(event("UID:a", "DTSTART:20240101T240000Z"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustParse(t, tt.data)
		})
	}
}

func TestParseKeepsValues(t *testing.T) {
	o := mustParse(t, ics(event("UID:a", "DTSTART:20240101T100000Z",
		`ATTENDEE;CN="Doe, John; Jr.";PARTSTAT=ACCEPTED;DELEGATED-TO="mailto:x@example.org","mailto:y@example.org":mailto:j@example.org`,
		"DESCRIPTION:line one\\nline two\\, with comma: and colon",
		"  continued")))
	ev := o.Cal.Children[0]
	a := ev.Props.Get("ATTENDEE")
	if a.Params.Get("CN") != "Doe, John; Jr." || len(a.Params["DELEGATED-TO"]) != 2 || a.Value != "mailto:j@example.org" {
		t.Errorf("ATTENDEE = %+v", a)
	}
	if d := ev.Props.Get("DESCRIPTION").Value; d != `line one\nline two\, with comma: and colon continued` {
		t.Errorf("DESCRIPTION = %q", d)
	}
}

func TestParseBounds(t *testing.T) {
	day := 24 * time.Hour
	utc := func(s string) time.Time {
		t, _ := time.Parse("20060102T150405Z", s)
		return t
	}
	tests := []struct {
		name       string
		data       []byte
		start, end time.Time // zero: open
	}{
		{"single", ics(event("UID:a", "DTSTART:20240101T100000Z", "DTEND:20240101T110000Z")),
			utc("20240101T100000Z").Add(-day), utc("20240101T110000Z").Add(day)},
		{"infinite", ics(event("UID:a", "DTSTART:20240101T100000Z", "RRULE:FREQ=WEEKLY")),
			utc("20240101T100000Z").Add(-day), time.Time{}},
		{"count", ics(event("UID:a", "DTSTART:20240101T100000Z", "DURATION:PT1H", "RRULE:FREQ=DAILY;COUNT=3")),
			utc("20240101T100000Z").Add(-day), utc("20240103T110000Z").Add(day)},
		{"until", ics(event("UID:a", "DTSTART:20240101T100000Z", "RRULE:FREQ=DAILY;UNTIL=20240110T100000Z")),
			utc("20240101T100000Z").Add(-day), utc("20240111T100000Z").Add(day)},
		{"override moved later", ics(event("UID:a", "DTSTART:20240101T100000Z", "RRULE:FREQ=DAILY;COUNT=2"),
			event("UID:a", "RECURRENCE-ID:20240102T100000Z", "DTSTART:20240301T100000Z")),
			utc("20240101T100000Z").Add(-day), utc("20240301T100000Z").Add(day)},
		{"alarm a week before", ics(event("UID:a", "DTSTART:20240108T100000Z", "BEGIN:VALARM", "TRIGGER:-P1W", "ACTION:DISPLAY", "END:VALARM")),
			utc("20240101T100000Z").Add(-day), utc("20240108T100000Z").Add(day)},
		{"todo without dates", ics("BEGIN:VTODO\r\nUID:a\r\nEND:VTODO"), time.Time{}, time.Time{}},
		{"todo created only", ics("BEGIN:VTODO\r\nUID:a\r\nCREATED:20240101T000000Z\r\nEND:VTODO"),
			utc("20240101T000000Z").Add(-day), time.Time{}},
		{"rule that never matches", ics(event("UID:a", "DTSTART:20240101T100000Z", "RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30")),
			utc("20240101T100000Z").Add(-day), utc("20240101T100000Z").Add(day)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := mustParse(t, tt.data)
			if !o.Start.Equal(tt.start) || !o.End.Equal(tt.end) {
				t.Errorf("bounds %v … %v, want %v … %v", o.Start, o.End, tt.start, tt.end)
			}
		})
	}
}
