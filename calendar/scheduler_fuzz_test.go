package calendar_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/salonhq/salon/calendar"
	"github.com/salonhq/salon/internal/auth"
	"github.com/salonhq/salon/mail"
)

// FuzzHandleIMIP feeds arbitrary iTIP data, as an inbound e-mail would
// carry it, to the scheduler: it must never panic, and whatever it
// accepts or refuses, the organizer's event stays a valid object.
func FuzzHandleIMIP(f *testing.F) {
	p := newSchedParts(f)
	srv := httptest.NewServer(testAuth(p.handler))
	f.Cleanup(srv.Close)
	req, _ := http.NewRequest("PUT", srv.URL+"/dav/calendars/alice/default/fz.ics",
		strings.NewReader(meetingEvent("fuzz-1", "20300110T140000", 0, "carol@outside.example", "bob@example.com")))
	req.SetBasicAuth("alice", "x")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusCreated {
		f.Fatalf("seed event: %v %v", resp, err)
	}
	resp.Body.Close()
	seeds, _ := filepath.Glob(filepath.Join("testdata", "itip", "*.ics"))
	for _, s := range seeds {
		b, _ := os.ReadFile(s)
		f.Add(string(b), "carol@outside.example")
	}
	f.Add("BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:fuzz-1\r\nSEQUENCE:0\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:carol@outside.example\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", "carol@outside.example")
	f.Add("BEGIN:VCALENDAR\r\nMETHOD:COUNTER\r\nBEGIN:VEVENT\r\nUID:fuzz-1\r\nDTSTAMP:20290101T000000Z\r\nDTSTART:20300101T000000Z\r\nATTENDEE:mailto:carol@outside.example\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", "carol@outside.example")
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, data, from string) {
		in := &mail.Inbound{From: mail.Address{Email: from}, Calendar: []byte(data)}
		err := p.sched.HandleIMIP(ctx, in, from, []string{"alice@example.com"})
		var rej *mail.RejectError
		if err != nil && !errors.As(err, &rej) && !errors.Is(err, calendar.ErrPrecondition) {
			t.Fatalf("HandleIMIP: %v (neither a refusal nor a conflict)", err)
		}
		_, o, err := p.store.ObjectByUID(ctx, "alice", "fuzz-1")
		if err != nil {
			t.Fatalf("the organizer's event is gone: %v", err)
		}
		if _, err := p.sched.RSVP(ctx, auth.RSVPClaims{Organizer: "alice", UID: "fuzz-1", Attendee: "carol@outside.example"}); err != nil {
			t.Fatalf("the organizer's event no longer reads: %v\n%s", err, o.Data)
		}
	})
}
