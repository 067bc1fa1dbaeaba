package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"version"}, env(nil), nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "salon ") {
		t.Fatalf("version printed %q", out.String())
	}
}

func TestUnknownCommand(t *testing.T) {
	var errOut bytes.Buffer
	err := run(context.Background(), []string{"frobnicate"}, env(nil), nil, io.Discard, &errOut)
	if err == nil || !strings.Contains(err.Error(), "frobnicate") {
		t.Fatalf("err = %v", err)
	}
}

func TestFlagValidationNamesTheFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--listen", "nonsense"}, nil, "--listen"},
		{[]string{"--listen", ":99999"}, nil, "--listen"},
		{[]string{"--public-url", "ftp://x"}, nil, "--public-url"},
		{[]string{"--public-url", "meet.example.org"}, nil, "--public-url"},
		{[]string{"--rtc-udp-port", "0"}, nil, "--rtc-udp-port"},
		{[]string{"--rtc-ip", "1.2.3.4,nope"}, nil, "--rtc-ip"},
		{[]string{"--rtc-listen-ip", "x"}, nil, "--rtc-listen-ip"},
		{[]string{"--log-level", "loud"}, nil, "--log-level"},
		{[]string{"--log-format", "xml"}, nil, "--log-format"},
		{[]string{"--db", "mysql://x"}, nil, "--db"},
		{[]string{"--reconnect-grace", "1ms"}, nil, "--reconnect-grace"},
		{[]string{"--smtp", "ftp://mail.example.org"}, nil, "--smtp"},
		{[]string{"--smtp", "smtp://mail.example.org?tls=none"}, nil, "--smtp"},
		{[]string{"--mail-from", "not an address"}, nil, "--mail-from"},
		{[]string{"--inbound-listen", "imap://127.0.0.1:143"}, nil, "--inbound-listen"},
		{[]string{"--redis", "memcached://127.0.0.1"}, nil, "--redis"},
		{[]string{"--rtc-simulate-loss", "60"}, nil, "--rtc-simulate-loss"},
		{[]string{"--rtc-simulate-loss", "-1"}, nil, "--rtc-simulate-loss"},
		{[]string{"--rtc-simulate-loss", "NaN"}, nil, "--rtc-simulate-loss"},
		{[]string{"--last-n", "-2"}, nil, "--last-n"},
		{nil, map[string]string{"SALON_REDIS": "localhost:6379"}, "--redis"},
		{nil, map[string]string{"SALON_SMTP": "smtp://user@host"}, "--smtp"},
		{nil, map[string]string{"SALON_RTC_UDP_PORT": "many"}, "SALON_RTC_UDP_PORT"},
		{nil, map[string]string{"SALON_LOG_FORMAT": "xml"}, "--log-format"},
	} {
		_, err := parseServeFlags(tc.args, env(tc.env), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: err = %v, want one naming %s", tc.args, tc.env, err, tc.want)
		}
	}
}

func TestEnvironmentAndFlags(t *testing.T) {
	cfg, err := parseServeFlags([]string{"--listen", "127.0.0.1:9000"}, env(map[string]string{
		"SALON_LISTEN":       ":1",
		"SALON_RTC_UDP_PORT": "9999",
		"SALON_RTC_IP":       "203.0.113.7, 198.51.100.2",
		"SALON_RTC_LOOPBACK": "true",
		"SALON_PUBLIC_URL":   "https://meet.example.org/",
		"SALON_SMTP":         "smtps://salon:s3cret@mail.example.org",
		"SALON_MAIL_FROM":    "Meetings <meet@example.org>",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:9000" {
		t.Errorf("command line should win over the environment: listen = %s", cfg.Listen)
	}
	if cfg.RTCUDPPort != 9999 || !cfg.RTCLoopback || len(cfg.RTCIPs) != 2 || cfg.RTCIPs[1] != "198.51.100.2" {
		t.Errorf("environment not applied: %+v", cfg)
	}
	if cfg.PublicURL != "https://meet.example.org" {
		t.Errorf("public url = %q", cfg.PublicURL)
	}
	if cfg.SMTP != "smtps://salon:s3cret@mail.example.org" || cfg.MailFrom != "Meetings <meet@example.org>" {
		t.Errorf("mail settings not applied: %q %q", cfg.SMTP, cfg.MailFrom)
	}
}

// syncBuffer is a bytes.Buffer safe for the server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeUDP(t *testing.T) int {
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// TestServeLifecycle starts salon in-process, checks the demo meeting and
// the operator endpoints, then shuts it down as a signal would.
func TestServeLifecycle(t *testing.T) {
	data := t.TempDir()
	var lastOut string
	startOnce := func() (string, func() error) {
		ctx, cancel := context.WithCancel(context.Background())
		var out, logs syncBuffer
		errc := make(chan error, 1)
		args := []string{"serve", "--listen", "127.0.0.1:0", "--data", data, "--rtc-listen-ip", "127.0.0.1",
			"--rtc-udp-port", fmt.Sprint(freeUDP(t)), "--rtc-loopback"}
		go func() { errc <- run(ctx, args, env(nil), nil, &out, &logs) }()
		re := regexp.MustCompile(`(http://\S+)/m/([a-z0-9-]+)`)
		deadline := time.Now().Add(20 * time.Second)
		for !re.MatchString(out.String()) {
			select {
			case err := <-errc:
				t.Fatalf("serve exited early: %v\n%s", err, logs.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("no demo link printed:\n%s", logs.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
		m := re.FindStringSubmatch(out.String())
		lastOut = out.String()
		return m[0], func() error {
			cancel()
			select {
			case err := <-errc:
				return err
			case <-time.After(20 * time.Second):
				return fmt.Errorf("serve did not stop within 20 s")
			}
		}
	}

	link, stop := startOnce()
	base := link[:strings.Index(link, "/m/")]
	if !strings.Contains(lastOut, "password: ") {
		t.Errorf("the first run printed no admin credentials:\n%s", lastOut)
	}
	for path, want := range map[string]int{
		"/healthz": 200, "/readyz": 200, "/metrics": 200,
		link[len(base):]: 200, "/m/no-such-meeting": 404, "/": 200,
		"/dav/": 401, // CalDAV needs an account
	} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s = %d, want %d", path, resp.StatusCode, want)
		}
		if path == "/metrics" {
			for _, name := range []string{"salon_sfu_rooms", "salon_participants", "salon_sfu_published_tracks",
				"salon_sfu_forwarded_packets_total", "salon_sfu_forwarded_bytes_total", "salon_join_duration_seconds",
				"go_goroutines"} {
				if !strings.Contains(string(body), name) {
					t.Errorf("/metrics lacks %s", name)
				}
			}
		}
		if resp.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("GET %s has no CSP header", path)
		}
	}
	req, _ := http.NewRequest(http.MethodOptions, base+"/dav/", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("DAV"), "calendar-access") {
		t.Errorf("OPTIONS /dav/ without credentials = %d, DAV %q", resp.StatusCode, resp.Header.Get("DAV"))
	}
	if err := stop(); err != nil {
		t.Fatalf("graceful stop: %v", err)
	}
	// A second run on the same data directory keeps the same demo meeting
	// and creates no second admin.
	link2, stop2 := startOnce()
	if strings.Contains(lastOut, "password: ") {
		t.Errorf("the second run created an admin again:\n%s", lastOut)
	}
	if link2[strings.Index(link2, "/m/"):] != link[strings.Index(link, "/m/"):] {
		t.Errorf("demo meeting changed across restarts: %s then %s", link, link2)
	}
	if err := stop2(); err != nil {
		t.Fatal(err)
	}
}

// startServe runs `salon serve` in-process on free loopback ports with
// media on loopback, plus extra flags, until the test ends; it returns
// what serve prints and logs, and its media port.
func startServe(t *testing.T, extra ...string) (out, logs *syncBuffer, udp int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, logs, udp = &syncBuffer{}, &syncBuffer{}, freeUDP(t)
	errc := make(chan error, 1)
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--data", t.TempDir(), "--rtc-listen-ip", "127.0.0.1",
		"--rtc-udp-port", fmt.Sprint(udp), "--rtc-loopback"}, extra...)
	go func() { errc <- run(ctx, args, env(nil), nil, out, logs) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("serve did not stop within 20 s")
		}
	})
	return out, logs, udp
}
