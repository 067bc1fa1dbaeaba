package ical

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// offsets returns loc's UTC offsets, in hours, on 15 January and 15 July
// 2024 at noon.
func offsets(loc *time.Location) [2]float64 {
	_, jan := time.Date(2024, 1, 15, 12, 0, 0, 0, loc).Zone()
	_, jul := time.Date(2024, 7, 15, 12, 0, 0, 0, loc).Zone()
	return [2]float64{float64(jan) / 3600, float64(jul) / 3600}
}

func TestResolveTZIDNames(t *testing.T) {
	tests := []struct {
		tzid string
		want string // IANA name; "" for floating
		off  [2]float64
	}{
		{"Europe/Berlin", "Europe/Berlin", [2]float64{1, 2}},
		{"America/New_York", "America/New_York", [2]float64{-5, -4}},
		{"UTC", "UTC", [2]float64{0, 0}},
		{"Etc/GMT-3", "Etc/GMT-3", [2]float64{3, 3}},
		{"W. Europe Standard Time", "Europe/Berlin", [2]float64{1, 2}},
		{"w. europe standard time", "Europe/Berlin", [2]float64{1, 2}},
		{"Pacific Standard Time", "America/Los_Angeles", [2]float64{-8, -7}},
		{"GMT Standard Time", "Europe/London", [2]float64{0, 1}},
		{"Romance Standard Time", "Europe/Paris", [2]float64{1, 2}},
		{"Eastern Standard Time", "America/New_York", [2]float64{-5, -4}},
		{"India Standard Time", "Asia/Kolkata", [2]float64{5.5, 5.5}},
		{"AUS Eastern Standard Time", "Australia/Sydney", [2]float64{11, 10}},
		{"Tokyo Standard Time", "Asia/Tokyo", [2]float64{9, 9}},
		{"/mozilla.org/20050126_1/Europe/Berlin", "Europe/Berlin", [2]float64{1, 2}},
		{"/freeassociation.sourceforge.net/Tzfile/Europe/London", "Europe/London", [2]float64{0, 1}},
		{"/citadel.org/20190914_1/America/Chicago", "America/Chicago", [2]float64{-6, -5}},
		{"(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna", "Europe/Amsterdam", [2]float64{1, 2}},
		{"(UTC-05:00) Eastern Time (US & Canada)", "America/New_York", [2]float64{-5, -4}},
		{"(GMT+01.00) Brussels / Copenhagen / Madrid / Paris", "Europe/Brussels", [2]float64{1, 2}},
		{"(UTC+09:00) Osaka, Sapporo, Tokyo", "Asia/Tokyo", [2]float64{9, 9}},
		{"(UTC-03:00) Brasilia", "America/Sao_Paulo", [2]float64{-3, -3}},
		{"(UTC+04:30) Somewhere, Nowhere", "UTC+04:30", [2]float64{4.5, 4.5}},
		{"GMT+01:00", "UTC+01:00", [2]float64{1, 1}},
		{"UTC-5", "UTC-05:00", [2]float64{-5, -5}},
		{"Mars/Olympus_Mons", "", [2]float64{}},
		{"Local", "", [2]float64{}},
		{"../../../../etc/passwd", "", [2]float64{}},
		{"", "", [2]float64{}},
		{strings.Repeat("A/", 200), "", [2]float64{}},
	}
	for _, tt := range tests {
		t.Run(tt.tzid, func(t *testing.T) {
			loc := ResolveTZID(tt.tzid, nil)
			if tt.want == "" {
				if loc != nil {
					t.Fatalf("got %v, want floating (nil)", loc)
				}
				return
			}
			if loc == nil {
				t.Fatalf("got floating, want %s", tt.want)
			}
			if loc.String() != tt.want {
				t.Errorf("got %s, want %s", loc, tt.want)
			}
			if got := offsets(loc); got != tt.off {
				t.Errorf("offsets %v, want %v", got, tt.off)
			}
		})
	}
}

func TestWindowsZonesAllLoad(t *testing.T) {
	loadZoneTables()
	for _, m := range []map[string]string{windowsToIANA, outlookToIANA} {
		for win, iana := range m {
			if _, err := time.LoadLocation(iana); err != nil {
				t.Errorf("%s → %s: %v", win, iana, err)
			}
		}
	}
	if n := len(windowsToIANA); n < 139 {
		t.Errorf("only %d Windows zones", n)
	}
}

func TestResolveTZIDFromVTimezone(t *testing.T) {
	data, err := os.ReadFile("testdata/custom-vtimezone.ics")
	if err != nil {
		t.Fatal(err)
	}
	o, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	loc := ResolveTZID("Customized Time Zone", o.Cal)
	if loc == nil {
		t.Fatal("no location from the VTIMEZONE")
	}
	if got := offsets(loc); got != [2]float64{-5, -4} {
		t.Errorf("offsets %v, want [-5 -4]", got)
	}
	// The transitions follow the rules: 2024-03-10 02:00 EST and
	// 2024-11-03 02:00 EDT.
	for _, c := range []struct {
		at   time.Time
		want int
	}{
		{time.Date(2024, 3, 10, 6, 59, 0, 0, time.UTC), -5},
		{time.Date(2024, 3, 10, 7, 0, 0, 0, time.UTC), -4},
		{time.Date(2024, 11, 3, 5, 59, 0, 0, time.UTC), -4},
		{time.Date(2024, 11, 3, 6, 0, 0, 0, time.UTC), -5},
		{time.Date(1950, 7, 1, 0, 0, 0, 0, time.UTC), -4},
		{time.Date(2090, 1, 1, 0, 0, 0, 0, time.UTC), -5},
	} {
		if _, off := c.at.In(loc).Zone(); off != c.want*3600 {
			t.Errorf("at %v: offset %d, want %d h", c.at, off, c.want)
		}
	}
	if name, _ := time.Date(2024, 7, 1, 0, 0, 0, 0, loc).Zone(); name != "EDT" {
		t.Errorf("abbreviation %q, want EDT", name)
	}
	// A name IANA knows wins over the object's VTIMEZONE.
	w, _ := os.ReadFile("testdata/outlook-windows-tzid.ics")
	ow, err := Parse(w)
	if err != nil {
		t.Fatal(err)
	}
	if loc := ResolveTZID("W. Europe Standard Time", ow.Cal); loc == nil || loc.String() != "Europe/Berlin" {
		t.Errorf("got %v, want Europe/Berlin", loc)
	}
}

func TestResolveTZIDVTimezoneFallbacks(t *testing.T) {
	cal := func(vtz string) string {
		return "BEGIN:VCALENDAR\r\n" + vtz + "BEGIN:VEVENT\r\nUID:u\r\nDTSTART;TZID=X Custom:20240101T100000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	}
	tests := []struct {
		name, vtz string
		want      [2]float64
		floating  bool
	}{
		{"single observance is fixed", "BEGIN:VTIMEZONE\r\nTZID:X Custom\r\nBEGIN:STANDARD\r\nDTSTART:19700101T000000\r\nTZOFFSETFROM:+0530\r\nTZOFFSETTO:+0530\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n",
			[2]float64{5.5, 5.5}, false},
		{"no DTSTART still gives the offset", "BEGIN:VTIMEZONE\r\nTZID:X Custom\r\nBEGIN:STANDARD\r\nTZOFFSETTO:-0300\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n",
			[2]float64{-3, -3}, false},
		{"garbage offsets mean floating", "BEGIN:VTIMEZONE\r\nTZID:X Custom\r\nBEGIN:STANDARD\r\nTZOFFSETTO:soon\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n",
			[2]float64{}, true},
		{"RDATE transitions", "BEGIN:VTIMEZONE\r\nTZID:X Custom\r\nBEGIN:STANDARD\r\nDTSTART:20231029T030000\r\nRDATE:20241027T030000\r\nTZOFFSETFROM:+0300\r\nTZOFFSETTO:+0200\r\nEND:STANDARD\r\nBEGIN:DAYLIGHT\r\nDTSTART:20240331T020000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0300\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n",
			[2]float64{2, 3}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := Parse([]byte(cal(tt.vtz)))
			if err != nil {
				t.Fatal(err)
			}
			loc := ResolveTZID("X Custom", o.Cal)
			if tt.floating {
				if loc != nil {
					t.Fatalf("got %v, want floating", loc)
				}
				return
			}
			if loc == nil {
				t.Fatal("got floating")
			}
			if got := offsets(loc); got != tt.want {
				t.Errorf("offsets %v, want %v", got, tt.want)
			}
		})
	}
}

func TestResolveTZIDCached(t *testing.T) {
	a := ResolveTZID("Romance Standard Time", nil)
	b := ResolveTZID("Romance Standard Time", nil)
	if a != b {
		t.Error("second look-up built a new location")
	}
	if n := testing.AllocsPerRun(100, func() { ResolveTZID("Romance Standard Time", nil) }); n > 0 {
		t.Errorf("cached look-up allocates %v times", n)
	}
}

// TestHostileVTimezones: an object whose every TZID points to a VTIMEZONE
// of many observances with rules that never match still parses fast.
func TestHostileVTimezones(t *testing.T) {
	var b strings.Builder
	b.WriteString("BEGIN:VCALENDAR\r\n")
	for z := range maxTZIDs {
		fmt.Fprintf(&b, "BEGIN:VTIMEZONE\r\nTZID:Evil %d\r\n", z)
		for i := range maxObservances {
			fmt.Fprintf(&b, "BEGIN:STANDARD\r\nDTSTART:19000101T000000\r\nTZOFFSETFROM:+%02d00\r\nTZOFFSETTO:+%02d00\r\n"+
				"RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30\r\nRDATE:20000101T000000,20010101T000000\r\nEND:STANDARD\r\n", i%12, (i+z)%12)
		}
		b.WriteString("END:VTIMEZONE\r\n")
	}
	b.WriteString("BEGIN:VEVENT\r\nUID:evil\r\nDTSTART:20240101T000000Z\r\nRRULE:FREQ=DAILY\r\n")
	for z := range maxTZIDs {
		fmt.Fprintf(&b, "EXDATE;TZID=Evil %d:20240102T000000\r\n", z)
	}
	b.WriteString("END:VEVENT\r\nEND:VCALENDAR\r\n")
	start := time.Now()
	if _, err := Parse([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	// The work is bounded by vtzBudget, not by a clock: a wall-time check
	// here would fail on a loaded CI machine, so the time is only logged.
	t.Logf("Parse took %v", time.Since(start))
}

func TestResolveTZIDBlank(t *testing.T) {
	for _, tzid := range []string{"", " ", "\t", "/", "//", "(UTC)"} {
		if loc := ResolveTZID(tzid, nil); loc != nil && tzid != "(UTC)" {
			t.Errorf("%q: %v", tzid, loc)
		}
	}
	mustParse(t, ics(event("UID:a", "DTSTART;TZID= :20240101T100000", "RRULE:FREQ=DAILY", "EXDATE;TZID= :20240102T100000")))
}
