package calendar_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// Every method on another user's resources is refused before anything is
// read or changed: 403 for a user who exists, 404 for one who does not.
func TestOtherUsersResources(t *testing.T) {
	e := newEnv(t)
	bobData := event("bob-secret", "20250301T100000Z")
	e.put("bob", "/dav/calendars/bob/default/secret.ics", bobData).expect(t, http.StatusCreated)
	e.put("alice", calPath+"mine.ics", event("mine", "20250301T100000Z")).expect(t, http.StatusCreated)

	propfind := `<propfind xmlns="DAV:"><allprop/></propfind>`
	proppatch := `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>pwned</D:displayname></D:prop></D:set></D:propertyupdate>`
	report := `<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data/></D:prop><C:filter><C:comp-filter name="VCALENDAR"/></C:filter></C:calendar-query>`
	sync := `<D:sync-collection xmlns:D="DAV:"><D:sync-token/><D:prop><D:getetag/></D:prop></D:sync-collection>`
	methods := []struct{ method, body string }{
		{"GET", ""}, {"HEAD", ""}, {"PUT", event("x", "20250301T100000Z")}, {"DELETE", ""},
		{"PROPFIND", propfind}, {"PROPPATCH", proppatch}, {"MKCALENDAR", ""}, {"MKCOL", ""},
		{"REPORT", report}, {"REPORT", sync}, {"COPY", ""}, {"MOVE", ""}, {"POST", ""},
	}
	paths := []string{
		"/dav/principals/bob/",
		"/dav/calendars/bob/",
		"/dav/calendars/bob/default/",
		"/dav/calendars/bob/new/",
		"/dav/calendars/bob/default/secret.ics",
		"/dav/calendars/bob/default/other.ics",
	}
	for _, m := range methods {
		for _, p := range paths {
			r := e.do("alice", m.method, p, m.body, "Destination", e.srv.URL+calPath+"stolen.ics", "Depth", "1", "Content-Type", "text/calendar")
			if r.status != http.StatusForbidden {
				t.Errorf("%s %s: %d, want 403\n%s", m.method, p, r.status, r.body)
			}
			if strings.Contains(r.body, "bob-secret") {
				t.Errorf("%s %s leaked Bob's data", m.method, p)
			}
			nobody := strings.Replace(p, "bob", "nobody", 1)
			if r := e.do("alice", m.method, nobody, m.body); r.status != http.StatusNotFound {
				t.Errorf("%s %s: %d, want 404", m.method, nobody, r.status)
			}
		}
	}
	// Alice cannot copy her object into Bob's calendar either.
	e.do("alice", "COPY", calPath+"mine.ics", "", "Destination", "/dav/calendars/bob/default/planted.ics").expect(t, http.StatusForbidden)
	e.do("alice", "MOVE", calPath+"mine.ics", "", "Destination", "/dav/calendars/nobody/default/planted.ics").expect(t, http.StatusNotFound)
	// Nor reach Bob's objects through a multiget on her own calendar.
	r := e.do("alice", "REPORT", calPath, `<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data/></D:prop>
		<D:href>/dav/calendars/bob/default/secret.ics</D:href></C:calendar-multiget>`).expect(t, http.StatusMultiStatus)
	if strings.Contains(r.body, "bob-secret") {
		t.Errorf("multiget leaked Bob's data")
	}

	// Bob's calendar is exactly as it was.
	c, err := e.store.Calendar(context.Background(), "bob", "default")
	if err != nil {
		t.Fatal(err)
	}
	if c.DisplayName != "Calendar" {
		t.Errorf("Bob's calendar renamed to %q", c.DisplayName)
	}
	infos, err := e.store.ObjectInfos(context.Background(), c.ID)
	if err != nil || len(infos) != 1 {
		t.Fatalf("Bob's objects: %v %v", infos, err)
	}
	if g := e.do("bob", "GET", "/dav/calendars/bob/default/secret.ics", "").expect(t, http.StatusOK); g.body != bobData {
		t.Errorf("Bob's object changed")
	}
	cals, _ := e.store.Calendars(context.Background(), "bob")
	if len(cals) != 1 {
		t.Errorf("Bob has %d calendars", len(cals))
	}
}
