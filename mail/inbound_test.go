package mail

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// testReply is an iMIP REPLY as a calendar client sends it, composed by
// hand: Bob accepts Alice's invitation.
const testReply = "From: Bob Martin <bob@example.org>\r\n" +
	"To: alice@salon.test\r\n" +
	"Subject: Accepted: Planning\r\n" +
	"Message-ID: <reply-1@example.org>\r\n" +
	"Date: Sun, 01 Mar 2026 09:00:00 +0000\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/alternative; boundary=\"b1\"\r\n" +
	"\r\n" +
	"--b1\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"\r\n" +
	"Bob has accepted.\r\n" +
	".\r\n" +
	"--b1\r\n" +
	"Content-Type: text/calendar; charset=utf-8; method=REPLY\r\n" +
	"\r\n" +
	"BEGIN:VCALENDAR\r\n" +
	"VERSION:2.0\r\n" +
	"PRODID:-//salon//test//EN\r\n" +
	"METHOD:REPLY\r\n" +
	"BEGIN:VEVENT\r\n" +
	"UID:planning-1@salon.test\r\n" +
	"DTSTAMP:20260301T090000Z\r\n" +
	"DTSTART:20260302T090000Z\r\n" +
	"SEQUENCE:0\r\n" +
	"ORGANIZER:mailto:alice@salon.test\r\n" +
	"ATTENDEE;PARTSTAT=ACCEPTED:mailto:bob@example.org\r\n" +
	"END:VEVENT\r\n" +
	"END:VCALENDAR\r\n" +
	"--b1--\r\n"

// fakeHandler records what it is handed and answers with answer's error.
type fakeHandler struct {
	mu      sync.Mutex
	calls   []handlerCall
	entered chan struct{} // receives once per call, when not nil
	answer  func(ctx context.Context, rcpts []string) error
}

type handlerCall struct {
	m     *Inbound
	from  string
	rcpts []string
}

func (h *fakeHandler) HandleIMIP(ctx context.Context, m *Inbound, from string, rcpts []string) error {
	h.mu.Lock()
	h.calls = append(h.calls, handlerCall{m, from, rcpts})
	answer, entered := h.answer, h.entered
	h.mu.Unlock()
	if entered != nil {
		entered <- struct{}{}
	}
	if answer == nil {
		return nil
	}
	return answer(ctx, rcpts)
}

func (h *fakeHandler) handled() []handlerCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]handlerCall(nil), h.calls...)
}

// startInbound serves cfg on a fresh listener until the test ends, and
// checks that Serve returns nil after Shutdown.
func startInbound(t *testing.T, cfg InboundConfig, h InboundHandler) (*InboundServer, net.Addr) {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "smtp://127.0.0.1:0"
	}
	s, err := NewInboundServer(cfg, InboundOptions{Handler: h,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s, l.Addr()
}

// sendSMTP delivers data over an SMTP session, as the mail server would.
func sendSMTP(t *testing.T, addr net.Addr, from string, to []string, data []byte) error {
	t.Helper()
	c, err := smtp.Dial(addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("mx.test"); err != nil {
		t.Fatal(err)
	}
	return c.SendMail(from, to, bytes.NewReader(data))
}

// sendLMTP delivers data over an LMTP session and returns each
// recipient's reply code.
func sendLMTP(t *testing.T, addr net.Addr, from string, to []string, data []byte) map[string]int {
	t.Helper()
	conn, err := net.Dial(addr.Network(), addr.String())
	if err != nil {
		t.Fatal(err)
	}
	c := smtp.NewClientLMTP(conn)
	defer c.Close()
	if err := c.Hello("mx.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail(from, nil); err != nil {
		t.Fatal(err)
	}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt, nil); err != nil {
			t.Fatal(err)
		}
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	resp, err := w.CloseWithLMTPResponse()
	codes := make(map[string]int)
	for rcpt := range resp {
		codes[rcpt] = 250
	}
	var lerr smtp.LMTPDataError
	if errors.As(err, &lerr) {
		for rcpt, se := range lerr {
			codes[rcpt] = se.Code
		}
	} else if err != nil {
		t.Fatal(err)
	}
	return codes
}

func TestInboundSMTP(t *testing.T) {
	h := &fakeHandler{}
	s, addr := startInbound(t, InboundConfig{Domain: "salon.test"}, h)
	rcpts := []string{"alice@salon.test", "carol@salon.test"}
	if err := sendSMTP(t, addr, "bob@example.org", rcpts, []byte(testReply)); err != nil {
		t.Fatalf("the listener refused a REPLY: %v", err)
	}
	calls := h.handled()
	if len(calls) != 1 {
		t.Fatalf("handler called %d times, want once for all recipients", len(calls))
	}
	c := calls[0]
	if c.from != "bob@example.org" || strings.Join(c.rcpts, ",") != strings.Join(rcpts, ",") {
		t.Errorf("envelope %s → %v, want bob@example.org → %v", c.from, c.rcpts, rcpts)
	}
	if c.m.Method != "REPLY" || c.m.From.Email != "bob@example.org" || c.m.MessageID != "reply-1@example.org" ||
		!bytes.Contains(c.m.Calendar, []byte("PARTSTAT=ACCEPTED")) {
		t.Errorf("handler got %+v, want Bob's REPLY", c.m)
	}
	if got := metricValue(t, s.metrics.received.WithLabelValues(resultAccepted)); got != 1 {
		t.Errorf("received{accepted} = %v, want 1", got)
	}
}

// The replies real clients send, kept for the parser's tests, arrive
// through SMTP as the parser reads them from a file, bare LF line endings
// included (SMTP turns them into CRLF).
func TestInboundRealReplies(t *testing.T) {
	files, _ := filepath.Glob("testdata/inbound/*.eml")
	h := &fakeHandler{}
	_, addr := startInbound(t, InboundConfig{}, h)
	for _, name := range files {
		data, err := os.ReadFile(name)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		want, err := ParseIMIP(bytes.NewReader(data))
		if err != nil {
			continue // TestInboundRefusals covers mail that is not a reply
		}
		t.Run(filepath.Base(name), func(t *testing.T) {
			n := len(h.handled())
			if err := sendSMTP(t, addr, want.From.Email, []string{"alice@example.com"}, data); err != nil {
				t.Fatalf("refused: %v", err)
			}
			calls := h.handled()
			if len(calls) != n+1 {
				t.Fatalf("handler not called")
			}
			got := calls[n].m
			if got.Method != want.Method || got.MessageID != want.MessageID || !bytes.Equal(got.Calendar, want.Calendar) {
				t.Errorf("over SMTP: %s %s\n%s\nfrom the file: %s %s\n%s",
					got.Method, got.MessageID, got.Calendar, want.Method, want.MessageID, want.Calendar)
			}
		})
	}
}

func TestInboundRefusals(t *testing.T) {
	noCalendar, err := os.ReadFile("testdata/inbound/no-calendar.eml")
	if err != nil {
		noCalendar = []byte("From: bob@example.org\r\nTo: alice@salon.test\r\nSubject: Re: Planning\r\n\r\nSee you there!\r\n")
	}
	broken := strings.Replace(testReply, "END:VEVENT\r\nEND:VCALENDAR\r\n", "", 1)
	big := strings.Replace(testReply, "Bob has accepted.", strings.Repeat("Bob has accepted.\r\n", 400), 1)
	long := strings.Replace(testReply, "Bob has accepted.", strings.Repeat("Bob has accepted. ", 200), 1)
	for _, tc := range []struct {
		name     string
		data     string
		answer   error
		want     int
		text     string
		handled  bool
		counted  string
		maxBytes int64
	}{
		{name: "no calendar", data: string(noCalendar), want: 550, text: "text/calendar", counted: resultRejected},
		{name: "malformed calendar", data: broken, want: 550, text: "Cannot read", counted: resultRejected},
		{name: "handler refuses", data: testReply, answer: &RejectError{Msg: "no such event here"}, want: 550,
			text: "no such event here", handled: true, counted: resultRejected},
		{name: "handler fails for now", data: testReply, answer: errors.New("database is locked"), want: 451,
			text: "try again later", handled: true, counted: resultTempfail},
		{name: "too large", data: big, maxBytes: 4096, want: 552, counted: resultRejected},
		{name: "line too long", data: long, want: 500, text: "Line too long", counted: resultRejected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &fakeHandler{answer: func(context.Context, []string) error { return tc.answer }}
			s, addr := startInbound(t, InboundConfig{MaxMessageBytes: tc.maxBytes}, h)
			err := sendSMTP(t, addr, "bob@example.org", []string{"alice@salon.test"}, []byte(tc.data))
			if code := smtpCode(err); code != tc.want || !strings.Contains(err.Error(), tc.text) {
				t.Errorf("got %v, want %d with %q", err, tc.want, tc.text)
			}
			if err != nil && strings.Contains(err.Error(), "database is locked") {
				t.Errorf("the reply %q shows the internal cause", err)
			}
			if handled := len(h.handled()) > 0; handled != tc.handled {
				t.Errorf("handler called: %v, want %v", handled, tc.handled)
			}
			if got := metricValue(t, s.metrics.received.WithLabelValues(tc.counted)); got != 1 {
				t.Errorf("received{%s} = %v, want 1", tc.counted, got)
			}
		})
	}
}

func TestInboundTooManyRecipients(t *testing.T) {
	h := &fakeHandler{}
	_, addr := startInbound(t, InboundConfig{MaxRecipients: 2}, h)
	err := sendSMTP(t, addr, "bob@example.org", []string{"a@salon.test", "b@salon.test", "c@salon.test"}, []byte(testReply))
	if code := smtpCode(err); code != 452 {
		t.Errorf("third recipient: %v, want 452", err)
	}
	if n := len(h.handled()); n != 0 {
		t.Errorf("handler called %d times", n)
	}
}

// Over LMTP each recipient is handled on its own and gets its own reply.
func TestInboundLMTP(t *testing.T) {
	h := &fakeHandler{answer: func(_ context.Context, rcpts []string) error {
		switch rcpts[0] {
		case "busy@salon.test":
			return errors.New("calendar store unavailable")
		case "stranger@salon.test":
			return &RejectError{Msg: "no such organizer"}
		}
		return nil
	}}
	_, addr := startInbound(t, InboundConfig{Addr: "lmtp://127.0.0.1:0"}, h)
	codes := sendLMTP(t, addr, "bob@example.org",
		[]string{"alice@salon.test", "busy@salon.test", "stranger@salon.test"}, []byte(testReply))
	want := map[string]int{"alice@salon.test": 250, "busy@salon.test": 451, "stranger@salon.test": 550}
	for rcpt, code := range want {
		if codes[rcpt] != code {
			t.Errorf("%s: %d, want %d", rcpt, codes[rcpt], code)
		}
	}
	calls := h.handled()
	if len(calls) != 3 {
		t.Fatalf("handler called %d times, want once per recipient", len(calls))
	}
	for _, c := range calls {
		if len(c.rcpts) != 1 || c.m.Method != "REPLY" {
			t.Errorf("handler got %v for %s, want one recipient and the REPLY", c.rcpts, c.m.Method)
		}
	}

	// A message without a calendar is refused for every recipient.
	codes = sendLMTP(t, addr, "bob@example.org", []string{"alice@salon.test", "carol@salon.test"},
		[]byte("From: bob@example.org\r\nSubject: hi\r\n\r\nhello\r\n"))
	if codes["alice@salon.test"] != 550 || codes["carol@salon.test"] != 550 {
		t.Errorf("non-calendar mail over LMTP: %v, want 550 for both", codes)
	}
}

func TestInboundUnixSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lmtp.sock")
	// A socket file left by a process that died.
	stale, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()

	h := &fakeHandler{}
	_, addr := startInbound(t, InboundConfig{Addr: "lmtp+unix://" + path}, h)
	codes := sendLMTP(t, addr, "bob@example.org", []string{"alice@salon.test"}, []byte(testReply))
	if codes["alice@salon.test"] != 250 || len(h.handled()) != 1 {
		t.Errorf("over the socket: %v, %d calls; want 250 and one call", codes, len(h.handled()))
	}

	// The socket is live now: a second listener must not take it over.
	other, err := NewInboundServer(InboundConfig{Addr: "lmtp+unix://" + path}, InboundOptions{Handler: h})
	if err != nil {
		t.Fatal(err)
	}
	if l, err := other.Listen(); err == nil {
		l.Close()
		t.Error("a second listener took over a live socket")
	}

	// Nor may it remove a file that is not a socket.
	file := filepath.Join(t.TempDir(), "not-a-socket")
	os.WriteFile(file, []byte("data"), 0o600)
	other, _ = NewInboundServer(InboundConfig{Addr: "lmtp+unix://" + file}, InboundOptions{Handler: h})
	if _, err := other.Listen(); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("Listen on a regular file: %v", err)
	}
}

// Shutdown waits for a session in progress; when its context ends first
// it cancels the handler and closes the session.
func TestInboundShutdown(t *testing.T) {
	entered := make(chan struct{}, 1)
	h := &fakeHandler{entered: entered, answer: func(ctx context.Context, _ []string) error {
		<-ctx.Done()
		return ctx.Err()
	}}
	s, err := NewInboundServer(InboundConfig{Addr: "127.0.0.1:0"}, InboundOptions{Handler: h,
		Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	sent := make(chan error, 1)
	go func() {
		c, err := smtp.Dial(l.Addr().String())
		if err != nil {
			sent <- err
			return
		}
		defer c.Close()
		sent <- c.SendMail("bob@example.org", []string{"alice@salon.test"}, strings.NewReader(testReply))
	}()
	<-entered

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want the context's deadline", err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve = %v, want nil after Shutdown", err)
	}
	if err := <-sent; err == nil {
		t.Error("the interrupted delivery succeeded")
	}
}

func TestParseInboundAddr(t *testing.T) {
	for _, tc := range []struct {
		in      string
		network string
		addr    string
		lmtp    bool
	}{
		{"smtp://127.0.0.1:2525", "tcp", "127.0.0.1:2525", false},
		{"lmtp://127.0.0.1:2424", "tcp", "127.0.0.1:2424", true},
		{"lmtp://[::1]:2424", "tcp", "[::1]:2424", true},
		{"127.0.0.1:2525", "tcp", "127.0.0.1:2525", false},
		{"localhost:25", "tcp", "localhost:25", false},
		{"lmtp+unix:///run/salon/lmtp.sock", "unix", "/run/salon/lmtp.sock", true},
		{"smtp+unix:///run/salon/smtp.sock", "unix", "/run/salon/smtp.sock", false},
	} {
		network, addr, lmtp, err := ParseInboundAddr(tc.in)
		if err != nil || network != tc.network || addr != tc.addr || lmtp != tc.lmtp {
			t.Errorf("ParseInboundAddr(%q) = %q, %q, %v, %v; want %q, %q, %v", tc.in, network, addr, lmtp, err, tc.network, tc.addr, tc.lmtp)
		}
	}
	for _, in := range []string{
		"", "127.0.0.1", "smtp://127.0.0.1", "http://127.0.0.1:80", "lmtp+unix://relative.sock",
		"lmtp+unix://host/path.sock", "smtp://127.0.0.1:99999", "127.0.0.1:smtp",
	} {
		if _, _, _, err := ParseInboundAddr(in); err == nil || !strings.Contains(err.Error(), "inbound mail address") {
			t.Errorf("ParseInboundAddr(%q) = %v, want an error naming the setting", in, err)
		}
	}
}
