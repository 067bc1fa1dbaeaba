package web

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/salonhq/salon/internal/meeting"
)

func FuzzJoinBody(f *testing.F) {
	for _, s := range []string{`{"name":"Ada"}`, `{"name":" Ada "}`, `{}`, `[]`, `{"name":"\u202e"}`, `{"name":1}`, "\xff", `{"name":"Ada"} {}`} {
		f.Add(s)
	}
	ts := newTestServer(f, Config{}, nil)
	f.Fuzz(func(t *testing.T, body string) {
		rec := ts.do(newJoinRequest(testSlug, body, nil))
		switch rec.Code {
		case http.StatusOK:
			var ans joinAnswer
			if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil {
				t.Fatal(err)
			}
			c, err := ts.tokens.VerifyJoin(ans.Token, testNow)
			if err != nil {
				t.Fatalf("issued token does not verify: %v", err)
			}
			checkName(t, c.Name)
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("status %d for body %q", rec.Code, body)
		}
	})
}

// checkName: a name the API accepted is already clean.
func checkName(t *testing.T, name string) {
	t.Helper()
	if again, err := meeting.CleanDisplayName(name); err != nil || again != name {
		t.Fatalf("accepted name %q is not clean: %q, %v", name, again, err)
	}
}

func FuzzOriginCheck(f *testing.F) {
	for _, s := range []string{"https://meet.example.org", "http://example.com", "null", "https://example.com.evil", "http://EXAMPLE.com:80", "https://meet.example.org:443/", ""} {
		f.Add(s)
	}
	ts := newTestServer(f, Config{PublicURL: "https://meet.example.org"}, nil)
	f.Fuzz(func(t *testing.T, o string) {
		req := newJoinRequest(testSlug, `{"name":"Ada"}`, withHeader("Origin", o))
		err := ts.checkOrigin(req)
		if err != nil || o == "" { // no Origin: not a browser script
			return
		}
		// Accepted: the origin names this host (example.com, httptest's
		// default) or the public URL's.
		got, ok := origin(o)
		if !ok {
			t.Fatalf("accepted unparsable origin %q", o)
		}
		_, host, _ := strings.Cut(got, "://")
		if host != "example.com" && got != "https://meet.example.org" {
			t.Fatalf("accepted origin %q (host %q)", o, host)
		}
	})
}
