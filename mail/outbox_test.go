package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/salonhq/salon/internal/db"
	"github.com/salonhq/salon/internal/testpg"
)

// waitLong bounds every wait for the outbox: far beyond what a delivery
// takes, even under the race detector.
const waitLong = 20 * time.Second

// engine opens a fresh database of one kind.
type engine struct {
	name string
	open func(tb testing.TB) *db.DB
}

var engines = []engine{
	{"sqlite", openSQLiteDB},
	{"postgres", openPostgresDB},
}

func openSQLiteDB(tb testing.TB) *db.DB {
	tb.Helper()
	d, err := db.Open(context.Background(), "", tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { d.Close() })
	return d
}

func openPostgresDB(tb testing.TB) *db.DB {
	tb.Helper()
	return openDSN(tb, testpg.Start(tb))
}

func openDSN(tb testing.TB, dsn string) *db.DB {
	tb.Helper()
	d, err := db.Open(context.Background(), dsn, "")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { d.Close() })
	if d.Dialect != db.Postgres {
		tb.Fatalf("testpg gave a %s database", d.Dialect)
	}
	return d
}

// testOptions are quick: a failed attempt is retried after 20 ms. The poll
// interval stays long, so that tests see Wake and due times at work.
func testOptions(tb testing.TB) OutboxOptions {
	return OutboxOptions{
		Logger:    slog.New(slog.NewTextHandler(tb.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
		TLSConfig: testClientTLS(tb),
		Backoff:   func(int) time.Duration { return 20 * time.Millisecond },
	}
}

// newOutbox makes and migrates an Outbox on d.
func newOutbox(tb testing.TB, d *db.DB, cfg OutboxConfig, opts OutboxOptions) *Outbox {
	tb.Helper()
	if cfg.Hostname == "" {
		cfg.Hostname = "salon.test"
	}
	o := NewOutbox(d, cfg, opts)
	if err := o.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return o
}

// run starts o's worker and returns a function that stops it and waits for
// Run to return; tb's end stops it too.
func run(tb testing.TB, o *Outbox) (stop func()) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				tb.Errorf("Run: %v", err)
			}
		})
	}
	tb.Cleanup(stop)
	return stop
}

// testMessage is a message to one or more recipients.
func testMessage(id string, to ...string) Message {
	if len(to) == 0 {
		to = []string{"attendee@example.org"}
	}
	return Message{
		ID: id, From: "organizer@salon.test", To: to,
		Subject: "Invitation " + id, Method: "REQUEST", UID: "uid-" + id,
		Data: testMail(id),
	}
}

func testMessages(prefix string, n int) []Message {
	msgs := make([]Message, n)
	for i := range msgs {
		msgs[i] = testMessage(fmt.Sprintf("%s-%02d@salon.test", prefix, i))
	}
	return msgs
}

// entryOf returns the entry of the message with Message-ID id.
func entryOf(tb testing.TB, o *Outbox, id string) Entry {
	tb.Helper()
	list, err := o.List(context.Background(), ListOptions{Limit: 500})
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range list {
		if e.ID == id {
			return e
		}
	}
	tb.Fatalf("no outbox entry with Message-ID %s", id)
	return Entry{}
}

// waitState waits until the message id is in state.
func waitState(tb testing.TB, o *Outbox, id string, state State) Entry {
	tb.Helper()
	var e Entry
	eventually(tb, waitLong, func() (bool, string) {
		e = entryOf(tb, o, id)
		return e.State == state, fmt.Sprintf("%s is %s (attempts %d, last error %q), want %s", id, e.State, e.Attempts, e.LastError, state)
	})
	return e
}

// onceEach checks that the server got every message of msgs exactly once,
// byte for byte, and nothing else.
func onceEach(tb testing.TB, got []recordedMail, msgs []Message) {
	tb.Helper()
	want := make(map[string]Message, len(msgs))
	for _, m := range msgs {
		want[string(m.Data)] = m
	}
	seen := make(map[string]bool)
	for _, r := range got {
		m, ok := want[string(r.Data)]
		switch {
		case !ok:
			tb.Errorf("the relay got a message nobody sent:\n%s", r.Data)
		case seen[m.ID]:
			tb.Errorf("the relay got %s twice", m.ID)
		case r.From != m.From || !slices.Equal(r.To, m.To):
			tb.Errorf("%s: envelope %s → %v, want %s → %v", m.ID, r.From, r.To, m.From, m.To)
		}
		seen[m.ID] = true
	}
	if len(seen) != len(msgs) {
		tb.Errorf("the relay got %d of %d messages", len(seen), len(msgs))
	}
}

func TestOutbox(t *testing.T) {
	tests := []struct {
		name string
		f    func(t *testing.T, open func(testing.TB) *db.DB)
	}{
		{"Transaction", testOutboxTransaction},
		{"RelayDown", testOutboxRelayDown},
		{"Refused", testOutboxRefused},
		{"SomeRecipientsRefused", testOutboxSomeRecipientsRefused},
		{"RecipientLater", testOutboxRecipientLater},
		{"GivesUp", testOutboxGivesUp},
		{"Restart", testOutboxRestart},
		{"CrashedWorker", testOutboxCrashedWorker},
		{"LocalMailbox", testOutboxLocalMailbox},
		{"StartTLSAndAuth", testOutboxStartTLSAndAuth},
		{"OpportunisticStartTLS", testOutboxOpportunisticStartTLS},
		{"ImplicitTLS", testOutboxImplicitTLS},
		{"NoAuthWithoutTLS", testOutboxNoAuthWithoutTLS},
		{"UntrustedCertificate", testOutboxUntrustedCertificate},
		{"Invalid", testOutboxInvalid},
		{"List", testOutboxList},
		{"Metrics", testOutboxMetrics},
	}
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.f(t, e.open)
				})
			}
		})
	}
}

// A rolled-back transaction queues nothing; a committed one delivers each
// message once, byte for byte, over one session.
func testOutboxTransaction(t *testing.T, open func(testing.TB) *db.DB) {
	ctx := context.Background()
	srv := newTestSMTPD(t, testSMTPDConfig{})
	d := open(t)
	o := newOutbox(t, d, OutboxConfig{Relay: srv.relay("", "")}, testOptions(t))
	run(t, o)

	tx, err := d.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.EnqueueTx(ctx, tx, testMessages("rolled-back", 3)); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	o.Wake()
	if list, err := o.List(ctx, ListOptions{}); err != nil || len(list) != 0 {
		t.Fatalf("after a rollback List = %d entries, %v; want none", len(list), err)
	}
	var n int
	if err := d.QueryRow(`SELECT COUNT(*) FROM mail_outbox_recipients`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("after a rollback %d recipient rows (%v), want none", n, err)
	}

	msgs := testMessages("committed", 5)
	msgs[0].To = []string{"a@example.org", "b@example.net"}
	tx, err = d.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.EnqueueTx(ctx, tx, msgs); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	o.Wake()
	srv.waitMessages(len(msgs), waitLong)
	for _, m := range msgs {
		e := waitState(t, o, m.ID, StateSent)
		if e.Attempts != 1 || e.LastError != "" || e.SentAt.IsZero() || !e.NextAttempt.IsZero() {
			t.Errorf("%s: attempts %d, last error %q, sent at %v, next attempt %v; want 1, none, a time, none",
				m.ID, e.Attempts, e.LastError, e.SentAt, e.NextAttempt)
		}
	}
	got := srv.messages()
	onceEach(t, got, msgs)
	for _, r := range got {
		if r.Helo != "salon.test" {
			t.Errorf("EHLO %q, want the configured salon.test", r.Helo)
		}
	}
	e, err := o.Entry(ctx, entryOf(t, o, msgs[0].ID).Seq)
	if err != nil {
		t.Fatal(err)
	}
	if string(e.Data) != string(msgs[0].Data) || !slices.Equal(e.To, msgs[0].To) || e.Subject != msgs[0].Subject ||
		e.Method != "REQUEST" || e.UID != msgs[0].UID || e.From != msgs[0].From {
		t.Errorf("Entry = %+v, want the message as queued", e)
	}
}

// While the relay is down messages wait with growing attempts; once it is
// back each is delivered once.
func testOutboxRelayDown(t *testing.T, open func(testing.TB) *db.DB) {
	ctx := context.Background()
	srv := newTestSMTPD(t, testSMTPDConfig{})
	srv.stop()
	o := newOutbox(t, open(t), OutboxConfig{Relay: srv.relay("", "")}, testOptions(t))
	run(t, o)

	msgs := testMessages("down", 3)
	if err := o.Enqueue(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		eventually(t, waitLong, func() (bool, string) {
			e := entryOf(t, o, m.ID)
			return e.State == StateQueued && e.Attempts >= 3 && e.LastError != "",
				fmt.Sprintf("%s: %s after %d attempts, last error %q", m.ID, e.State, e.Attempts, e.LastError)
		})
	}
	e := entryOf(t, o, msgs[0].ID)
	if !strings.Contains(e.LastError, srv.addr) || e.NextAttempt.IsZero() {
		t.Errorf("last error %q does not name the relay %s, or next attempt %v not set", e.LastError, srv.addr, e.NextAttempt)
	}

	srv.start()
	srv.waitMessages(len(msgs), waitLong)
	for _, m := range msgs {
		waitState(t, o, m.ID, StateSent)
	}
	onceEach(t, srv.messages(), msgs)
}

// A message the relay refuses for good fails with the relay's words, and
// Retry queues it again.
func testOutboxRefused(t *testing.T, open func(testing.TB) *db.DB) {
	ctx := context.Background()
	srv := newTestSMTPD(t, testSMTPDConfig{})
	srv.setFail(func(stage, arg string) *smtp.SMTPError {
		switch {
		case stage == "RCPT" && arg == "nobody@example.org":
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user here"}
		case stage == "DATA" && strings.Contains(arg, "spam"):
			return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Looks like spam"}
		}
		return nil
	})
	o := newOutbox(t, open(t), OutboxConfig{Relay: srv.relay("", "")}, testOptions(t))
	run(t, o)

	nobody := testMessage("nobody@salon.test", "nobody@example.org")
	spam := testMessage("spam@salon.test")
	good := testMessage("good@salon.test")
	if err := o.Enqueue(ctx, []Message{nobody, spam, good}); err != nil {
		t.Fatal(err)
	}
	e := waitState(t, o, nobody.ID, StateFailed)
	if !strings.Contains(e.LastError, "550 5.1.1 No such user here") || e.Attempts != 1 {
		t.Errorf("refused recipient: last error %q after %d attempts; want the relay's 550 after 1", e.LastError, e.Attempts)
	}
	e = waitState(t, o, spam.ID, StateFailed)
	if !strings.Contains(e.LastError, "554 5.7.1 Looks like spam") {
		t.Errorf("refused data: last error %q, want the relay's 554", e.LastError)
	}
	waitState(t, o, good.ID, StateSent)
	failed, err := o.List(ctx, ListOptions{State: StateFailed})
	if err != nil || len(failed) != 2 {
		t.Fatalf("List(failed) = %d entries, %v; want 2", len(failed), err)
	}

	// The admin fixes the cause and retries.
	srv.setFail(nil)
	if err := o.Retry(ctx, e.Seq); err != nil {
		t.Fatal(err)
	}
	e = waitState(t, o, spam.ID, StateSent)
	if e.Attempts != 1 {
		t.Errorf("after Retry: %d attempts, want a fresh count of 1", e.Attempts)
	}
	if err := o.Retry(ctx, e.Seq); !errors.Is(err, ErrNotFailed) {
		t.Errorf("Retry of a sent message: %v, want ErrNotFailed", err)
	}
	if err := o.Retry(ctx, 424242); !errors.Is(err, ErrNotFound) {
		t.Errorf("Retry of no message: %v, want ErrNotFound", err)
	}
	onceEach(t, srv.messages(), []Message{good, spam})
}

// Recipients refused for good are dropped when others are accepted, and
// named in LastError.
func testOutboxSomeRecipientsRefused(t *testing.T, open func(testing.TB) *db.DB) {
	srv := newTestSMTPD(t, testSMTPDConfig{})
	srv.setFail(func(stage, arg string) *smtp.SMTPError {
		if stage == "RCPT" && arg == "gone@example.org" {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "Mailbox gone"}
		}
		return nil
	})
	o := newOutbox(t, open(t), OutboxConfig{Relay: srv.relay("", "")}, testOptions(t))
	run(t, o)
	m := testMessage("partial@salon.test", "gone@example.org", "here@example.org")
	if err := o.Enqueue(context.Background(), []Message{m}); err != nil {
		t.Fatal(err)
	}
	e := waitState(t, o, m.ID, StateSent)
	if !strings.Contains(e.LastError, "gone@example.org") || !strings.Contains(e.LastError, "Mailbox gone") {
		t.Errorf("last error %q does not name the refused recipient", e.LastError)
	}
	got := srv.messages()
	if len(got) != 1 || !slices.Equal(got[0].To, []string{"here@example.org"}) {
		t.Errorf("the relay got %+v, want one message to here@example.org", got)
	}
}

// A recipient refused for now holds the whole message back, so that the
// others do not get it twice, until the relay takes it.
func testOutboxRecipientLater(t *testing.T, open func(testing.TB) *db.DB) {
	srv := newTestSMTPD(t, testSMTPDConfig{})
	var mu sync.Mutex
	busy := 2
	srv.setFail(func(stage, arg string) *smtp.SMTPError {
		mu.Lock()
		defer mu.Unlock()
		if stage == "RCPT" && arg == "busy@example.org" && busy > 0 {
			busy--
			return &smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 2, 1}, Message: "Mailbox busy, try later"}
		}
		return nil
	})
	o := newOutbox(t, open(t), OutboxConfig{Relay: srv.relay("", "")}, testOptions(t))
	run(t, o)
	m := testMessage("later@salon.test", "ok@example.org", "busy@example.org")
	if err := o.Enqueue(context.Background(), []Message{m}); err != nil {
		t.Fatal(err)
	}
	e := waitState(t, o, m.ID, StateSent)
	if e.Attempts != 3 {
		t.Errorf("sent after %d attempts, want 3", e.Attempts)
	}
	onceEach(t, srv.messages(), []Message{m})
}

// After MaxAttempts temporary failures a message fails.
func testOutboxGivesUp(t *testing.T, open func(testing.TB) *db.DB) {
	srv := newTestSMTPD(t, testSMTPDConfig{})
	srv.setFail(func(stage, arg string) *smtp.SMTPError {
		if stage == "MAIL" {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Queue full"}
		}
		return nil
	})
	o := newOutbox(t, open(t), OutboxConfig{Relay: srv.relay("", ""), MaxAttempts: 3}, testOptions(t))
	run(t, o)
	m := testMessage("doomed@salon.test")
	if err := o.Enqueue(context.Background(), []Message{m}); err != nil {
		t.Fatal(err)
	}
	e := waitState(t, o, m.ID, StateFailed)
	if e.Attempts != 3 || !strings.Contains(e.LastError, "gave up after 3 attempts") || !strings.Contains(e.LastError, "451 4.3.0 Queue full") {
		t.Errorf("attempts %d, last error %q; want 3 and the relay's last answer", e.Attempts, e.LastError)
	}
}

// A new Outbox on the same database sends what an earlier one queued or
// left behind, and nothing twice.
func testOutboxRestart(t *testing.T, open func(testing.TB) *db.DB) {
	ctx := context.Background()
	srv := newTestSMTPD(t, testSMTPDConfig{})
	d := open(t)
	relay := srv.relay("", "")

	first := newOutbox(t, d, OutboxConfig{Relay: relay}, testOptions(t))
	msgs := testMessages("restart", 40)
	if err := first.Enqueue(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	// The first worker stops mid-way; the sends it began are finished,
	// what it claimed but did not try is handed back.
	stop := run(t, first)
	srv.waitMessages(1, waitLong)
	stop()

	second := newOutbox(t, d, OutboxConfig{Relay: relay}, testOptions(t))
	run(t, second)
	srv.waitMessages(len(msgs), waitLong)
	for _, m := range msgs {
		e := waitState(t, second, m.ID, StateSent)
		if e.Attempts != 1 {
			t.Errorf("%s: %d attempts, want 1", m.ID, e.Attempts)
		}
	}
	onceEach(t, srv.messages(), msgs)
}

// A worker that dies holding a claim leaves the message to the next
// worker once the lease ends.
func testOutboxCrashedWorker(t *testing.T, open func(testing.TB) *db.DB) {
	ctx := context.Background()
	srv := newTestSMTPD(t, testSMTPDConfig{})
	d := open(t)
	opts := testOptions(t)
	opts.Lease = 300 * time.Millisecond
	dead := newOutbox(t, d, OutboxConfig{Relay: srv.relay("", "")}, opts)
	m := testMessage("orphan@salon.test")
	if err := dead.Enqueue(ctx, []Message{m}); err != nil {
		t.Fatal(err)
	}
	claimedAt := time.Now()
	batch, err := dead.claim(ctx)
	if err != nil || len(batch) != 1 {
		t.Fatalf("claim = %d messages, %v; want 1", len(batch), err)
	}

	heir := newOutbox(t, d, OutboxConfig{Relay: srv.relay("", "")}, testOptions(t))
	run(t, heir)
	srv.waitMessages(1, waitLong)
	if waited := time.Since(claimedAt); waited < opts.Lease {
		t.Errorf("sent %v after the claim, before its lease of %v ended", waited, opts.Lease)
	}
	e := waitState(t, heir, m.ID, StateSent)
	if e.Attempts != 2 {
		t.Errorf("%d attempts, want 2: the crashed one counts", e.Attempts)
	}
	onceEach(t, srv.messages(), []Message{m})
}

// Without a relay, messages go to the local mailbox at once.
func testOutboxLocalMailbox(t *testing.T, open func(testing.TB) *db.DB) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	opts := testOptions(t)
	opts.Now = func() time.Time { return now }
	o := newOutbox(t, open(t), OutboxConfig{}, opts)
	stop := run(t, o)
	msgs := testMessages("local", 2)
	if err := o.Enqueue(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	list, err := o.List(ctx, ListOptions{State: StateLocal})
	if err != nil || len(list) != 2 {
		t.Fatalf("List(local) = %d entries, %v; want 2", len(list), err)
	}
	for _, e := range list {
		if !e.SentAt.Equal(now) || !e.CreatedAt.Equal(now) || !e.NextAttempt.IsZero() || e.Attempts != 0 || e.Data != nil {
			t.Errorf("local entry %+v: want created and sent at %v, no next attempt, no attempts, no data in a listing", e, now)
		}
	}
	e, err := o.Entry(ctx, list[0].Seq)
	if err != nil || string(e.Data) != string(msgs[1].Data) {
		t.Errorf("Entry = %q, %v; want the newest message's data", e.Data, err)
	}
	stop()
}

func testOutboxStartTLSAndAuth(t *testing.T, open func(testing.TB) *db.DB) {
	srv := newTestSMTPD(t, testSMTPDConfig{StartTLS: true, RequireTLS: true, RequireAuth: true,
		Users: map[string]string{"salon": "p@ss:w/rd"}})
	o := newOutbox(t, open(t), OutboxConfig{Relay: srv.relay("salon", "p@ss:w/rd")}, testOptions(t))
	run(t, o)
	msgs := testMessages("tls-auth", 3)
	if err := o.Enqueue(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	got := srv.waitMessages(len(msgs), waitLong)
	for _, r := range got {
		if !r.TLS || r.User != "salon" || r.Helo != "salon.test" {
			t.Errorf("delivered with TLS %v as %q, EHLO %q; want TLS as salon, EHLO salon.test", r.TLS, r.User, r.Helo)
		}
	}
	onceEach(t, got, msgs)
}

// Without credentials, STARTTLS is still used when the relay offers it.
func testOutboxOpportunisticStartTLS(t *testing.T, open func(testing.TB) *db.DB) {
	srv := newTestSMTPD(t, testSMTPDConfig{StartTLS: true})
	o := newOutbox(t, open(t), OutboxConfig{Relay: srv.relay("", "")}, testOptions(t))
	run(t, o)
	m := testMessage("opportunistic@salon.test")
	if err := o.Enqueue(context.Background(), []Message{m}); err != nil {
		t.Fatal(err)
	}
	if got := srv.waitMessages(1, waitLong); !got[0].TLS {
		t.Error("sent in clear text although the relay offers STARTTLS")
	}
}

func testOutboxImplicitTLS(t *testing.T, open func(testing.TB) *db.DB) {
	srv := newTestSMTPD(t, testSMTPDConfig{ImplicitTLS: true, RequireAuth: true, Users: map[string]string{"salon": "secret"}})
	o := newOutbox(t, open(t), OutboxConfig{Relay: srv.relay("salon", "secret")}, testOptions(t))
	run(t, o)
	m := testMessage("smtps@salon.test")
	if err := o.Enqueue(context.Background(), []Message{m}); err != nil {
		t.Fatal(err)
	}
	got := srv.waitMessages(1, waitLong)
	if !got[0].TLS || got[0].User != "salon" {
		t.Errorf("delivered with TLS %v as %q, want TLS as salon", got[0].TLS, got[0].User)
	}
	onceEach(t, got, []Message{m})
}

// A relay that offers AUTH but no STARTTLS never gets the password.
func testOutboxNoAuthWithoutTLS(t *testing.T, open func(testing.TB) *db.DB) {
	srv := newTestSMTPD(t, testSMTPDConfig{InsecureAuth: true, Users: map[string]string{"salon": "secret"}})
	o := newOutbox(t, open(t), OutboxConfig{Relay: srv.relay("salon", "secret")}, testOptions(t))
	run(t, o)
	m := testMessage("cleartext@salon.test")
	if err := o.Enqueue(context.Background(), []Message{m}); err != nil {
		t.Fatal(err)
	}
	eventually(t, waitLong, func() (bool, string) {
		e := entryOf(t, o, m.ID)
		return e.Attempts >= 2 && strings.Contains(e.LastError, "STARTTLS"),
			fmt.Sprintf("%d attempts, last error %q", e.Attempts, e.LastError)
	})
	if n := srv.authAttempts(); n != 0 {
		t.Errorf("the relay got %d AUTH commands in clear text", n)
	}
	if got := srv.messages(); len(got) != 0 {
		t.Errorf("the relay got %d messages", len(got))
	}
	if e := entryOf(t, o, m.ID); strings.Contains(e.LastError, "secret") {
		t.Errorf("last error %q shows the password", e.LastError)
	}
}

// A relay whose certificate is not trusted gets nothing.
func testOutboxUntrustedCertificate(t *testing.T, open func(testing.TB) *db.DB) {
	srv := newTestSMTPD(t, testSMTPDConfig{StartTLS: true, Users: map[string]string{"salon": "secret"}})
	opts := testOptions(t)
	opts.TLSConfig = nil // the system's roots, which do not know the test CA
	o := newOutbox(t, open(t), OutboxConfig{Relay: srv.relay("salon", "secret")}, opts)
	run(t, o)
	m := testMessage("untrusted@salon.test")
	if err := o.Enqueue(context.Background(), []Message{m}); err != nil {
		t.Fatal(err)
	}
	eventually(t, waitLong, func() (bool, string) {
		e := entryOf(t, o, m.ID)
		return e.Attempts >= 1 && strings.Contains(e.LastError, "certificate"),
			fmt.Sprintf("%d attempts, last error %q", e.Attempts, e.LastError)
	})
	if srv.authAttempts() != 0 || len(srv.messages()) != 0 {
		t.Error("the relay got AUTH or a message over an untrusted connection")
	}
}

// A bad message refuses the whole call and stores nothing.
func testOutboxInvalid(t *testing.T, open func(testing.TB) *db.DB) {
	ctx := context.Background()
	o := newOutbox(t, open(t), OutboxConfig{}, testOptions(t))
	good := testMessage("good@salon.test")
	for _, tc := range []struct {
		name string
		edit func(m *Message)
		want string
	}{
		{"no from", func(m *Message) { m.From = "" }, "From"},
		{"from with CRLF", func(m *Message) { m.From = "a@example.org\r\nRCPT TO:<x@y>" }, "line break"},
		{"display name", func(m *Message) { m.From = "Organizer <organizer@salon.test>" }, "bare address"},
		{"no recipients", func(m *Message) { m.To = nil }, "no recipients"},
		{"empty recipient", func(m *Message) { m.To = []string{"a@example.org", ""} }, "To[1]"},
		{"recipient with LF", func(m *Message) { m.To = []string{"a@example.org\n"} }, "line break"},
		{"not an address", func(m *Message) { m.To = []string{"attendee"} }, "local@domain"},
		{"too many recipients", func(m *Message) { m.To = slices.Repeat([]string{"a@example.org"}, 101) }, "recipients"},
		{"no data", func(m *Message) { m.Data = nil }, "no data"},
		{"too big", func(m *Message) { m.Data = make([]byte, MaxMessageBytes+1) }, "bytes"},
		{"bracketed id", func(m *Message) { m.ID = "<x@salon.test>" }, "Message-ID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := testMessage("bad@salon.test")
			tc.edit(&bad)
			err := o.Enqueue(ctx, []Message{good, bad})
			if !errors.Is(err, ErrInvalidMessage) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "message 2 of 2") {
				t.Errorf("Enqueue = %v; want ErrInvalidMessage naming message 2 and %q", err, tc.want)
			}
		})
	}
	if list, err := o.List(ctx, ListOptions{}); err != nil || len(list) != 0 {
		t.Errorf("List = %d entries, %v; want none", len(list), err)
	}
	if err := o.Enqueue(ctx, nil); err != nil {
		t.Errorf("Enqueue(nil) = %v", err)
	}
}

func testOutboxList(t *testing.T, open func(testing.TB) *db.DB) {
	ctx := context.Background()
	o := newOutbox(t, open(t), OutboxConfig{}, testOptions(t))
	var msgs []Message
	for i := range 7 {
		to := "Someone@Example.org"
		if i%2 == 1 {
			to = "other@example.org"
		}
		msgs = append(msgs, testMessage(fmt.Sprintf("list-%d@salon.test", i), to, "all@example.org"))
	}
	if err := o.Enqueue(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	ids := func(list []Entry) []string {
		var s []string
		for _, e := range list {
			s = append(s, strings.TrimSuffix(strings.TrimPrefix(e.ID, "list-"), "@salon.test"))
		}
		return s
	}
	all, err := o.List(ctx, ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opt  ListOptions
		want []string
	}{
		{"all, newest first", ListOptions{}, []string{"6", "5", "4", "3", "2", "1", "0"}},
		{"limit", ListOptions{Limit: 2}, []string{"6", "5"}},
		{"before", ListOptions{Before: all[1].Seq, Limit: 2}, []string{"4", "3"}},
		{"to, any case", ListOptions{To: "someone@EXAMPLE.org"}, []string{"6", "4", "2", "0"}},
		{"to and before", ListOptions{To: "other@example.org", Before: all[1].Seq}, []string{"3", "1"}},
		{"state", ListOptions{State: StateLocal, Limit: 1}, []string{"6"}},
		{"other state", ListOptions{State: StateFailed}, nil},
	} {
		list, err := o.List(ctx, tc.opt)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := ids(list); !slices.Equal(got, tc.want) {
			t.Errorf("%s: List = %v, want %v", tc.name, got, tc.want)
		}
	}
	if _, err := o.List(ctx, ListOptions{State: "bogus"}); err == nil {
		t.Error("List accepted an unknown state")
	}
	if _, err := o.Entry(ctx, 424242); !errors.Is(err, ErrNotFound) {
		t.Errorf("Entry of no message = %v, want ErrNotFound", err)
	}
}

func testOutboxMetrics(t *testing.T, open func(testing.TB) *db.DB) {
	ctx := context.Background()
	srv := newTestSMTPD(t, testSMTPDConfig{})
	srv.setFail(func(stage, arg string) *smtp.SMTPError {
		if stage == "RCPT" && arg == "nobody@example.org" {
			return &smtp.SMTPError{Code: 550, Message: "No such user"}
		}
		return nil
	})
	reg := prometheus.NewPedanticRegistry()
	opts := testOptions(t)
	opts.Metrics = reg
	o := newOutbox(t, open(t), OutboxConfig{Relay: srv.relay("", "")}, opts)
	run(t, o)
	ok, bad := testMessage("counted@salon.test"), testMessage("refused@salon.test", "nobody@example.org")
	bad.Method = "cancel"
	if err := o.Enqueue(ctx, []Message{ok, bad}); err != nil {
		t.Fatal(err)
	}
	waitState(t, o, ok.ID, StateSent)
	waitState(t, o, bad.ID, StateFailed)
	m := o.metrics
	if got := metricValue(t, m.queued.WithLabelValues("REQUEST")); got != 1 {
		t.Errorf("queued{REQUEST} = %v, want 1", got)
	}
	if got := metricValue(t, m.queued.WithLabelValues("CANCEL")); got != 1 {
		t.Errorf("queued{CANCEL} = %v, want 1", got)
	}
	// The counters move just after the state is stored.
	eventually(t, waitLong, func() (bool, string) {
		s, f := metricValue(t, m.sent), metricValue(t, m.failed)
		return s == 1 && f == 1, fmt.Sprintf("sent %v, failed %v; want 1 and 1", s, f)
	})
	eventually(t, waitLong, func() (bool, string) {
		d := metricValue(t, m.depth)
		return d == 0, fmt.Sprintf("queue depth %v", d)
	})
	if families, err := reg.Gather(); err != nil || len(families) != 7 {
		t.Errorf("registry: %d metric families, %v; want 7", len(families), err)
	}
}

// Two workers on one PostgreSQL database, as two salon nodes, share the
// queue: each message is sent once.
func TestOutboxTwoWorkersPostgres(t *testing.T) {
	ctx := context.Background()
	srv := newTestSMTPD(t, testSMTPDConfig{})
	dsn := testpg.Start(t)
	opts := testOptions(t)
	opts.PollInterval = 20 * time.Millisecond // the other node's Wake is not heard here
	cfg := OutboxConfig{Relay: srv.relay("", ""), Connections: 3}
	a := newOutbox(t, openDSN(t, dsn), cfg, opts)
	b := newOutbox(t, openDSN(t, dsn), cfg, opts)
	run(t, a)
	run(t, b)
	var msgs []Message
	for round := range 4 {
		batch := testMessages(fmt.Sprintf("shared-%d", round), 30)
		if err := a.Enqueue(ctx, batch); err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, batch...)
	}
	srv.waitMessages(len(msgs), waitLong)
	for _, m := range msgs {
		if e := waitState(t, b, m.ID, StateSent); e.Attempts != 1 {
			t.Errorf("%s: %d attempts, want 1", m.ID, e.Attempts)
		}
	}
	onceEach(t, srv.messages(), msgs)
}

func TestOutboxRunTwice(t *testing.T) {
	o := newOutbox(t, openSQLiteDB(t), OutboxConfig{}, testOptions(t))
	run(t, o)
	eventually(t, waitLong, func() (bool, string) { return o.running.Load(), "Run has not started" })
	if err := o.Run(context.Background()); err == nil {
		t.Error("a second Run started")
	}
}

func TestOutboxDefaultBackoff(t *testing.T) {
	prev := time.Duration(0)
	for attempt := 1; attempt <= 20; attempt++ {
		d := DefaultBackoff(attempt)
		step := backoffSteps[min(attempt, len(backoffSteps))-1]
		if d < step-step/10 || d > step+step/10 {
			t.Errorf("DefaultBackoff(%d) = %v, want %v ± 10%%", attempt, d, step)
		}
		if d > time.Hour+time.Hour/10 {
			t.Errorf("DefaultBackoff(%d) = %v, beyond the cap", attempt, d)
		}
		if attempt < len(backoffSteps) && d < prev-prev/5 {
			t.Errorf("DefaultBackoff(%d) = %v, shorter than the one before (%v)", attempt, d, prev)
		}
		prev = d
	}
}

// metricValue reads a counter or gauge.
func metricValue(tb testing.TB, m prometheus.Metric) float64 {
	tb.Helper()
	var pb dto.Metric
	if err := m.Write(&pb); err != nil {
		tb.Fatal(err)
	}
	switch {
	case pb.Counter != nil:
		return pb.Counter.GetValue()
	case pb.Gauge != nil:
		return pb.Gauge.GetValue()
	}
	tb.Fatalf("%v is neither a counter nor a gauge", m.Desc())
	return 0
}
