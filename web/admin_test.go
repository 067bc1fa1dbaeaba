package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/salonhq/salon/internal/auth"
	"github.com/salonhq/salon/internal/db"
	"github.com/salonhq/salon/mail"
)

// fakeMailbox keeps entries in memory, newest last. err fails every call.
type fakeMailbox struct {
	mu      sync.Mutex
	entries []mail.Entry
	err     error
	lists   []mail.ListOptions
}

func (f *fakeMailbox) List(_ context.Context, opt mail.ListOptions) ([]mail.Entry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists = append(f.lists, opt)
	if f.err != nil {
		return nil, f.err
	}
	var out []mail.Entry
	for _, e := range slices.Backward(f.entries) {
		if opt.Before > 0 && e.Seq >= opt.Before || opt.State != "" && e.State != opt.State ||
			opt.To != "" && !slices.Contains(e.To, strings.ToLower(opt.To)) {
			continue
		}
		e.Data = nil // List leaves the message out, as the outbox does
		out = append(out, e)
		if len(out) == opt.Limit {
			break
		}
	}
	return out, nil
}

func (f *fakeMailbox) Entry(_ context.Context, seq int64) (mail.Entry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return mail.Entry{}, f.err
	}
	for _, e := range f.entries {
		if e.Seq == seq {
			return e, nil
		}
	}
	return mail.Entry{}, fmt.Errorf("mail %d: %w", seq, mail.ErrNotFound)
}

func (f *fakeMailbox) lastList() mail.ListOptions {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lists[len(f.lists)-1]
}

// fakeAuthenticate stands for auth.BasicAuth: "root" is an administrator,
// "bob" is not, anything else gets the challenge.
func fakeAuthenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, _, _ := r.BasicAuth()
		switch name {
		case "root":
			next.ServeHTTP(w, r.WithContext(auth.WithUser(r.Context(), auth.User{Name: "root", Admin: true})))
		case "bob":
			next.ServeHTTP(w, r.WithContext(auth.WithUser(r.Context(), auth.User{Name: "bob"})))
		default:
			w.Header().Set("WWW-Authenticate", `Basic realm="salon"`)
			http.Error(w, "sign in", http.StatusUnauthorized)
		}
	})
}

var (
	mailCreated = time.Date(2026, 2, 23, 9, 0, 0, 0, time.UTC)
	// evilSubject is a subject an organizer could type.
	evilSubject = `<script>alert("subject")</script>`
)

// testMailEntries are five messages in every state; 2 is the invitation,
// 4 cannot be parsed, 5 has a hostile subject.
func testMailEntries() []mail.Entry {
	msg := func(seq int64, to string, state mail.State, subject string, data string) mail.Entry {
		e := mail.Entry{
			Message: mail.Message{
				ID: fmt.Sprintf("m%d@salon", seq), From: "salon@example.org", To: []string{to},
				Subject: subject, Method: "REQUEST", UID: "weekly-1@salon", Data: []byte(data),
			},
			Seq: seq, State: state, CreatedAt: mailCreated.Add(time.Duration(seq) * time.Minute),
		}
		switch state {
		case mail.StateSent, mail.StateLocal:
			e.SentAt = e.CreatedAt.Add(time.Second)
		case mail.StateQueued:
			e.Attempts, e.LastError, e.NextAttempt = 2, "451 try later", e.CreatedAt.Add(time.Hour)
		case mail.StateFailed:
			e.Attempts, e.LastError = 1, "550 no such user"
		}
		return e
	}
	return []mail.Entry{
		msg(1, "carol@example.org", mail.StateSent, "Hello", "Subject: Hello\r\n\r\nhi"),
		msg(2, "bob@example.org", mail.StateLocal, "Invitation : Réunion <hebdo>", invitationMail),
		msg(3, "bob@example.org", mail.StateQueued, "Update", "Subject: Update\r\n\r\nchanged"),
		msg(4, "dave@example.org", mail.StateFailed, "Broken", "this is not a message"),
		msg(5, "eve@example.org", mail.StateLocal, evilSubject,
			"Subject: "+evilSubject+"\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n"+evilSubject+
				"\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>"+evilSubject+"</p><a href=\"https://x.example/\">x</a>\r\n--b--\r\n"),
	}
}

type mailServer struct {
	*testServer
	mailbox *fakeMailbox
}

func newMailServer(t testing.TB) *mailServer {
	t.Helper()
	mb := &fakeMailbox{entries: testMailEntries()}
	ts := newTestServer(t, Config{}, func(o *Options) {
		o.Mailbox = mb
		o.Authenticate = fakeAuthenticate
	})
	return &mailServer{testServer: ts, mailbox: mb}
}

// get requests path as user ("" for no credentials).
func (ms *mailServer) get(path, user string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", path, nil)
	if user != "" {
		req.SetBasicAuth(user, "password")
	}
	return ms.do(req)
}

var adminRoutes = []struct {
	path string
	api  bool
}{
	{"/api/v1/admin/mail", true},
	{"/api/v1/admin/mail/2", true},
	{"/admin/mail", false},
	{"/admin/mail/2", false},
	{"/admin/mail/2/html", false},
	{"/admin/mail/2/raw", false},
}

func TestAdminAccess(t *testing.T) {
	ms := newMailServer(t)
	for _, r := range adminRoutes {
		t.Run(r.path, func(t *testing.T) {
			if rec := ms.get(r.path, ""); rec.Code != http.StatusUnauthorized || rec.Header().Get("WWW-Authenticate") == "" {
				t.Errorf("no credentials: %d, challenge %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
			}
			rec := ms.get(r.path, "bob")
			if r.api {
				assertAPIError(t, rec, http.StatusForbidden, "forbidden")
			} else if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "Administrators only") {
				t.Errorf("non-admin: %d\n%s", rec.Code, rec.Body)
			}
			if rec.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("non-admin answer may be cached: %q", rec.Header().Get("Cache-Control"))
			}
			if strings.Contains(rec.Body.String(), "bob@example.org") {
				t.Error("the refusal shows mail")
			}
			rec = ms.get(r.path, "root")
			if rec.Code != http.StatusOK {
				t.Errorf("admin: %d\n%s", rec.Code, rec.Body)
			}
			if rec.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("mail may be cached: %q", rec.Header().Get("Cache-Control"))
			}
			// Only GET and HEAD, and authentication comes first.
			post := httptest.NewRequest("POST", r.path, nil)
			if rec := ms.do(post); rec.Code != http.StatusUnauthorized {
				t.Errorf("POST without credentials: %d", rec.Code)
			}
			post.SetBasicAuth("root", "password")
			if rec := ms.do(post); rec.Code != http.StatusMethodNotAllowed {
				t.Errorf("POST as admin: %d", rec.Code)
			}
		})
	}
	// Authenticate that forgets the user is a wiring mistake: refused, logged.
	ts := newTestServer(t, Config{}, func(o *Options) {
		o.Mailbox = &fakeMailbox{}
		o.Authenticate = func(h http.Handler) http.Handler { return h }
	})
	if rec := ts.do(httptest.NewRequest("GET", "/admin/mail", nil)); rec.Code != http.StatusForbidden {
		t.Errorf("no user in the context: %d", rec.Code)
	}
	if !strings.Contains(ts.logs.String(), "without a user") {
		t.Errorf("log: %s", ts.logs)
	}
}

func TestAdminRoutesNeedAMailbox(t *testing.T) {
	ts := newTestServer(t, Config{}, func(o *Options) { o.Authenticate = fakeAuthenticate })
	assertAPIError(t, ts.do(httptest.NewRequest("GET", "/api/v1/admin/mail", nil)), http.StatusNotFound, "not-found")
	for _, p := range []string{"/admin/mail", "/admin/mail/1", "/admin/mail/1/raw"} {
		if rec := ts.do(httptest.NewRequest("GET", p, nil)); rec.Code != http.StatusNotFound {
			t.Errorf("%s without a mailbox: %d", p, rec.Code)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("New with a Mailbox and no Authenticate did not panic")
		}
	}()
	newTestServer(t, Config{}, func(o *Options) { o.Mailbox = &fakeMailbox{} })
}

func TestAdminMailListJSON(t *testing.T) {
	ms := newMailServer(t)
	rec := ms.get("/api/v1/admin/mail?limit=2", "root")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("%d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	// The exact shape: scripts read these names.
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	if keys := slices.Sorted(maps.Keys(raw)); !slices.Equal(keys, []string{"messages", "next_before"}) {
		t.Errorf("keys = %v", keys)
	}
	var msgs []map[string]any
	if err := json.Unmarshal(raw["messages"], &msgs); err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want 2", len(msgs))
	}
	wantKeys := []string{"attempts", "created_at", "from", "id", "last_error", "method", "next_attempt", "sent_at", "seq", "state", "subject", "to", "uid"}
	for _, m := range msgs {
		if keys := slices.Sorted(maps.Keys(m)); !slices.Equal(keys, wantKeys) {
			t.Errorf("message keys = %v\nwant %v", keys, wantKeys)
		}
	}
	newest := msgs[0]
	if newest["seq"] != 5.0 || newest["subject"] != evilSubject || newest["state"] != "local" ||
		newest["created_at"] != "2026-02-23T09:05:00Z" || newest["sent_at"] != "2026-02-23T09:05:01Z" || newest["next_attempt"] != nil ||
		!slices.Equal(newest["to"].([]any), []any{"eve@example.org"}) || newest["uid"] != "weekly-1@salon" || newest["method"] != "REQUEST" ||
		newest["id"] != "m5@salon" || newest["from"] != "salon@example.org" || newest["attempts"] != 0.0 || newest["last_error"] != "" {
		t.Errorf("newest = %v", newest)
	}
	if strings.Contains(rec.Body.String(), "<script>") {
		t.Error("JSON carries raw <script>; encoding/json should escape it")
	}
	if string(raw["next_before"]) != "4" {
		t.Errorf("next_before = %s, want 4", raw["next_before"])
	}
	if got := ms.mailbox.lastList(); got.Limit != 3 {
		t.Errorf("asked the mailbox for %d, want limit+1", got.Limit)
	}

	// Follow the pages to the end.
	var seqs []float64
	next := "/api/v1/admin/mail?limit=2"
	for next != "" {
		var page struct {
			Messages   []map[string]any `json:"messages"`
			NextBefore *int64           `json:"next_before"`
		}
		rec := ms.get(next, "root")
		if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
			t.Fatal(err)
		}
		for _, m := range page.Messages {
			seqs = append(seqs, m["seq"].(float64))
		}
		next = ""
		if page.NextBefore != nil {
			next = fmt.Sprintf("/api/v1/admin/mail?limit=2&before=%d", *page.NextBefore)
		}
	}
	if !slices.Equal(seqs, []float64{5, 4, 3, 2, 1}) {
		t.Errorf("paged through %v", seqs)
	}

	tests := []struct {
		query string
		want  mail.ListOptions
		seqs  []float64
	}{
		{"", mail.ListOptions{Limit: defaultMailLimit + 1}, []float64{5, 4, 3, 2, 1}},
		{"?state=queued", mail.ListOptions{Limit: defaultMailLimit + 1, State: mail.StateQueued}, []float64{3}},
		{"?to=BOB@example.org&before=3", mail.ListOptions{Limit: defaultMailLimit + 1, Before: 3, To: "BOB@example.org"}, []float64{2}},
		{"?limit=200&state=failed", mail.ListOptions{Limit: 201, State: mail.StateFailed}, []float64{4}},
		{"?to=nobody@example.org", mail.ListOptions{Limit: defaultMailLimit + 1, To: "nobody@example.org"}, nil},
	}
	for _, tt := range tests {
		rec := ms.get("/api/v1/admin/mail"+tt.query, "root")
		var page struct {
			Messages   []struct{ Seq float64 } `json:"messages"`
			NextBefore *int64                  `json:"next_before"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil || rec.Code != 200 {
			t.Fatalf("%s: %d %v", tt.query, rec.Code, err)
		}
		var got []float64
		for _, m := range page.Messages {
			got = append(got, m.Seq)
		}
		if !slices.Equal(got, tt.seqs) || page.NextBefore != nil || ms.mailbox.lastList() != tt.want {
			t.Errorf("%s: seqs %v next %v, asked %+v; want %v, %+v", tt.query, got, page.NextBefore, ms.mailbox.lastList(), tt.seqs, tt.want)
		}
		if page.Messages == nil {
			t.Errorf("%s: messages is null, want []", tt.query)
		}
	}
}

func TestAdminMailQueryRefused(t *testing.T) {
	ms := newMailServer(t)
	for _, q := range []string{"limit=0", "limit=201", "limit=x", "limit=-1", "before=0", "before=-5", "before=x",
		"state=bogus", "state=QUEUED", "to=nobody", "to=a%20b@example.org", "to=" + strings.Repeat("a", 250) + "@example.org"} {
		assertAPIError(t, ms.get("/api/v1/admin/mail?"+q, "root"), http.StatusBadRequest, "bad-query")
		if rec := ms.get("/admin/mail?"+q, "root"); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "This filter is not valid") {
			t.Errorf("page ?%s: %d", q, rec.Code)
		}
	}
}

func TestAdminMailEntryJSON(t *testing.T) {
	ms := newMailServer(t)
	rec := ms.get("/api/v1/admin/mail/2", "root")
	if rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	var got map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	wantKeys := []string{"attempts", "calendar", "created_at", "from", "html", "id", "last_error", "links", "method",
		"next_attempt", "raw", "sent_at", "seq", "state", "subject", "text", "to", "uid"}
	if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, wantKeys) {
		t.Errorf("keys = %v\nwant %v", keys, wantKeys)
	}
	if got["seq"] != 2.0 || got["raw"] != invitationMail || !strings.Contains(got["text"].(string), "Bonjour Bob") ||
		!strings.Contains(got["html"].(string), "<p>Réunion</p>") || !strings.HasPrefix(got["calendar"].(string), "BEGIN:VCALENDAR") {
		t.Errorf("entry = %v", got)
	}
	links := got["links"].([]any)
	if len(links) != 4 || links[0] != "https://meet.example.org/m/k3fa-9qzx-m2wd" || links[1] != "https://meet.example.org/rsvp/tok?partstat=ACCEPTED&x=1" {
		t.Errorf("links = %v", links)
	}

	// A message that cannot be parsed still answers, with what there is.
	rec = ms.get("/api/v1/admin/mail/4", "root")
	got = nil
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != 200 {
		t.Fatalf("%d %v", rec.Code, err)
	}
	if got["raw"] != "this is not a message" || got["parse_error"] == "" || got["text"] != "" || len(got["links"].([]any)) != 0 {
		t.Errorf("unparsable entry = %v", got)
	}

	for _, p := range []string{"/api/v1/admin/mail/99", "/api/v1/admin/mail/0", "/api/v1/admin/mail/-1", "/api/v1/admin/mail/x", "/api/v1/admin/mail/99999999999999999999"} {
		assertAPIError(t, ms.get(p, "root"), http.StatusNotFound, "not-found")
	}
	ms.mailbox.err = errors.New("database is locked")
	assertAPIError(t, ms.get("/api/v1/admin/mail/2", "root"), http.StatusInternalServerError, "internal")
	assertAPIError(t, ms.get("/api/v1/admin/mail", "root"), http.StatusInternalServerError, "internal")
	if strings.Contains(ms.logs.String(), "database is locked") == false {
		t.Error("the cause is not logged")
	}
}

func TestAdminMailPages(t *testing.T) {
	ms := newMailServer(t)
	rec := ms.get("/admin/mail?limit=4", "root")
	if rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	body := rec.Body.String()
	for _, want := range []string{
		"<h1>Outgoing mail</h1>",
		`<a href="/admin/mail/5">&lt;script&gt;alert(&#34;subject&#34;)&lt;/script&gt;</a>`,
		`<a href="/admin/mail/2">Invitation : Réunion &lt;hebdo&gt;</a>`,
		`<span class="badge state-local">local</span>`,
		`<span class="badge state-queued">queued</span>`,
		`<span class="badge state-failed">failed</span>`,
		`<td class="error-text">550 no such user</td>`,
		"2026-02-23 09:05:00 UTC",
		`<a class="btn" href="/admin/mail?before=2&amp;limit=4" rel="next">Older messages</a>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("list lacks %q\n%s", want, body)
		}
	}
	if strings.Contains(body, "<script") || strings.Contains(body, "[missing") || strings.Contains(body, "Newest messages") {
		t.Errorf("list page:\n%s", body)
	}
	// Newest first; the second page links back to the first, keeping the filter.
	if i, j := strings.Index(body, `href="/admin/mail/5"`), strings.Index(body, `href="/admin/mail/2"`); i < 0 || j < i {
		t.Error("not newest first")
	}
	body = ms.get("/admin/mail?before=2&state=sent", "root").Body.String()
	if !strings.Contains(body, `href="/admin/mail/1"`) || !strings.Contains(body, `<a class="btn" href="/admin/mail?state=sent">Newest messages</a>`) ||
		!strings.Contains(body, `<option value="sent" selected>`) {
		t.Errorf("second page:\n%s", body)
	}
	if body := ms.get("/admin/mail?state=queued&to=nobody@example.org", "root").Body.String(); !strings.Contains(body, "No messages.") {
		t.Errorf("empty list:\n%s", body)
	}

	fr := httptest.NewRequest("GET", "/admin/mail", nil)
	fr.SetBasicAuth("root", "x")
	fr.Header.Set("Accept-Language", "fr-FR,fr;q=0.9")
	if body := ms.do(fr).Body.String(); !strings.Contains(body, "<h1>Courrier sortant</h1>") || !strings.Contains(body, `<html lang="fr">`) || !strings.Contains(body, "en attente") {
		t.Errorf("French list:\n%s", body)
	}
}

func TestAdminMailEntryPage(t *testing.T) {
	ms := newMailServer(t)
	rec := ms.get("/admin/mail/2", "root")
	if rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	body := rec.Body.String()
	for _, want := range []string{
		"<h1>Invitation : Réunion &lt;hebdo&gt;</h1>",
		`<iframe class="mail-html" src="/admin/mail/2/html" sandbox="allow-popups allow-popups-to-escape-sandbox allow-top-navigation-by-user-activation" referrerpolicy="no-referrer"`,
		"<dt>Subject</dt><dd>Invitation\u00a0: Réunion &lt;hebdo&gt;</dd>",
		"<dt>From</dt><dd>&#34;Ada Lovelace&#34; &lt;ada@example.org&gt;</dd>",
		"<pre>Bonjour Bob,\r\nRépondre : https://meet.example.org/rsvp/tok?partstat=ACCEPTED</pre>",
		"<pre>BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR</pre>",
		`<li><a href="https://meet.example.org/m/k3fa-9qzx-m2wd" target="_blank" rel="noopener noreferrer">`,
		`<a class="btn" href="/admin/mail/2/raw" download>Download the raw message</a>`,
		`<span class="badge state-local">local</span>`,
		"<dt>Sent</dt><dd>2026-02-23 09:02:01 UTC</dd>",
		"<details>",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("entry page lacks %q\n%s", want, body)
		}
	}
	if strings.Contains(body, "[missing") || strings.Contains(body, "Next attempt") {
		t.Errorf("entry page:\n%s", body)
	}
	if body := ms.get("/admin/mail/3", "root").Body.String(); !strings.Contains(body, "<dt>Next attempt</dt><dd>2026-02-23 10:03:00 UTC</dd>") ||
		!strings.Contains(body, "451 try later") || strings.Contains(body, "<iframe") {
		t.Errorf("queued entry:\n%s", body)
	}

	// Unparsable: the page says so and shows the raw message, opened.
	rec = ms.get("/admin/mail/4", "root")
	body = rec.Body.String()
	if rec.Code != 200 || !strings.Contains(body, "could not be read entirely") || !strings.Contains(body, "<details open>") ||
		!strings.Contains(body, "<pre>this is not a message</pre>") {
		t.Errorf("unparsable entry: %d\n%s", rec.Code, body)
	}

	// Hostile content is text on the page; its HTML only runs in the frame.
	body = ms.get("/admin/mail/5", "root").Body.String()
	if strings.Contains(body, "<script") || !strings.Contains(body, "&lt;script&gt;alert(&#34;subject&#34;)&lt;/script&gt;") {
		t.Errorf("hostile entry:\n%s", body)
	}

	for _, p := range []string{"/admin/mail/99", "/admin/mail/x", "/admin/mail/99/html", "/admin/mail/99/raw", "/admin/mail/1/html"} {
		rec := ms.get(p, "root")
		if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "No such message") || !strings.Contains(rec.Body.String(), `href="/admin/mail"`) {
			t.Errorf("%s: %d\n%s", p, rec.Code, rec.Body)
		}
	}
	ms.mailbox.err = errors.New("boom")
	if rec := ms.get("/admin/mail/2", "root"); rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "boom") {
		t.Errorf("store failure: %d\n%s", rec.Code, rec.Body)
	}
}

func TestAdminMailHTML(t *testing.T) {
	ms := newMailServer(t)
	rec := ms.get("/admin/mail/5/html", "root")
	if rec.Code != http.StatusOK {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	h := rec.Header()
	want := "sandbox allow-popups allow-popups-to-escape-sandbox allow-top-navigation-by-user-activation; default-src 'none'; style-src 'unsafe-inline'; img-src data:"
	if got := h.Values("Content-Security-Policy"); len(got) != 1 || got[0] != want {
		t.Errorf("CSP = %q, want %q", got, want)
	}
	if h.Get("X-Frame-Options") != "SAMEORIGIN" || h.Get("Content-Type") != "text/html; charset=utf-8" ||
		h.Get("Cache-Control") != "no-store" || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("headers = %v", h)
	}
	// The message's markup is served as it is (the sandbox holds it), after
	// a <base> that opens links in a new tab.
	if body := rec.Body.String(); !strings.HasPrefix(body, `<!doctype html><base target="_blank"><p><script>`) {
		t.Errorf("body = %q", body)
	}
}

func TestAdminMailRaw(t *testing.T) {
	ms := newMailServer(t)
	rec := ms.get("/admin/mail/2/raw", "root")
	if rec.Code != http.StatusOK || rec.Body.String() != invitationMail {
		t.Fatalf("%d, %d bytes", rec.Code, rec.Body.Len())
	}
	if h := rec.Header(); h.Get("Content-Type") != "message/rfc822" || h.Get("Content-Disposition") != `attachment; filename="salon-mail-2.eml"` {
		t.Errorf("headers = %v", h)
	}
	head := httptest.NewRequest("HEAD", "/admin/mail/2/raw", nil)
	head.SetBasicAuth("root", "x")
	if rec := ms.do(head); rec.Code != 200 || rec.Body.Len() != 0 || rec.Header().Get("Content-Length") != fmt.Sprint(len(invitationMail)) {
		t.Errorf("HEAD: %d, %d bytes, Content-Length %s", rec.Code, rec.Body.Len(), rec.Header().Get("Content-Length"))
	}
}

// TestAdminWithBasicAuth wires the admin pages as cmd/salon does, with
// auth.BasicAuth in front of a real user store.
func TestAdminWithBasicAuth(t *testing.T) {
	ctx := context.Background()
	d, err := db.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	users := auth.NewUsers(d, auth.UsersOptions{})
	if err := users.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, u := range []auth.User{{Name: "root", Email: "root@example.org", Admin: true}, {Name: "bob", Email: "bob@example.org"}} {
		if _, err := users.Create(ctx, u, "password1"); err != nil {
			t.Fatal(err)
		}
	}
	ts := newTestServer(t, Config{}, func(o *Options) {
		o.Mailbox = &fakeMailbox{entries: testMailEntries()}
		o.Authenticate = func(h http.Handler) http.Handler { return auth.BasicAuth(users, "salon", nil, h) }
	})
	for _, tt := range []struct {
		user, password string
		status         int
	}{
		{"", "", http.StatusUnauthorized},
		{"root", "wrong password", http.StatusUnauthorized},
		{"bob", "password1", http.StatusForbidden},
		{"root", "password1", http.StatusOK},
	} {
		req := httptest.NewRequest("GET", "/api/v1/admin/mail", nil)
		if tt.user != "" {
			req.SetBasicAuth(tt.user, tt.password)
		}
		if rec := ts.do(req); rec.Code != tt.status {
			t.Errorf("%s/%s: %d, want %d", tt.user, tt.password, rec.Code, tt.status)
		}
	}
}
