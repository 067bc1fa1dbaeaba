package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// salonBin is the binary under test: $SALON_BIN, or one built by TestMain.
var salonBin string

func TestMain(m *testing.M) {
	salonBin = os.Getenv("SALON_BIN")
	if salonBin == "" {
		dir, err := os.MkdirTemp("", "salon-e2e-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		salonBin = filepath.Join(dir, "salon")
		build := exec.Command("go", "build", "-race", "-o", salonBin, "github.com/salonhq/salon/cmd/salon")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build salon:", err)
			os.Exit(1)
		}
		code := m.Run()
		os.RemoveAll(dir)
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// salonProc is a running `salon serve`.
type salonProc struct {
	t    *testing.T
	cmd  *exec.Cmd
	base string // http://127.0.0.1:port
	demo string // the demo meeting's URL
	data string // the data directory
	logs *lockedBuffer
	exit chan error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func freePort(t *testing.T, network string) int {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startSalon runs salon on free loopback ports with a fresh data directory
// and waits until it is ready.
func startSalon(t *testing.T, extra ...string) *salonProc {
	t.Helper()
	port := freePort(t, "tcp")
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	data := t.TempDir()
	args := append([]string{"serve",
		"--listen", fmt.Sprintf("127.0.0.1:%d", port),
		"--public-url", base,
		"--data", data,
		"--rtc-udp-port", fmt.Sprint(freePort(t, "udp")),
		"--rtc-listen-ip", "127.0.0.1",
		"--rtc-loopback",
		"--log-level", "debug",
	}, extra...)
	cmd := exec.Command(salonBin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start salon: %v", err)
	}
	p := &salonProc{t: t, cmd: cmd, base: base, data: data, logs: logs, exit: make(chan error, 1)}
	demo := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`https?://\S+/m/[a-z0-9-]+`)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := re.FindString(sc.Text()); m != "" {
				select {
				case demo <- m:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() { p.exit <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("salon log:\n%s", tail(logs.String(), 200))
		}
	})
	select {
	case p.demo = <-demo:
	case err := <-p.exit:
		t.Fatalf("salon exited at start: %v\n%s", err, logs.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("salon printed no demo link in 60 s\n%s", logs.String())
	}
	waitFor(t, 30*time.Second, "salon to be ready", func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return p
}

// addUser creates an account with `salon user add`, as an admin would.
func (p *salonProc) addUser(name, email, password string) {
	p.t.Helper()
	cmd := exec.Command(salonBin, "user", "add", name, "--email", email, "--data", p.data)
	cmd.Stdin = strings.NewReader(password + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		p.t.Fatalf("salon user add %s: %v\n%s", name, err, out)
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (p *salonProc) stop() {
	p.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.exit:
		if err != nil {
			p.t.Errorf("salon exited with %v after SIGTERM", err)
		}
	case <-time.After(30 * time.Second):
		p.t.Errorf("salon did not exit within 30 s of SIGTERM")
		_ = p.cmd.Process.Kill()
	}
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func tail(s string, lines int) string {
	ls := strings.Split(s, "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

// artifactsDir is where screenshots go: $SALON_ARTIFACTS or a temp dir.
func artifactsDir(t *testing.T) string {
	dir := os.Getenv("SALON_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// ctxWait is a context-aware sleep for polling loops.
func ctxWait(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
