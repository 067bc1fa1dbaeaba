package ical

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// golden compares got with testdata/golden/name, or rewrites it with
// -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n%s", path, got)
	}
}

func TestRenderGolden(t *testing.T) {
	paris := loadLocation(t, "Europe/Paris")
	eventOnly := &CompSelect{Name: "VCALENDAR", Props: []string{"VERSION", "PRODID"}, Comps: []CompSelect{
		{Name: "VEVENT", Props: []string{"UID", "SUMMARY", "DTSTART", "DTEND", "RECURRENCE-ID"}},
	}}
	tests := []struct {
		name, file string
		req        DataRequest
		floating   *time.Location
	}{
		{"thunderbird-expand-march.ics", "thunderbird-weekly.ics", DataRequest{Expand: rng("20240301T000000Z", "20240415T000000Z")}, nil},
		{"thunderbird-expand-may.ics", "thunderbird-weekly.ics", DataRequest{Expand: rng("20240506T000000Z", "20240507T000000Z")}, nil},
		{"thunderbird-limit-march.ics", "thunderbird-weekly.ics", DataRequest{LimitRecurrenceSet: rng("20240310T000000Z", "20240317T000000Z")}, nil},
		{"thunderbird-limit-april8.ics", "thunderbird-weekly.ics", DataRequest{LimitRecurrenceSet: rng("20240408T000000Z", "20240409T000000Z")}, nil},
		{"thunderbird-partial.ics", "thunderbird-weekly.ics", DataRequest{Comp: eventOnly}, nil},
		{"thunderbird-partial-expand.ics", "thunderbird-weekly.ics", DataRequest{Comp: eventOnly, Expand: rng("20240311T000000Z", "20240318T000000Z")}, nil},
		{"apple-allday-expand-paris.ics", "apple-allday.ics", DataRequest{Expand: rng("20240301T000000Z", "20240401T000000Z")}, paris},
		{"outlook-expand-april.ics", "outlook-windows-tzid.ics", DataRequest{Expand: rng("20240401T000000Z", "20240501T000000Z")}, nil},
		{"floating-expand-paris.ics", "floating.ics", DataRequest{Expand: rng("20240401T000000Z", "20240501T000000Z")}, paris},
		{"rdate-period-expand.ics", "rdate-period.ics", DataRequest{Expand: rng("20240501T000000Z", "20240701T000000Z")}, nil},
		{"duration-expand.ics", "duration.ics", DataRequest{Expand: rng("20240330T000000Z", "20240401T000000Z")}, nil},
		{"todo-recurring-expand.ics", "todo-recurring.ics", DataRequest{Expand: rng("20240401T000000Z", "20240415T000000Z")}, nil},
		{"thisandfuture-expand.ics", "thisandfuture.ics", DataRequest{Expand: rng("20240606T000000Z", "20240609T000000Z")}, nil},
		{"custom-vtimezone-expand.ics", "custom-vtimezone.ics", DataRequest{Expand: rng("20240301T000000Z", "20240501T000000Z")}, nil},
		{"google-expand-empty.ics", "google-monthly.ics", DataRequest{Expand: rng("20240201T000000Z", "20240301T000000Z")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, o := readSample(t, tt.file)
			got, err := Render(o, raw, tt.req, tt.floating)
			if err != nil {
				t.Fatal(err)
			}
			checkWellFormed(t, got)
			if tt.req.Expand != nil {
				checkExpanded(t, got)
			}
			golden(t, tt.name, got)
		})
	}
}

// checkWellFormed decodes out and checks line ends and folding.
func checkWellFormed(t *testing.T, out []byte) {
	t.Helper()
	if _, err := decode(out); err != nil {
		t.Errorf("output does not decode: %v", err)
	}
	for _, line := range strings.SplitAfter(string(out), "\r\n") {
		if line == "" {
			continue
		}
		if !strings.HasSuffix(line, "\r\n") || strings.Contains(strings.TrimSuffix(line, "\r\n"), "\n") {
			t.Errorf("line without CRLF: %q", line)
		}
		if len(line) > 77 {
			t.Errorf("line longer than 75 octets: %q", line)
		}
	}
}

// checkExpanded verifies the §9.6.5 rules on an expanded calendar.
func checkExpanded(t *testing.T, out []byte) {
	t.Helper()
	s := string(out)
	for _, bad := range []string{"RRULE", "RDATE", "EXDATE", "VTIMEZONE", "TZID="} {
		if strings.Contains(s, bad) {
			t.Errorf("expanded output contains %s", bad)
		}
	}
	if strings.Count(s, "BEGIN:VEVENT")+strings.Count(s, "BEGIN:VTODO") > 0 {
		if _, err := Parse(out); err != nil {
			t.Errorf("expanded output does not parse: %v", err)
		}
	}
}

func TestRenderLimitFreeBusySet(t *testing.T) {
	cal, err := decode(ics("BEGIN:VFREEBUSY", "UID:fb", "DTSTAMP:20240101T000000Z",
		"FREEBUSY;FBTYPE=BUSY:20240101T090000Z/20240101T100000Z,20240103T090000Z/PT1H",
		"FREEBUSY;FBTYPE=BUSY-TENTATIVE:20240102T090000Z/20240102T100000Z",
		"FREEBUSY:20240110T090000Z/20240110T100000Z", "END:VFREEBUSY"))
	if err != nil {
		t.Fatal(err)
	}
	o := &Object{Cal: cal}
	got, err := Render(o, nil, DataRequest{LimitFreeBusySet: rng("20240102T000000Z", "20240104T000000Z")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkWellFormed(t, got)
	golden(t, "limit-freebusy.ics", got)
}

func TestRenderRaw(t *testing.T) {
	raw, o := readSample(t, "thunderbird-weekly.ics")
	for _, req := range []DataRequest{{}, {Comp: &CompSelect{Name: "VCALENDAR", AllProps: true, AllComps: true}}} {
		got, err := Render(o, raw, req, nil)
		if err != nil || &got[0] != &raw[0] {
			t.Errorf("Render(%+v) did not return the stored bytes: %v", req, err)
		}
	}
	if _, err := Render(o, raw, DataRequest{Comp: &CompSelect{Name: "VEVENT"}}, nil); err == nil {
		t.Error("a top comp other than VCALENDAR is accepted")
	}
}

// TestRenderDoesNotModify renders every sample every way and checks the
// parsed object and the stored bytes did not change.
func TestRenderDoesNotModify(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.ics")
	reqs := []DataRequest{
		{Expand: rng("20240101T000000Z", "20250101T000000Z")},
		{LimitRecurrenceSet: rng("20240101T000000Z", "20250101T000000Z")},
		{Comp: &CompSelect{Name: "VCALENDAR", AllProps: true, Comps: []CompSelect{{Name: "VEVENT", Props: []string{"SUMMARY"}}, {Name: "VTODO", AllProps: true}}}},
		{Expand: rng("20240101T000000Z", "20250101T000000Z"), LimitFreeBusySet: rng("20240101T000000Z", "20250101T000000Z")},
	}
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		o := mustParse(t, raw)
		before := string(encode(o.Cal.Component))
		for _, req := range reqs {
			out, err := Render(o, raw, req, nil)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			checkWellFormed(t, out)
			if req.Expand != nil {
				checkExpanded(t, out)
			}
		}
		if after := string(encode(o.Cal.Component)); after != before {
			t.Errorf("%s: Render modified the object", f)
		}
	}
}

func TestInstances(t *testing.T) {
	_, o := readSample(t, "thunderbird-weekly.ics")
	ins := Instances(o, TimeRange{Start: at("20240301T000000Z"), End: at("20240415T000000Z")}, nil)
	var got []string
	for _, in := range ins {
		got = append(got, in.Start.UTC().Format("0102T1504")+"/"+in.RecurrenceID.UTC().Format("0102"))
	}
	want := "0304T0900/0304 0313T1300/0311 0401T0800/0401" // 18 and 25 March excluded, 8 April moved to May
	if strings.Join(got, " ") != want {
		t.Errorf("got %v, want %s", got, want)
	}
	if ins[1].Component.Props.Get("SUMMARY").Value != "Team sync (moved to Wednesday)" {
		t.Error("the moved instance does not carry the override's properties")
	}
}

func TestEncodeFolds(t *testing.T) {
	long := strings.Repeat("é", 60) // 120 octets: folding must not split a character
	cal := calendarShell()
	ev := calendarShell()
	ev.Name = "VEVENT"
	ev.Props.SetText("SUMMARY", long)
	cal.Children = append(cal.Children, ev)
	out := encode(cal)
	checkWellFormed(t, out)
	back, err := decode(out)
	if err != nil {
		t.Fatal(err)
	}
	if got := back.Children[0].Props.Get("SUMMARY").Value; got != long {
		t.Errorf("round trip: %q", got)
	}
}

// TestConcurrentUse shares parsed objects between goroutines, as a store
// that caches them would; run with -race.
func TestConcurrentUse(t *testing.T) {
	var objs []*Object
	var raws [][]byte
	for _, f := range []string{"thunderbird-weekly.ics", "custom-vtimezone.ics", "todo-recurring.ics", "thisandfuture.ics"} {
		raw, o := readSample(t, f)
		objs, raws = append(objs, o), append(raws, raw)
	}
	tr := rng("20240301T000000Z", "20240701T000000Z")
	done := make(chan bool)
	for range 4 {
		go func() {
			defer func() { done <- true }()
			for i, o := range objs {
				for _, f := range fuzzFilters {
					if _, err := Match(o, f, nil); err != nil {
						t.Error(err)
					}
				}
				if _, err := Render(o, raws[i], DataRequest{Expand: tr}, nil); err != nil {
					t.Error(err)
				}
				Instances(o, *tr, nil)
				FreeBusy(objs, *tr, nil)
				ResolveTZID("Customized Time Zone", o.Cal)
			}
		}()
	}
	for range 4 {
		<-done
	}
}
