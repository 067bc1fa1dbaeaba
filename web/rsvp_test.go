package web

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/salonhq/salon/calendar"
	"github.com/salonhq/salon/internal/auth"
)

// fakeRSVPs keeps one view per attendee of one event and records calls.
// err fails every call; respondErr fails Respond only.
type fakeRSVPs struct {
	mu         sync.Mutex
	views      map[auth.RSVPClaims]calendar.RSVPView // by claims without Expires
	err        error
	respondErr error
	rsvps      []auth.RSVPClaims
	responds   []rsvpCall
}

type rsvpCall struct {
	Claims   auth.RSVPClaims
	PartStat string
}

func claimsKey(c auth.RSVPClaims) auth.RSVPClaims {
	c.Expires = time.Time{}
	return c
}

func (f *fakeRSVPs) RSVP(_ context.Context, c auth.RSVPClaims) (calendar.RSVPView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rsvps = append(f.rsvps, c)
	if f.err != nil {
		return calendar.RSVPView{}, f.err
	}
	v, ok := f.views[claimsKey(c)]
	if !ok {
		return calendar.RSVPView{}, fmt.Errorf("attendee %s of %s: %w", c.Attendee, c.UID, calendar.ErrNotFound)
	}
	return v, nil
}

func (f *fakeRSVPs) Respond(_ context.Context, c auth.RSVPClaims, partstat string) (calendar.RSVPView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.responds = append(f.responds, rsvpCall{c, partstat})
	if f.err != nil {
		return calendar.RSVPView{}, f.err
	}
	if f.respondErr != nil {
		return calendar.RSVPView{}, f.respondErr
	}
	k := claimsKey(c)
	v, ok := f.views[k]
	if !ok {
		return calendar.RSVPView{}, calendar.ErrNotFound
	}
	v.PartStat = partstat
	f.views[k] = v
	return v, nil
}

func (f *fakeRSVPs) calls() ([]auth.RSVPClaims, []rsvpCall) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.rsvps), slices.Clone(f.responds)
}

var (
	paris     = mustLoadLocation("Europe/Paris")
	bobClaims = auth.RSVPClaims{Organizer: "ada", UID: "weekly-1@salon", Attendee: "bob@example.org", Expires: testNow.Add(30 * 24 * time.Hour)}
	bobView   = calendar.RSVPView{
		Summary:        "Weekly sync",
		OrganizerName:  "Ada Lovelace",
		OrganizerEmail: "ada@example.org",
		AttendeeEmail:  "bob@example.org",
		AttendeeName:   "Bob",
		Start:          time.Date(2026, 3, 2, 10, 0, 0, 0, paris),
		End:            time.Date(2026, 3, 2, 11, 0, 0, 0, paris),
		TimeZone:       "Europe/Paris",
		Recurring:      true,
		Location:       "Room 4",
		JoinURL:        "https://meet.example.org/m/k3fa-9qzx-m2wd",
		PartStat:       "NEEDS-ACTION",
		Lang:           "en",
	}
	carolClaims = auth.RSVPClaims{Organizer: "ada", UID: "weekly-1@salon", Attendee: "carol@example.org", Expires: testNow.Add(time.Hour)}
)

func mustLoadLocation(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// rsvpServer is a test server with RSVP pages: bob and carol are invited
// to ada's weekly sync, carol's copy in French.
type rsvpServer struct {
	*testServer
	rsvps *fakeRSVPs
}

func newRSVPServer(t testing.TB, cfg Config, edit func(*Options)) *rsvpServer {
	t.Helper()
	carol := bobView
	carol.AttendeeEmail, carol.AttendeeName, carol.Lang = "carol@example.org", "", "fr"
	f := &fakeRSVPs{views: map[auth.RSVPClaims]calendar.RSVPView{
		claimsKey(bobClaims):   bobView,
		claimsKey(carolClaims): carol,
	}}
	ts := newTestServer(t, cfg, func(o *Options) {
		o.RSVPs = f
		if edit != nil {
			edit(o)
		}
	})
	return &rsvpServer{testServer: ts, rsvps: f}
}

// token signs c with the test key.
func (rs *rsvpServer) token(t testing.TB, c auth.RSVPClaims) string {
	t.Helper()
	tok, err := rs.tokens.SignRSVP(c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func rsvpPost(path, body string, edit func(*http.Request)) *http.Request {
	req := httptest.NewRequest("POST", path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if edit != nil {
		edit(req)
	}
	return req
}

func TestRSVPPageShowsTheMeeting(t *testing.T) {
	rs := newRSVPServer(t, Config{}, nil)
	path := "/rsvp/" + rs.token(t, bobClaims)
	rec := rs.do(httptest.NewRequest("GET", path, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d; body %s", rec.Code, rec.Body)
	}
	body := rec.Body.String()
	for _, want := range []string{
		`<html lang="en">`,
		"<title>Weekly sync · salon</title>",
		`<h1 id="rsvp-summary">Weekly sync</h1>`,
		"Hello Bob, Ada Lovelace invites you to this meeting.",
		`<time datetime="2026-03-02T10:00:00&#43;01:00">Monday, March 2, 2026, 10:00 AM – 11:00 AM</time> <span class="zone">(Europe/Paris)</span>`,
		"This meeting repeats.",
		"<dd>Room 4</dd>",
		"<dd>Ada Lovelace &lt;ada@example.org&gt;</dd>",
		`<a class="btn primary" href="https://meet.example.org/m/k3fa-9qzx-m2wd" rel="noreferrer">Join the meeting</a>`,
		"Your answer: <strong>You have not answered yet.</strong>",
		`<form method="post" action="` + path + `" class="answers">`,
		`<button type="submit" name="partstat" value="ACCEPTED" class="btn">Accept</button>`,
		`<button type="submit" name="partstat" value="TENTATIVE" class="btn">Maybe</button>`,
		`<button type="submit" name="partstat" value="DECLINED" class="btn">Decline</button>`,
		`<link rel="stylesheet" href="/static/pages.css">`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q\n%s", want, body)
		}
	}
	for _, unwanted := range []string{"<script", "style=", "[missing", "Press "} {
		if strings.Contains(body, unwanted) {
			t.Errorf("page contains %q", unwanted)
		}
	}
	h := rec.Header()
	if h.Get("Content-Type") != "text/html; charset=utf-8" || h.Get("Cache-Control") != "no-store" ||
		h.Get("Referrer-Policy") != "same-origin" || h.Get("Content-Security-Policy") != contentSecurityPolicy {
		t.Errorf("headers = %v", h)
	}
	rsvps, responds := rs.rsvps.calls()
	if len(rsvps) != 1 || claimsKey(rsvps[0]) != claimsKey(bobClaims) || !rsvps[0].Expires.Equal(bobClaims.Expires.Truncate(time.Second)) {
		t.Errorf("RSVP calls = %+v, want bob's claims", rsvps)
	}
	if len(responds) != 0 {
		t.Errorf("a GET called Respond: %+v", responds)
	}

	head := rs.do(httptest.NewRequest("HEAD", path, nil))
	if head.Code != http.StatusOK || head.Body.Len() != 0 || head.Header().Get("Content-Length") != fmt.Sprint(rec.Body.Len()) {
		t.Errorf("HEAD = %d, %d bytes, Content-Length %s", head.Code, head.Body.Len(), head.Header().Get("Content-Length"))
	}
}

func TestRSVPPageInFrench(t *testing.T) {
	rs := newRSVPServer(t, Config{}, nil)
	rec := rs.do(httptest.NewRequest("GET", "/rsvp/"+rs.token(t, carolClaims)+"?partstat=tentative", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d; body %s", rec.Code, rec.Body)
	}
	body := rec.Body.String()
	for _, want := range []string{
		`<html lang="fr">`,
		"Bonjour carol@example.org, Ada Lovelace vous invite à cette réunion.",
		"lundi 2 mars 2026, 10 h 00 – 11 h 00</time>",
		"Cette réunion se répète.",
		"Rejoindre la réunion",
		"Votre réponse\u202f: <strong>Vous n’avez pas encore répondu.</strong>",
		">Accepter</button>", ">Décliner</button>",
		`value="TENTATIVE" class="btn primary chosen" autofocus>Peut-être</button>`,
		"Appuyez sur «\u202fPeut-être\u202f» pour confirmer",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q\n%s", want, body)
		}
	}
	if _, responds := rs.rsvps.calls(); len(responds) != 0 {
		t.Errorf("a GET with ?partstat called Respond: %+v", responds)
	}
}

func TestRSVPGetWithPartstatOnlyAsks(t *testing.T) {
	rs := newRSVPServer(t, Config{}, nil)
	path := "/rsvp/" + rs.token(t, bobClaims)
	for _, ps := range []string{"ACCEPTED", "accepted", "TENTATIVE", "DECLINED"} {
		t.Run(ps, func(t *testing.T) {
			rec := rs.do(httptest.NewRequest("GET", path+"?partstat="+ps, nil))
			if rec.Code != http.StatusOK {
				t.Fatalf("status = %d", rec.Code)
			}
			up := strings.ToUpper(ps)
			chosen := regexp.MustCompile(`value="(\w+)" class="btn primary chosen"`).FindAllStringSubmatch(rec.Body.String(), -1)
			if len(chosen) != 1 || chosen[0][1] != up {
				t.Errorf("highlighted buttons = %v, want %s", chosen, up)
			}
			if !strings.Contains(rec.Body.String(), catalog["en"]["confirm."+up]) {
				t.Error("no request to confirm")
			}
		})
	}
	if _, responds := rs.rsvps.calls(); len(responds) != 0 {
		t.Errorf("GETs called Respond: %+v", responds)
	}
}

func TestRSVPAnswer(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	rs := newRSVPServer(t, Config{PublicURL: "https://meet.example.org"}, func(o *Options) { o.Metrics = reg })
	path := "/rsvp/" + rs.token(t, bobClaims)

	tests := []struct {
		name, body string
		edit       func(*http.Request)
		want       string
		status     string
	}{
		{"accept", "partstat=ACCEPTED", nil, "ACCEPTED", "You are attending."},
		{"same origin", "partstat=DECLINED", withHeader("Origin", "http://example.com"), "DECLINED", "You are not attending."},
		{"public origin", "partstat=TENTATIVE", withHeader("Origin", "https://meet.example.org"), "TENTATIVE", "You might attend."},
		{"lower case", "partstat=accepted", nil, "ACCEPTED", "You are attending."},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := rs.do(rsvpPost(path, tt.body, tt.edit))
			if rec.Code != http.StatusOK {
				t.Fatalf("status = %d; body %s", rec.Code, rec.Body)
			}
			_, responds := rs.rsvps.calls()
			if len(responds) != i+1 {
				t.Fatalf("Respond called %d times after %d answers", len(responds), i+1)
			}
			got := responds[i]
			if claimsKey(got.Claims) != claimsKey(bobClaims) || got.PartStat != tt.want {
				t.Errorf("Respond(%+v, %q), want bob's claims and %q", got.Claims, got.PartStat, tt.want)
			}
			body := rec.Body.String()
			for _, want := range []string{
				"Thank you. Ada Lovelace now knows that you",
				"Your answer: <strong>" + tt.status + "</strong>",
				`class="btn current" aria-current="true">`,
				`href="https://meet.example.org/m/k3fa-9qzx-m2wd" rel="noreferrer">Join the meeting</a>`,
				"You can change your answer at any time",
			} {
				if !strings.Contains(body, want) {
					t.Errorf("confirmation lacks %q\n%s", want, body)
				}
			}
		})
	}
	got := counterValues(t, reg, "salon_rsvp_responses_total")
	want := map[string]float64{"ACCEPTED": 2, "TENTATIVE": 1, "DECLINED": 1}
	if !maps.Equal(got, want) {
		t.Errorf("salon_rsvp_responses_total = %v, want %v", got, want)
	}
}

// counterValues returns the values of a one-label counter vector.
func counterValues(t *testing.T, reg prometheus.Gatherer, name string) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			got[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
		}
	}
	return got
}

// TestRSVPTokenIsTheCredential: whoever holds a link answers for its
// attendee, and only for them; nothing in the request can widen it.
func TestRSVPTokenIsTheCredential(t *testing.T) {
	rs := newRSVPServer(t, Config{}, nil)
	carolPath := "/rsvp/" + rs.token(t, carolClaims)
	// Query and form fields naming someone else change nothing.
	rec := rs.do(rsvpPost(carolPath+"?attendee=bob@example.org&organizer=eve", "partstat=DECLINED&attendee=bob@example.org&uid=other", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d", rec.Code)
	}
	rsvps, responds := rs.rsvps.calls()
	if len(responds) != 1 || claimsKey(responds[0].Claims) != claimsKey(carolClaims) {
		t.Fatalf("Respond calls = %+v, want carol's claims only", responds)
	}
	for _, c := range rsvps {
		if claimsKey(c) != claimsKey(carolClaims) {
			t.Errorf("RSVP called with %+v", c)
		}
	}
	if v := rs.rsvps.views[claimsKey(bobClaims)]; v.PartStat != "NEEDS-ACTION" {
		t.Errorf("bob's answer changed to %s", v.PartStat)
	}

	// A token for an attendee or organizer the calendar does not know is
	// an invitation that no longer exists, whatever else it says.
	for _, c := range []auth.RSVPClaims{
		{Organizer: "eve", UID: bobClaims.UID, Attendee: bobClaims.Attendee, Expires: bobClaims.Expires},
		{Organizer: "ada", UID: bobClaims.UID, Attendee: "mallory@example.org", Expires: bobClaims.Expires},
	} {
		if rec := rs.do(rsvpPost("/rsvp/"+rs.token(t, c), "partstat=ACCEPTED", nil)); rec.Code != http.StatusGone {
			t.Errorf("token for %+v: status %d, want 410", c, rec.Code)
		}
	}
	if _, responds := rs.rsvps.calls(); len(responds) != 1 {
		t.Errorf("Respond called for unknown attendees: %+v", responds[1:])
	}
}

func TestRSVPRefused(t *testing.T) {
	forged, _ := auth.NewTokens([]byte("ffffffffffffffffffffffffffffffff")).SignRSVP(bobClaims)
	tokens := auth.NewTokens(testKey)
	good, _ := tokens.SignRSVP(bobClaims)
	join, _ := tokens.SignJoin(auth.JoinClaims{Room: testSlug, Name: "Bob", Expires: testNow.Add(time.Minute)})
	expired, _ := tokens.SignRSVP(auth.RSVPClaims{Organizer: "ada", UID: bobClaims.UID, Attendee: bobClaims.Attendee, Expires: testNow.Add(-time.Second)})
	body, sig, _ := strings.Cut(good, ".")
	tampered := body[:len(body)-2] + "AA." + sig
	cancelled := bobView
	cancelled.Cancelled = true

	tests := []struct {
		name       string
		req        *http.Request
		edit       func(*fakeRSVPs)
		status     int
		title      string
		lang       string
		back       bool // a link back to the invitation
		rsvpCalled bool
	}{
		{"forged", httptest.NewRequest("GET", "/rsvp/"+forged, nil), nil, 400, "This link is not valid", "en", false, false},
		{"forged POST", rsvpPost("/rsvp/"+forged, "partstat=ACCEPTED", nil), nil, 400, "This link is not valid", "en", false, false},
		{"tampered", httptest.NewRequest("GET", "/rsvp/"+tampered, nil), nil, 400, "This link is not valid", "en", false, false},
		{"garbage", httptest.NewRequest("GET", "/rsvp/not-a-token", nil), nil, 400, "This link is not valid", "en", false, false},
		{"join token", httptest.NewRequest("GET", "/rsvp/"+join, nil), nil, 400, "This link is not valid", "en", false, false},
		{"invalid, French browser", func() *http.Request {
			r := httptest.NewRequest("GET", "/rsvp/"+forged, nil)
			r.Header.Set("Accept-Language", "fr-CA,fr;q=0.9,en;q=0.5")
			return r
		}(), nil, 400, "Ce lien n’est pas valide", "fr", false, false},
		{"expired", httptest.NewRequest("GET", "/rsvp/"+expired, nil), nil, 410, "This link has expired", "en", false, false},
		{"expired POST", rsvpPost("/rsvp/"+expired, "partstat=ACCEPTED", nil), nil, 410, "This link has expired", "en", false, false},
		{"event gone", httptest.NewRequest("GET", "/rsvp/"+good, nil), func(f *fakeRSVPs) { f.err = fmt.Errorf("event: %w", calendar.ErrNotFound) }, 410, "This invitation no longer exists", "en", true, true},
		{"event gone POST", rsvpPost("/rsvp/"+good, "partstat=ACCEPTED", nil), func(f *fakeRSVPs) { f.views = nil }, 410, "This invitation no longer exists", "en", true, true},
		{"gone while answering", rsvpPost("/rsvp/"+good, "partstat=ACCEPTED", nil), func(f *fakeRSVPs) { f.respondErr = calendar.ErrNotFound }, 410, "This invitation no longer exists", "en", true, true},
		{"store down", httptest.NewRequest("GET", "/rsvp/"+good, nil), func(f *fakeRSVPs) { f.err = errors.New("connection refused") }, 500, "Something went wrong", "en", true, true},
		{"store down answering", rsvpPost("/rsvp/"+good, "partstat=ACCEPTED", nil), func(f *fakeRSVPs) { f.respondErr = errors.New("disk full") }, 500, "Something went wrong", "en", true, true},
		{"cancelled POST", rsvpPost("/rsvp/"+good, "partstat=ACCEPTED", nil), func(f *fakeRSVPs) { f.views[claimsKey(bobClaims)] = cancelled }, 409, "This meeting was cancelled", "en", true, true},
		{"no partstat", rsvpPost("/rsvp/"+good, "", nil), nil, 400, "This answer is not one salon knows", "en", true, false},
		{"NEEDS-ACTION", rsvpPost("/rsvp/"+good, "partstat=NEEDS-ACTION", nil), nil, 400, "This answer is not one salon knows", "en", true, false},
		{"DELEGATED", rsvpPost("/rsvp/"+good, "partstat=DELEGATED", nil), nil, 400, "This answer is not one salon knows", "en", true, false},
		{"partstat in the query only", rsvpPost("/rsvp/"+good+"?partstat=ACCEPTED", "", nil), nil, 400, "This answer is not one salon knows", "en", true, false},
		{"bad query partstat", httptest.NewRequest("GET", "/rsvp/"+good+"?partstat=yes", nil), nil, 400, "This answer is not one salon knows", "en", true, false},
		{"bad form", rsvpPost("/rsvp/"+good, "partstat=%zz", nil), nil, 400, "The answer could not be read", "en", true, false},
		{"huge form", rsvpPost("/rsvp/"+good, "partstat=ACCEPTED&x="+strings.Repeat("x", 2000), nil), nil, 400, "The answer could not be read", "en", true, false},
		{"other site", rsvpPost("/rsvp/"+good, "partstat=DECLINED", withHeader("Origin", "https://evil.example")), nil, 403, "This answer came from another site", "en", true, false},
		{"null origin", rsvpPost("/rsvp/"+good, "partstat=DECLINED", withHeader("Origin", "null")), nil, 403, "This answer came from another site", "en", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := newRSVPServer(t, Config{}, nil)
			if tt.edit != nil {
				tt.edit(rs.rsvps)
			}
			rec := rs.do(tt.req)
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.status, rec.Body)
			}
			body := rec.Body.String()
			if !strings.Contains(body, "<h1 id=\"error-title\">"+tt.title+"</h1>") || !strings.Contains(body, `<html lang="`+tt.lang+`">`) {
				t.Errorf("page lacks title %q in %s\n%s", tt.title, tt.lang, body)
			}
			if strings.Contains(body, "[missing") || strings.Contains(body, "<form") {
				t.Errorf("error page:\n%s", body)
			}
			if hasBack := strings.Contains(body, `href="/rsvp/`+good+`"`); hasBack != tt.back {
				t.Errorf("link back to the invitation: %v, want %v", hasBack, tt.back)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
			rsvps, responds := rs.rsvps.calls()
			if called := len(rsvps) > 0; called != tt.rsvpCalled {
				t.Errorf("RSVP called: %v, want %v", called, tt.rsvpCalled)
			}
			if tt.status != http.StatusGone && tt.status != http.StatusInternalServerError && len(responds) != 0 {
				t.Errorf("Respond called: %+v", responds)
			}
			if strings.Contains(rs.logs.String(), good) {
				t.Error("the token is in the log")
			}
		})
	}
}

func TestRSVPCancelled(t *testing.T) {
	rs := newRSVPServer(t, Config{}, nil)
	v := bobView
	v.Cancelled = true
	rs.rsvps.views[claimsKey(bobClaims)] = v
	rec := rs.do(httptest.NewRequest("GET", "/rsvp/"+rs.token(t, bobClaims)+"?partstat=ACCEPTED", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d", rec.Code)
	}
	body := rec.Body.String()
	if !strings.Contains(body, "Ada Lovelace cancelled this meeting: there is nothing to answer.") {
		t.Errorf("page does not say the meeting is cancelled:\n%s", body)
	}
	for _, unwanted := range []string{"<form", "Join the meeting", "Press Accept"} {
		if strings.Contains(body, unwanted) {
			t.Errorf("cancelled meeting's page has %q", unwanted)
		}
	}
}

func TestRSVPRoutes(t *testing.T) {
	rs := newRSVPServer(t, Config{}, nil)
	path := "/rsvp/" + rs.token(t, bobClaims)
	for _, tt := range []struct {
		method, path string
		status       int
	}{
		{"PUT", path, 405},
		{"DELETE", path, 405},
		{"GET", "/rsvp/", 404},
		{"GET", "/rsvp", 404},
		{"GET", path + "/extra", 404},
	} {
		if rec := rs.do(httptest.NewRequest(tt.method, tt.path, nil)); rec.Code != tt.status {
			t.Errorf("%s %s = %d, want %d", tt.method, tt.path, rec.Code, tt.status)
		}
	}
	// Without RSVPs there are no RSVP pages.
	plain := newTestServer(t, Config{}, nil)
	for _, method := range []string{"GET", "POST"} {
		rec := plain.do(httptest.NewRequest(method, path, nil))
		if rec.Code != http.StatusNotFound {
			t.Errorf("%s without RSVPs = %d, want 404", method, rec.Code)
		}
	}
}

func TestRSVPRateLimit(t *testing.T) {
	rs := newRSVPServer(t, Config{}, nil)
	path := "/rsvp/" + rs.token(t, bobClaims)
	limited := 0
	for range 100 {
		rec := rs.do(httptest.NewRequest("GET", path, nil))
		switch rec.Code {
		case http.StatusOK:
		case http.StatusTooManyRequests:
			limited++
			if rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), "Too many requests") {
				t.Fatalf("429 without Retry-After or page: %v\n%s", rec.Header(), rec.Body)
			}
		default:
			t.Fatalf("status %d", rec.Code)
		}
	}
	if limited == 0 {
		t.Fatal("100 requests at once from one address were all served")
	}
	other := httptest.NewRequest("GET", path, nil)
	other.RemoteAddr = "198.51.100.7:4000"
	if rec := rs.do(other); rec.Code != http.StatusOK {
		t.Errorf("another address is refused too: %d", rec.Code)
	}
}

// TestRSVPEscapes: whatever the organizer's client put in the event is
// shown as text, never run.
func TestRSVPEscapes(t *testing.T) {
	rs := newRSVPServer(t, Config{}, nil)
	const evil = `<script>alert(1)</script>"><img src=x onerror=alert(1)>`
	v := bobView
	v.Summary, v.Location, v.OrganizerName, v.AttendeeName = evil, evil, evil, evil
	v.JoinURL = "javascript:alert(1)"
	rs.rsvps.views[claimsKey(bobClaims)] = v
	path := "/rsvp/" + rs.token(t, bobClaims)
	for _, req := range []*http.Request{
		httptest.NewRequest("GET", path, nil),
		httptest.NewRequest("GET", path+"?partstat=ACCEPTED", nil),
		rsvpPost(path, "partstat=ACCEPTED", nil),
	} {
		rec := rs.do(req)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: status %d", req.Method, rec.Code)
		}
		body := rec.Body.String()
		if strings.Contains(body, "<script") || strings.Contains(body, "<img") || strings.Contains(body, "javascript:") {
			t.Errorf("%s: markup from the event reached the page:\n%s", req.Method, body)
		}
		if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("%s: the summary is not shown escaped", req.Method)
		}
	}
}

func TestFormatWhen(t *testing.T) {
	utcStart := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		v    calendar.RSVPView
		lang string
		want whenText
	}{
		{"timed, in its zone", bobView, "en",
			whenText{"Monday, March 2, 2026, 10:00 AM – 11:00 AM", "2026-03-02T10:00:00+01:00", "Europe/Paris"}},
		{"timed, French", bobView, "fr",
			whenText{"lundi 2 mars 2026, 10 h 00 – 11 h 00", "2026-03-02T10:00:00+01:00", "Europe/Paris"}},
		{"given in UTC, shown in its zone", calendar.RSVPView{Start: utcStart, End: utcStart.Add(90 * time.Minute), TimeZone: "Europe/Paris"}, "en",
			whenText{"Monday, March 2, 2026, 10:00 AM – 11:30 AM", "2026-03-02T10:00:00+01:00", "Europe/Paris"}},
		{"UTC", calendar.RSVPView{Start: utcStart, End: utcStart.Add(time.Hour)}, "en",
			whenText{"Monday, March 2, 2026, 9:00 AM – 10:00 AM", "2026-03-02T09:00:00Z", "UTC"}},
		{"floating", calendar.RSVPView{Start: time.Date(2026, 3, 2, 9, 0, 0, 0, time.Local), End: time.Date(2026, 3, 2, 9, 30, 0, 0, time.Local)}, "en",
			whenText{"Monday, March 2, 2026, 9:00 AM – 9:30 AM", time.Date(2026, 3, 2, 9, 0, 0, 0, time.Local).Format(time.RFC3339), ""}},
		{"across midnight", calendar.RSVPView{Start: time.Date(2026, 3, 1, 22, 0, 0, 0, paris), End: time.Date(2026, 3, 2, 1, 0, 0, 0, paris), TimeZone: "Europe/Paris"}, "fr",
			whenText{"dimanche 1er mars 2026, 22 h 00 – lundi 2 mars 2026, 01 h 00", "2026-03-01T22:00:00+01:00", "Europe/Paris"}},
		{"no end", calendar.RSVPView{Start: utcStart}, "en",
			whenText{"Monday, March 2, 2026, 9:00 AM", "2026-03-02T09:00:00Z", "UTC"}},
		{"all day", calendar.RSVPView{Start: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC), AllDay: true}, "en",
			whenText{"Monday, March 2, 2026 (all day)", "2026-03-02", ""}},
		{"all day, three days, French", calendar.RSVPView{Start: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC), AllDay: true}, "fr",
			whenText{"lundi 2 mars 2026 – mercredi 4 mars 2026 (toute la journée)", "2026-03-02", ""}},
		{"unknown zone name kept as a label", calendar.RSVPView{Start: time.Date(2026, 3, 2, 10, 0, 0, 0, paris), TimeZone: "Mars/Olympus_Mons"}, "en",
			whenText{"Monday, March 2, 2026, 10:00 AM", "2026-03-02T10:00:00+01:00", "Mars/Olympus_Mons"}},
		{"no date", calendar.RSVPView{}, "en", whenText{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := formatWhen(tt.v, tt.lang); got != tt.want {
				t.Errorf("formatWhen = %+v\nwant          %+v", got, tt.want)
			}
		})
	}
}

func TestCatalogComplete(t *testing.T) {
	en := slices.Sorted(maps.Keys(catalog["en"]))
	for lang, strs := range catalog {
		if got := slices.Sorted(maps.Keys(strs)); !slices.Equal(got, en) {
			t.Errorf("%s keys differ from en's: %v", lang, symmetricDifference(got, en))
		}
		for k, v := range strs {
			if strings.TrimSpace(v) == "" {
				t.Errorf("%s %s is empty", lang, k)
			}
		}
	}
}

func symmetricDifference(a, b []string) []string {
	var d []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			d = append(d, x)
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			d = append(d, x)
		}
	}
	return d
}

// TestPagesHaveEveryString renders every RSVP state in both languages and
// looks for strings missing from the catalog.
func TestPagesHaveEveryString(t *testing.T) {
	for _, lang := range []string{"en", "fr"} {
		for _, ps := range []string{"NEEDS-ACTION", "ACCEPTED", "TENTATIVE", "DECLINED", "DELEGATED", ""} {
			for _, q := range []string{"", "?partstat=ACCEPTED"} {
				rs := newRSVPServer(t, Config{}, nil)
				v := bobView
				v.Lang, v.PartStat = lang, ps
				rs.rsvps.views[claimsKey(bobClaims)] = v
				rec := rs.do(httptest.NewRequest("GET", "/rsvp/"+rs.token(t, bobClaims)+q, nil))
				if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), "[missing") {
					t.Errorf("%s %q %s: %d\n%s", lang, ps, q, rec.Code, rec.Body)
				}
			}
		}
	}
}

func TestPreferredLang(t *testing.T) {
	for _, tt := range []struct{ header, want string }{
		{"", "en"},
		{"fr", "fr"},
		{"fr-BE,en;q=0.5", "fr"},
		{"en-GB,fr;q=0.8", "en"},
		{"de-DE,fr;q=0.7", "fr"},
		{"de-DE", "en"},
		{"*", "en"},
		{"garbage;;;q=x", "en"},
		{strings.Repeat("fr,", 400), "en"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Accept-Language", tt.header)
		if got := preferredLang(r); got != tt.want {
			t.Errorf("preferredLang(%q) = %q, want %q", tt.header, got, tt.want)
		}
	}
}

// TestRSVPFormPostsWhereItCameFrom guards the wiring between page and
// handler: the form's action is the page's path, escaped as a URL.
func TestRSVPFormPostsWhereItCameFrom(t *testing.T) {
	rs := newRSVPServer(t, Config{}, nil)
	path := "/rsvp/" + rs.token(t, bobClaims)
	rec := rs.do(httptest.NewRequest("GET", path+"?partstat=DECLINED", nil))
	m := regexp.MustCompile(`<form method="post" action="([^"]+)"`).FindStringSubmatch(rec.Body.String())
	if m == nil {
		t.Fatalf("no form:\n%s", rec.Body)
	}
	u, err := url.Parse(m[1])
	if err != nil || u.Path != path || u.RawQuery != "" {
		t.Errorf("form action %q, want %q", m[1], path)
	}
	if rec := rs.do(rsvpPost(m[1], url.Values{"partstat": {"DECLINED"}}.Encode(), nil)); rec.Code != http.StatusOK {
		t.Errorf("posting the form: %d", rec.Code)
	}
}
