package calendar_test

import (
	"context"
	"encoding/xml"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/salonhq/salon/calendar"
	"github.com/salonhq/salon/calendar/sqlstore"
	"github.com/salonhq/salon/internal/auth"
	"github.com/salonhq/salon/internal/db"
)

// directory is a fixed set of users.
type directory map[string]auth.User

func (d directory) UserByName(_ context.Context, name string) (auth.User, error) {
	if u, ok := d[name]; ok {
		return u, nil
	}
	return auth.User{}, auth.ErrUserNotFound
}

func (d directory) UserByEmail(_ context.Context, email string) (auth.User, error) {
	for _, u := range d {
		if strings.EqualFold(u.Email, email) {
			return u, nil
		}
	}
	return auth.User{}, auth.ErrUserNotFound
}

var users = directory{
	"alice": {ID: 1, Name: "alice", Email: "alice@example.com", DisplayName: "Alice Liddell"},
	"bob":   {ID: 2, Name: "bob", Email: "bob@example.com", DisplayName: "Bob"},
}

// fixedNow is the clock of every test server, so golden bodies are stable.
var fixedNow = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

// testAuth stands in for auth's BasicAuth middleware: any password is
// good for a known user; no credentials leave the context empty.
func testAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if name, _, ok := r.BasicAuth(); ok {
			if u, ok := users[name]; ok {
				r = r.WithContext(auth.WithUser(r.Context(), u))
			}
		}
		next.ServeHTTP(w, r)
	})
}

type env struct {
	t     *testing.T
	srv   *httptest.Server
	store calendar.Store
	cfg   calendar.Config
}

type envOption func(*calendar.Config, *calendar.Options)

// newEnv starts salon's CalDAV handler on a fresh SQLite database, with
// a calendar "default" for alice and for bob.
func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	st := sqlstore.New(d, sqlstore.Options{Now: func() time.Time { return fixedNow }})
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"alice", "bob"} {
		c := &calendar.Calendar{Owner: u, Name: "default", DisplayName: "Calendar", Components: []string{"VEVENT", "VTODO"}}
		if err := st.CreateCalendar(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	cfg := calendar.Config{MaxResourceSize: 64 << 10, MaxRequestBody: 256 << 10}
	o := calendar.Options{
		Store:     st,
		Directory: users,
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:       func() time.Time { return fixedNow },
	}
	for _, opt := range opts {
		opt(&cfg, &o)
	}
	h := calendar.NewHandler(cfg, o)
	// No ServeMux in front: it would clean and redirect the path tricks
	// the handler must refuse by itself.
	dav, wellKnown := testAuth(h), h.WellKnown()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/.well-known/caldav" {
			wellKnown.ServeHTTP(w, r)
			return
		}
		dav.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, store: o.Store, cfg: cfg}
}

type reply struct {
	status int
	header http.Header
	body   string
}

// do sends a request as user ("" for none); hdr alternates names and
// values.
func (e *env) do(user, method, path, body string, hdr ...string) reply {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, "secret")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// expect fails the test unless the reply has status and every fragment.
func (r reply) expect(t *testing.T, status int, fragments ...string) reply {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body:\n%s", r.status, status, r.body)
	}
	for _, f := range fragments {
		if !strings.Contains(r.body, f) {
			t.Fatalf("body lacks %q:\n%s", f, r.body)
		}
	}
	return r
}

func (e *env) put(user, path, data string, hdr ...string) reply {
	e.t.Helper()
	return e.do(user, "PUT", path, data, append([]string{"Content-Type", "text/calendar; charset=utf-8"}, hdr...)...)
}

// ms is a parsed multistatus.
type ms struct {
	Responses []struct {
		Href      string `xml:"DAV: href"`
		Status    string `xml:"DAV: status"`
		Propstats []struct {
			Status string `xml:"DAV: status"`
			Prop   struct {
				Inner string `xml:",innerxml"`
			} `xml:"DAV: prop"`
		} `xml:"DAV: propstat"`
	} `xml:"DAV: response"`
	SyncToken string `xml:"DAV: sync-token"`
}

func parseMS(t *testing.T, r reply) ms {
	t.Helper()
	if r.status != http.StatusMultiStatus {
		t.Fatalf("status %d, want 207; body:\n%s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/xml; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	var m ms
	if err := xml.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("multistatus does not parse: %v\n%s", err, r.body)
	}
	return m
}

// hrefs lists the hrefs of the responses.
func (m ms) hrefs() []string {
	var out []string
	for _, r := range m.Responses {
		out = append(out, r.Href)
	}
	return out
}

// props returns the inner XML of the propstat with the status code for
// href, or "" when there is none.
func (m ms) props(href string, code int) string {
	for _, r := range m.Responses {
		if r.Href != href {
			continue
		}
		for _, ps := range r.Propstats {
			if strings.Contains(ps.Status, " "+strconv.Itoa(code)+" ") {
				return ps.Prop.Inner
			}
		}
	}
	return ""
}

// event returns a minimal VEVENT with uid starting at start (UTC).
func event(uid, start string) string {
	return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//salon//test//EN\r\nBEGIN:VEVENT\r\nUID:" + uid +
		"\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:" + start + "\r\nDURATION:PT1H\r\nSUMMARY:Meeting " + uid +
		"\r\nX-SALON-TEST;X-PARAM=kept:value\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
}

func todo(uid string) string {
	return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//salon//test//EN\r\nBEGIN:VTODO\r\nUID:" + uid +
		"\r\nDTSTAMP:20250101T000000Z\r\nSUMMARY:Task\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
}

func journal(uid string) string {
	return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//salon//test//EN\r\nBEGIN:VJOURNAL\r\nUID:" + uid +
		"\r\nDTSTAMP:20250101T000000Z\r\nDTSTART;VALUE=DATE:20250101\r\nSUMMARY:Note\r\nEND:VJOURNAL\r\nEND:VCALENDAR\r\n"
}
