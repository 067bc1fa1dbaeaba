package calendar_test

import (
	"context"
	"testing"
	"time"

	goical "github.com/emersion/go-ical"
	"github.com/emersion/go-webdav"
	"github.com/emersion/go-webdav/caldav"
)

// go-webdav's CalDAV client is a second, independent client of the
// protocol: discovery, PUT, query and multiget as it sends them.
func TestGoWebDAVClient(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	hc := webdav.HTTPClientWithBasicAuth(e.srv.Client(), "alice", "secret")
	c, err := caldav.NewClient(hc, e.srv.URL+"/dav/")
	if err != nil {
		t.Fatal(err)
	}
	principal, err := c.FindCurrentUserPrincipal(ctx)
	if err != nil || principal != "/dav/principals/alice/" {
		t.Fatalf("FindCurrentUserPrincipal: %q %v", principal, err)
	}
	homeSet, err := c.FindCalendarHomeSet(ctx, principal)
	if err != nil || homeSet != home {
		t.Fatalf("FindCalendarHomeSet: %q %v", homeSet, err)
	}
	cals, err := c.FindCalendars(ctx, homeSet)
	if err != nil || len(cals) != 1 || cals[0].Path != calPath || cals[0].Name != "Calendar" || cals[0].MaxResourceSize != 64<<10 {
		t.Fatalf("FindCalendars: %+v %v", cals, err)
	}

	cal := goical.NewCalendar()
	cal.Props.SetText(goical.PropVersion, "2.0")
	cal.Props.SetText(goical.PropProductID, "-//go-webdav//test//EN")
	ev := goical.NewEvent()
	ev.Props.SetText(goical.PropUID, "gw-1")
	ev.Props.SetDateTime(goical.PropDateTimeStamp, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	ev.Props.SetDateTime(goical.PropDateTimeStart, time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC))
	ev.Props.SetDateTime(goical.PropDateTimeEnd, time.Date(2025, 3, 10, 10, 0, 0, 0, time.UTC))
	ev.Props.SetText(goical.PropSummary, "From go-webdav")
	cal.Children = append(cal.Children, ev.Component)
	obj, err := c.PutCalendarObject(ctx, calPath+"gw-1.ics", cal)
	if err != nil || obj.ETag == "" {
		t.Fatalf("PutCalendarObject: %+v %v", obj, err)
	}

	objs, err := c.QueryCalendar(ctx, calPath, &caldav.CalendarQuery{
		CompRequest: caldav.CalendarCompRequest{Name: "VCALENDAR", AllProps: true, AllComps: true},
		CompFilter: caldav.CompFilter{Name: "VCALENDAR", Comps: []caldav.CompFilter{{
			Name: "VEVENT", Start: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC),
		}}},
	})
	if err != nil || len(objs) != 1 || objs[0].Path != calPath+"gw-1.ics" || objs[0].ETag != obj.ETag {
		t.Fatalf("QueryCalendar: %+v %v", objs, err)
	}
	if s, _ := objs[0].Data.Events()[0].Props.Text(goical.PropSummary); s != "From go-webdav" {
		t.Errorf("summary %q", s)
	}

	objs, err = c.MultiGetCalendar(ctx, calPath, &caldav.CalendarMultiGet{
		Paths:       []string{calPath + "gw-1.ics"},
		CompRequest: caldav.CalendarCompRequest{Name: "VCALENDAR", AllProps: true, AllComps: true},
	})
	if err != nil || len(objs) != 1 || objs[0].Path != calPath+"gw-1.ics" {
		t.Fatalf("MultiGetCalendar: %+v %v", objs, err)
	}
	got, err := c.GetCalendarObject(ctx, calPath+"gw-1.ics")
	if err != nil || got.ETag != obj.ETag {
		t.Fatalf("GetCalendarObject: %+v %v", got, err)
	}
}
