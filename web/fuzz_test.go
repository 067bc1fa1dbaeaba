package web

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
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

func FuzzCleanName(f *testing.F) {
	for _, s := range []string{"Ada", "  Ada  ", "", "\u202eAda", "Ada\x00", strings.Repeat("é", 65), "👩‍💻"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		name, err := cleanName(raw)
		if err != nil {
			return
		}
		checkName(t, name)
		if again, err := cleanName(name); err != nil || again != name {
			t.Fatalf("cleanName is not idempotent on %q: %q, %v", name, again, err)
		}
	})
}

func checkName(t *testing.T, name string) {
	t.Helper()
	if name != strings.TrimSpace(name) {
		t.Fatalf("name %q is not trimmed", name)
	}
	if n := utf8.RuneCountInString(name); n < 1 || n > maxNameRunes || !utf8.ValidString(name) {
		t.Fatalf("name %q has %d characters or is not UTF-8", name, n)
	}
	for _, c := range name {
		if unicode.IsControl(c) || forbiddenInName(c) {
			t.Fatalf("name %q holds %U", name, c)
		}
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
