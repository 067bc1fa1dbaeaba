package calendar_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/salonhq/salon/calendar"
	"strings"
	"testing"
)

// TestCachedQueriesFollowWrites: the parse and response caches are keyed by
// ETag, so a query after an update or a delete sees the new state, and the
// same query asked twice gives the same answer.
func TestCachedQueriesFollowWrites(t *testing.T) {
	e := newEnv(t)
	const path = "/dav/calendars/alice/default/"
	e.put("alice", path+"a.ics", event("a", "20270301T100000Z")).expect(t, http.StatusCreated)
	e.put("alice", path+"b.ics", event("b", "20270302T100000Z")).expect(t, http.StatusCreated)
	query := func(expand bool) string {
		return e.do("alice", "REPORT", path, queryBody(expand), "Depth", "1", "Content-Type", "application/xml").expect(t, http.StatusMultiStatus).body
	}
	first := query(true)
	if again := query(true); again != first {
		t.Fatalf("the same query answered differently:\n%s\n---\n%s", first, again)
	}
	// The plain query is another question: it must not get the expanded
	// answer from the cache.
	if plain := query(false); !strings.Contains(plain, "DURATION:PT1H") || strings.Contains(first, "DURATION:PT1H") && first == plain {
		t.Fatalf("plain calendar-data looks expanded or cached from the expanded query:\n%s", plain)
	}
	e.put("alice", path+"a.ics", strings.Replace(event("a", "20270301T100000Z"), "SUMMARY:Meeting a", "SUMMARY:Moved a", 1)).expect(t, http.StatusNoContent)
	e.do("alice", "DELETE", path+"b.ics", "").expect(t, http.StatusNoContent)
	after := query(true)
	if !strings.Contains(after, "SUMMARY:Moved a") || strings.Contains(after, "Meeting a") {
		t.Fatalf("the update is not visible:\n%s", after)
	}
	if strings.Contains(after, "b.ics") {
		t.Fatalf("the deleted object is still returned:\n%s", after)
	}
	// A new object in the range appears; one moved out of it goes.
	e.put("alice", path+"c.ics", event("c", "20270315T100000Z")).expect(t, http.StatusCreated)
	e.put("alice", path+"a.ics", event("a", "20270501T100000Z")).expect(t, http.StatusNoContent)
	after = query(true)
	if !strings.Contains(after, "c.ics") || strings.Contains(after, "a.ics") {
		t.Fatalf("the cached answer did not follow a create and a move:\n%s", after)
	}
	// And the answer is the one a fresh handler gives.
	fresh := newEnvOn(t, e).do("alice", "REPORT", path, queryBody(true), "Depth", "1", "Content-Type", "application/xml")
	if fresh.expect(t, http.StatusMultiStatus).body != after {
		t.Fatalf("cached answer differs from a fresh one:\n%s\n---\n%s", after, fresh.body)
	}
}

// queryBody is a March 2027 calendar-query for VEVENTs, expanded or not.
func queryBody(expand bool) string {
	data := `<c:calendar-data/>`
	if expand {
		data = `<c:calendar-data><c:expand start="20270301T000000Z" end="20270401T000000Z"/></c:calendar-data>`
	}
	return `<?xml version="1.0"?><c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/>` +
		data + `</d:prop><c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT"><c:time-range start="20270301T000000Z" end="20270401T000000Z"/></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>`
}

// newEnvOn serves e's store through a second handler, with empty caches.
func newEnvOn(t *testing.T, e *env) *env {
	h := calendar.NewHandler(e.cfg, calendar.Options{Store: e.store, Directory: users,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return fixedNow }})
	srv := httptest.NewServer(testAuth(h))
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, store: e.store, cfg: e.cfg}
}
