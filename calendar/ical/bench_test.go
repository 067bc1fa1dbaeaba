package ical

import (
	"fmt"
	"testing"
	"time"
)

// monthCalendar builds n objects like a busy calendar's: mostly single
// events over three years, a tenth recurring weekly with EXDATEs (most of
// them for a few months, a quarter for ever), some all-day, all with
// attendees and an alarm.
func monthCalendar(b *testing.B, n int) (raws [][]byte, objs []*Object) {
	base := time.Date(2023, 1, 2, 9, 0, 0, 0, time.UTC)
	for i := range n {
		start := base.Add(time.Duration(i%1000) * 26 * time.Hour).Add(time.Duration(i/1000) * time.Hour)
		lines := []string{
			fmt.Sprintf("UID:bench-%d@salon", i), "DTSTAMP:20230101T000000Z",
			"SUMMARY:Meeting " + fmt.Sprint(i),
			"ORGANIZER;CN=Anna:mailto:anna@example.org",
			"ATTENDEE;CN=Bob;PARTSTAT=ACCEPTED:mailto:bob@example.org",
			"ATTENDEE;CN=Carl;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:carl@example.org",
			"BEGIN:VALARM", "ACTION:DISPLAY", "TRIGGER:-PT10M", "END:VALARM",
		}
		switch {
		case i%40 == 0:
			lines = append(lines, "DTSTART;TZID=Europe/Berlin:"+start.Format(dateTimeFormat), "DURATION:PT1H",
				"RRULE:FREQ=WEEKLY;BYDAY=MO,WE", "EXDATE;TZID=Europe/Berlin:"+start.AddDate(0, 0, 7).Format(dateTimeFormat))
		case i%10 == 0:
			lines = append(lines, "DTSTART;TZID=Europe/Berlin:"+start.Format(dateTimeFormat), "DURATION:PT1H",
				fmt.Sprintf("RRULE:FREQ=WEEKLY;COUNT=%d", 10+i%40), "EXDATE;TZID=Europe/Berlin:"+start.AddDate(0, 0, 7).Format(dateTimeFormat))
		case i%7 == 0:
			lines = append(lines, "DTSTART;VALUE=DATE:"+start.Format(dateFormat), "DTEND;VALUE=DATE:"+start.AddDate(0, 0, 2).Format(dateFormat))
		default:
			lines = append(lines, "DTSTART;TZID=W. Europe Standard Time:"+start.Format(dateTimeFormat),
				"DTEND;TZID=W. Europe Standard Time:"+start.Add(time.Hour).Format(dateTimeFormat))
		}
		raw := ics(event(lines...))
		raws = append(raws, raw)
		o, err := Parse(raw)
		if err != nil {
			b.Fatal(err)
		}
		objs = append(objs, o)
	}
	return raws, objs
}

// BenchmarkMonthQuery is the calendar-query a client sends for a month
// view, with expand, over 10,000 events already parsed: what the store
// does after its index on Start/End picked the candidates, here done for
// every object to include the rejections.
func BenchmarkMonthQuery(b *testing.B) {
	raws, objs := monthCalendar(b, 10000)
	tr := rng("20240401T000000Z", "20240501T000000Z")
	f := timeFilter("VEVENT", tr)
	req := DataRequest{Expand: tr}
	b.ResetTimer()
	for b.Loop() {
		n := 0
		for i, o := range objs {
			ok, err := Match(o, f, nil)
			if err != nil {
				b.Fatal(err)
			}
			if ok {
				n++
				if _, err := Render(o, raws[i], req, nil); err != nil {
					b.Fatal(err)
				}
			}
		}
		if n == 0 {
			b.Fatal("nothing matched")
		}
	}
}

// BenchmarkMonthQueryParse is the same with every candidate parsed from
// its bytes, as a store that caches nothing would do. Only objects whose
// bounds overlap the month are parsed, as the store's index would pick.
func BenchmarkMonthQueryParse(b *testing.B) {
	raws, objs := monthCalendar(b, 10000)
	tr := rng("20240401T000000Z", "20240501T000000Z")
	f := timeFilter("VEVENT", tr)
	req := DataRequest{Expand: tr}
	var picked [][]byte
	for i, o := range objs {
		if mayOverlap(o, *tr) {
			picked = append(picked, raws[i])
		}
	}
	b.ReportMetric(float64(len(picked)), "candidates")
	b.ResetTimer()
	for b.Loop() {
		for _, raw := range picked {
			o, err := Parse(raw)
			if err != nil {
				b.Fatal(err)
			}
			if ok, _ := Match(o, f, nil); ok {
				if _, err := Render(o, raw, req, nil); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
}

func BenchmarkParse(b *testing.B) {
	raw, _ := readSample(b, "thunderbird-weekly.ics")
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := Parse(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMatchSingleEvent(b *testing.B) {
	_, o := readSample(b, "outlook-display-tzid.ics")
	in, out := timeFilter("VEVENT", rng("20240701T000000Z", "20240801T000000Z")), timeFilter("VEVENT", rng("20240801T000000Z", "20240901T000000Z"))
	b.ReportAllocs()
	for b.Loop() {
		Match(o, in, nil)
		Match(o, out, nil)
	}
}

func BenchmarkMonthMatchOnly(b *testing.B) {
	_, objs := monthCalendar(b, 10000)
	f := timeFilter("VEVENT", rng("20240401T000000Z", "20240501T000000Z"))
	for b.Loop() {
		for _, o := range objs {
			Match(o, f, nil)
		}
	}
}

func BenchmarkMonthRenderOnly(b *testing.B) {
	raws, objs := monthCalendar(b, 10000)
	tr := rng("20240401T000000Z", "20240501T000000Z")
	f := timeFilter("VEVENT", tr)
	var picked []int
	for i, o := range objs {
		if ok, _ := Match(o, f, nil); ok {
			picked = append(picked, i)
		}
	}
	req := DataRequest{Expand: tr}
	b.ResetTimer()
	for b.Loop() {
		for _, i := range picked {
			Render(objs[i], raws[i], req, nil)
		}
	}
}

func BenchmarkRenderExpandSingle(b *testing.B) {
	raw, o := readSample(b, "outlook-display-tzid.ics")
	req := DataRequest{Expand: rng("20240701T000000Z", "20240801T000000Z")}
	b.ReportAllocs()
	for b.Loop() {
		Render(o, raw, req, nil)
	}
}
