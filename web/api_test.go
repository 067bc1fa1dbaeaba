package web

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func newJoinRequest(slug, body string, edit func(*http.Request)) *http.Request {
	req := httptest.NewRequest("POST", "/api/v1/meetings/"+slug+"/join", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if edit != nil {
		edit(req)
	}
	return req
}

func withHeader(k, v string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set(k, v) }
}

type joinAnswer struct {
	Token      string            `json:"token"`
	ExpiresAt  string            `json:"expiresAt"`
	WS         string            `json:"ws"`
	ICEServers []json.RawMessage `json:"iceServers"`
}

func TestJoin(t *testing.T) {
	ts := newTestServer(t, Config{PublicURL: "https://meet.example.org/"}, nil)
	tests := []struct {
		name     string
		req      *http.Request
		wantName string
	}{
		{"plain", newJoinRequest(testSlug, `{"name": "Ada"}`, nil), "Ada"},
		{"trimmed", newJoinRequest(testSlug, "{\"name\": \"  Ada Lovelace \\t\"}", nil), "Ada Lovelace"},
		{"unicode at the limit", newJoinRequest(testSlug, `{"name": "`+strings.Repeat("é", 64)+`"}`, nil), strings.Repeat("é", 64)},
		{"emoji sequence", newJoinRequest(testSlug, `{"name": "Ada 👩‍💻"}`, nil), "Ada 👩‍💻"},
		{"charset", newJoinRequest(testSlug, `{"name": "Ada"}`, withHeader("Content-Type", "application/json; charset=UTF-8")), "Ada"},
		{"unknown fields ignored", newJoinRequest(testSlug, `{"name": "Ada", "future": true}`, nil), "Ada"},
		{"same-origin", newJoinRequest(testSlug, `{"name": "Ada"}`, withHeader("Origin", "http://example.com")), "Ada"},
		{"public URL origin behind a proxy", newJoinRequest(testSlug, `{"name": "Ada"}`, func(r *http.Request) {
			r.Host = "127.0.0.1:8080"
			r.Header.Set("Origin", "https://meet.example.org")
		}), "Ada"},
		{"other slug", newJoinRequest("standup", `{"name": "Grace"}`, nil), "Grace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := ts.do(tt.req)
			if rec.Code != http.StatusOK {
				t.Fatalf("status = %d, want 200; body %s", rec.Code, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
			if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", cc)
			}
			assertSecurityHeaders(t, rec.Header())
			if !strings.Contains(rec.Body.String(), `"iceServers":[]`) {
				t.Errorf("iceServers is not an empty array: %s", rec.Body)
			}
			var ans joinAnswer
			if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil {
				t.Fatal(err)
			}
			if ans.WS != "/ws" {
				t.Errorf("ws = %q, want /ws", ans.WS)
			}
			wantExp := testNow.Add(DefaultJoinTokenTTL).Truncate(time.Second)
			if ans.ExpiresAt != wantExp.Format(time.RFC3339) {
				t.Errorf("expiresAt = %q, want %q", ans.ExpiresAt, wantExp.Format(time.RFC3339))
			}
			claims, err := ts.tokens.VerifyJoin(ans.Token, testNow)
			if err != nil {
				t.Fatalf("token does not verify: %v", err)
			}
			wantRoom := strings.TrimPrefix(strings.TrimSuffix(tt.req.URL.Path, "/join"), "/api/v1/meetings/")
			if claims.Room != wantRoom || claims.Name != tt.wantName || !claims.Expires.Equal(wantExp) {
				t.Errorf("claims = %+v, want room %q, name %q, expires %s", claims, wantRoom, tt.wantName, wantExp)
			}
			if _, err := ts.tokens.VerifyJoin(ans.Token, wantExp); err == nil {
				t.Error("token still good at its expiry")
			}
		})
	}
}

func TestJoinTokensAreSingleUse(t *testing.T) {
	ts := newTestServer(t, Config{}, nil)
	nonces := map[string]bool{}
	for range 3 {
		var ans joinAnswer
		rec := ts.do(newJoinRequest(testSlug, `{"name":"Ada"}`, nil))
		if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil {
			t.Fatal(err)
		}
		c, err := ts.tokens.VerifyJoin(ans.Token, testNow)
		if err != nil {
			t.Fatal(err)
		}
		if nonces[c.Nonce] {
			t.Fatal("two join tokens share a nonce")
		}
		nonces[c.Nonce] = true
	}
}

func TestJoinTTL(t *testing.T) {
	ts := newTestServer(t, Config{JoinTokenTTL: 30 * time.Second}, nil)
	rec := ts.do(newJoinRequest(testSlug, `{"name":"Ada"}`, nil))
	var ans joinAnswer
	if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil {
		t.Fatal(err)
	}
	want := testNow.Add(30 * time.Second).Truncate(time.Second).Format(time.RFC3339)
	if ans.ExpiresAt != want {
		t.Errorf("expiresAt = %q, want %q", ans.ExpiresAt, want)
	}
}

func TestJoinRefused(t *testing.T) {
	ts := newTestServer(t, Config{PublicURL: "https://meet.example.org"}, nil)
	tests := []struct {
		name   string
		req    *http.Request
		status int
		code   string
	}{
		{"GET", httptest.NewRequest("GET", "/api/v1/meetings/"+testSlug+"/join", nil), 405, "method-not-allowed"},
		{"PUT", newJoinRequest(testSlug, `{"name":"Ada"}`, func(r *http.Request) { r.Method = "PUT" }), 405, "method-not-allowed"},
		{"no content type", newJoinRequest(testSlug, `{"name":"Ada"}`, func(r *http.Request) { r.Header.Del("Content-Type") }), 415, "unsupported-media-type"},
		{"form post", newJoinRequest(testSlug, `name=Ada`, withHeader("Content-Type", "application/x-www-form-urlencoded")), 415, "unsupported-media-type"},
		{"text/plain", newJoinRequest(testSlug, `{"name":"Ada"}`, withHeader("Content-Type", "text/plain")), 415, "unsupported-media-type"},
		{"other charset", newJoinRequest(testSlug, `{"name":"Ada"}`, withHeader("Content-Type", "application/json; charset=latin1")), 415, "unsupported-media-type"},
		{"malformed content type", newJoinRequest(testSlug, `{"name":"Ada"}`, withHeader("Content-Type", "application/json; ;;")), 415, "unsupported-media-type"},
		{"cross-origin", newJoinRequest(testSlug, `{"name":"Ada"}`, withHeader("Origin", "https://evil.example")), 403, "cross-origin"},
		{"cross-origin lookalike", newJoinRequest(testSlug, `{"name":"Ada"}`, withHeader("Origin", "http://example.com.evil.example")), 403, "cross-origin"},
		{"null origin", newJoinRequest(testSlug, `{"name":"Ada"}`, withHeader("Origin", "null")), 403, "cross-origin"},
		{"cross-origin on unknown meeting", newJoinRequest("unknown", `{"name":"Ada"}`, withHeader("Origin", "https://evil.example")), 403, "cross-origin"},
		{"empty body", newJoinRequest(testSlug, ``, nil), 400, "bad-json"},
		{"not JSON", newJoinRequest(testSlug, `name=Ada`, nil), 400, "bad-json"},
		{"truncated JSON", newJoinRequest(testSlug, `{"name":"Ada"`, nil), 400, "bad-json"},
		{"array", newJoinRequest(testSlug, `["Ada"]`, nil), 400, "bad-json"},
		{"name not a string", newJoinRequest(testSlug, `{"name": 42}`, nil), 400, "bad-json"},
		{"two values", newJoinRequest(testSlug, `{"name":"Ada"}{"name":"Bob"}`, nil), 400, "bad-json"},
		{"trailing garbage", newJoinRequest(testSlug, `{"name":"Ada"} x`, nil), 400, "bad-json"},
		{"huge body", newJoinRequest(testSlug, `{"name":"`+strings.Repeat("a", 5000)+`"}`, nil), 413, "too-large"},
		{"huge whitespace", newJoinRequest(testSlug, strings.Repeat(" ", maxJoinBody+1)+`{"name":"Ada"}`, nil), 413, "too-large"},
		{"no name", newJoinRequest(testSlug, `{}`, nil), 400, "bad-name"},
		{"null name", newJoinRequest(testSlug, `{"name": null}`, nil), 400, "bad-name"},
		{"empty name", newJoinRequest(testSlug, `{"name": ""}`, nil), 400, "bad-name"},
		{"blank name", newJoinRequest(testSlug, `{"name": " \t\n "}`, nil), 400, "bad-name"},
		{"long name", newJoinRequest(testSlug, `{"name": "`+strings.Repeat("é", 65)+`"}`, nil), 400, "bad-name"},
		{"control character", newJoinRequest(testSlug, `{"name": "Ada\u0007"}`, nil), 400, "bad-name"},
		{"newline inside", newJoinRequest(testSlug, `{"name": "Ada\nLovelace"}`, nil), 400, "bad-name"},
		{"NUL", newJoinRequest(testSlug, `{"name": "Ada\u0000"}`, nil), 400, "bad-name"},
		{"DEL", newJoinRequest(testSlug, "{\"name\": \"Ada\x7f\"}", nil), 400, "bad-name"},
		{"C1 control", newJoinRequest(testSlug, `{"name": "Ada\u0085x"}`, nil), 400, "bad-name"},
		{"bidi override", newJoinRequest(testSlug, `{"name": "Ada\u202egpj.exe"}`, nil), 400, "bad-name"},
		{"line separator", newJoinRequest(testSlug, `{"name": "Ada\u2028Bob"}`, nil), 400, "bad-name"},
		{"invalid UTF-8", newJoinRequest(testSlug, "{\"name\": \"Ada\xff\"}", nil), 400, "bad-name"},
		{"unknown meeting", newJoinRequest("no-such-room", `{"name":"Ada"}`, nil), 404, "not-found"},
		{"invalid slug", newJoinRequest("Bad_Slug", `{"name":"Ada"}`, nil), 404, "not-found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := ts.do(tt.req)
			assertAPIError(t, rec, tt.status, tt.code)
			if tt.status == 405 && rec.Header().Get("Allow") != "POST" {
				t.Errorf("Allow = %q, want POST", rec.Header().Get("Allow"))
			}
			if strings.Contains(rec.Body.String(), "token") {
				t.Errorf("a refusal carries a token: %s", rec.Body)
			}
		})
	}
}

func TestMeetingAPI(t *testing.T) {
	ts := newTestServer(t, Config{}, nil)
	rec := ts.do(httptest.NewRequest("GET", "/api/v1/meetings/"+testSlug, nil))
	if rec.Code != 200 {
		t.Fatalf("status = %d; body %s", rec.Code, rec.Body)
	}
	if got, want := rec.Body.String(), `{"slug":"`+testSlug+`","title":"Weekly sync"}`+"\n"; got != want {
		t.Errorf("body = %s, want %s", got, want)
	}
	assertSecurityHeaders(t, rec.Header())

	rec = ts.do(httptest.NewRequest("HEAD", "/api/v1/meetings/"+testSlug, nil))
	if rec.Code != 200 {
		t.Errorf("HEAD status = %d", rec.Code)
	}

	for _, tt := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/api/v1/meetings/no-such-room", 404, "not-found"},
		{"GET", "/api/v1/meetings/Bad_Slug", 404, "not-found"},
		{"POST", "/api/v1/meetings/" + testSlug, 405, "method-not-allowed"},
		{"DELETE", "/api/v1/meetings/" + testSlug, 405, "method-not-allowed"},
		{"GET", "/api/v1/nothing-here", 404, "not-found"},
		{"GET", "/api/v2/meetings", 404, "not-found"},
	} {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			rec := ts.do(httptest.NewRequest(tt.method, tt.path, nil))
			assertAPIError(t, rec, tt.status, tt.code)
			if tt.status == 405 && rec.Header().Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow = %q", rec.Header().Get("Allow"))
			}
		})
	}
}

func TestJoinMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	ts := newTestServer(t, Config{}, func(o *Options) { o.Metrics = reg })
	// A second server on the same registry shares the counters.
	ts2 := newTestServer(t, Config{}, func(o *Options) { o.Metrics = reg })

	ts.do(newJoinRequest(testSlug, `{"name":"Ada"}`, nil))
	ts2.do(newJoinRequest(testSlug, `{"name":"Ada"}`, nil))
	ts.do(newJoinRequest(testSlug, `{"name":""}`, nil))
	ts.do(newJoinRequest("no-such-room", `{"name":"Ada"}`, nil))

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "salon_web_join_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			got[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
		}
	}
	want := map[string]float64{"ok": 2, "bad-name": 1, "not-found": 1}
	if !maps.Equal(got, want) {
		t.Errorf("salon_web_join_requests_total = %v, want %v", got, want)
	}
}

func assertAPIError(t *testing.T, rec *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status = %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("Content-Type = %q, want JSON", ct)
	}
	assertSecurityHeaders(t, rec.Header())
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("error body %q: %v", rec.Body, err)
	}
	if body.Error.Code != code {
		t.Errorf("error code = %q, want %q", body.Error.Code, code)
	}
	if body.Error.Message == "" {
		t.Error("error without a message")
	}
}

func TestJoinFloodFromOneAddress(t *testing.T) {
	ts := newTestServer(t, Config{}, nil)
	refused := 0
	for i := 0; i < 100; i++ {
		rec := ts.do(newJoinRequest(testSlug, `{"name": "Bot"}`, nil))
		switch rec.Code {
		case http.StatusOK:
		case http.StatusTooManyRequests:
			refused++
			assertAPIError(t, rec, http.StatusTooManyRequests, "rate-limited")
			if rec.Header().Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
		default:
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
	if refused == 0 {
		t.Fatal("100 join requests at once from one address were all served")
	}
	other := newJoinRequest(testSlug, `{"name": "Ada"}`, func(r *http.Request) { r.RemoteAddr = "198.51.100.7:4000" })
	if rec := ts.do(other); rec.Code != http.StatusOK {
		t.Fatalf("another address is refused too: %d", rec.Code)
	}
}
