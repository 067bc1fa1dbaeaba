package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/salonhq/salon/calendar"
	"github.com/salonhq/salon/internal/auth"
)

// fakeScheduler records what it is asked and answers with its knobs.
type fakeScheduler struct {
	got  []calendar.NewMeeting
	user []string
	err  error
}

func (f *fakeScheduler) Schedule(_ context.Context, u auth.User, m calendar.NewMeeting) (calendar.ScheduledMeeting, error) {
	f.got = append(f.got, m)
	f.user = append(f.user, u.Name)
	if f.err != nil {
		return calendar.ScheduledMeeting{}, f.err
	}
	return calendar.ScheduledMeeting{UID: "u1@salon", Calendar: "default", Object: "u1.ics", JoinURL: "https://meet.example.org/m/abcd-efgh-jkmn"}, nil
}

func TestScheduleAPI(t *testing.T) {
	const good = `{"title":"Review","start":"2026-12-15T10:00","end":"2026-12-15T11:00","timeZone":"Europe/Paris","attendees":["ada@example.org"]}`
	tests := []struct {
		name, user, origin, ctype, body string
		knob                            error
		status                          int
		code                            string
	}{
		{"scheduled", "bob", "", "application/json", good, nil, 201, ""},
		{"same origin", "bob", "http://example.com", "application/json", good, nil, 201, ""},
		{"not signed in", "", "", "application/json", good, nil, 401, ""},
		{"cross-site", "bob", "https://evil.example", "application/json", good, nil, 403, "cross-origin"},
		{"a form", "bob", "", "application/x-www-form-urlencoded", "title=x", nil, 415, "unsupported-media-type"},
		{"garbage", "bob", "", "application/json", `{"title":`, nil, 400, "bad-json"},
		{"unknown field", "bob", "", "application/json", `{"title":"x","bcc":"y"}`, nil, 400, "bad-json"},
		{"two objects", "bob", "", "application/json", good + good, nil, 400, "bad-json"},
		{"bad time", "bob", "", "application/json", strings.Replace(good, "2026-12-15T10:00", "tomorrow", 1), nil, 400, "bad-meeting"},
		{"refused", "bob", "", "application/json", good, &calendar.InvalidMeetingError{Msg: "give the meeting a title"}, 400, "bad-meeting"},
		{"store down", "bob", "", "application/json", good, errors.New("disk on fire"), 500, "internal"},
		{"too large", "bob", "", "application/json", `{"title":"` + strings.Repeat("x", 200<<10) + `"}`, nil, 413, "too-large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := &fakeScheduler{err: tt.knob}
			ts := newTestServer(t, Config{}, func(o *Options) { o.Scheduler = fs; o.Authenticate = fakeAuthenticate })
			req := httptest.NewRequest("POST", "/api/v1/meetings", strings.NewReader(tt.body))
			if tt.user != "" {
				req.SetBasicAuth(tt.user, "x")
			}
			req.Header.Set("Content-Type", tt.ctype)
			if tt.origin != "" {
				req.Header.Set("Origin", tt.origin)
			}
			rec := ts.do(req)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if tt.code != "" {
				var eb errorBody
				if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil || eb.Error.Code != tt.code {
					t.Errorf("error body %s, want code %s", rec.Body, tt.code)
				}
				if tt.status == 500 && strings.Contains(rec.Body.String(), "disk on fire") {
					t.Error("the cause reached the client")
				}
			}
			if tt.knob != nil {
				var ie *calendar.InvalidMeetingError
				if errors.As(tt.knob, &ie) && !strings.Contains(rec.Body.String(), ie.Msg) {
					t.Errorf("the refusal's reason is not shown: %s", rec.Body)
				}
			}
			if tt.status != 201 && tt.knob == nil && len(fs.got) != 0 {
				t.Errorf("a refused request reached the scheduler: %+v", fs.got)
			}
			if tt.status == 201 {
				var res scheduleResponse
				if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil || res.JoinURL == "" || res.Event != "/dav/calendars/bob/default/u1.ics" {
					t.Errorf("response %s", rec.Body)
				}
				m := fs.got[0]
				if fs.user[0] != "bob" || m.Title != "Review" || m.TimeZone != "Europe/Paris" || len(m.Attendees) != 1 ||
					!m.Start.Equal(time.Date(2026, 12, 15, 10, 0, 0, 0, time.UTC)) || m.End.Sub(m.Start) != time.Hour {
					t.Errorf("scheduler got %+v for %s", m, fs.user[0])
				}
			}
		})
	}
	// Without a scheduler the route does not exist.
	ts := newTestServer(t, Config{}, nil)
	if rec := ts.do(httptest.NewRequest("POST", "/api/v1/meetings", strings.NewReader(good))); rec.Code != http.StatusNotFound && rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("without a scheduler: %d", rec.Code)
	}
}
