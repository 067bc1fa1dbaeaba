package ical

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// ruleInstances expands rule from dtstart (America/New_York wall clock, as
// the RFC 5545 examples use) and returns the first n instance starts.
func ruleInstances(t *testing.T, dtstart, rule, extra string, n int) []string {
	t.Helper()
	data := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:test\r\nBEGIN:VEVENT\r\nUID:r\r\nDTSTAMP:20240101T000000Z\r\n" +
		"DTSTART;TZID=America/New_York:" + dtstart + "\r\nRRULE:" + rule + "\r\n" + extra + "END:VEVENT\r\nEND:VCALENDAR\r\n"
	o, err := Parse([]byte(data))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	ny, _ := time.LoadLocation("America/New_York")
	var out []string
	for _, in := range Instances(o, TimeRange{End: time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC)}, nil) {
		if len(out) == n {
			break
		}
		out = append(out, in.Start.In(ny).Format("20060102T1504"))
	}
	return out
}

// days writes expected instances compactly: "1997-09: 2 4 9" means
// September 2, 4 and 9, 1997, at hhmm.
func days(hhmm string, groups ...string) []string {
	var out []string
	for _, g := range groups {
		ym, ds, _ := strings.Cut(g, ":")
		for _, d := range strings.Fields(ds) {
			out = append(out, fmt.Sprintf("%s%02s%sT%s", ym[:4], ym[5:7], fmt.Sprintf("%02s", d), hhmm))
		}
	}
	return out
}

// TestRRuleRFC5545Examples runs the examples of RFC 5545 §3.8.5.3.
func TestRRuleRFC5545Examples(t *testing.T) {
	tests := []struct {
		name, dtstart, rule, extra string
		want                       []string
	}{
		{"daily count", "19970902T090000", "FREQ=DAILY;COUNT=10", "",
			days("0900", "1997-09: 2 3 4 5 6 7 8 9 10 11")},
		{"every other day", "19970902T090000", "FREQ=DAILY;INTERVAL=2", "",
			days("0900", "1997-09: 2 4 6 8 10 12 14 16 18 20 22 24 26 28 30", "1997-10: 2 4")},
		{"every 10 days", "19970902T090000", "FREQ=DAILY;INTERVAL=10;COUNT=5", "",
			days("0900", "1997-09: 2 12 22", "1997-10: 2 12")},
		{"january daily, yearly", "19980101T090000",
			"FREQ=YEARLY;UNTIL=20000131T140000Z;BYMONTH=1;BYDAY=SU,MO,TU,WE,TH,FR,SA", "",
			days("0900", "1998-01: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31")},
		{"january daily, daily", "19980101T090000", "FREQ=DAILY;UNTIL=20000131T140000Z;BYMONTH=1", "",
			days("0900", "1998-01: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31", "1999-01: 1 2")},
		{"weekly count", "19970902T090000", "FREQ=WEEKLY;COUNT=10", "",
			days("0900", "1997-09: 2 9 16 23 30", "1997-10: 7 14 21 28", "1997-11: 4")},
		{"tue thu five weeks", "19970902T090000", "FREQ=WEEKLY;UNTIL=19971007T000000Z;WKST=SU;BYDAY=TU,TH", "",
			days("0900", "1997-09: 2 4 9 11 16 18 23 25 30", "1997-10: 2")},
		{"every other week mo we fr", "19970901T090000", "FREQ=WEEKLY;INTERVAL=2;UNTIL=19971224T000000Z;WKST=SU;BYDAY=MO,WE,FR", "",
			days("0900", "1997-09: 1 3 5 15 17 19 29", "1997-10: 1 3 13 15 17 27 29 31", "1997-11: 10 12 14 24 26 28", "1997-12: 8 10 12 22")},
		{"every other week tu th", "19970902T090000", "FREQ=WEEKLY;INTERVAL=2;COUNT=8;WKST=SU;BYDAY=TU,TH", "",
			days("0900", "1997-09: 2 4 16 18 30", "1997-10: 2 14 16")},
		{"first friday", "19970905T090000", "FREQ=MONTHLY;COUNT=10;BYDAY=1FR", "",
			days("0900", "1997-09: 5", "1997-10: 3", "1997-11: 7", "1997-12: 5", "1998-01: 2", "1998-02: 6", "1998-03: 6", "1998-04: 3", "1998-05: 1", "1998-06: 5")},
		{"first and last sunday", "19970907T090000", "FREQ=MONTHLY;INTERVAL=2;COUNT=10;BYDAY=1SU,-1SU", "",
			days("0900", "1997-09: 7 28", "1997-11: 2 30", "1998-01: 4 25", "1998-03: 1 29", "1998-05: 3 31")},
		{"second to last monday", "19970922T090000", "FREQ=MONTHLY;COUNT=6;BYDAY=-2MO", "",
			days("0900", "1997-09: 22", "1997-10: 20", "1997-11: 17", "1997-12: 22", "1998-01: 19", "1998-02: 16")},
		{"third to last day", "19970928T090000", "FREQ=MONTHLY;BYMONTHDAY=-3", "",
			days("0900", "1997-09: 28", "1997-10: 29", "1997-11: 28", "1997-12: 29", "1998-01: 29", "1998-02: 26")},
		{"2nd and 15th", "19970902T090000", "FREQ=MONTHLY;COUNT=10;BYMONTHDAY=2,15", "",
			days("0900", "1997-09: 2 15", "1997-10: 2 15", "1997-11: 2 15", "1997-12: 2 15", "1998-01: 2 15")},
		{"first and last day", "19970930T090000", "FREQ=MONTHLY;COUNT=10;BYMONTHDAY=1,-1", "",
			days("0900", "1997-09: 30", "1997-10: 1 31", "1997-11: 1 30", "1997-12: 1 31", "1998-01: 1 31", "1998-02: 1")},
		{"every 18 months", "19970910T090000", "FREQ=MONTHLY;INTERVAL=18;COUNT=10;BYMONTHDAY=10,11,12,13,14,15", "",
			days("0900", "1997-09: 10 11 12 13 14 15", "1999-03: 10 11 12 13")},
		{"tuesdays every other month", "19970902T090000", "FREQ=MONTHLY;INTERVAL=2;BYDAY=TU", "",
			days("0900", "1997-09: 2 9 16 23 30", "1997-11: 4 11 18 25", "1998-01: 6 13 20 27", "1998-03: 3")},
		{"june and july", "19970610T090000", "FREQ=YEARLY;COUNT=10;BYMONTH=6,7", "",
			days("0900", "1997-06: 10", "1997-07: 10", "1998-06: 10", "1998-07: 10", "1999-06: 10", "1999-07: 10", "2000-06: 10", "2000-07: 10", "2001-06: 10", "2001-07: 10")},
		{"jan feb mar every other year", "19970310T090000", "FREQ=YEARLY;INTERVAL=2;COUNT=10;BYMONTH=1,2,3", "",
			days("0900", "1997-03: 10", "1999-01: 10", "1999-02: 10", "1999-03: 10", "2001-01: 10", "2001-02: 10", "2001-03: 10", "2003-01: 10", "2003-02: 10", "2003-03: 10")},
		{"year days", "19970101T090000", "FREQ=YEARLY;INTERVAL=3;COUNT=10;BYYEARDAY=1,100,200", "",
			days("0900", "1997-01: 1", "1997-04: 10", "1997-07: 19", "2000-01: 1", "2000-04: 9", "2000-07: 18", "2003-01: 1", "2003-04: 10", "2003-07: 19", "2006-01: 1")},
		{"20th monday", "19970519T090000", "FREQ=YEARLY;BYDAY=20MO", "",
			days("0900", "1997-05: 19", "1998-05: 18", "1999-05: 17")},
		{"monday of week 20", "19970512T090000", "FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO", "",
			days("0900", "1997-05: 12", "1998-05: 11", "1999-05: 17")},
		{"thursdays in march", "19970313T090000", "FREQ=YEARLY;BYMONTH=3;BYDAY=TH", "",
			days("0900", "1997-03: 13 20 27", "1998-03: 5 12 19 26", "1999-03: 4 11 18 25")},
		{"summer thursdays", "19970605T090000", "FREQ=YEARLY;BYDAY=TH;BYMONTH=6,7,8", "",
			days("0900", "1997-06: 5 12 19 26", "1997-07: 3 10 17 24 31", "1997-08: 7 14 21 28", "1998-06: 4")},
		{"friday 13th", "19970902T090000", "FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13", "EXDATE;TZID=America/New_York:19970902T090000\r\n",
			days("0900", "1998-02: 13", "1998-03: 13", "1998-11: 13", "1999-08: 13", "2000-10: 13")},
		{"saturday after first sunday", "19970913T090000", "FREQ=MONTHLY;BYDAY=SA;BYMONTHDAY=7,8,9,10,11,12,13", "",
			days("0900", "1997-09: 13", "1997-10: 11", "1997-11: 8", "1997-12: 13", "1998-01: 10", "1998-02: 7", "1998-03: 7", "1998-04: 11", "1998-05: 9", "1998-06: 13")},
		{"election day", "19961105T090000", "FREQ=YEARLY;INTERVAL=4;BYMONTH=11;BYDAY=TU;BYMONTHDAY=2,3,4,5,6,7,8", "",
			days("0900", "1996-11: 5", "2000-11: 7", "2004-11: 2")},
		{"third tu we th", "19970904T090000", "FREQ=MONTHLY;COUNT=3;BYDAY=TU,WE,TH;BYSETPOS=3", "",
			days("0900", "1997-09: 4", "1997-10: 7", "1997-11: 6")},
		{"second to last weekday", "19970929T090000", "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-2", "",
			days("0900", "1997-09: 29", "1997-10: 30", "1997-11: 27", "1997-12: 30", "1998-01: 29", "1998-02: 26", "1998-03: 30")},
		{"every 15 minutes", "19970902T090000", "FREQ=MINUTELY;INTERVAL=15;COUNT=6", "",
			[]string{"19970902T0900", "19970902T0915", "19970902T0930", "19970902T0945", "19970902T1000", "19970902T1015"}},
		{"every 90 minutes", "19970902T090000", "FREQ=MINUTELY;INTERVAL=90;COUNT=4", "",
			[]string{"19970902T0900", "19970902T1030", "19970902T1200", "19970902T1330"}},
		{"every 20 minutes, daily", "19970902T090000", "FREQ=DAILY;BYHOUR=9,10,11,12,13,14,15,16;BYMINUTE=0,20,40", "",
			[]string{"19970902T0900", "19970902T0920", "19970902T0940", "19970902T1000", "19970902T1020"}},
		{"every 20 minutes, minutely", "19970902T090000", "FREQ=MINUTELY;INTERVAL=20;BYHOUR=9,10,11,12,13,14,15,16", "",
			append(days("0900", "1997-09: 2"), "19970902T0920", "19970902T0940", "19970902T1000", "19970902T1020")},
		{"minutely crosses days", "19970902T163000", "FREQ=MINUTELY;INTERVAL=20;BYHOUR=9,16", "",
			[]string{"19970902T1630", "19970902T1650", "19970903T0910", "19970903T0930"}}, // the 20-minute grid stays on :10, :30, :50
		{"wkst mo", "19970805T090000", "FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=MO", "",
			days("0900", "1997-08: 5 10 19 24")},
		{"wkst su", "19970805T090000", "FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=SU", "",
			days("0900", "1997-08: 5 17 19 31")},
		{"invalid dates skipped", "20070115T090000", "FREQ=MONTHLY;BYMONTHDAY=15,30;COUNT=5", "",
			days("0900", "2007-01: 15 30", "2007-02: 15", "2007-03: 15 30")},
		{"dst kept wall clock", "20070301T090000", "FREQ=WEEKLY;COUNT=3", "",
			days("0900", "2007-03: 1 8 15")},
		{"unsynchronised dtstart counts", "19970903T090000", "FREQ=WEEKLY;COUNT=3;BYDAY=MO", "",
			days("0900", "1997-09: 3 8 15")},
		{"date until with date-time", "19970902T090000", "FREQ=DAILY;UNTIL=19970904", "",
			days("0900", "1997-09: 2 3 4")},
		{"hourly", "19970902T220000", "FREQ=HOURLY;INTERVAL=2;COUNT=3", "",
			[]string{"19970902T2200", "19970903T0000", "19970903T0200"}},
		{"secondly limited", "19970902T090000", "FREQ=SECONDLY;INTERVAL=30;COUNT=3;BYMINUTE=0,1", "",
			[]string{"19970902T0900", "19970902T0900", "19970902T0901"}},
		{"leap day", "20000229T090000", "FREQ=YEARLY;COUNT=3", "",
			days("0900", "2000-02: 29", "2004-02: 29", "2008-02: 29")},
		{"week 53 and week 1", "19981228T090000", "FREQ=YEARLY;COUNT=4;BYWEEKNO=1,53;BYDAY=MO", "",
			days("0900", "1998-12: 28", "1999-01: 4", "2000-01: 3", "2001-01: 1")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ruleInstances(t, tt.dtstart, tt.rule, tt.extra, len(tt.want))
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("RRULE:%s from %s\n got %v\nwant %v", tt.rule, tt.dtstart, got, tt.want)
			}
		})
	}
}

// TestRRuleHostile checks that rules which make other implementations
// hang or scan for a long time end quickly here.
func TestRRuleHostile(t *testing.T) {
	rules := []string{
		"FREQ=HOURLY;INTERVAL=24;BYHOUR=1",      // never reaches hour 1: rrule-go loops forever
		"FREQ=MINUTELY;INTERVAL=60;BYMINUTE=1",  // likewise
		"FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",    // no instance ever
		"FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30", // no instance, finest step
		"FREQ=SECONDLY",                         // millions of instances
		"FREQ=YEARLY;BYWEEKNO=53;BYMONTH=6",     // impossible combination
		"FREQ=YEARLY;BYHOUR=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23;BYMINUTE=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59;BYSETPOS=-1",
		"FREQ=DAILY;COUNT=1000000000",
		"FREQ=MONTHLY;BYMONTHDAY=31;BYMONTH=2;COUNT=5",
	}
	for _, r := range rules {
		t.Run(r[:min(len(r), 40)], func(t *testing.T) {
			start := time.Now()
			data := "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTART:20240101T000000Z\r\nRRULE:" + r + "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
			o, err := Parse([]byte(data))
			if err != nil {
				t.Fatal(err)
			}
			for _, tr := range []TimeRange{
				{Start: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2030, 2, 1, 0, 0, 0, 0, time.UTC)},
				{Start: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)},
				{},
			} {
				f := CompFilter{Name: "VCALENDAR", Comps: []CompFilter{{Name: "VEVENT", TimeRange: &tr}}}
				if _, err := Match(o, f, nil); err != nil {
					t.Fatal(err)
				}
				Instances(o, tr, nil)
				if _, err := Render(o, []byte(data), DataRequest{Expand: &tr}, nil); err != nil {
					t.Fatal(err)
				}
			}
			if d := time.Since(start); d > 30*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}
