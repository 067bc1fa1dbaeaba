package ical

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// at parses "20060102T150405Z"; "" is the zero time (an open bound).
func at(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse("20060102T150405Z", s)
	if err != nil {
		panic(err)
	}
	return t
}

func rng(start, end string) *TimeRange { return &TimeRange{Start: at(start), End: at(end)} }

// inCal wraps comp-filters in the VCALENDAR one.
func inCal(comps ...CompFilter) CompFilter { return CompFilter{Name: "VCALENDAR", Comps: comps} }

func timeFilter(comp string, tr *TimeRange) CompFilter {
	return inCal(CompFilter{Name: comp, TimeRange: tr})
}

func loadLocation(t testing.TB, name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestMatchTimeRange(t *testing.T) {
	paris, ny, tokyo := loadLocation(t, "Europe/Paris"), loadLocation(t, "America/New_York"), loadLocation(t, "Asia/Tokyo")
	tests := []struct {
		file     string
		tr       *TimeRange
		floating *time.Location
		want     bool
	}{
		// Weekly on Monday 10:00 Berlin with EXDATEs and two moved instances.
		{"thunderbird-weekly.ics", rng("20240311T000000Z", "20240318T000000Z"), nil, true},
		{"thunderbird-weekly.ics", rng("20240311T080000Z", "20240311T110000Z"), nil, false}, // moved out
		{"thunderbird-weekly.ics", rng("20240313T130000Z", "20240313T133000Z"), nil, true},  // moved in
		{"thunderbird-weekly.ics", rng("20240318T000000Z", "20240319T000000Z"), nil, false}, // floating EXDATE
		{"thunderbird-weekly.ics", rng("20240325T000000Z", "20240326T000000Z"), nil, false}, // zoned EXDATE
		{"thunderbird-weekly.ics", rng("20240408T000000Z", "20240409T000000Z"), nil, false}, // moved to May
		{"thunderbird-weekly.ics", rng("20240506T140000Z", "20240506T141500Z"), nil, true},  // … arrives here
		{"thunderbird-weekly.ics", rng("20240401T080000Z", "20240401T083000Z"), nil, true},  // starts at range start
		{"thunderbird-weekly.ics", rng("20240401T070000Z", "20240401T080000Z"), nil, false}, // starts at range end
		{"thunderbird-weekly.ics", rng("20240401T090000Z", "20240401T100000Z"), nil, false}, // ends at range start
		{"thunderbird-weekly.ics", rng("20240401T085959Z", "20240401T100000Z"), nil, true},
		{"thunderbird-weekly.ics", rng("20300101T000000Z", ""), nil, true},
		{"thunderbird-weekly.ics", rng("", "20240304T090000Z"), nil, false},
		{"thunderbird-weekly.ics", rng("", "20240304T090001Z"), nil, true},
		{"thunderbird-weekly.ics", rng("20310602T080000Z", "20310602T081000Z"), nil, true}, // a Monday in summer
		{"thunderbird-weekly.ics", rng("20310603T080000Z", "20310603T081000Z"), nil, false},
		{"thunderbird-weekly.ics", &TimeRange{}, nil, true},
		// All-day, three days, read in the calendar's zone.
		{"apple-allday.ics", rng("20240313T230000Z", "20240314T000000Z"), nil, true},
		{"apple-allday.ics", rng("20240314T000000Z", "20240314T010000Z"), nil, false},
		{"apple-allday.ics", rng("20240313T230000Z", "20240314T000000Z"), paris, false},
		{"apple-allday.ics", rng("20240310T233000Z", "20240310T234000Z"), paris, true},
		{"apple-allday.ics", rng("20240310T000000Z", "20240311T000000Z"), nil, false},
		// Floating: 23:00 to 00:30 wherever the calendar is.
		{"floating.ics", rng("20240415T220000Z", "20240415T230000Z"), nil, false},
		{"floating.ics", rng("20240415T230000Z", "20240415T233000Z"), nil, true},
		{"floating.ics", rng("20240415T230000Z", "20240416T000000Z"), ny, false},
		{"floating.ics", rng("20240416T030000Z", "20240416T040000Z"), ny, true},
		// DURATION, daily COUNT=5 across the DST change.
		{"duration.ics", rng("20240331T082900Z", "20240331T090000Z"), nil, true},
		{"duration.ics", rng("20240331T083000Z", "20240331T090000Z"), nil, false},
		{"duration.ics", rng("20240401T000000Z", "20240402T000000Z"), nil, false},
		{"duration.ics", rng("20240327T081500Z", "20240327T082000Z"), nil, true}, // 09:00 CET is 08:00Z
		// RDATE periods bring their own end.
		{"rdate-period.ics", rng("20240510T140000Z", "20240510T143000Z"), nil, true},
		{"rdate-period.ics", rng("20240520T072000Z", "20240520T080000Z"), nil, true},
		{"rdate-period.ics", rng("20240520T073000Z", "20240520T080000Z"), nil, false},
		{"rdate-period.ics", rng("20240601T083000Z", "20240601T084000Z"), nil, true},
		{"rdate-period.ics", rng("20240515T000000Z", "20240516T000000Z"), nil, false},
		// An instant.
		{"instant.ics", rng("20240601T100000Z", "20240601T110000Z"), nil, true},
		{"instant.ics", rng("20240601T090000Z", "20240601T100000Z"), nil, false},
		{"instant.ics", rng("20240601T090000Z", "20240601T100001Z"), nil, true},
		// Second Tuesday monthly, February excluded.
		{"google-monthly.ics", rng("20240201T000000Z", "20240301T000000Z"), nil, false},
		{"google-monthly.ics", rng("20240301T000000Z", "20240401T000000Z"), nil, true},
		{"google-monthly.ics", rng("20260310T090000Z", "20260310T093000Z"), nil, true},
		// Unknown TZID without VTIMEZONE: floating.
		{"unknown-tzid.ics", rng("20240402T090000Z", "20240402T093000Z"), nil, true},
		{"unknown-tzid.ics", rng("20240402T000000Z", "20240402T003000Z"), tokyo, true},
		{"unknown-tzid.ics", rng("20240402T090000Z", "20240402T093000Z"), tokyo, false},
		// Windows TZID: 10:00 W. Europe every other Tuesday until 30 April.
		{"outlook-windows-tzid.ics", rng("20240430T080000Z", "20240430T090000Z"), nil, true},
		{"outlook-windows-tzid.ics", rng("20240514T000000Z", "20240515T000000Z"), nil, false},
		{"outlook-windows-tzid.ics", rng("20240312T000000Z", "20240313T000000Z"), nil, false},
		{"outlook-windows-tzid.ics", rng("20240402T091500Z", "20240402T092000Z"), nil, true},
		{"outlook-windows-tzid.ics", rng("20240402T093000Z", "20240402T100000Z"), nil, false},
		// Outlook display name: 15:00 Amsterdam.
		{"outlook-display-tzid.ics", rng("20240703T130000Z", "20240703T133000Z"), nil, true},
		{"outlook-display-tzid.ics", rng("20240703T150000Z", "20240703T160000Z"), nil, false},
		// A custom VTIMEZONE with DST rules.
		{"custom-vtimezone.ics", rng("20240110T140000Z", "20240110T143000Z"), nil, true},
		{"custom-vtimezone.ics", rng("20240110T130000Z", "20240110T133000Z"), nil, false},
		{"custom-vtimezone.ics", rng("20240710T130000Z", "20240710T133000Z"), nil, true},
		{"custom-vtimezone.ics", rng("20250110T000000Z", "20250111T000000Z"), nil, false},
		// RANGE=THISANDFUTURE moves the 7th and later to the afternoon.
		{"thisandfuture.ics", rng("20240605T090000Z", "20240605T100000Z"), nil, true},
		{"thisandfuture.ics", rng("20240608T090000Z", "20240608T100000Z"), nil, false},
		{"thisandfuture.ics", rng("20240608T140000Z", "20240608T150000Z"), nil, true},
		{"thisandfuture.ics", rng("20240613T000000Z", "20240614T000000Z"), nil, false},
	}
	for _, tt := range tests {
		name := tt.file + " " + tt.tr.Start.Format("0102T1504") + "-" + tt.tr.End.Format("0102T1504")
		if tt.floating != nil {
			name += " " + tt.floating.String()
		}
		t.Run(name, func(t *testing.T) {
			_, o := readSample(t, tt.file)
			got, err := Match(o, timeFilter("VEVENT", tt.tr), tt.floating)
			if err != nil || got != tt.want {
				t.Errorf("Match = %v, %v; want %v", got, err, tt.want)
			}
			// Rebuilding the model (an Object not made by Parse) must agree.
			bare := &Object{Cal: o.Cal}
			if got, _ := Match(bare, timeFilter("VEVENT", tt.tr), tt.floating); got != tt.want {
				t.Errorf("Match on an Object without Parse's model = %v", got)
			}
		})
	}
}

// TestMatchTimeRangeTables covers the VTODO and VJOURNAL rows of RFC 4791
// §9.9.
func TestMatchTimeRangeTables(t *testing.T) {
	tests := []struct {
		file, comp string
		tr         *TimeRange
		want       bool
	}{
		// DUE only: start < DUE <= end.
		{"todo-due.ics", "VTODO", rng("20240501T090000Z", "20240501T100000Z"), true},
		{"todo-due.ics", "VTODO", rng("20240501T100000Z", "20240501T110000Z"), false},
		{"todo-due.ics", "VTODO", rng("20240501T090000Z", "20240501T095900Z"), false},
		// DTSTART and DUE.
		{"todo-start-due.ics", "VTODO", rng("20240504T000000Z", "20240505T000000Z"), true},
		{"todo-start-due.ics", "VTODO", rng("20240506T150000Z", "20240506T160000Z"), false},
		{"todo-start-due.ics", "VTODO", rng("20240501T000000Z", "20240502T070000Z"), false},
		{"todo-start-due.ics", "VTODO", rng("20240501T000000Z", "20240502T070001Z"), true},
		// DTSTART and DURATION: the end is inclusive.
		{"todo-start-duration.ics", "VTODO", rng("20240510T110000Z", "20240510T120000Z"), true},
		{"todo-start-duration.ics", "VTODO", rng("20240510T110001Z", "20240510T120000Z"), false},
		{"todo-start-duration.ics", "VTODO", rng("20240510T070000Z", "20240510T080000Z"), false},
		// DTSTART only: an instant.
		{"todo-start.ics", "VTODO", rng("20240511T230000Z", "20240512T000001Z"), true},
		{"todo-start.ics", "VTODO", rng("20240512T000001Z", "20240513T000000Z"), false},
		// COMPLETED and CREATED.
		{"todo-completed-created.ics", "VTODO", rng("20240402T000000Z", "20240403T000000Z"), true},
		{"todo-completed-created.ics", "VTODO", rng("20240404T000000Z", "20240405T000000Z"), false},
		{"todo-completed-created.ics", "VTODO", rng("20240301T000000Z", "20240401T000000Z"), false},
		{"todo-completed.ics", "VTODO", rng("20240403T000000Z", "20240404T000000Z"), true},
		{"todo-completed.ics", "VTODO", rng("20240404T000000Z", "20240405T000000Z"), false},
		{"todo-created.ics", "VTODO", rng("20300101T000000Z", "20300102T000000Z"), true},
		{"todo-created.ics", "VTODO", rng("20240301T000000Z", "20240401T070000Z"), false},
		// No dates at all: every range.
		{"todo-nodates.ics", "VTODO", rng("19900101T000000Z", "19900102T000000Z"), true},
		// Recurring, all-day DTSTART with DUE a day later.
		{"todo-recurring.ics", "VTODO", rng("20240408T120000Z", "20240408T130000Z"), true},
		{"todo-recurring.ics", "VTODO", rng("20240410T120000Z", "20240410T130000Z"), false},
		{"todo-recurring.ics", "VTODO", rng("20290101T000000Z", ""), true},
		// Recurring on DUE (no DTSTART), four times.
		{"todo-recurring-due.ics", "VTODO", rng("20240412T140000Z", "20240412T150000Z"), true},
		{"todo-recurring-due.ics", "VTODO", rng("20240426T140000Z", "20240426T150000Z"), true},
		{"todo-recurring-due.ics", "VTODO", rng("20240503T140000Z", "20240503T150000Z"), false},
		// VJOURNAL.
		{"journal.ics", "VJOURNAL", rng("20240408T120000Z", "20240408T130000Z"), true},
		{"journal.ics", "VJOURNAL", rng("20240409T000000Z", "20240410T000000Z"), false},
		{"journal-datetime.ics", "VJOURNAL", rng("20240408T143000Z", "20240408T150000Z"), true},
		{"journal-datetime.ics", "VJOURNAL", rng("20240408T140000Z", "20240408T143000Z"), false},
		{"journal-nodate.ics", "VJOURNAL", rng("20240101T000000Z", "20250101T000000Z"), false},
		// The wrong component type never matches.
		{"todo-due.ics", "VEVENT", rng("20240501T090000Z", "20240501T100000Z"), false},
	}
	for _, tt := range tests {
		t.Run(tt.file+" "+tt.tr.Start.Format("0102T150405")+"-"+tt.tr.End.Format("0102T150405"), func(t *testing.T) {
			_, o := readSample(t, tt.file)
			got, err := Match(o, timeFilter(tt.comp, tt.tr), nil)
			if err != nil || got != tt.want {
				t.Errorf("Match = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestMatchAlarms(t *testing.T) {
	repeat := ics(event("UID:r", "DTSTART:20240101T100000Z", "DTEND:20240101T110000Z",
		"BEGIN:VALARM", "ACTION:DISPLAY", "TRIGGER:-PT30M", "REPEAT:2", "DURATION:PT10M", "END:VALARM",
		"BEGIN:VALARM", "ACTION:AUDIO", "TRIGGER;VALUE=DATE-TIME:20231231T080000Z", "END:VALARM",
		"BEGIN:VALARM", "ACTION:DISPLAY", "TRIGGER;RELATED=END:PT5M", "END:VALARM"))
	alarm := func(tr *TimeRange) CompFilter {
		return inCal(CompFilter{Name: "VEVENT", Comps: []CompFilter{{Name: "VALARM", TimeRange: tr}}})
	}
	tests := []struct {
		name string
		data []byte
		file string
		tr   *TimeRange
		want bool
	}{
		{"weekly, 15 min before", nil, "thunderbird-weekly.ics", rng("20240401T074500Z", "20240401T074600Z"), true},
		{"weekly, not at the start", nil, "thunderbird-weekly.ics", rng("20240401T074600Z", "20240401T080000Z"), false},
		{"override has no alarm", nil, "thunderbird-weekly.ics", rng("20240313T124500Z", "20240313T124600Z"), false},
		{"far future instance", nil, "thunderbird-weekly.ics", rng("20310602T074500Z", "20310602T074600Z"), true},
		{"related to DUE", nil, "todo-start-due.ics", rng("20240506T140000Z", "20240506T140100Z"), true},
		{"windows tzid", nil, "outlook-windows-tzid.ics", rng("20240416T074500Z", "20240416T074600Z"), true},
		{"repeat second", repeat, "", rng("20240101T094000Z", "20240101T094100Z"), true},
		{"repeat after last", repeat, "", rng("20240101T095100Z", "20240101T100000Z"), false},
		{"absolute", repeat, "", rng("20231231T080000Z", "20231231T080100Z"), true},
		{"related to end", repeat, "", rng("20240101T110500Z", "20240101T110600Z"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o *Object
			if tt.data != nil {
				o = mustParse(t, tt.data)
			} else {
				_, o = readSample(t, tt.file)
			}
			comp := "VEVENT"
			if o.Component == "VTODO" {
				comp = "VTODO"
			}
			f := alarm(tt.tr)
			f.Comps[0].Name = comp
			got, err := Match(o, f, nil)
			if err != nil || got != tt.want {
				t.Errorf("Match = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestMatchFilters(t *testing.T) {
	text := func(s, collation string, negate bool) *TextMatch {
		return &TextMatch{Text: s, Collation: collation, Negate: negate}
	}
	prop := func(comp string, pf ...PropFilter) CompFilter { return inCal(CompFilter{Name: comp, Props: pf}) }
	summary := func(tm *TextMatch) CompFilter { return prop("VEVENT", PropFilter{Name: "SUMMARY", TextMatch: tm}) }
	attendee := func(tm *TextMatch, params ...ParamFilter) CompFilter {
		return prop("VEVENT", PropFilter{Name: "ATTENDEE", TextMatch: tm, Params: params})
	}
	partstat := func(v string) ParamFilter { return ParamFilter{Name: "PARTSTAT", TextMatch: text(v, "", false)} }
	tests := []struct {
		name, file string
		f          CompFilter
		want       bool
	}{
		{"any VEVENT", "thunderbird-weekly.ics", inCal(CompFilter{Name: "VEVENT"}), true},
		{"lower-case names", "thunderbird-weekly.ics", CompFilter{Name: "vcalendar", Comps: []CompFilter{{Name: "vevent", Props: []PropFilter{{Name: "summary"}}}}}, true},
		{"just VCALENDAR", "journal.ics", CompFilter{Name: "VCALENDAR"}, true},
		{"VCALENDAR is defined", "journal.ics", CompFilter{Name: "VCALENDAR", IsNotDefined: true}, false},
		{"VTODO is not defined", "thunderbird-weekly.ics", inCal(CompFilter{Name: "VTODO", IsNotDefined: true}), true},
		{"VEVENT is defined", "thunderbird-weekly.ics", inCal(CompFilter{Name: "VEVENT", IsNotDefined: true}), false},
		{"VALARM is not defined in some VEVENT", "thunderbird-weekly.ics", inCal(CompFilter{Name: "VEVENT", Comps: []CompFilter{{Name: "VALARM", IsNotDefined: true}}}), true},
		{"journal without dates, no time-range", "journal-nodate.ics", inCal(CompFilter{Name: "VJOURNAL"}), true},
		{"calendar property", "google-monthly.ics", CompFilter{Name: "VCALENDAR", Props: []PropFilter{{Name: "X-WR-CALNAME", TextMatch: text("WORK", "", false)}}}, true},
		// text-match and collations
		{"substring, ascii-casemap default", "thunderbird-weekly.ics", summary(text("team", "", false)), true},
		{"upper case", "thunderbird-weekly.ics", summary(text("TEAM SYNC", "i;ascii-casemap", false)), true},
		{"octet is exact", "thunderbird-weekly.ics", summary(text("team", "i;octet", false)), false},
		{"octet", "thunderbird-weekly.ics", summary(text("Team", "i;octet", false)), true},
		{"no match", "thunderbird-weekly.ics", summary(text("standup", "", false)), false},
		{"negate", "thunderbird-weekly.ics", summary(text("standup", "", true)), true},
		{"negate of a match", "thunderbird-weekly.ics", summary(text("team", "", true)), false},
		{"unicode-casemap folds É", "apple-allday.ics", summary(text("CONFÉRENCE", "i;unicode-casemap", false)), true},
		{"unicode-casemap lower", "apple-allday.ics", summary(text("conférence à", "i;unicode-casemap", false)), true},
		{"ascii-casemap keeps É apart", "apple-allday.ics", summary(text("CONFÉRENCE", "i;ascii-casemap", false)), false},
		{"ascii-casemap folds ASCII around é", "apple-allday.ics", summary(text("CONFéRENCE À LYON", "", false)), false},
		{"ascii-casemap folds ASCII around é, same accent case", "apple-allday.ics", summary(text("CONFéRENCE à LYON", "", false)), true},
		{"unicode-casemap on a folded address", "google-monthly.ics", attendee(text("FRANÇOISE@", "i;unicode-casemap", false)), true},
		{"escaped text", "outlook-windows-tzid.ics", prop("VEVENT", PropFilter{Name: "DESCRIPTION", TextMatch: text("planning, please", "", false)}), true},
		{"multi-valued, one value", "thunderbird-weekly.ics", prop("VEVENT", PropFilter{Name: "CATEGORIES", TextMatch: text("meetings", "", false)}), true},
		{"multi-valued, across values", "thunderbird-weekly.ics", prop("VEVENT", PropFilter{Name: "CATEGORIES", TextMatch: text("work,meet", "", false)}), false},
		{"multi-valued negate", "todo-nodates.ics", prop("VTODO", PropFilter{Name: "CATEGORIES", TextMatch: text("Go", "i;octet", true)}), false},
		{"UID look-up", "google-monthly.ics", prop("VEVENT", PropFilter{Name: "UID", TextMatch: text("3k4j5h6g7f8d9s0a1q2w3e4r5t@google.com", "i;octet", false)}), true},
		{"missing property never text-matches", "thunderbird-weekly.ics", prop("VEVENT", PropFilter{Name: "DESCRIPTION", TextMatch: text("x", "", true)}), false},
		// is-not-defined on properties
		{"DESCRIPTION not defined", "thunderbird-weekly.ics", prop("VEVENT", PropFilter{Name: "DESCRIPTION", IsNotDefined: true}), true},
		{"SUMMARY defined", "thunderbird-weekly.ics", prop("VEVENT", PropFilter{Name: "SUMMARY", IsNotDefined: true}), false},
		{"empty prop-filter: exists", "thunderbird-weekly.ics", prop("VEVENT", PropFilter{Name: "ORGANIZER"}), true},
		{"empty prop-filter: missing", "apple-allday.ics", prop("VEVENT", PropFilter{Name: "ORGANIZER"}), false},
		// param-filter
		{"PARTSTAT NEEDS-ACTION", "thunderbird-weekly.ics", attendee(nil, partstat("needs-action")), true},
		{"PARTSTAT DECLINED absent", "thunderbird-weekly.ics", attendee(nil, partstat("DECLINED")), false},
		{"PARTSTAT DECLINED present", "outlook-windows-tzid.ics", attendee(nil, partstat("DECLINED")), true},
		{"same ATTENDEE must match both", "thunderbird-weekly.ics", attendee(text("bob@", "", false), partstat("ACCEPTED")), false},
		{"same ATTENDEE matches both", "thunderbird-weekly.ics", attendee(text("anna@", "", false), partstat("ACCEPTED")), true},
		{"param not defined", "thunderbird-weekly.ics", attendee(nil, ParamFilter{Name: "RSVP", IsNotDefined: true}), true},
		{"param defined everywhere", "thunderbird-weekly.ics", attendee(nil, ParamFilter{Name: "PARTSTAT", IsNotDefined: true}), false},
		{"param negate", "outlook-windows-tzid.ics", attendee(nil, ParamFilter{Name: "PARTSTAT", TextMatch: text("TENTATIVE", "", true)}), true},
		{"param quoted value", "thunderbird-weekly.ics", attendee(nil, ParamFilter{Name: "CN", TextMatch: text("bob martin", "", false)}), true},
		// time-range on properties
		{"DTSTAMP in range", "thunderbird-weekly.ics", prop("VEVENT", PropFilter{Name: "DTSTAMP", TimeRange: rng("20240301T000000Z", "20240302T000000Z")}), true},
		{"DTSTAMP out of range", "thunderbird-weekly.ics", prop("VEVENT", PropFilter{Name: "DTSTAMP", TimeRange: rng("20240302T000000Z", "")}), false},
		{"LAST-MODIFIED", "google-monthly.ics", prop("VEVENT", PropFilter{Name: "LAST-MODIFIED", TimeRange: rng("20240301T115959Z", "20240301T120000Z")}), true},
		{"COMPLETED", "todo-completed.ics", prop("VTODO", PropFilter{Name: "COMPLETED", TimeRange: rng("20240403T000000Z", "20240404T000000Z")}), true},
		{"CREATED before", "todo-created.ics", prop("VTODO", PropFilter{Name: "CREATED", TimeRange: rng("", "20240401T070000Z")}), false},
		{"DTSTART of an instance", "thunderbird-weekly.ics", prop("VEVENT", PropFilter{Name: "DTSTART", TimeRange: rng("20240415T080000Z", "20240415T080001Z")}), true},
		{"DTSTART of no instance", "thunderbird-weekly.ics", prop("VEVENT", PropFilter{Name: "DTSTART", TimeRange: rng("20240416T080000Z", "20240416T080001Z")}), false},
		{"all-day DTSTART", "apple-allday.ics", prop("VEVENT", PropFilter{Name: "DTSTART", TimeRange: rng("20240311T120000Z", "20240311T130000Z")}), true},
		// time-range and the rest on the same instance
		{"moved instance by summary", "thunderbird-weekly.ics", inCal(CompFilter{Name: "VEVENT", TimeRange: rng("20240313T000000Z", "20240314T000000Z"),
			Props: []PropFilter{{Name: "SUMMARY", TextMatch: text("wednesday", "", false)}}}), true},
		{"regular instance is not the moved one", "thunderbird-weekly.ics", inCal(CompFilter{Name: "VEVENT", TimeRange: rng("20240401T000000Z", "20240402T000000Z"),
			Props: []PropFilter{{Name: "SUMMARY", TextMatch: text("moved", "", false)}}}), false},
		{"range and alarm", "thunderbird-weekly.ics", inCal(CompFilter{Name: "VEVENT", TimeRange: rng("20240401T000000Z", "20240402T000000Z"),
			Comps: []CompFilter{{Name: "VALARM"}}}), true},
		{"range and no alarm", "thunderbird-weekly.ics", inCal(CompFilter{Name: "VEVENT", TimeRange: rng("20240313T000000Z", "20240314T000000Z"),
			Comps: []CompFilter{{Name: "VALARM"}}}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, o := readSample(t, tt.file)
			got, err := Match(o, tt.f, nil)
			if err != nil || got != tt.want {
				t.Errorf("Match = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestMatchErrors(t *testing.T) {
	_, o := readSample(t, "thunderbird-weekly.ics")
	_, err := Match(o, inCal(CompFilter{Name: "VEVENT", Props: []PropFilter{{Name: "SUMMARY", TextMatch: &TextMatch{Text: "x", Collation: "i;basic"}}}}), nil)
	if !errors.Is(err, ErrUnsupportedCollation) {
		t.Errorf("unknown collation: %v", err)
	}
	_, err = Match(o, inCal(CompFilter{Name: "VEVENT", Props: []PropFilter{{Name: "ATTENDEE", Params: []ParamFilter{{Name: "CN", TextMatch: &TextMatch{Collation: "x"}}}}}}), nil)
	if !errors.Is(err, ErrUnsupportedCollation) {
		t.Errorf("unknown collation in param-filter: %v", err)
	}
	var ie *InvalidError
	if _, err := Match(o, CompFilter{Name: "VEVENT"}, nil); !errors.As(err, &ie) || ie.Precondition != "valid-filter" {
		t.Errorf("top comp-filter VEVENT: %v", err)
	}
	if _, err := Match(o, timeFilter("VEVENT", rng("20240102T000000Z", "20240101T000000Z")), nil); !errors.As(err, &ie) || ie.Precondition != "valid-filter" {
		t.Errorf("reversed time-range: %v", err)
	}
	if got, err := Match(nil, inCal(), nil); got || err != nil {
		t.Errorf("nil object: %v %v", got, err)
	}
}

// TestMatchEverySample makes sure no sample errors under a spread of
// filters.
func TestMatchEverySample(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.ics")
	for _, f := range files {
		data, _ := os.ReadFile(f)
		o := mustParse(t, data)
		for _, flt := range fuzzFilters {
			if _, err := Match(o, flt, nil); err != nil {
				t.Errorf("%s: %v", f, err)
			}
		}
	}
}

// TestMatchOverlappingInstances: instances that started before the range
// and still run count, as do several at once.
func TestMatchOverlappingInstances(t *testing.T) {
	o := mustParse(t, ics(event("UID:o", "DTSTART:20240101T120000Z", "DTEND:20240104T120000Z", "RRULE:FREQ=DAILY;COUNT=10")))
	tr := rng("20240105T000000Z", "20240105T010000Z") // covered by the instances of the 2nd, 3rd and 4th
	if ok, err := Match(o, timeFilter("VEVENT", tr), nil); !ok || err != nil {
		t.Errorf("Match = %v, %v", ok, err)
	}
	ins := Instances(o, *tr, nil)
	var got []string
	for _, in := range ins {
		got = append(got, in.Start.Format("02T15"))
	}
	if want := "02T12 03T12 04T12"; strings.Join(got, " ") != want {
		t.Errorf("instances %v, want %s", got, want)
	}
	// A single override of a non-recurring event replaces it.
	o = mustParse(t, ics(event("UID:s", "DTSTART:20240101T120000Z"), event("UID:s", "RECURRENCE-ID:20240101T120000Z", "DTSTART:20240101T150000Z")))
	if n := len(Instances(o, TimeRange{}, nil)); n != 1 {
		t.Errorf("%d instances, want 1", n)
	}
}

func TestParseTooLarge(t *testing.T) {
	var ie *InvalidError
	if _, err := Parse(make([]byte, MaxObjectSize+1)); !errors.As(err, &ie) || ie.Precondition != "max-resource-size" {
		t.Errorf("Parse of an oversized object: %v", err)
	}
}
