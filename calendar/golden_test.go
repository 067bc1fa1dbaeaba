package calendar_test

import (
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// etags are the store's business; golden bodies show a placeholder.
var etagRE = regexp.MustCompile(`<D:getetag>[^<]*</D:getetag>`)

func golden(t *testing.T, name string, r reply) {
	t.Helper()
	got := etagRE.ReplaceAllString(r.body, "<D:getetag>ETAG</D:getetag>")
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestGoldenBodies(t *testing.T) {
	e := newEnv(t)
	e.put("alice", calPath+"a%20b.ics", event("a", "20250301T100000Z")).expect(t, http.StatusCreated)
	golden(t, "propfind-root.xml", e.do("alice", "PROPFIND", "/dav/", `<propfind xmlns="DAV:"><prop><current-user-principal/><principal-collection-set/><resourcetype/></prop></propfind>`, "Depth", "1"))
	golden(t, "propfind-principal.xml", e.do("alice", "PROPFIND", "/dav/principals/alice/", `<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:CS="http://calendarserver.org/ns/">
		<D:prop><D:displayname/><D:principal-URL/><C:calendar-home-set/><C:calendar-user-address-set/><D:resourcetype/><D:current-user-principal/>
		<D:supported-report-set/><D:current-user-privilege-set/><D:owner/><CS:email-address-set/><C:schedule-inbox-URL/></D:prop></D:propfind>`, "Depth", "0"))
	golden(t, "propfind-calendar.xml", e.do("alice", "PROPFIND", calPath, `<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:CS="http://calendarserver.org/ns/" xmlns:I="http://apple.com/ns/ical/">
		<D:prop><D:resourcetype/><D:displayname/><I:calendar-color/><CS:getctag/><D:sync-token/><C:supported-calendar-component-set/><C:supported-calendar-data/>
		<D:supported-report-set/><D:current-user-privilege-set/><D:owner/><C:max-resource-size/><D:getetag/><D:getcontenttype/><D:getcontentlength/></D:prop></D:propfind>`, "Depth", "1"))
	golden(t, "propfind-allprop-object.xml", e.do("alice", "PROPFIND", calPath+"a%20b.ics", ``, "Depth", "0"))
	golden(t, "put-uid-conflict.xml", e.put("alice", calPath+"other.ics", event("a", "20250301T100000Z")))
	golden(t, "proppatch-failed.xml", e.do("alice", "PROPPATCH", calPath, `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>x</D:displayname><D:getetag>x</D:getetag></D:prop></D:set></D:propertyupdate>`))
}
