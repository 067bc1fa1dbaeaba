package calendar_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	goical "github.com/emersion/go-ical"
	"github.com/emersion/go-webdav"
	"github.com/emersion/go-webdav/caldav"
)

func TestSchedulingOptions(t *testing.T) {
	e := newEnv(t)
	for path, allow := range map[string]string{
		"/dav/":                  "PROPFIND",
		"/dav/principals/alice/": "PROPFIND",
		home:                     "PROPFIND",
		calPath:                  "MKCALENDAR",
		calPath + "x.ics":        "PUT",
		inboxPath:                "PROPFIND",
		inboxPath + "m.ics":      "DELETE",
		outboxPath:               "POST",
	} {
		r := e.do("", "OPTIONS", path, "").expect(t, http.StatusOK)
		if dav := r.header.Get("DAV"); !strings.Contains(dav, "calendar-access") || !strings.Contains(dav, "calendar-auto-schedule") {
			t.Errorf("%s: DAV %q", path, dav)
		}
		if !strings.Contains(r.header.Get("Allow"), allow) {
			t.Errorf("%s: Allow %q lacks %s", path, r.header.Get("Allow"), allow)
		}
	}
	if a := e.do("", "OPTIONS", inboxPath, "").header.Get("Allow"); strings.Contains(a, "PUT") || strings.Contains(a, "DELETE") || strings.Contains(a, "MKCALENDAR") {
		t.Errorf("inbox Allow %q", a)
	}
}

func TestSchedulingPrincipal(t *testing.T) {
	e := newEnv(t)
	m := parseMS(t, e.do("alice", "PROPFIND", "/dav/principals/alice/", `<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop>
		<C:schedule-inbox-URL/><C:schedule-outbox-URL/><C:calendar-user-address-set/><C:calendar-user-type/></D:prop></D:propfind>`, "Depth", "0"))
	p := m.props("/dav/principals/alice/", 200)
	for _, want := range []string{
		"<C:schedule-inbox-URL><D:href>/dav/calendars/alice/inbox/</D:href></C:schedule-inbox-URL>",
		"<C:schedule-outbox-URL><D:href>/dav/calendars/alice/outbox/</D:href></C:schedule-outbox-URL>",
		"<C:calendar-user-address-set><D:href>mailto:alice@example.com</D:href><D:href>/dav/principals/alice/</D:href></C:calendar-user-address-set>",
		"<C:calendar-user-type>INDIVIDUAL</C:calendar-user-type>",
	} {
		if !strings.Contains(p, want) {
			t.Errorf("principal lacks %s:\n%s", want, p)
		}
	}
	// RFC 6638 §2: asked for by name, not part of allprop.
	r := e.do("alice", "PROPFIND", "/dav/principals/alice/", "", "Depth", "0").expect(t, http.StatusMultiStatus)
	if strings.Contains(r.body, "schedule-inbox-URL") {
		t.Errorf("allprop returned the scheduling properties:\n%s", r.body)
	}
	// expand-property follows the inbox URL to the inbox.
	r = e.do("alice", "REPORT", "/dav/principals/alice/", `<D:expand-property xmlns:D="DAV:">
		<D:property name="schedule-inbox-URL" namespace="urn:ietf:params:xml:ns:caldav"><D:property name="resourcetype"/></D:property></D:expand-property>`)
	r.expect(t, http.StatusMultiStatus, "<D:href>/dav/calendars/alice/inbox/</D:href>", "<C:schedule-inbox/>")
}

func TestSchedulingHome(t *testing.T) {
	e := newEnv(t)
	m := parseMS(t, e.do("alice", "PROPFIND", home, `<D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/></D:prop></D:propfind>`, "Depth", "1"))
	if got := strings.Join(m.hrefs(), " "); got != home+" "+calPath+" "+inboxPath+" "+outboxPath {
		t.Fatalf("home lists %s", got)
	}
	for href, want := range map[string]string{
		calPath:    "<D:resourcetype><D:collection/><C:calendar/></D:resourcetype>",
		inboxPath:  "<D:resourcetype><D:collection/><C:schedule-inbox/></D:resourcetype>",
		outboxPath: "<D:resourcetype><D:collection/><C:schedule-outbox/></D:resourcetype>",
	} {
		if p := m.props(href, 200); !strings.Contains(p, want) {
			t.Errorf("%s: %s", href, p)
		}
	}
	// The listing made the inbox, as a collection of kind inbox.
	if c, err := e.store.Calendar(context.Background(), "alice", "inbox"); err != nil || c.Kind != "inbox" {
		t.Fatalf("inbox: %+v %v", c, err)
	}

	m = parseMS(t, e.do("alice", "PROPFIND", inboxPath, `<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:CS="http://calendarserver.org/ns/"><D:prop>
		<C:schedule-default-calendar-URL/><D:current-user-privilege-set/><D:supported-privilege-set/><D:sync-token/><CS:getctag/><D:supported-report-set/>
		<C:calendar-description/></D:prop></D:propfind>`, "Depth", "0"))
	p := m.props(inboxPath, 200)
	for _, want := range []string{
		"<C:schedule-default-calendar-URL><D:href>" + calPath + "</D:href></C:schedule-default-calendar-URL>",
		"<D:privilege><D:read/></D:privilege>", "<D:privilege><D:unbind/></D:privilege>", "<D:privilege><C:schedule-deliver/></D:privilege>",
		"<D:supported-privilege><D:privilege><C:schedule-deliver/></D:privilege>", "<D:sync-token>", "<CS:getctag>",
		"<C:calendar-query/>", "<D:sync-collection/>",
	} {
		if !strings.Contains(p, want) {
			t.Errorf("inbox lacks %s:\n%s", want, p)
		}
	}
	cups := p[strings.Index(p, "<D:current-user-privilege-set>"):strings.Index(p, "</D:current-user-privilege-set>")]
	for _, not := range []string{"<D:write/>", "<D:write-content/>", "<D:bind/>", "<D:all/>"} {
		if strings.Contains(cups, not) {
			t.Errorf("inbox grants %s: %s", not, cups)
		}
	}
	if strings.Contains(p, "free-busy-query") {
		t.Errorf("inbox offers free-busy-query: %s", p)
	}
	if nf := m.props(inboxPath, 404); !strings.Contains(nf, "calendar-description") {
		t.Errorf("the inbox has calendar properties: %s", nf)
	}

	m = parseMS(t, e.do("alice", "PROPFIND", outboxPath, `<D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:current-user-privilege-set/><D:owner/></D:prop></D:propfind>`, "Depth", "1"))
	if len(m.Responses) != 1 {
		t.Errorf("the outbox has members: %v", m.hrefs())
	}
	p = m.props(outboxPath, 200)
	for _, want := range []string{"<C:schedule-outbox/>", "<D:privilege><C:schedule-send/></D:privilege>", "<D:href>/dav/principals/alice/</D:href>"} {
		if !strings.Contains(p, want) {
			t.Errorf("outbox lacks %s:\n%s", want, p)
		}
	}

	// go-webdav's client, like Apple's and DAVx5, lists only calendars.
	hc := webdav.HTTPClientWithBasicAuth(e.srv.Client(), "alice", "secret")
	c, err := caldav.NewClient(hc, e.srv.URL+"/dav/")
	if err != nil {
		t.Fatal(err)
	}
	cals, err := c.FindCalendars(context.Background(), home)
	if err != nil || len(cals) != 1 || cals[0].Path != calPath {
		t.Errorf("FindCalendars: %+v %v", cals, err)
	}
}

// The first requests of a new user race to make the inbox; all of them
// get it.
func TestInboxMadeOnce(t *testing.T) {
	e := newEnv(t)
	statuses := make(chan int, 8)
	for range cap(statuses) {
		go func() {
			req, _ := http.NewRequest("PROPFIND", e.srv.URL+"/dav/calendars/bob/", nil)
			req.SetBasicAuth("bob", "secret")
			req.Header.Set("Depth", "1")
			resp, err := e.srv.Client().Do(req)
			if err != nil {
				statuses <- 0
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	for range cap(statuses) {
		if s := <-statuses; s != http.StatusMultiStatus {
			t.Errorf("status %d", s)
		}
	}
	cals, err := e.store.Calendars(context.Background(), "bob")
	if err != nil || len(cals) != 2 {
		t.Errorf("bob's collections: %+v %v", cals, err)
	}
}

func TestScheduleDefaultCalendar(t *testing.T) {
	e := newEnv(t)
	// Without "default", the first calendar that holds events.
	e.do("alice", "MKCALENDAR", home+"a-tasks/", `<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>
		<C:supported-calendar-component-set><C:comp name="VTODO"/></C:supported-calendar-component-set></D:prop></D:set></C:mkcalendar>`).expect(t, http.StatusCreated)
	e.do("alice", "MKCALENDAR", home+"b-events/", "").expect(t, http.StatusCreated)
	q := `<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:schedule-default-calendar-URL/></D:prop></D:propfind>`
	e.do("alice", "PROPFIND", inboxPath, q, "Depth", "0").expect(t, http.StatusMultiStatus, "<D:href>"+calPath+"</D:href>")
	e.do("alice", "DELETE", calPath, "").expect(t, http.StatusNoContent)
	e.do("alice", "PROPFIND", inboxPath, q, "Depth", "0").expect(t, http.StatusMultiStatus, "<D:href>"+home+"b-events/</D:href>")
	e.do("alice", "DELETE", home+"b-events/", "").expect(t, http.StatusNoContent)
	e.do("alice", "PROPFIND", inboxPath, q, "Depth", "0").expect(t, http.StatusMultiStatus, "<C:schedule-default-calendar-URL/>")
}

func TestInbox(t *testing.T) {
	e := newEnv(t)
	e.do("alice", "PROPFIND", inboxPath, "", "Depth", "0").expect(t, http.StatusMultiStatus) // made on first use
	msg := inviteMessage("inv-1", "20250303T090000Z")
	e.storeObject("alice", "inbox", "inv-1.ics", msg, "")

	r := e.do("alice", "GET", inboxPath+"inv-1.ics", "").expect(t, http.StatusOK)
	if r.body != msg || r.header.Get("ETag") == "" {
		t.Errorf("GET: %q %q", r.header.Get("ETag"), r.body)
	}
	m := parseMS(t, e.do("alice", "PROPFIND", inboxPath, `<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><D:current-user-privilege-set/><C:calendar-data/></D:prop></D:propfind>`, "Depth", "1"))
	if got := m.hrefs(); len(got) != 2 || got[1] != inboxPath+"inv-1.ics" {
		t.Fatalf("inbox lists %v", got)
	}
	p := m.props(inboxPath+"inv-1.ics", 200)
	if !strings.Contains(p, "METHOD:REQUEST") || strings.Contains(p, "<D:write-content/>") {
		t.Errorf("inbox message: %s", p)
	}

	sync := `<D:sync-collection xmlns:D="DAV:"><D:sync-token>%s</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>`
	m = parseMS(t, e.do("alice", "REPORT", inboxPath, strings.Replace(sync, "%s", "", 1)))
	if got := m.hrefs(); len(got) != 1 || got[0] != inboxPath+"inv-1.ics" || m.SyncToken == "" {
		t.Fatalf("initial sync: %v %q", got, m.SyncToken)
	}
	token := m.SyncToken
	m = parseMS(t, e.do("alice", "REPORT", inboxPath, `<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop>
		<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"/></C:comp-filter></C:filter></C:calendar-query>`, "Depth", "1"))
	if got := m.hrefs(); len(got) != 1 || got[0] != inboxPath+"inv-1.ics" {
		t.Errorf("calendar-query on the inbox: %v", got)
	}
	e.do("alice", "REPORT", inboxPath, `<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data/></D:prop>
		<D:href>`+inboxPath+`inv-1.ics</D:href></C:calendar-multiget>`).expect(t, http.StatusMultiStatus, "UID:inv-1")
	e.do("alice", "REPORT", inboxPath, `<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:time-range start="20250301T000000Z" end="20250401T000000Z"/></C:free-busy-query>`).
		expect(t, http.StatusForbidden, "supported-report")

	// Clients do not write to the inbox (RFC 6638 §2.2).
	e.put("alice", inboxPath+"new.ics", event("new", "20250303T090000Z")).expect(t, http.StatusForbidden, "Save events in one of your calendars")
	e.put("alice", calPath+"mine.ics", event("mine", "20250303T090000Z")).expect(t, http.StatusCreated)
	e.do("alice", "COPY", calPath+"mine.ics", "", "Destination", inboxPath+"mine.ics").expect(t, http.StatusForbidden)
	e.do("alice", "MOVE", inboxPath+"inv-1.ics", "", "Destination", calPath+"inv-1.ics").expect(t, http.StatusForbidden)
	e.do("alice", "PROPPATCH", inboxPath, `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>x</D:displayname></D:prop></D:set></D:propertyupdate>`).
		expect(t, http.StatusMultiStatus, "cannot-modify-protected-property")

	// The owner deletes what they have dealt with; sync reports it.
	e.do("alice", "DELETE", inboxPath+"inv-1.ics", "").expect(t, http.StatusNoContent)
	e.do("alice", "GET", inboxPath+"inv-1.ics", "").expect(t, http.StatusNotFound)
	m = parseMS(t, e.do("alice", "REPORT", inboxPath, strings.Replace(sync, "%s", token, 1)))
	if len(m.Responses) != 1 || !strings.Contains(m.Responses[0].Status, "404") {
		t.Errorf("sync after delete: %+v", m.Responses)
	}

	// The collections themselves stay.
	for _, path := range []string{inboxPath, outboxPath} {
		e.do("alice", "DELETE", path, "").expect(t, http.StatusForbidden, "cannot be deleted")
		e.do("alice", "MKCALENDAR", path, "").expect(t, http.StatusForbidden, "reserved for scheduling")
		e.do("alice", "MKCOL", path, `<D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>
			<D:resourcetype><D:collection/><C:calendar/></D:resourcetype></D:prop></D:set></D:mkcol>`).expect(t, http.StatusForbidden, "reserved for scheduling")
	}
	// Someone else's inbox is as closed as their calendars.
	e.do("bob", "GET", inboxPath, "").expect(t, http.StatusForbidden)
	e.do("bob", "POST", outboxPath, freeBusyRequest("mailto:bob@example.com", "20250303T000000Z", "20250304T000000Z", "mailto:alice@example.com"),
		"Content-Type", "text/calendar").expect(t, http.StatusForbidden)
}

func TestOutboxMethods(t *testing.T) {
	e := newEnv(t)
	e.do("alice", "GET", outboxPath, "").expect(t, http.StatusMethodNotAllowed, "POST free-busy requests")
	e.put("alice", outboxPath+"x.ics", event("x", "20250303T090000Z")).expect(t, http.StatusForbidden, "outbox keeps nothing")
	e.do("alice", "GET", outboxPath+"x.ics", "").expect(t, http.StatusNotFound)
	r := e.do("alice", "POST", calPath, "x", "Content-Type", "text/calendar").expect(t, http.StatusMethodNotAllowed)
	if strings.Contains(r.header.Get("Allow"), "POST") {
		t.Errorf("calendar Allow %q", r.header.Get("Allow"))
	}
}

func TestScheduleCalendarTransp(t *testing.T) {
	e := newEnv(t)
	q := `<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:schedule-calendar-transp/></D:prop></D:propfind>`
	e.do("alice", "PROPFIND", calPath, q, "Depth", "0").expect(t, http.StatusMultiStatus, "<C:opaque")
	set := func(v string) reply {
		return e.do("alice", "PROPPATCH", calPath, `<D:propertyupdate xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>
			<C:schedule-calendar-transp>`+v+`</C:schedule-calendar-transp></D:prop></D:set></D:propertyupdate>`)
	}
	set("<C:transparent/>").expect(t, http.StatusMultiStatus, "200 OK")
	m := parseMS(t, e.do("alice", "PROPFIND", calPath, q, "Depth", "0"))
	if p := m.props(calPath, 200); !strings.Contains(p, "transparent") {
		t.Errorf("after PROPPATCH: %s", p)
	}
	set("<C:sometimes/>").expect(t, http.StatusMultiStatus, "409", "CALDAV:opaque")
	// Listed once, as the live property it is.
	r := e.do("alice", "PROPFIND", calPath, `<D:propfind xmlns:D="DAV:"><D:propname/></D:propfind>`, "Depth", "0")
	if n := strings.Count(r.body, "schedule-calendar-transp"); n != 1 {
		t.Errorf("propname names schedule-calendar-transp %d times:\n%s", n, r.body)
	}
	e.do("alice", "PROPPATCH", calPath, `<D:propertyupdate xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:remove><D:prop>
		<C:schedule-calendar-transp/></D:prop></D:remove></D:propertyupdate>`).expect(t, http.StatusMultiStatus, "200 OK")
	e.do("alice", "PROPFIND", calPath, q, "Depth", "0").expect(t, http.StatusMultiStatus, "<C:opaque")
	// MKCALENDAR may set it too.
	e.do("alice", "MKCALENDAR", home+"holidays/", `<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>
		<C:schedule-calendar-transp><C:transparent/></C:schedule-calendar-transp></D:prop></D:set></C:mkcalendar>`).expect(t, http.StatusCreated)
	e.do("alice", "PROPFIND", home+"holidays/", q, "Depth", "0").expect(t, http.StatusMultiStatus, "<C:transparent")
}

// busyFixture gives alice and bob the events TestOutboxFreeBusy asks about,
// in the week of 2025-03-03.
func busyFixture(t *testing.T, e *env) {
	t.Helper()
	for path, data := range map[string]string{
		"a1.ics":        event("a1", "20250303T090000Z"),
		"daily.ics":     eventWith("daily", "20250304T140000Z", "RRULE:FREQ=DAILY;COUNT=3\r\n"),
		"free.ics":      eventWith("free", "20250303T120000Z", "TRANSP:TRANSPARENT\r\n"),
		"cancelled.ics": eventWith("cancelled", "20250303T130000Z", "STATUS:CANCELLED\r\n"),
		"maybe.ics":     eventWith("maybe", "20250305T090000Z", "STATUS:TENTATIVE\r\n"),
		"later.ics":     event("later", "20250310T090000Z"),
	} {
		e.put("alice", calPath+path, data).expect(t, http.StatusCreated)
	}
	// Busy time merges across calendars; a transparent calendar and the
	// inbox do not count.
	e.do("alice", "MKCALENDAR", home+"work/", "").expect(t, http.StatusCreated)
	e.put("alice", home+"work/w1.ics", event("w1", "20250303T100000Z")).expect(t, http.StatusCreated)
	e.do("alice", "MKCALENDAR", home+"holidays/", `<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>
		<C:schedule-calendar-transp><C:transparent/></C:schedule-calendar-transp></D:prop></D:set></C:mkcalendar>`).expect(t, http.StatusCreated)
	e.put("alice", home+"holidays/h1.ics", event("h1", "20250306T080000Z")).expect(t, http.StatusCreated)
	e.do("alice", "PROPFIND", inboxPath, "", "Depth", "0").expect(t, http.StatusMultiStatus)
	e.storeObject("alice", "inbox", "inv.ics", inviteMessage("inv", "20250307T080000Z"), "")

	e.put("bob", "/dav/calendars/bob/default/b1.ics", event("b1", "20250306T160000Z")).expect(t, http.StatusCreated)
}

func TestOutboxFreeBusy(t *testing.T) {
	e := newEnv(t)
	busyFixture(t, e)
	attendees := []string{"mailto:alice@example.com", "mailto:BOB@example.com", "mailto:stranger@elsewhere.org", "urn:uuid:5f1d", "/dav/principals/bob/", "mailto:alice@example.com"}
	sr := parseScheduleResponse(t, e.postOutbox("alice", freeBusyRequest("mailto:alice@example.com", "20250303T000000Z", "20250308T000000Z", attendees...)))
	if len(sr.Responses) != 5 {
		t.Fatalf("%d responses, want one per distinct attendee: %+v", len(sr.Responses), sr.Responses)
	}
	want := []struct {
		recipient, status string
		busy              []string
	}{
		{"mailto:alice@example.com", "2.0;Success", []string{
			"BUSY 20250303T090000Z/20250303T110000Z",
			"BUSY 20250304T140000Z/20250304T150000Z",
			"BUSY-TENTATIVE 20250305T090000Z/20250305T100000Z",
			"BUSY 20250305T140000Z/20250305T150000Z",
			"BUSY 20250306T140000Z/20250306T150000Z",
		}},
		{"mailto:BOB@example.com", "2.0;Success", []string{"BUSY 20250306T160000Z/20250306T170000Z"}},
		{"mailto:stranger@elsewhere.org", "5.3;No scheduling support for user", nil},
		{"urn:uuid:5f1d", "3.7;Invalid calendar user", nil},
		{"/dav/principals/bob/", "2.0;Success", []string{"BUSY 20250306T160000Z/20250306T170000Z"}},
	}
	for i, w := range want {
		got := sr.Responses[i]
		if got.Recipient.Href != w.recipient || got.Status != w.status {
			t.Errorf("response %d: %s %q, want %s %q", i, got.Recipient.Href, got.Status, w.recipient, w.status)
			continue
		}
		if w.busy == nil {
			if got.Data != "" {
				t.Errorf("%s: calendar-data for a failed recipient", w.recipient)
			}
			continue
		}
		cal, fb := freeBusyOf(t, got.Data)
		if m, _ := cal.Props.Text(goical.PropMethod); m != "REPLY" {
			t.Errorf("%s: METHOD %q", w.recipient, m)
		}
		var busy []string
		for _, p := range fb.Props.Values(goical.PropFreeBusy) {
			busy = append(busy, p.Params.Get(goical.ParamFreeBusyType)+" "+p.Value)
		}
		if strings.Join(busy, "\n") != strings.Join(w.busy, "\n") {
			t.Errorf("%s: busy\n%s\nwant\n%s", w.recipient, strings.Join(busy, "\n"), strings.Join(w.busy, "\n"))
		}
		for prop, v := range map[string]string{
			goical.PropUID: "fb-1", goical.PropDateTimeStart: "20250303T000000Z", goical.PropDateTimeEnd: "20250308T000000Z",
			goical.PropOrganizer: "mailto:alice@example.com", goical.PropAttendee: w.recipient, goical.PropDateTimeStamp: "20250314T150926Z",
		} {
			if p := fb.Props.Get(prop); p == nil || p.Value != v {
				t.Errorf("%s: %s = %+v, want %s", w.recipient, prop, p, v)
			}
		}
		// Only periods leave salon, never what the events are.
		if strings.Contains(got.Data, "SUMMARY") || strings.Contains(got.Data, "Meeting") {
			t.Errorf("%s: event details leaked:\n%s", w.recipient, got.Data)
		}
	}

	// The principal URL is an address of one's own too; a long range is
	// answered up to a year.
	sr = parseScheduleResponse(t, e.postOutbox("alice", freeBusyRequest("/dav/principals/alice/", "20250303T000000Z", "20300101T000000Z", "mailto:bob@example.com")))
	if len(sr.Responses) != 1 || sr.Responses[0].Status != "2.0;Success" {
		t.Fatalf("responses %+v", sr.Responses)
	}
	if _, fb := freeBusyOf(t, sr.Responses[0].Data); fb.Props.Get(goical.PropDateTimeEnd).Value != "20260304T000000Z" {
		t.Errorf("clamped DTEND %s", fb.Props.Get(goical.PropDateTimeEnd).Value)
	}
}

func TestOutboxRefusals(t *testing.T) {
	e := newEnv(t)
	ok := freeBusyRequest("mailto:alice@example.com", "20250303T000000Z", "20250304T000000Z", "mailto:bob@example.com")
	many := make([]string, 101)
	for i := range many {
		many[i] = "mailto:p" + strconv.Itoa(i) + "@example.org"
	}
	tests := []struct {
		name, body string
		status     int
		want       string
	}{
		{"organizer someone else", freeBusyRequest("mailto:bob@example.com", "20250303T000000Z", "20250304T000000Z", "mailto:bob@example.com"), 403, "organizer-allowed"},
		{"organizer another principal", freeBusyRequest("/dav/principals/bob/", "20250303T000000Z", "20250304T000000Z", "mailto:bob@example.com"), 403, "organizer-allowed"},
		{"no organizer", strings.Replace(ok, "ORGANIZER:mailto:alice@example.com\r\n", "", 1), 403, "valid-organizer"},
		{"malformed", "BEGIN:VCALENDAR\r\nthis is not iCalendar\r\n", 400, "valid-calendar-data"},
		{"bad date", strings.Replace(ok, "DTEND:20250304T000000Z", "DTEND:tomorrow", 1), 400, "valid-calendar-data"},
		{"no dtend", strings.Replace(ok, "DTEND:20250304T000000Z\r\n", "", 1), 403, "valid-scheduling-message"},
		{"end before start", strings.Replace(ok, "DTEND:20250304T000000Z", "DTEND:20250302T000000Z", 1), 403, "valid-scheduling-message"},
		{"no attendee", strings.Replace(ok, "ATTENDEE:mailto:bob@example.com\r\n", "", 1), 403, "valid-scheduling-message"},
		{"too many attendees", freeBusyRequest("mailto:alice@example.com", "20250303T000000Z", "20250304T000000Z", many...), 403, "max-attendees-per-instance"},
		{"an invitation", inviteMessage("inv", "20250303T090000Z"), 403, "implicit scheduling"},
		{"a reply", strings.Replace(ok, "METHOD:REQUEST", "METHOD:REPLY", 1), 403, "valid-scheduling-message"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.postOutbox("alice", tt.body).expect(t, tt.status, tt.want)
		})
	}
	e.do("alice", "POST", outboxPath, ok, "Content-Type", "application/json").expect(t, http.StatusUnsupportedMediaType, "supported-calendar-data")
	e.do("alice", "POST", outboxPath, ok, "Content-Type", "text/calendar").expect(t, http.StatusOK)
}

func TestScheduleTag(t *testing.T) {
	e := newEnv(t)
	e.storeObject("alice", "default", "s.ics", event("s", "20250303T090000Z"), `"st-1"`)
	e.put("alice", calPath+"plain.ics", event("plain", "20250303T090000Z")).expect(t, http.StatusCreated)

	for _, m := range []string{"GET", "HEAD"} {
		if got := e.do("alice", m, calPath+"s.ics", "").expect(t, http.StatusOK).header.Get("Schedule-Tag"); got != `"st-1"` {
			t.Errorf("%s Schedule-Tag %q", m, got)
		}
	}
	if got := e.do("alice", "GET", calPath+"plain.ics", "").header.Get("Schedule-Tag"); got != "" {
		t.Errorf("Schedule-Tag on an ordinary object: %q", got)
	}
	m := parseMS(t, e.do("alice", "PROPFIND", calPath, `<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:schedule-tag/></D:prop></D:propfind>`, "Depth", "1"))
	if p := m.props(calPath+"s.ics", 200); !strings.Contains(p, "<C:schedule-tag>&#34;st-1&#34;</C:schedule-tag>") {
		t.Errorf("schedule-tag: %s", p)
	}
	if p := m.props(calPath+"plain.ics", 404); !strings.Contains(p, "schedule-tag") {
		t.Errorf("ordinary object's schedule-tag not 404: %s", p)
	}
	e.do("alice", "REPORT", calPath, `<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:schedule-tag/></D:prop>
		<D:href>`+calPath+`s.ics</D:href></C:calendar-multiget>`).expect(t, http.StatusMultiStatus, "&#34;st-1&#34;")

	// If-Schedule-Tag-Match (RFC 6638 §8.3).
	e.put("alice", calPath+"s.ics", event("s", "20250303T100000Z"), "If-Schedule-Tag-Match", `"st-0"`).expect(t, http.StatusPreconditionFailed, "organizer changed")
	e.do("alice", "DELETE", calPath+"s.ics", "", "If-Schedule-Tag-Match", `"st-0"`).expect(t, http.StatusPreconditionFailed)
	e.do("alice", "DELETE", calPath+"missing.ics", "", "If-Schedule-Tag-Match", `"st-1"`).expect(t, http.StatusPreconditionFailed)
	e.put("alice", calPath+"s.ics", event("s", "20250303T100000Z"), "If-Schedule-Tag-Match", "*").expect(t, http.StatusBadRequest)
	e.do("alice", "GET", calPath+"s.ics", "").expect(t, http.StatusOK, "DTSTART:20250303T090000Z")
	// The right tag lets the write through, whatever the ETag is now.
	e.do("alice", "DELETE", calPath+"s.ics", "", "If-Schedule-Tag-Match", `"st-1"`).expect(t, http.StatusNoContent)
}
