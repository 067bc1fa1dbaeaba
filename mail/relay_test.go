package mail

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
)

func TestParseRelay(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"smtp://mail.example.com", "smtp://mail.example.com:587"},
		{"smtp://mail.example.com:25", "smtp://mail.example.com:25"},
		{"smtp://salon:hunter2@mail.example.com", "smtp://salon:xxxxx@mail.example.com:587"},
		{"smtp://salon%40example.com:p%3Ass@mail.example.com/", "smtp://salon%40example.com:xxxxx@mail.example.com:587"},
		{"smtp://mail.example.com?tls=starttls", "smtp://mail.example.com:587?tls=starttls"},
		{"smtp://127.0.0.1:25?tls=none", "smtp://127.0.0.1:25?tls=none"},
		{"smtp://localhost:25?tls=none", "smtp://localhost:25?tls=none"},
		{"smtp://[::1]:25?tls=none", "smtp://[::1]:25?tls=none"},
		{"smtps://salon:hunter2@mail.example.com", "smtps://salon:xxxxx@mail.example.com:465"},
		{"smtps://[2001:db8::1]:4650", "smtps://[2001:db8::1]:4650"},
	} {
		r, err := ParseRelay(tc.in)
		if err != nil {
			t.Errorf("ParseRelay(%q): %v", tc.in, err)
			continue
		}
		if got := r.String(); got != tc.want {
			t.Errorf("ParseRelay(%q).String() = %q, want %q", tc.in, got, tc.want)
		}
		if got := fmt.Sprintf("%v %+v %s", r, r, r); strings.Contains(got, "hunter2") {
			t.Errorf("formatting the relay shows the password: %s", got)
		}
	}
}

func TestParseRelayErrors(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"mail.example.com:587", "--smtp"},
		{"submission://mail.example.com", `unknown scheme "submission"`},
		{"http://salon:hunter2@mail.example.com", "unknown scheme"},
		{"smtp://", "no host"},
		{"smtp:mail.example.com", "no host"},
		{"smtp://mail.example.com/path", "path"},
		{"smtp://mail.example.com:0", "port"},
		{"smtp://mail.example.com:smtp", "port"},
		{"smtp://salon@mail.example.com", "password"},
		{"smtp://:hunter2@mail.example.com", "user name"},
		{"smtp://mail.example.com?tls=yes", "tls="},
		{"smtp://mail.example.com?starttls=1", "unknown parameter"},
		{"smtps://mail.example.com?tls=none", "smtps://"},
		{"smtp://mail.example.com?tls=none", "this machine"},
		{"smtp://10.0.0.1?tls=none", "this machine"},
		{"smtp://salon:hunter2@127.0.0.1?tls=none", "clear text"},
		{"smtp://salon:hunter2@mail example.com", "--smtp"},
		{"smtp://salon:hunter2@mail.example.com:99999", "port"},
	} {
		_, err := ParseRelay(tc.in)
		if err == nil {
			t.Errorf("ParseRelay(%q) accepted it", tc.in)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "--smtp: ") || !strings.Contains(msg, tc.want) {
			t.Errorf("ParseRelay(%q) = %q, want an --smtp error about %q", tc.in, msg, tc.want)
		}
		if strings.Contains(msg, "hunter2") {
			t.Errorf("ParseRelay(%q) = %q shows the password", tc.in, msg)
		}
	}
}

// tls=starttls refuses a relay without STARTTLS even with nothing secret
// to send.
func TestRelayRequiredStartTLS(t *testing.T) {
	srv := newTestSMTPD(t, testSMTPDConfig{})
	host, port, _ := net.SplitHostPort(srv.addr)
	r, err := ParseRelay("smtp://" + net.JoinHostPort(host, port) + "?tls=starttls")
	if err != nil {
		t.Fatal(err)
	}
	if rc, err := r.dial(context.Background(), "salon.test", nil); err == nil {
		rc.close()
		t.Fatal("dial succeeded without STARTTLS")
	} else if !strings.Contains(err.Error(), "tls=starttls") || !strings.Contains(err.Error(), r.String()) {
		t.Errorf("dial = %v, want an error naming the relay and tls=starttls", err)
	}
}

// One session carries many messages, each its own transaction.
func TestRelaySessionReuse(t *testing.T) {
	srv := newTestSMTPD(t, testSMTPDConfig{StartTLS: true})
	rc, err := srv.relay("", "").dial(context.Background(), "salon.test", testClientTLS(t))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		m := testMessage(fmt.Sprintf("reuse-%d@salon.test", i))
		if d := rc.send(m.From, m.To, m.Data); d.err != nil || d.broken {
			t.Fatalf("message %d: %+v", i, d)
		}
	}
	rc.quit()
	got := srv.messages()
	if len(got) != 5 || srv.sessionCount() > 2 { // EHLO before and after STARTTLS
		t.Errorf("%d messages over %d sessions, want 5 over one connection", len(got), srv.sessionCount())
	}
	for _, r := range got {
		if !r.TLS || r.Helo != "salon.test" {
			t.Errorf("TLS %v, EHLO %q; want TLS and salon.test", r.TLS, r.Helo)
		}
	}
}

func TestRelayBadEHLOName(t *testing.T) {
	srv := newTestSMTPD(t, testSMTPDConfig{})
	if _, err := srv.relay("", "").dial(context.Background(), "salon.test\r\nRSET", nil); err == nil {
		t.Error("dial accepted an EHLO name with a line break")
	}
}
