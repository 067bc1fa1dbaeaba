package calendar_test

import (
	"net/http"
	"strings"
	"testing"
)

const (
	davNS    = `xmlns:D="DAV:"`
	calDAVNS = `xmlns:C="urn:ietf:params:xml:ns:caldav"`
)

func TestMultiget(t *testing.T) {
	e := newEnv(t)
	e.put("alice", calPath+"a.ics", event("a", "20250301T100000Z")).expect(t, http.StatusCreated)
	e.put("alice", calPath+"b.ics", event("b", "20250302T100000Z")).expect(t, http.StatusCreated)
	m := parseMS(t, e.do("alice", "REPORT", calPath, `<C:calendar-multiget `+davNS+` `+calDAVNS+`>
		<D:prop><D:getetag/><C:calendar-data/></D:prop>
		<D:href>/dav/calendars/alice/default/a.ics</D:href>
		<D:href>http://salon.example/dav/calendars/alice/default/b.ics</D:href>
		<D:href>/dav/calendars/alice/default/missing.ics</D:href>
		<D:href>/dav/calendars/bob/default/a.ics</D:href>
		<D:href>/dav/calendars/alice/%2e%2e/x.ics</D:href>
	</C:calendar-multiget>`, "Depth", "1"))
	if len(m.Responses) != 5 {
		t.Fatalf("responses %v", m.hrefs())
	}
	if p := m.props(calPath+"a.ics", 200); !strings.Contains(p, "UID:a") || !strings.Contains(p, "getetag") {
		t.Errorf("a.ics: %s", p)
	}
	if p := m.props(calPath+"b.ics", 200); !strings.Contains(p, "UID:b") {
		t.Errorf("b.ics: %s", p)
	}
	want := map[string]string{calPath + "missing.ics": "404", "/dav/calendars/bob/default/a.ics": "403"}
	for _, r := range m.Responses {
		if w, ok := want[r.Href]; ok && !strings.Contains(r.Status, w) {
			t.Errorf("%s: %s, want %s", r.Href, r.Status, w)
		}
	}
	e.do("alice", "REPORT", calPath, `<C:calendar-multiget `+davNS+` `+calDAVNS+`><D:prop><D:getetag/></D:prop></C:calendar-multiget>`).expect(t, http.StatusBadRequest)
	e.do("alice", "REPORT", calPath, `<C:calendar-multiget `+davNS+` `+calDAVNS+`><D:prop><C:calendar-data content-type="application/calendar+json"/></D:prop><D:href>a.ics</D:href></C:calendar-multiget>`).
		expect(t, http.StatusForbidden, "supported-calendar-data")
}

func TestCalendarQuery(t *testing.T) {
	e := newEnv(t)
	e.put("alice", calPath+"march.ics", event("march", "20250301T100000Z")).expect(t, http.StatusCreated)
	e.put("alice", calPath+"may.ics", event("may", "20250501T100000Z")).expect(t, http.StatusCreated)
	e.put("alice", calPath+"t.ics", todo("t")).expect(t, http.StatusCreated)
	q := func(filter string) string {
		return `<C:calendar-query ` + davNS + ` ` + calDAVNS + `><D:prop><D:getetag/></D:prop><C:filter>` + filter + `</C:filter></C:calendar-query>`
	}
	m := parseMS(t, e.do("alice", "REPORT", calPath, q(`<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
		<C:time-range start="20250301T000000Z" end="20250401T000000Z"/></C:comp-filter></C:comp-filter>`), "Depth", "1"))
	if got := strings.Join(m.hrefs(), " "); got != calPath+"march.ics" {
		t.Errorf("March events: %s", got)
	}
	m = parseMS(t, e.do("alice", "REPORT", calPath, q(`<C:comp-filter name="VCALENDAR"><C:comp-filter name="VTODO"/></C:comp-filter>`), "Depth", "1"))
	if got := strings.Join(m.hrefs(), " "); got != calPath+"t.ics" {
		t.Errorf("todos: %s", got)
	}
	m = parseMS(t, e.do("alice", "REPORT", calPath, q(`<C:comp-filter name="VCALENDAR"/>`), "Depth", "1"))
	if len(m.Responses) != 3 {
		t.Errorf("everything: %v", m.hrefs())
	}
	e.do("alice", "REPORT", calPath, q(`<C:comp-filter name="VEVENT"/>`)).expect(t, http.StatusForbidden, "<C:valid-filter/>")
	e.do("alice", "REPORT", calPath, q(`<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="tomorrow"/></C:comp-filter></C:comp-filter>`)).
		expect(t, http.StatusForbidden, "<C:valid-filter/>")
	e.do("alice", "REPORT", calPath, q(`<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:prop-filter name="SUMMARY"><C:text-match collation="i;bogus">x</C:text-match></C:prop-filter></C:comp-filter></C:comp-filter>`)).
		expect(t, http.StatusForbidden, "<C:supported-collation/>")
	e.do("alice", "REPORT", calPath, `<C:calendar-query `+davNS+` `+calDAVNS+`><D:prop><D:getetag/></D:prop></C:calendar-query>`).expect(t, http.StatusForbidden, "valid-filter")
}

func TestSyncCollection(t *testing.T) {
	e := newEnv(t)
	e.put("alice", calPath+"a.ics", event("a", "20250301T100000Z")).expect(t, http.StatusCreated)
	e.put("alice", calPath+"b.ics", event("b", "20250301T100000Z")).expect(t, http.StatusCreated)
	sync := func(token string) string {
		return `<D:sync-collection ` + davNS + `><D:sync-token>` + token + `</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>`
	}
	m := parseMS(t, e.do("alice", "REPORT", calPath, sync("")))
	if len(m.Responses) != 2 || m.SyncToken == "" {
		t.Fatalf("initial sync: %+v", m)
	}
	tok := m.SyncToken
	m = parseMS(t, e.do("alice", "REPORT", calPath, sync(tok)))
	if len(m.Responses) != 0 || m.SyncToken != tok {
		t.Errorf("no-change sync: %+v", m)
	}
	e.put("alice", calPath+"c.ics", event("c", "20250301T100000Z")).expect(t, http.StatusCreated)
	e.do("alice", "DELETE", calPath+"a.ics", "").expect(t, http.StatusNoContent)
	m = parseMS(t, e.do("alice", "REPORT", calPath, sync(tok)))
	if len(m.Responses) != 2 || m.SyncToken == tok {
		t.Fatalf("delta: %+v", m)
	}
	for _, r := range m.Responses {
		switch r.Href {
		case calPath + "a.ics":
			if !strings.Contains(r.Status, "404") || len(r.Propstats) != 0 {
				t.Errorf("deletion: %+v", r)
			}
		case calPath + "c.ics":
			if len(r.Propstats) == 0 {
				t.Errorf("change without props: %+v", r)
			}
		default:
			t.Errorf("unexpected %s", r.Href)
		}
	}
	// The token is also the calendar's sync-token property.
	e.do("alice", "PROPFIND", calPath, `<propfind xmlns="DAV:"><prop><sync-token/></prop></propfind>`, "Depth", "0").expect(t, http.StatusMultiStatus, m.SyncToken)

	for _, bad := range []string{"garbage", "http://salon.invalid/sync/999-1", strings.Replace(m.SyncToken, "-", "-9", 1) + "99"} {
		e.do("alice", "REPORT", calPath, sync(bad)).expect(t, http.StatusForbidden, "<D:valid-sync-token/>")
	}
	// Bob's token does not work on Alice's calendar.
	bm := parseMS(t, e.do("bob", "REPORT", "/dav/calendars/bob/default/", sync("")))
	e.do("alice", "REPORT", calPath, sync(bm.SyncToken)).expect(t, http.StatusForbidden, "valid-sync-token")
	e.do("alice", "REPORT", home, sync("")).expect(t, http.StatusForbidden, "supported-report")
}

func TestFreeBusyQuery(t *testing.T) {
	e := newEnv(t)
	e.put("alice", calPath+"a.ics", event("a", "20250301T100000Z")).expect(t, http.StatusCreated)
	r := e.do("alice", "REPORT", calPath, `<C:free-busy-query `+calDAVNS+`><C:time-range start="20250301T000000Z" end="20250302T000000Z"/></C:free-busy-query>`, "Depth", "1").
		expect(t, http.StatusOK, "BEGIN:VFREEBUSY")
	if !strings.HasPrefix(r.header.Get("Content-Type"), "text/calendar") {
		t.Errorf("Content-Type %q", r.header.Get("Content-Type"))
	}
	e.do("alice", "REPORT", calPath, `<C:free-busy-query `+calDAVNS+`/>`).expect(t, http.StatusForbidden, "valid-filter")
}

func TestPrincipalReports(t *testing.T) {
	e := newEnv(t)
	// Apple Calendar's delegation probe.
	m := parseMS(t, e.do("alice", "REPORT", "/dav/principals/alice/", `<D:expand-property `+davNS+`>
		<D:property name="calendar-proxy-write-for" namespace="http://calendarserver.org/ns/"><D:property name="displayname"/></D:property>
		<D:property name="current-user-principal"><D:property name="displayname"/><D:property name="calendar-home-set" namespace="urn:ietf:params:xml:ns:caldav"/></D:property>
	</D:expand-property>`, "Depth", "0"))
	if p := m.props("/dav/principals/alice/", 200); !strings.Contains(p, "Alice Liddell") || !strings.Contains(p, "/dav/calendars/alice/") {
		t.Errorf("expand-property: %s", p)
	}
	if p := m.props("/dav/principals/alice/", 404); !strings.Contains(p, "calendar-proxy-write-for") {
		t.Errorf("unknown property not 404: %s", p)
	}
	search := func(match string) string {
		return `<D:principal-property-search ` + davNS + ` ` + calDAVNS + `><D:property-search><D:prop><D:displayname/></D:prop><D:match>` + match +
			`</D:match></D:property-search><D:prop><D:displayname/><C:calendar-user-address-set/></D:prop></D:principal-property-search>`
	}
	m = parseMS(t, e.do("alice", "REPORT", "/dav/principals/", search("liddell"), "Depth", "0"))
	if len(m.Responses) != 1 || m.Responses[0].Href != "/dav/principals/alice/" {
		t.Errorf("search own: %+v", m)
	}
	m = parseMS(t, e.do("alice", "REPORT", "/dav/principals/", search("bob")))
	if len(m.Responses) != 0 {
		t.Errorf("search found someone else: %+v", m)
	}
	e.do("alice", "REPORT", "/dav/principals/", `<D:principal-search-property-set `+davNS+`/>`).expect(t, http.StatusOK, "principal-search-property")
	e.do("alice", "REPORT", calPath, `<D:acl-principal-prop-set `+davNS+`/>`).expect(t, http.StatusForbidden, "<D:supported-report/>")
	e.do("alice", "REPORT", calPath, ``).expect(t, http.StatusBadRequest)
}

// Odd but legal iCalendar never turns a request into a 500: a Windows
// zone name without VTIMEZONE, a recurring event with an exception.
func TestOddICalendar(t *testing.T) {
	e := newEnv(t)
	windows := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN\r\nBEGIN:VEVENT\r\nUID:win\r\n" +
		"DTSTAMP:20250101T000000Z\r\nDTSTART;TZID=W. Europe Standard Time:20250305T090000\r\nDTEND;TZID=W. Europe Standard Time:20250305T100000\r\n" +
		"SUMMARY:Outlook\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	weekly := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:weekly\r\nDTSTAMP:20250101T000000Z\r\n" +
		"DTSTART:20250106T080000Z\r\nDURATION:PT30M\r\nRRULE:FREQ=WEEKLY\r\nEXDATE:20250310T080000Z\r\nSUMMARY:Standup\r\nEND:VEVENT\r\n" +
		"BEGIN:VEVENT\r\nUID:weekly\r\nDTSTAMP:20250101T000000Z\r\nRECURRENCE-ID:20250317T080000Z\r\nDTSTART:20250317T100000Z\r\nDURATION:PT30M\r\nSUMMARY:Moved\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	e.put("alice", calPath+"win.ics", windows).expect(t, http.StatusCreated)
	e.put("alice", calPath+"weekly.ics", weekly).expect(t, http.StatusCreated)

	query := func(start, end, data string) reply {
		return e.do("alice", "REPORT", calPath, `<C:calendar-query `+davNS+` `+calDAVNS+`><D:prop><D:getetag/>`+data+`</D:prop><C:filter><C:comp-filter name="VCALENDAR">
			<C:comp-filter name="VEVENT"><C:time-range start="`+start+`" end="`+end+`"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`, "Depth", "1")
	}
	m := parseMS(t, query("20250305T000000Z", "20250306T000000Z", ""))
	if got := strings.Join(m.hrefs(), " "); got != calPath+"win.ics" {
		t.Errorf("5 March: %s", got)
	}
	// 10 March is an EXDATE; nothing that week.
	m = parseMS(t, query("20250310T000000Z", "20250311T000000Z", ""))
	if len(m.Responses) != 0 {
		t.Errorf("10 March: %v", m.hrefs())
	}
	// Expanded, the moved instance comes back at its new time.
	r := query("20250317T000000Z", "20250318T000000Z", `<C:calendar-data><C:expand start="20250317T000000Z" end="20250318T000000Z"/></C:calendar-data>`)
	m = parseMS(t, r)
	if p := m.props(calPath+"weekly.ics", 200); !strings.Contains(p, "Moved") || strings.Contains(p, "RRULE") {
		t.Errorf("expanded: %s", p)
	}
	e.do("alice", "REPORT", calPath, `<C:free-busy-query `+calDAVNS+`><C:time-range start="20250301T000000Z" end="20250401T000000Z"/></C:free-busy-query>`).
		expect(t, http.StatusOK, "FREEBUSY")
}
