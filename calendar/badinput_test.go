package calendar_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/salonhq/salon/calendar"
)

func TestBadInput(t *testing.T) {
	e := newEnv(t)
	deep := strings.Repeat("<D:prop>", 100) + strings.Repeat("</D:prop>", 100)
	tests := []struct {
		name, method, path, body string
		status                   int
	}{
		{"malformed", "PROPFIND", calPath, `<D:propfind xmlns:D="DAV:"><D:prop>`, 400},
		{"not xml", "PROPPATCH", calPath, `displayname=x`, 400},
		{"wrong root", "PROPFIND", calPath, `<D:propertyupdate xmlns:D="DAV:"/>`, 400},
		{"undeclared prefix", "PROPFIND", calPath, `<D:propfind><D:allprop/></D:propfind>`, 400},
		{"doctype", "PROPFIND", calPath, `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><D:propfind xmlns:D="DAV:">&lol2;</D:propfind>`, 400},
		{"external entity", "REPORT", calPath, `<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:href>&xxe;</D:href></C:calendar-multiget>`, 400},
		{"deep", "PROPFIND", calPath, `<D:propfind xmlns:D="DAV:">` + deep + `</D:propfind>`, 400},
		{"huge", "PROPFIND", calPath, `<D:propfind xmlns:D="DAV:"><D:prop>` + strings.Repeat("<D:displayname/>", 30000) + `</D:prop></D:propfind>`, 413},
		{"huge report", "REPORT", calPath, strings.Repeat(" ", 300<<10), 413},
		{"bad depth", "PROPFIND", calPath, ``, 400},
		{"dotdot", "GET", "/dav/calendars/alice/default/%2e%2e/%2e%2e/bob/default/x.ics", ``, 400},
		{"encoded slash", "PUT", "/dav/calendars/alice/default/a%2Fb.ics", event("s", "20250301T100000Z"), 400},
		{"encoded slash in user", "PROPFIND", "/dav/calendars/alice%2F..%2Fbob/", ``, 400},
		{"empty segment", "GET", "/dav/calendars/alice//x.ics", ``, 400},
		{"literal dotdot", "DELETE", "/dav/calendars/alice/default/../../bob/default/", ``, 400},
		{"long name", "PUT", calPath + strings.Repeat("x", 300) + ".ics", event("l", "20250301T100000Z"), 400},
		{"nul", "PUT", calPath + "a%00.ics", event("n", "20250301T100000Z"), 400},
		{"outside", "GET", "/dav/elsewhere/", ``, 404},
		{"too deep path", "GET", calPath + "a/b/c", ``, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := []string{"Content-Type", "application/xml"}
			if tt.name == "bad depth" {
				hdr = append(hdr, "Depth", "2")
			}
			r := e.do("alice", tt.method, tt.path, tt.body, hdr...).expect(t, tt.status, "<D:error")
			if !strings.HasPrefix(r.header.Get("Content-Type"), "application/xml") {
				t.Errorf("Content-Type %q", r.header.Get("Content-Type"))
			}
		})
	}
	// Nothing was stored by any of them.
	c, _ := e.store.Calendar(context.Background(), "alice", "default")
	if infos, _ := e.store.ObjectInfos(context.Background(), c.ID); len(infos) != 0 {
		t.Errorf("bad input stored %v", infos)
	}
}

// faultyStore fails or panics on demand.
type faultyStore struct {
	calendar.Store
	panics bool
}

func (s faultyStore) Calendar(ctx context.Context, owner, name string) (calendar.Calendar, error) {
	if s.panics {
		panic("boom")
	}
	return calendar.Calendar{}, errors.New("disk on fire at /var/lib/salon")
}

func TestServerFaults(t *testing.T) {
	for _, panics := range []bool{false, true} {
		e := newEnv(t, func(_ *calendar.Config, o *calendar.Options) { o.Store = faultyStore{Store: o.Store, panics: panics} })
		r := e.do("alice", "PROPFIND", calPath, "", "Depth", "0").expect(t, http.StatusInternalServerError, "<D:error")
		if strings.Contains(r.body, "disk on fire") || strings.Contains(r.body, "boom") {
			t.Errorf("cause leaked to the client: %s", r.body)
		}
		// The server goes on.
		e.do("alice", "PROPFIND", "/dav/principals/alice/", "", "Depth", "0").expect(t, http.StatusMultiStatus)
	}
}
