package ical

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// addSeeds seeds a fuzz target with the samples in testdata and a few
// malformed inputs that once made other decoders panic or hang.
func addSeeds(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.ics")
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"BEGIN:VCALENDAR\r\nX;A=b\r\nEND:VCALENDAR\r\n",
		"BEGIN:VCALENDAR\r\nX;A=\"b\"c:d\r\nEND:VCALENDAR\r\n",
		"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTART:20240101T010000Z\r\nRRULE:FREQ=HOURLY;INTERVAL=24;BYHOUR=1\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
		"BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\nUID:x\r\nDUE;TZID=(UTC+05:30) Chennai:20240101T010000\r\nRRULE:FREQ=MONTHLY;BYDAY=-1FR;BYSETPOS=1,-1\r\nEND:VTODO\r\nEND:VCALENDAR\r\n",
	} {
		f.Add([]byte(s))
	}
}

// fast fails when one input takes very long: the limits bound every input
// to milliseconds, so half a minute (generous for a loaded CI machine
// under the race detector) means a runaway loop, not a slow machine.
func fast(t *testing.T, start time.Time) {
	if d := time.Since(start); d > 30*time.Second {
		t.Fatalf("took %v", d)
	}
}

func FuzzParse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		defer fast(t, time.Now())
		o, err := Parse(data)
		if err != nil {
			if _, ok := err.(*InvalidError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if o.UID == "" || o.Component == "" || o.Cal == nil {
			t.Fatalf("incomplete object %+v", o)
		}
		if !o.Start.IsZero() && !o.End.IsZero() && o.End.Before(o.Start) {
			t.Fatalf("bounds reversed: %v %v", o.Start, o.End)
		}
	})
}

func FuzzMatch(f *testing.F) {
	addSeeds(f)
	ny, _ := time.LoadLocation("America/New_York")
	f.Fuzz(func(t *testing.T, data []byte) {
		defer fast(t, time.Now())
		o, err := Parse(data)
		if err != nil {
			return
		}
		for _, flt := range fuzzFilters {
			for _, loc := range []*time.Location{nil, ny} {
				if _, err := Match(o, flt, loc); err != nil {
					t.Fatalf("Match: %v", err)
				}
			}
		}
		// Parse's bounds must never exclude an object Match accepts.
		for _, tr := range []TimeRange{
			{Start: at("20240101T000000Z"), End: at("20240201T000000Z")},
			{Start: at("20300101T000000Z")},
			{End: at("20000101T000000Z")},
		} {
			ok, _ := Match(o, timeFilter(o.Component, &tr), ny)
			inBounds := (o.Start.IsZero() || tr.End.IsZero() || tr.End.After(o.Start)) &&
				(o.End.IsZero() || tr.Start.IsZero() || !tr.Start.After(o.End))
			if ok && !inBounds {
				t.Fatalf("matches %v but bounds are %v … %v", tr, o.Start, o.End)
			}
		}
		FreeBusy([]*Object{o}, TimeRange{Start: at("20240101T000000Z"), End: at("20240201T000000Z")}, ny)
	})
}

func FuzzRender(f *testing.F) {
	addSeeds(f)
	reqs := []DataRequest{
		{Expand: rng("20240101T000000Z", "20240401T000000Z")},
		{LimitRecurrenceSet: rng("20240101T000000Z", "20240401T000000Z")},
		{Comp: &CompSelect{Name: "VCALENDAR", Props: []string{"VERSION"}, Comps: []CompSelect{{Name: "VEVENT", AllProps: true}, {Name: "VTODO", Props: []string{"UID", "DUE"}}}}},
		{Expand: rng("20240101T000000Z", "20250101T000000Z"), LimitFreeBusySet: rng("20240101T000000Z", "20240401T000000Z"),
			Comp: &CompSelect{Name: "VCALENDAR", AllProps: true, AllComps: true}},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		defer fast(t, time.Now())
		o, err := Parse(data)
		if err != nil {
			return
		}
		for _, req := range reqs {
			out, err := Render(o, data, req, nil)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if _, err := decode(out); err != nil {
				t.Fatalf("Render output does not decode: %v\n%s", err, out)
			}
		}
	})
}
