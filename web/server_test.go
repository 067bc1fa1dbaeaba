package web

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/salonhq/salon/internal/auth"
	"github.com/salonhq/salon/internal/meeting"
)

// fakeMeetings is a MeetingStore in memory; err, when set, is returned by
// every Get.
type fakeMeetings struct {
	meetings map[string]meeting.Meeting
	err      error
}

func (f *fakeMeetings) Get(_ context.Context, slug string) (meeting.Meeting, error) {
	if f.err != nil {
		return meeting.Meeting{}, f.err
	}
	m, ok := f.meetings[slug]
	if !ok {
		return meeting.Meeting{}, meeting.ErrNotFound
	}
	return m, nil
}

var testStatic = fstest.MapFS{
	"index.html":      {Data: []byte("<!doctype html><title>salon</title>index")},
	"room.html":       {Data: []byte("<!doctype html><title>room</title>room")},
	"404.html":        {Data: []byte("<!doctype html><title>not found</title>404")},
	"room.js":         {Data: []byte("export const room = 1;\n")},
	"room.css":        {Data: []byte("body { margin: 0 }\n")},
	"img/logo.svg":    {Data: []byte("<svg xmlns='http://www.w3.org/2000/svg'/>")},
	".secret":         {Data: []byte("hidden")},
	".git/config":     {Data: []byte("hidden")},
	"blob.unknownext": {Data: []byte("?")},
}

var (
	testKey  = []byte("0123456789abcdef0123456789abcdef")
	testNow  = time.Date(2026, 3, 1, 10, 0, 0, 500_000_000, time.UTC)
	testSlug = "k3fa-9qzx-m2wd"
)

type testServer struct {
	*Server
	meetings *fakeMeetings
	tokens   *auth.Tokens
	logs     *bytes.Buffer
}

func newTestServer(t testing.TB, cfg Config, edit func(*Options)) *testServer {
	t.Helper()
	ts := &testServer{
		meetings: &fakeMeetings{meetings: map[string]meeting.Meeting{
			testSlug:  {Slug: testSlug, Title: "Weekly sync", CreatedAt: testNow},
			"standup": {Slug: "standup", Title: "Stand-up"},
		}},
		tokens: auth.NewTokens(testKey),
		logs:   &bytes.Buffer{},
	}
	opts := Options{
		Meetings: ts.meetings,
		Tokens:   ts.tokens,
		Logger:   slog.New(slog.NewTextHandler(ts.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Static:   testStatic,
		Now:      func() time.Time { return testNow },
	}
	if edit != nil {
		edit(&opts)
	}
	ts.Server = New(cfg, opts)
	return ts
}

func (ts *testServer) do(req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	ts.Handler().ServeHTTP(rec, req)
	return rec
}

func TestPages(t *testing.T) {
	ts := newTestServer(t, Config{}, nil)
	tests := []struct {
		method, path string
		status       int
		ctype        string
		body         string // expected body, when set
		allow        string
	}{
		{"GET", "/", 200, "text/html; charset=utf-8", "<!doctype html><title>salon</title>index", ""},
		{"HEAD", "/", 200, "text/html; charset=utf-8", "", ""},
		{"POST", "/", 405, "", "", "GET, HEAD"},
		{"GET", "/m/" + testSlug, 200, "text/html; charset=utf-8", "<!doctype html><title>room</title>room", ""},
		{"GET", "/m/standup?name=Ada&prejoin=0", 200, "text/html; charset=utf-8", "<!doctype html><title>room</title>room", ""},
		{"HEAD", "/m/" + testSlug, 200, "text/html; charset=utf-8", "", ""},
		{"POST", "/m/" + testSlug, 405, "", "", "GET, HEAD"},
		{"DELETE", "/m/" + testSlug, 405, "", "", "GET, HEAD"},
		{"GET", "/m/unknown-room", 404, "text/html; charset=utf-8", "<!doctype html><title>not found</title>404", ""},
		{"HEAD", "/m/unknown-room", 404, "text/html; charset=utf-8", "", ""},
		{"GET", "/m/NOT_A_SLUG", 404, "text/html; charset=utf-8", "<!doctype html><title>not found</title>404", ""},
		{"GET", "/m/" + testSlug + "/extra", 404, "text/html; charset=utf-8", "", ""},
		{"GET", "/m/", 404, "text/html; charset=utf-8", "", ""},
		{"GET", "/nowhere", 404, "text/html; charset=utf-8", "<!doctype html><title>not found</title>404", ""},
		{"GET", "/index.html", 404, "text/html; charset=utf-8", "", ""},
		{"GET", "/static/room.js", 200, "text/javascript; charset=utf-8", "export const room = 1;\n", ""},
		{"HEAD", "/static/room.js", 200, "text/javascript; charset=utf-8", "", ""},
		{"GET", "/static/room.css", 200, "text/css; charset=utf-8", "body { margin: 0 }\n", ""},
		{"GET", "/static/img/logo.svg", 200, "image/svg+xml", "", ""},
		{"GET", "/static/blob.unknownext", 200, "application/octet-stream", "", ""},
		{"POST", "/static/room.js", 405, "", "", "GET, HEAD"},
		{"GET", "/static/", 404, "text/html; charset=utf-8", "", ""},
		{"GET", "/static/img", 404, "text/html; charset=utf-8", "", ""},
		{"GET", "/static/img/", 404, "text/html; charset=utf-8", "", ""},
		{"GET", "/static/missing.js", 404, "text/html; charset=utf-8", "", ""},
		{"GET", "/static/.secret", 404, "text/html; charset=utf-8", "", ""},
		{"GET", "/static/.git/config", 404, "text/html; charset=utf-8", "", ""},
		{"GET", "/static/%2e%2e/server.go", 404, "text/html; charset=utf-8", "", ""},
		{"GET", "/static/img/..%2f..%2fserver.go", 404, "text/html; charset=utf-8", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			rec := ts.do(httptest.NewRequest(tt.method, tt.path, nil))
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d; body %q", rec.Code, tt.status, rec.Body)
			}
			if tt.ctype != "" {
				if got := rec.Header().Get("Content-Type"); got != tt.ctype {
					t.Errorf("Content-Type = %q, want %q", got, tt.ctype)
				}
			}
			if tt.body != "" && rec.Body.String() != tt.body {
				t.Errorf("body = %q, want %q", rec.Body, tt.body)
			}
			if tt.method == "HEAD" && rec.Body.Len() != 0 {
				t.Errorf("HEAD answered with a body of %d bytes", rec.Body.Len())
			}
			if got := rec.Header().Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
			if tt.status == 200 && rec.Header().Get("Cache-Control") != "no-cache" {
				t.Errorf("Cache-Control = %q, want no-cache", rec.Header().Get("Cache-Control"))
			}
			assertSecurityHeaders(t, rec.Header())
		})
	}
}

func TestStaticRevalidation(t *testing.T) {
	ts := newTestServer(t, Config{}, nil)
	for _, path := range []string{"/static/room.js", "/", "/m/" + testSlug} {
		t.Run(path, func(t *testing.T) {
			first := ts.do(httptest.NewRequest("GET", path, nil))
			etag := first.Header().Get("ETag")
			if etag == "" {
				t.Fatal("no ETag")
			}
			req := httptest.NewRequest("GET", path, nil)
			req.Header.Set("If-None-Match", etag)
			if rec := ts.do(req); rec.Code != http.StatusNotModified {
				t.Errorf("revalidation status = %d, want 304", rec.Code)
			}
		})
	}
	other := ts.do(httptest.NewRequest("GET", "/static/room.css", nil)).Header().Get("ETag")
	if same := ts.do(httptest.NewRequest("GET", "/static/room.js", nil)).Header().Get("ETag"); same == other {
		t.Error("two different files share an ETag")
	}
}

func TestMissingNotFoundPage(t *testing.T) {
	ts := newTestServer(t, Config{}, func(o *Options) {
		o.Static = fstest.MapFS{"room.html": {Data: []byte("room")}}
	})
	for _, path := range []string{"/", "/m/unknown", "/static/x.js", "/elsewhere"} {
		rec := ts.do(httptest.NewRequest("GET", path, nil))
		if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "not found") {
			t.Errorf("GET %s = %d %q, want a plain 404", path, rec.Code, rec.Body)
		}
	}
}

func TestStoreFailure(t *testing.T) {
	ts := newTestServer(t, Config{}, nil)
	ts.meetings.err = errors.New("database is on fire")

	rec := ts.do(httptest.NewRequest("GET", "/m/"+testSlug, nil))
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("room page status = %d, want 500", rec.Code)
	}
	if strings.Contains(rec.Body.String(), "fire") {
		t.Errorf("room page leaks the cause: %q", rec.Body)
	}

	rec = ts.do(httptest.NewRequest("GET", "/api/v1/meetings/"+testSlug, nil))
	assertAPIError(t, rec, http.StatusInternalServerError, "internal")
	if strings.Contains(rec.Body.String(), "fire") {
		t.Errorf("API leaks the cause: %q", rec.Body)
	}
	if !strings.Contains(ts.logs.String(), "database is on fire") {
		t.Errorf("the log lacks the cause:\n%s", ts.logs)
	}
}

func TestEmbeddedStatic(t *testing.T) {
	// Whatever the front end ships is served with a known type.
	ts := newTestServer(t, Config{}, func(o *Options) { o.Static = nil })
	files, err := fsFiles(embeddedStatic())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		rec := ts.do(httptest.NewRequest("GET", "/static/"+name, nil))
		if rec.Code != http.StatusOK {
			t.Errorf("GET /static/%s = %d", name, rec.Code)
			continue
		}
		if ct := rec.Header().Get("Content-Type"); ct == "" || ct == "application/octet-stream" {
			t.Errorf("GET /static/%s: Content-Type %q; add its extension to contentTypes", name, ct)
		}
	}
}

func TestNewRequiresCollaborators(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New without Meetings and Tokens did not panic")
		}
	}()
	New(Config{}, Options{})
}

func TestOrigin(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"https://meet.example.org", "https://meet.example.org", true},
		{"https://Meet.Example.org:443/some/path", "https://meet.example.org", true},
		{"http://localhost:8080", "http://localhost:8080", true},
		{"http://localhost:80", "http://localhost", true},
		{"https://[::1]:8443", "https://[::1]:8443", true},
		{"null", "", false},
		{"", "", false},
		{"ftp://example.org", "", false},
		{"//example.org", "", false},
		{"https://", "", false},
	}
	for _, tt := range tests {
		got, ok := origin(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("origin(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func assertSecurityHeaders(t *testing.T, h http.Header) {
	t.Helper()
	for _, kv := range securityHeaders {
		if got := h.Get(kv[0]); got != kv[1] {
			t.Errorf("%s = %q, want %q", kv[0], got, kv[1])
		}
	}
}

// fsFiles lists the regular files of fsys that the static handler serves.
func fsFiles(fsys fs.FS) ([]string, error) {
	var files []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && !hidden(p) {
			files = append(files, p)
		}
		return nil
	})
	return files, err
}
