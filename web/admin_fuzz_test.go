package web

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/salonhq/salon/mail"
)

// FuzzMailView: whatever a stored message holds, taking it apart neither
// panics nor yields text the pages and the JSON would mangle, and the
// admin page and API still answer.
func FuzzMailView(f *testing.F) {
	for _, e := range testMailEntries() {
		f.Add(e.Data)
	}
	for _, s := range []string{
		"",
		"Subject: =?utf-8?b?w6k=?= =?iso-8859-1?q?caf=E9?= =?x-unknown?q?x?=\r\n\r\n",
		"Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/html\r\n\r\n<a href=https://x.example/>x</a>\r\n--b--\r\n--a--\r\n",
		"Content-Type: text/html; charset=windows-1252\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<a href=3D\"http://x.example/=E9\">=\r\n",
		"Content-Type: message/rfc822\r\n\r\nContent-Type: text/plain\r\n\r\ninner",
	} {
		f.Add([]byte(s))
	}
	ms := newMailServer(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		v := parseMailView(raw)
		for _, s := range []string{v.Text, v.HTML, v.Calendar, v.Problem} {
			if !utf8.ValidString(s) {
				t.Fatalf("not UTF-8: %q", s)
			}
		}
		if len(v.Text) > maxPartBytes || len(v.HTML) > maxPartBytes || len(v.Calendar) > maxPartBytes || len(v.Links) > maxMailLinks {
			t.Fatalf("bounds exceeded: %d, %d, %d bytes, %d links", len(v.Text), len(v.HTML), len(v.Calendar), len(v.Links))
		}
		for _, h := range v.Headers {
			if !utf8.ValidString(h.Value) || len(h.Value) > maxHeaderValues+len("…") {
				t.Fatalf("header %q", h)
			}
		}
		for _, l := range v.Links {
			if !webURL(l) || strings.TrimSpace(l) != l {
				t.Fatalf("link %q", l)
			}
		}
		if v.HTML == "" && len(v.Links) > 0 {
			t.Fatal("links without an HTML part")
		}

		ms.mailbox.mu.Lock()
		ms.mailbox.entries = []mail.Entry{{Message: mail.Message{Subject: string(raw), Data: raw}, Seq: 1, State: mail.StateLocal}}
		ms.mailbox.mu.Unlock()
		if rec := ms.get("/admin/mail/1", "root"); rec.Code != http.StatusOK {
			t.Fatalf("entry page: %d\n%s", rec.Code, rec.Body)
		}
		if rec := ms.get("/admin/mail", "root"); rec.Code != http.StatusOK {
			t.Fatalf("list page: %d", rec.Code)
		}
		rec := ms.get("/api/v1/admin/mail/1", "root")
		var detail mailDetailJSON
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &detail) != nil {
			t.Fatalf("entry JSON: %d %s", rec.Code, rec.Body)
		}
		if detail.Text != v.Text || detail.HTML != v.HTML || len(detail.Links) != len(v.Links) {
			t.Fatal("the API and the view disagree")
		}
		html := ms.get("/admin/mail/1/html", "root")
		if (v.HTML != "") != (html.Code == http.StatusOK) {
			t.Fatalf("html route: %d with an HTML part of %d bytes", html.Code, len(v.HTML))
		}
	})
}
