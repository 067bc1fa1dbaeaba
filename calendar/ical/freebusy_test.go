package ical

import (
	"fmt"
	"strings"
	"testing"
)

func TestFreeBusy(t *testing.T) {
	var objs []*Object
	for _, f := range []string{"thunderbird-weekly.ics", "apple-allday.ics", "outlook-windows-tzid.ics", "instant.ics"} {
		_, o := readSample(t, f)
		objs = append(objs, o)
	}
	objs = append(objs,
		mustParse(t, ics(event("UID:tentative", "DTSTART:20240304T093000Z", "DTEND:20240304T100000Z", "STATUS:TENTATIVE"))),
		mustParse(t, ics(event("UID:cancelled", "DTSTART:20240305T120000Z", "DTEND:20240305T130000Z", "STATUS:CANCELLED"))),
		mustParse(t, ics(event("UID:overlap", "DTSTART:20240304T094500Z", "DTEND:20240304T103000Z"))),
		mustParse(t, ics(event("UID:touch", "DTSTART:20240304T103000Z", "DTEND:20240304T110000Z"))),
		mustParse(t, ics(event("UID:before", "DTSTART:20240229T230000Z", "DTEND:20240301T010000Z"))),
		mustParse(t, ics("BEGIN:VTODO\r\nUID:todo\r\nDTSTART:20240305T080000Z\r\nDURATION:PT1H\r\nEND:VTODO")),
	)
	cal, err := decode(ics("BEGIN:VFREEBUSY", "UID:fb", "DTSTAMP:20240101T000000Z",
		"FREEBUSY;FBTYPE=BUSY-UNAVAILABLE:20240306T000000Z/PT8H",
		"FREEBUSY;FBTYPE=FREE:20240307T000000Z/PT8H",
		"FREEBUSY;FBTYPE=X-OUT-OF-OFFICE:20240308T100000Z/20240308T110000Z", "END:VFREEBUSY"))
	if err != nil {
		t.Fatal(err)
	}
	objs = append(objs, &Object{Cal: cal}, nil)

	tr := TimeRange{Start: at("20240301T000000Z"), End: at("20240314T000000Z")}
	got := FreeBusy(objs, tr, nil)
	var lines []string
	for _, p := range got {
		lines = append(lines, fmt.Sprintf("%s %s-%s", p.Type, p.Start.Format("0102T1504"), p.End.Format("0102T1504")))
	}
	want := []string{
		"BUSY 0301T0000-0301T0100",           // clipped to the range
		"BUSY 0304T0900-0304T1100",           // weekly 09-10Z, overlap and touching merged
		"BUSY-TENTATIVE 0304T0930-0304T1000", // kept apart from BUSY
		"BUSY 0305T0900-0305T1030",           // Windows TZID, 10:00 W. Europe
		"BUSY-UNAVAILABLE 0306T0000-0306T0800",
		"BUSY 0308T1000-0308T1100", // unknown FBTYPE is BUSY
		"BUSY 0313T1300-0313T1400", // weekly, the 11 March instance moved to the 13th
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	out := FreeBusyCalendar(got, tr, at("20240301T120000Z"))
	checkWellFormed(t, out)
	golden(t, "freebusy.ics", out)
}
