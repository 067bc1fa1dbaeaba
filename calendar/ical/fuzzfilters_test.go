package ical

// fuzzFilters are the filters FuzzMatch and TestMatchEverySample run.
var fuzzFilters = []CompFilter{
	inCal(CompFilter{Name: "VEVENT", TimeRange: rng("20240101T000000Z", "20240201T000000Z")}),
	inCal(CompFilter{Name: "VTODO", TimeRange: rng("20240101T000000Z", "")}),
	inCal(CompFilter{Name: "VJOURNAL", TimeRange: rng("", "20240101T000000Z")}),
	inCal(CompFilter{Name: "VEVENT", Comps: []CompFilter{{Name: "VALARM", TimeRange: rng("20240101T000000Z", "20250101T000000Z")}}}),
	inCal(CompFilter{Name: "VEVENT", Props: []PropFilter{
		{Name: "SUMMARY", TextMatch: &TextMatch{Text: "é", Collation: "i;unicode-casemap"}},
		{Name: "ATTENDEE", Params: []ParamFilter{{Name: "PARTSTAT", TextMatch: &TextMatch{Text: "ACCEPTED", Negate: true}}}},
	}}),
	inCal(CompFilter{Name: "VTODO", Props: []PropFilter{{Name: "COMPLETED", IsNotDefined: true}, {Name: "DUE", TimeRange: rng("20240101T000000Z", "20240102T000000Z")}}}),
	inCal(CompFilter{Name: "VEVENT", TimeRange: &TimeRange{}, Props: []PropFilter{{Name: "DTSTART", TimeRange: rng("20240301T000000Z", "20240302T000000Z")}}}),
	inCal(CompFilter{Name: "VFREEBUSY", TimeRange: rng("20240101T000000Z", "20240201T000000Z")}),
}
