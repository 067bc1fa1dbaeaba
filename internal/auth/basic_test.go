package auth

import (
	"bytes"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a log destination the handler may write from any goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestBasicAuth(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			testBasicAuth(t, e)
		})
	}
}

func testBasicAuth(t *testing.T, e engine) {
	c := newClock()
	users := newTestUsers(t, e.open(t), UsersOptions{Now: c.Now})
	mustCreate(t, users, User{Name: "zoe", Email: "zoe@example.org"}, "mötörhead ✓ 2")
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	h := BasicAuth(users, `Salon "home"`, log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := UserFromContext(r.Context())
		if !ok {
			t.Error("handler reached without a user")
		}
		io.WriteString(w, "hello "+u.Name)
	}))

	const challenge = `Basic realm="Salon \"home\"", charset="UTF-8"`
	basic := func(user, password string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
	}
	tests := []struct {
		name       string
		auth       string
		remote     string
		wantStatus int
		wantBody   string
	}{
		{"no credentials", "", "192.0.2.1:1234", 401, "Sign in"},
		{"other scheme", "Bearer abc", "192.0.2.1:1234", 401, "Sign in"},
		{"not base64", "Basic %%%", "192.0.2.1:1234", 401, "Sign in"},
		{"no colon", "Basic " + base64.StdEncoding.EncodeToString([]byte("zoe")), "192.0.2.1:1234", 401, "Sign in"},
		{"UTF-8 password", basic("zoe", "mötörhead ✓ 2"), "192.0.2.1:1234", 200, "hello zoe"},
		{"lower-case scheme", "basic " + base64.StdEncoding.EncodeToString([]byte("zoe:mötörhead ✓ 2")), "192.0.2.1:1234", 200, "hello zoe"},
		{"Latin-1 password", basic("zoe", "m\xf6t\xf6rhead ✓ 2"), "192.0.2.2:1234", 401, "Wrong user name or password"},
		{"wrong password", basic("zoe", "hunter2"), "192.0.2.2:1234", 401, "Wrong user name or password"},
		{"unknown user", basic("nobody", "hunter2"), "192.0.2.2:1234", 401, "Wrong user name or password"},
		{"colon in password", basic("zoe", "a:b:c:d:e"), "192.0.2.2:1234", 401, "Wrong user name or password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("PROPFIND", "/dav/", nil)
			r.RemoteAddr = tt.remote
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.wantStatus || !strings.Contains(w.Body.String(), tt.wantBody) {
				t.Errorf("got %d %q, want %d containing %q", w.Code, w.Body.String(), tt.wantStatus, tt.wantBody)
			}
			if got := w.Header().Get("WWW-Authenticate"); (w.Code == 401) != (got == challenge) {
				t.Errorf("WWW-Authenticate = %q with status %d", got, w.Code)
			}
			if w.Code != 200 && !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
				t.Errorf("Content-Type = %q", w.Header().Get("Content-Type"))
			}
		})
	}

	// Lock the pair out from one address: 429 with a Retry-After that
	// counts down with the clock.
	get := func(auth, remote string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/dav/", nil)
		r.RemoteAddr = remote
		r.Header.Set("Authorization", auth)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for range 5 {
		get(basic("zoe", "guess"), "198.51.100.9:1")
	}
	if w := get(basic("zoe", "mötörhead ✓ 2"), "198.51.100.9:2"); w.Code != 429 || w.Header().Get("Retry-After") != "60" {
		t.Errorf("after 5 failures: %d, Retry-After %q; want 429, 60", w.Code, w.Header().Get("Retry-After"))
	}
	c.Advance(500 * time.Millisecond)
	w := get(basic("zoe", "mötörhead ✓ 2"), "198.51.100.9:3")
	if w.Header().Get("Retry-After") != "60" || !strings.Contains(w.Body.String(), "Try again in 60 seconds.") {
		t.Errorf("Retry-After = %q, body %q; want 60 (rounded up)", w.Header().Get("Retry-After"), w.Body.String())
	}
	if w := get(basic("zoe", "mötörhead ✓ 2"), "203.0.113.1:1"); w.Code != 200 {
		t.Errorf("from another address: %d, want 200", w.Code)
	}

	out := logs.String()
	for _, secret := range []string{"hunter2", "guess", "mötörhead"} {
		if strings.Contains(out, secret) {
			t.Errorf("the log holds the password %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{"user=nobody", "addr=192.0.2.2", "sign-in refused", "addr=198.51.100.9"} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q:\n%s", want, out)
		}
	}
}

func TestBasicAuthDatabaseDown(t *testing.T) {
	d := engines[0].open(t)
	users := newTestUsers(t, d, UsersOptions{})
	d.Close()
	var logs syncBuffer
	h := BasicAuth(users, "salon", slog.New(slog.NewTextHandler(&logs, nil)), http.NotFoundHandler())
	r := httptest.NewRequest("GET", "/dav/", nil)
	r.SetBasicAuth("zoe", "password1")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 500 || strings.Contains(w.Body.String(), "sql") {
		t.Errorf("got %d %q; want 500 with a message for people", w.Code, w.Body.String())
	}
	if !strings.Contains(logs.String(), "database is closed") {
		t.Errorf("the log does not say why:\n%s", logs.String())
	}
}
