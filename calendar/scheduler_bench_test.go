package calendar_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/salonhq/salon/calendar"
	"github.com/salonhq/salon/calendar/sqlstore"
	"github.com/salonhq/salon/internal/auth"
	"github.com/salonhq/salon/internal/db"
	"github.com/salonhq/salon/internal/meeting"
	"github.com/salonhq/salon/mail"
)

// countingSink is a local SMTP server that counts accepted messages.
type countingSink struct{ n atomic.Int64 }

type countingSession struct{ sink *countingSink }

func (s countingSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s countingSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s countingSession) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	s.sink.n.Add(1)
	return nil
}
func (s countingSession) Reset()        {}
func (s countingSession) Logout() error { return nil }

// BenchmarkSaveWith50Attendees measures the goal: an organizer
// saves one event with 50 outside attendees, and the time until a local
// SMTP server has accepted all 50 invitations (ms/50-accepted). It covers
// the PUT (meeting room, 50 invitations composed, queued in the same
// transaction) and the outbox worker's delivery.
func BenchmarkSaveWith50Attendees(b *testing.B) {
	ctx := context.Background()
	sink := &countingSink{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return countingSession{sink}, nil }))
	srv.Domain = "sink.test"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()

	d, err := db.Open(ctx, "", b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	relay, err := mail.ParseRelay("smtp://" + l.Addr().String() + "?tls=none")
	if err != nil {
		b.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	outbox := mail.NewOutbox(d, mail.OutboxConfig{Relay: relay, Hostname: "bench.test"}, mail.OutboxOptions{Logger: quiet})
	if err := outbox.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = outbox.Run(runCtx) }()
	defer func() { stop(); <-done }()
	st := sqlstore.New(d, sqlstore.Options{Outbox: outbox})
	meetings := meeting.NewStore(d)
	for _, m := range []interface{ Migrate(context.Context) error }{st, meetings} {
		if err := m.Migrate(ctx); err != nil {
			b.Fatal(err)
		}
	}
	if err := st.CreateCalendar(ctx, &calendar.Calendar{Owner: "alice", Name: "default", Components: []string{"VEVENT"}}); err != nil {
		b.Fatal(err)
	}
	sched := calendar.NewScheduler(calendar.SchedulerConfig{PublicURL: publicURL}, calendar.SchedulerOptions{
		Store: st, Directory: users, Meetings: meetings, Logger: quiet,
		Composer: mail.NewComposer(mail.ComposerConfig{From: mail.Address{Email: "salon@meet.example.org"}, Domain: "meet.example.org"}, mail.ComposerOptions{}),
		Tokens:   auth.NewTokens(bytes.Repeat([]byte{7}, 32)),
	})
	h := calendar.NewHandler(calendar.Config{}, calendar.Options{Store: st, Directory: users, Scheduler: sched, Logger: quiet})
	hs := httptest.NewServer(testAuth(h))
	defer hs.Close()

	var atts []string
	for i := range 50 {
		atts = append(atts, fmt.Sprintf("guest%02d@outside.example", i))
	}
	start := time.Now().UTC().AddDate(0, 1, 0).Format("20060102T150405")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		want := sink.n.Load() + 50
		body := meetingEvent(fmt.Sprintf("bench-%d", i), start, 0, atts...)
		req, _ := http.NewRequest("PUT", hs.URL+fmt.Sprintf("/dav/calendars/alice/default/bench-%d.ics", i), strings.NewReader(body))
		req.SetBasicAuth("alice", "x")
		req.Header.Set("Content-Type", "text/calendar")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			b.Fatalf("PUT: %d", resp.StatusCode)
		}
		deadline := time.Now().Add(time.Minute)
		for sink.n.Load() < want {
			if time.Now().After(deadline) {
				b.Fatalf("only %d of %d messages accepted after a minute", sink.n.Load(), want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/50-accepted")
}
