package calendar_test

import (
	"net/http"
	"strings"
	"testing"
)

const (
	home    = "/dav/calendars/alice/"
	calPath = "/dav/calendars/alice/default/"
)

func TestOptions(t *testing.T) {
	e := newEnv(t)
	for path, allow := range map[string]string{
		"/dav/":                    "PROPFIND",
		"/dav/principals/alice/":   "PROPPATCH",
		home:                       "PROPFIND",
		calPath:                    "MKCALENDAR",
		calPath + "x.ics":          "PUT",
		"/dav/calendars/bob/":      "PROPFIND", // OPTIONS reveals nothing: answered for anyone
		"/dav/calendars/nobody/x/": "DELETE",
	} {
		r := e.do("", "OPTIONS", path, "").expect(t, http.StatusOK)
		if got := r.header.Get("DAV"); got != "1, 2, 3, calendar-access, extended-mkcol, calendar-auto-schedule" {
			t.Errorf("%s: DAV %q", path, got)
		}
		if !strings.Contains(r.header.Get("Allow"), allow) {
			t.Errorf("%s: Allow %q lacks %s", path, r.header.Get("Allow"), allow)
		}
	}
}

func TestWellKnown(t *testing.T) {
	e := newEnv(t)
	for _, m := range []string{"GET", "HEAD", "PROPFIND"} {
		r := e.do("", m, "/.well-known/caldav", "")
		if r.status != http.StatusMovedPermanently || r.header.Get("Location") != "/dav/" {
			t.Errorf("%s: %d %q", m, r.status, r.header.Get("Location"))
		}
	}
	e.do("alice", "PUT", "/.well-known/caldav", "").expect(t, http.StatusMethodNotAllowed)
}

func TestUnauthenticated(t *testing.T) {
	e := newEnv(t)
	for _, m := range []string{"GET", "PROPFIND", "PUT", "DELETE", "REPORT", "MKCALENDAR", "PROPPATCH"} {
		r := e.do("", m, calPath, "").expect(t, http.StatusUnauthorized)
		if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic") {
			t.Errorf("%s: WWW-Authenticate %q", m, r.header.Get("WWW-Authenticate"))
		}
	}
}

func TestDiscovery(t *testing.T) {
	e := newEnv(t)
	m := parseMS(t, e.do("alice", "PROPFIND", "/dav/", `<propfind xmlns="DAV:"><prop><current-user-principal/><principal-collection-set/></prop></propfind>`, "Depth", "0"))
	if p := m.props("/dav/", 200); !strings.Contains(p, "/dav/principals/alice/") || !strings.Contains(p, "/dav/principals/</") {
		t.Fatalf("root props: %s", p)
	}
	m = parseMS(t, e.do("alice", "PROPFIND", "/dav/principals/alice/", `<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
		<D:prop><D:displayname/><D:principal-URL/><C:calendar-home-set/><C:calendar-user-address-set/><D:resourcetype/><D:owner/><D:nope/></D:prop></D:propfind>`, "Depth", "0"))
	p := m.props("/dav/principals/alice/", 200)
	for _, want := range []string{"Alice Liddell", "<D:href>/dav/calendars/alice/</D:href>", "mailto:alice@example.com", "<D:principal/>"} {
		if !strings.Contains(p, want) {
			t.Errorf("principal props lack %s: %s", want, p)
		}
	}
	if nf := m.props("/dav/principals/alice/", 404); !strings.Contains(nf, "nope") {
		t.Errorf("unknown property not 404: %s", nf)
	}
	m = parseMS(t, e.do("alice", "PROPFIND", home, `<D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:displayname/></D:prop></D:propfind>`, "Depth", "1"))
	// The calendar, then the scheduling inbox and outbox (RFC 6638 §2).
	if got := m.hrefs(); len(got) != 4 || got[1] != calPath {
		t.Fatalf("home Depth 1 lists %v", got)
	}
	if rt := m.props(calPath, 200); !strings.Contains(rt, "<C:calendar/>") {
		t.Errorf("calendar resourcetype: %s", rt)
	}
}

func TestPropfindCalendar(t *testing.T) {
	e := newEnv(t)
	e.put("alice", calPath+"a.ics", event("a", "20250301T100000Z")).expect(t, http.StatusCreated)
	m := parseMS(t, e.do("alice", "PROPFIND", calPath, `<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:CS="http://calendarserver.org/ns/">
		<D:prop><D:resourcetype/><CS:getctag/><D:sync-token/><C:supported-calendar-component-set/><D:current-user-privilege-set/>
		<D:supported-report-set/><C:max-resource-size/><D:getetag/></D:prop></D:propfind>`, "Depth", "1"))
	p := m.props(calPath, 200)
	for _, want := range []string{"<C:comp name=\"VEVENT\"/>", "<CS:getctag>", "<D:sync-token>", "<D:write-content/>", "<C:calendar-multiget/>", "<D:sync-collection/>", "65536"} {
		if !strings.Contains(p, want) {
			t.Errorf("calendar props lack %s: %s", want, p)
		}
	}
	if p := m.props(calPath+"a.ics", 200); !strings.Contains(p, "<D:getetag>&#34;") && !strings.Contains(p, `<D:getetag>"`) {
		t.Errorf("object etag: %s", p)
	}

	// allprop leaves out calendar-data and the expensive CalDAV properties.
	r := e.do("alice", "PROPFIND", calPath, "", "Depth", "1").expect(t, http.StatusMultiStatus)
	if strings.Contains(r.body, "calendar-data") || strings.Contains(r.body, "supported-calendar-component-set") {
		t.Errorf("allprop returned protected properties:\n%s", r.body)
	}
	// propname names calendar-data for objects without its value.
	r = e.do("alice", "PROPFIND", calPath+"a.ics", `<propfind xmlns="DAV:"><propname/></propfind>`, "Depth", "0").expect(t, http.StatusMultiStatus, "<C:calendar-data/>")
	if strings.Contains(r.body, "BEGIN:VCALENDAR") {
		t.Errorf("propname returned values")
	}
	// calendar-data only when asked.
	e.do("alice", "PROPFIND", calPath, `<propfind xmlns="DAV:"><prop><C:calendar-data xmlns:C="urn:ietf:params:xml:ns:caldav"/></prop></propfind>`, "Depth", "1").
		expect(t, http.StatusMultiStatus, "X-SALON-TEST;X-PARAM=kept:value")

	e.do("alice", "PROPFIND", calPath, "", "Depth", "infinity").expect(t, http.StatusForbidden, "propfind-finite-depth")
	e.do("alice", "PROPFIND", calPath+"missing.ics", "", "Depth", "0").expect(t, http.StatusNotFound)
	e.do("alice", "PROPFIND", "/dav/calendars/alice/missing/", "", "Depth", "0").expect(t, http.StatusNotFound)
}

func TestMkcalendar(t *testing.T) {
	e := newEnv(t)
	e.do("alice", "MKCALENDAR", home+"work/", `<?xml version="1.0" encoding="utf-8"?>
<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:A="http://apple.com/ns/ical/">
  <D:set><D:prop>
    <D:displayname>Work</D:displayname>
    <C:calendar-description>Work things</C:calendar-description>
    <A:calendar-color>#3a87adff</A:calendar-color>
    <C:supported-calendar-component-set><C:comp name="VTODO"/></C:supported-calendar-component-set>
  </D:prop></D:set>
</C:mkcalendar>`).expect(t, http.StatusCreated)
	m := parseMS(t, e.do("alice", "PROPFIND", home+"work/", `<propfind xmlns="DAV:"><prop><displayname/><C:calendar-description xmlns:C="urn:ietf:params:xml:ns:caldav"/>
		<A:calendar-color xmlns:A="http://apple.com/ns/ical/"/><C:supported-calendar-component-set xmlns:C="urn:ietf:params:xml:ns:caldav"/></prop></propfind>`, "Depth", "0"))
	p := m.props(home+"work/", 200)
	for _, want := range []string{"Work", "Work things", "#3a87adff", `<C:comp name="VTODO"/>`} {
		if !strings.Contains(p, want) {
			t.Errorf("lacks %s: %s", want, p)
		}
	}
	e.put("alice", home+"work/e.ics", event("e", "20250301T100000Z")).expect(t, http.StatusForbidden, "supported-calendar-component")
	e.put("alice", home+"work/t.ics", todo("t")).expect(t, http.StatusCreated)

	e.do("alice", "MKCALENDAR", home+"work/", "").expect(t, http.StatusMethodNotAllowed, "resource-must-be-null")
	e.do("alice", "MKCALENDAR", home, "").expect(t, http.StatusMethodNotAllowed)
	e.do("alice", "MKCALENDAR", home+"work/sub/", "").expect(t, http.StatusConflict)
	e.do("alice", "MKCALENDAR", home+"work/sub", "").expect(t, http.StatusConflict)
	e.do("alice", "MKCALENDAR", "/dav/principals/alice/x/", "").expect(t, http.StatusConflict)
	e.do("alice", "MKCALENDAR", home+"bad/", `<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>
		<D:displayname>x</D:displayname><C:supported-calendar-component-set><C:comp name="VCARD"/></C:supported-calendar-component-set></D:prop></D:set></C:mkcalendar>`).
		expect(t, http.StatusForbidden, "mkcalendar-response", "424", "supported-calendar-component")
	e.do("alice", "PROPFIND", home+"bad/", "", "Depth", "0").expect(t, http.StatusNotFound)
	e.do("alice", "MKCALENDAR", home+"plain/", "").expect(t, http.StatusCreated)

	// Extended MKCOL (RFC 5689).
	e.do("alice", "MKCOL", home+"ext/", `<D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>
		<D:resourcetype><D:collection/><C:calendar/></D:resourcetype><D:displayname>Ext</D:displayname></D:prop></D:set></D:mkcol>`).expect(t, http.StatusCreated)
	e.do("alice", "MKCOL", home+"dir/", "").expect(t, http.StatusForbidden, "valid-resourcetype")
	e.do("alice", "MKCOL", home+"dir/", `<D:mkcol xmlns:D="DAV:"><D:set><D:prop><D:resourcetype><D:collection/></D:resourcetype></D:prop></D:set></D:mkcol>`).
		expect(t, http.StatusForbidden, "valid-resourcetype")

	m = parseMS(t, e.do("alice", "PROPFIND", home, `<propfind xmlns="DAV:"><prop><displayname/></prop></propfind>`, "Depth", "1"))
	if n := len(m.Responses); n != 7 { // with the scheduling inbox and outbox
		t.Errorf("home lists %d resources: %v", n, m.hrefs())
	}
	e.do("alice", "DELETE", home+"work/", "").expect(t, http.StatusNoContent)
	e.do("alice", "GET", home+"work/t.ics", "").expect(t, http.StatusNotFound)
	e.do("alice", "DELETE", home+"work/", "").expect(t, http.StatusNotFound)
	e.do("alice", "DELETE", home, "").expect(t, http.StatusMethodNotAllowed)
}

func TestProppatch(t *testing.T) {
	e := newEnv(t)
	// As Apple Calendar writes it.
	body := `<?xml version="1.0" encoding="UTF-8"?>
<A:propertyupdate xmlns:A="DAV:"><A:set><A:prop>
  <A:displayname>Home</A:displayname>
  <B:calendar-color xmlns:B="http://apple.com/ns/ical/" symbolic-color="custom">#FF2968FF</B:calendar-color>
  <B:calendar-order xmlns:B="http://apple.com/ns/ical/">3</B:calendar-order>
  <C:calendar-description xmlns:C="urn:ietf:params:xml:ns:caldav">Family &amp; friends</C:calendar-description>
  <Z:x-dead xmlns:Z="urn:example:z"><Z:inner a="1">v</Z:inner></Z:x-dead>
</A:prop></A:set></A:propertyupdate>`
	m := parseMS(t, e.do("alice", "PROPPATCH", calPath, body))
	if p := m.props(calPath, 200); !strings.Contains(p, "displayname") || !strings.Contains(p, "x-dead") {
		t.Fatalf("PROPPATCH: %+v", m)
	}
	m = parseMS(t, e.do("alice", "PROPFIND", calPath, `<propfind xmlns="DAV:"><prop><displayname/><I:calendar-color xmlns:I="http://apple.com/ns/ical/"/>
		<I:calendar-order xmlns:I="http://apple.com/ns/ical/"/><C:calendar-description xmlns:C="urn:ietf:params:xml:ns:caldav"/><Z:x-dead xmlns:Z="urn:example:z"/></prop></propfind>`, "Depth", "0"))
	p := m.props(calPath, 200)
	for _, want := range []string{">Home<", "#FF2968FF", ">3<", "Family &amp; friends", `<X:inner xmlns:X="urn:example:z" a="1">v</X:inner>`} {
		if !strings.Contains(p, want) {
			t.Errorf("lacks %s: %s", want, p)
		}
	}
	// allprop includes dead properties.
	e.do("alice", "PROPFIND", calPath, "", "Depth", "0").expect(t, http.StatusMultiStatus, "x-dead")

	// Atomic: one protected property fails everything.
	m = parseMS(t, e.do("alice", "PROPPATCH", calPath, `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>Changed</D:displayname><D:getetag>x</D:getetag></D:prop></D:set></D:propertyupdate>`))
	if !strings.Contains(m.props(calPath, 403), "getetag") || !strings.Contains(m.props(calPath, 424), "displayname") {
		t.Errorf("not atomic: %+v", m)
	}
	e.do("alice", "PROPFIND", calPath, `<propfind xmlns="DAV:"><prop><displayname/></prop></propfind>`, "Depth", "0").expect(t, http.StatusMultiStatus, ">Home<")

	// calendar-timezone must be iCalendar with a VTIMEZONE.
	tz := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VTIMEZONE\r\nTZID:Europe/Paris\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\nEND:VCALENDAR\r\n"
	set := func(v string) string {
		return `<D:propertyupdate xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><C:calendar-timezone>` + v + `</C:calendar-timezone></D:prop></D:set></D:propertyupdate>`
	}
	parseMS(t, e.do("alice", "PROPPATCH", calPath, set(tz)))
	e.do("alice", "PROPFIND", calPath, `<propfind xmlns="DAV:"><prop><C:calendar-timezone xmlns:C="urn:ietf:params:xml:ns:caldav"/></prop></propfind>`, "Depth", "0").
		expect(t, http.StatusMultiStatus, "TZID:Europe/Paris")
	m = parseMS(t, e.do("alice", "PROPPATCH", calPath, set("not a calendar")))
	if !strings.Contains(m.props(calPath, 409), "calendar-timezone") {
		t.Errorf("bad timezone accepted: %+v", m)
	}
	m = parseMS(t, e.do("alice", "PROPPATCH", calPath, `<D:propertyupdate xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><C:supported-calendar-component-set><C:comp name="VEVENT"/></C:supported-calendar-component-set></D:prop></D:set></D:propertyupdate>`))
	if !strings.Contains(m.props(calPath, 403), "supported-calendar-component-set") {
		t.Errorf("component set changed after creation: %+v", m)
	}
	// Removing a dead property.
	parseMS(t, e.do("alice", "PROPPATCH", calPath, `<D:propertyupdate xmlns:D="DAV:"><D:remove><D:prop><Z:x-dead xmlns:Z="urn:example:z"/></D:prop></D:remove></D:propertyupdate>`))
	if r := e.do("alice", "PROPFIND", calPath, "", "Depth", "0"); strings.Contains(r.body, "x-dead") {
		t.Errorf("dead property not removed")
	}
	// Principal properties are all protected.
	m = parseMS(t, e.do("alice", "PROPPATCH", "/dav/principals/alice/", `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>x</D:displayname></D:prop></D:set></D:propertyupdate>`))
	if !strings.Contains(m.props("/dav/principals/alice/", 403), "displayname") {
		t.Errorf("principal PROPPATCH: %+v", m)
	}
	e.do("alice", "PROPPATCH", calPath, "").expect(t, http.StatusBadRequest)
}

func TestObjects(t *testing.T) {
	e := newEnv(t)
	path := calPath + "a.ics"
	data := event("a", "20250301T100000Z")
	r := e.put("alice", path, data, "If-None-Match", "*").expect(t, http.StatusCreated)
	etag := r.header.Get("ETag")
	if !strings.HasPrefix(etag, `"`) {
		t.Fatalf("ETag %q", etag)
	}
	g := e.do("alice", "GET", path, "").expect(t, http.StatusOK)
	if g.body != data || g.header.Get("ETag") != etag || !strings.HasPrefix(g.header.Get("Content-Type"), "text/calendar") {
		t.Fatalf("GET: %q %v", g.body, g.header)
	}
	if h := e.do("alice", "HEAD", path, ""); h.status != 200 || h.body != "" || h.header.Get("ETag") != etag {
		t.Errorf("HEAD: %d %q", h.status, h.body)
	}
	e.do("alice", "GET", path, "", "If-None-Match", etag).expect(t, http.StatusNotModified)
	e.put("alice", path, data, "If-None-Match", "*").expect(t, http.StatusPreconditionFailed)
	e.put("alice", path, data, "If-Match", `"stale"`).expect(t, http.StatusPreconditionFailed)
	r = e.put("alice", path, strings.Replace(data, "Meeting a", "Renamed", 1), "If-Match", etag).expect(t, http.StatusNoContent)
	etag2 := r.header.Get("ETag")
	if etag2 == "" || etag2 == etag {
		t.Errorf("ETag after update %q (was %q)", etag2, etag)
	}
	e.put("alice", calPath+"new.ics", event("new", "20250301T100000Z"), "If-Match", etag2).expect(t, http.StatusPreconditionFailed)
	e.do("alice", "DELETE", path, "", "If-Match", etag).expect(t, http.StatusPreconditionFailed)
	e.do("alice", "DELETE", path, "", "If-Match", etag2).expect(t, http.StatusNoContent)
	e.do("alice", "GET", path, "").expect(t, http.StatusNotFound)
	e.do("alice", "DELETE", path, "").expect(t, http.StatusNotFound)

	// No Content-Type: taken as iCalendar when it parses.
	e.do("alice", "PUT", calPath+"bare.ics", todo("bare")).expect(t, http.StatusCreated)
	// A percent-encoded name is stored and served under its decoded form.
	e.put("alice", "/dav/calendars/alice/default/with%20space%40x.ics", event("sp", "20250301T100000Z")).expect(t, http.StatusCreated)
	m := parseMS(t, e.do("alice", "PROPFIND", calPath, `<propfind xmlns="DAV:"><prop><getetag/></prop></propfind>`, "Depth", "1"))
	if !strings.Contains(strings.Join(m.hrefs(), " "), "/dav/calendars/alice/default/with%20space@x.ics") {
		t.Errorf("hrefs %v", m.hrefs())
	}
	e.do("alice", "GET", calPath, "").expect(t, http.StatusOK)
}

func TestPutRefusals(t *testing.T) {
	e := newEnv(t)
	e.put("alice", calPath+"a.ics", event("dup", "20250301T100000Z")).expect(t, http.StatusCreated)
	tests := []struct {
		name   string
		path   string
		ct     string
		body   string
		status int
		want   string
	}{
		{"wrong type", calPath + "x.ics", "application/json", `{}`, 415, "supported-calendar-data"},
		{"garbage", calPath + "x.ics", "text/calendar", "hello", 403, "valid-calendar-data"},
		{"no component", calPath + "x.ics", "text/calendar", "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nEND:VCALENDAR\r\n", 403, "<C:valid-calendar-"},
		{"journal", calPath + "x.ics", "text/calendar", journal("j"), 403, "supported-calendar-component"},
		{"uid conflict", calPath + "b.ics", "text/calendar", event("dup", "20250301T100000Z"), 403, "<C:no-uid-conflict><D:href>/dav/calendars/alice/default/a.ics</D:href>"},
		{"too big", calPath + "x.ics", "text/calendar", event("big", "20250301T100000Z") + strings.Repeat("X", 70<<10), 403, "max-resource-size"},
		{"over the cap", calPath + "x.ics", "text/calendar", strings.Repeat("X", 300<<10), 413, ""},
		{"no calendar", home + "nope/x.ics", "text/calendar", event("n", "20250301T100000Z"), 409, "MKCALENDAR"},
		{"on a collection", calPath, "text/calendar", event("n", "20250301T100000Z"), 405, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do("alice", "PUT", tt.path, tt.body, "Content-Type", tt.ct).expect(t, tt.status, tt.want)
			if r.header.Get("ETag") != "" {
				t.Errorf("refusal carries an ETag")
			}
		})
	}
	m := parseMS(t, e.do("alice", "PROPFIND", calPath, `<propfind xmlns="DAV:"><prop><getetag/></prop></propfind>`, "Depth", "1"))
	if len(m.Responses) != 2 {
		t.Errorf("refused PUTs stored something: %v", m.hrefs())
	}
}

func TestCopyMove(t *testing.T) {
	e := newEnv(t)
	e.do("alice", "MKCALENDAR", home+"other/", "").expect(t, http.StatusCreated)
	e.do("alice", "MKCALENDAR", home+"tasks/", `<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><C:supported-calendar-component-set><C:comp name="VTODO"/></C:supported-calendar-component-set></D:prop></D:set></C:mkcalendar>`).expect(t, http.StatusCreated)
	data := event("a", "20250301T100000Z")
	e.put("alice", calPath+"a.ics", data).expect(t, http.StatusCreated)
	dest := func(p string) string { return e.srv.URL + p }

	e.do("alice", "COPY", calPath+"a.ics", "", "Destination", dest(home+"other/a.ics")).expect(t, http.StatusCreated)
	if g := e.do("alice", "GET", home+"other/a.ics", "").expect(t, http.StatusOK); g.body != data {
		t.Errorf("copy changed the data")
	}
	e.do("alice", "COPY", calPath+"a.ics", "", "Destination", dest(home+"other/a.ics"), "Overwrite", "F").expect(t, http.StatusPreconditionFailed)
	e.do("alice", "COPY", calPath+"a.ics", "", "Destination", dest(home+"other/a.ics")).expect(t, http.StatusNoContent)
	e.do("alice", "COPY", calPath+"a.ics", "", "Destination", dest(calPath+"a2.ics")).expect(t, http.StatusForbidden, "no-uid-conflict")
	e.do("alice", "COPY", calPath+"a.ics", "", "Destination", dest(home+"tasks/a.ics")).expect(t, http.StatusForbidden, "supported-calendar-component")
	e.do("alice", "COPY", calPath+"a.ics", "", "Destination", dest(home+"nope/a.ics")).expect(t, http.StatusConflict)
	e.do("alice", "COPY", calPath+"a.ics", "", "Destination", dest("/dav/calendars/bob/default/a.ics")).expect(t, http.StatusForbidden)
	e.do("alice", "COPY", calPath+"a.ics", "", "Destination", dest(calPath+"a.ics")).expect(t, http.StatusForbidden)
	e.do("alice", "COPY", calPath+"a.ics", "").expect(t, http.StatusBadRequest)
	e.do("alice", "COPY", calPath+"a.ics", "", "Destination", "http://elsewhere.example"+calPath+"z.ics").expect(t, http.StatusBadGateway)
	e.do("alice", "COPY", calPath, "", "Destination", dest(home+"copy/")).expect(t, http.StatusMethodNotAllowed)

	// Rename inside one calendar keeps the UID.
	e.do("alice", "MOVE", calPath+"a.ics", "", "Destination", calPath+"renamed.ics").expect(t, http.StatusCreated)
	e.do("alice", "GET", calPath+"a.ics", "").expect(t, http.StatusNotFound)
	e.do("alice", "GET", calPath+"renamed.ics", "").expect(t, http.StatusOK)
	// Move across calendars; the destination holds the UID already → refused, nothing lost.
	e.do("alice", "MOVE", calPath+"renamed.ics", "", "Destination", dest(home+"other/b.ics")).expect(t, http.StatusForbidden, "no-uid-conflict")
	e.do("alice", "GET", calPath+"renamed.ics", "").expect(t, http.StatusOK)
	e.do("alice", "DELETE", home+"other/a.ics", "").expect(t, http.StatusNoContent)
	e.do("alice", "MOVE", calPath+"renamed.ics", "", "Destination", dest(home+"other/b.ics")).expect(t, http.StatusCreated)
	e.do("alice", "GET", calPath+"renamed.ics", "").expect(t, http.StatusNotFound)
	if g := e.do("alice", "GET", home+"other/b.ics", "").expect(t, http.StatusOK); g.body != data {
		t.Errorf("move changed the data")
	}
}
