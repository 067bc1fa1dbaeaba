package testredis

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// serverBinary is where Debian's redis-server package installs the server.
const serverBinary = "/usr/bin/redis-server"

// databases is how many logical databases each server has, so that every
// test of a binary can hold one of its own at the same time.
const databases = 1024

const (
	startTimeout = 10 * time.Second
	stopTimeout  = 10 * time.Second
	// portAttempts bounds the retries when another process takes the
	// free port between our probe and the server's bind.
	portAttempts = 5
)

// Server is a redis-server process that a test binary started on a loopback
// port. It keeps its port across Stop and Restart, so that clients made
// before a Stop find it again after the Restart.
type Server struct {
	port int

	mu      sync.Mutex // guards proc and freeDBs
	proc    *process   // nil while stopped
	freeDBs []int      // database numbers no test holds; 0 is never handed out
}

// process is one run of redis-server.
type process struct {
	cmd     *exec.Cmd
	log     *tailBuffer
	exited  chan struct{} // closed when the process has exited
	waitErr error         // its exit status, once exited is closed
}

// startServer starts a server on a free loopback port.
func startServer() (*Server, error) {
	if err := findBinary(); err != nil {
		return nil, err
	}
	var lastErr error
	for range portAttempts {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s := &Server{port: port}
		for db := databases - 1; db >= 1; db-- {
			s.freeDBs = append(s.freeDBs, db)
		}
		p, err := s.run()
		if err == nil {
			s.proc = p
			return s, nil
		}
		lastErr = err
		if !errors.Is(err, errPortTaken) {
			break
		}
	}
	return nil, lastErr
}

var errPortTaken = errors.New("port taken")

// run starts redis-server on s.port and waits until it answers PING.
func (s *Server) run() (*process, error) {
	// The server runs without persistence and writes nothing to its
	// directory, so the directory is removed as soon as the server has
	// started: a test binary killed by a timeout leaves nothing behind.
	dir, err := os.MkdirTemp("", "salon-testredis-")
	if err != nil {
		return nil, fmt.Errorf("testredis: %w", err)
	}
	defer os.RemoveAll(dir)

	p := &process{log: &tailBuffer{max: 8 << 10}, exited: make(chan struct{})}
	p.cmd = exec.Command(serverBinary,
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--dir", dir,
		"--save", "",
		"--appendonly", "no",
		"--databases", strconv.Itoa(databases),
		"--daemonize", "no",
		"--logfile", "",
		"--loglevel", "warning",
		// DEBUG SLEEP and friends let tests simulate a slow server.
		"--enable-debug-command", "local")
	p.cmd.Stdout = p.log
	p.cmd.Stderr = p.log
	p.cmd.SysProcAttr = &syscall.SysProcAttr{
		// The server quits with its test binary, even one killed by a
		// test timeout, and a terminal's signals reach it through us.
		Pdeathsig: syscall.SIGKILL,
		Setpgid:   true,
	}

	started := make(chan error, 1)
	go func() {
		// Linux sends Pdeathsig when the thread that forked the child
		// exits, not the process. Pin this goroutine to its thread and
		// keep it, parked in Wait, for as long as the server lives.
		runtime.LockOSThread()
		if err := p.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("testredis: start %s: %w", serverBinary, err)
	}
	if err := p.waitReady(s.Addr()); err != nil {
		p.kill()
		return nil, err
	}
	return p, nil
}

// waitReady polls the server until it answers PING, it exits, or
// startTimeout passes. It speaks RESP itself: go-redis would log every
// refused connection while the server starts.
func (p *process) waitReady(addr string) error {
	deadline := time.Now().Add(startTimeout)
	for {
		err := ping(addr)
		if err == nil {
			return nil
		}
		select {
		case <-p.exited:
			if strings.Contains(p.log.String(), "Address already in use") {
				return errPortTaken
			}
			return fmt.Errorf("testredis: redis-server exited during start-up (%v)%s", p.waitErr, p.logTail())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("testredis: redis-server did not answer PING on %s within %s: %v%s", addr, startTimeout, err, p.logTail())
		}
	}
}

// ping sends one PING to addr and checks the answer.
func ping(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	buf := make([]byte, 64)
	n, err := conn.Read(buf)
	if err != nil {
		return err
	}
	if got := string(buf[:n]); got != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", got)
	}
	return nil
}

// stop asks the server to shut down and kills it if it has not within
// stopTimeout.
func (p *process) stop() error {
	p.cmd.Process.Signal(syscall.SIGCONT) // a paused server cannot exit
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return nil
	case <-time.After(stopTimeout):
		p.kill()
		return fmt.Errorf("testredis: redis-server did not stop within %s; killed it%s", stopTimeout, p.logTail())
	}
}

func (p *process) kill() {
	p.cmd.Process.Kill()
	<-p.exited
}

// logTail is the end of the server's output, to explain a failure.
func (p *process) logTail() string {
	s := strings.TrimSpace(p.log.String())
	if s == "" {
		return ""
	}
	return "\nredis-server log:\n" + s
}

// Addr is the server's host:port.
func (s *Server) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
}

// URL is the server's redis:// URL, for code that takes one.
func (s *Server) URL() string {
	return "redis://" + s.Addr()
}

// Stop shuts the server down; its port stays reserved for Restart. Clients
// see connection errors until then. It fails t if the server is not
// running.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p == nil {
		t.Fatal("testredis: Stop of a server that is not running")
	}
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
}

// Restart starts a stopped server again on the same port, empty: data,
// scripts and subscriptions do not survive a Stop. It fails t if the server
// is running or cannot start.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		t.Fatal("testredis: Restart of a server that is running; Stop it first")
	}
	p, err := s.run()
	if errors.Is(err, errPortTaken) {
		t.Fatalf("testredis: cannot restart on %s: another process took the port while the server was stopped", s.Addr())
	}
	if err != nil {
		t.Fatal(err)
	}
	s.proc = p
}

// Pause freezes the server (SIGSTOP): it keeps its connections and accepts
// new ones but answers nothing, as a server that hangs does, so clients run
// into their timeouts. Resume undoes it.
func (s *Server) Pause(t testing.TB) {
	t.Helper()
	s.signal(t, syscall.SIGSTOP)
}

// Resume lets a paused server run again.
func (s *Server) Resume(t testing.TB) {
	t.Helper()
	s.signal(t, syscall.SIGCONT)
}

func (s *Server) signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	if p == nil {
		t.Fatalf("testredis: cannot send %v to a server that is not running", sig)
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("testredis: send %v to redis-server: %v", sig, err)
	}
}

// close stops the server for good.
func (s *Server) close() error {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p == nil {
		return nil
	}
	return p.stop()
}

// findBinary says which Debian package to install when the server is
// missing.
func findBinary() error {
	fi, err := os.Stat(serverBinary)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
		return errors.New("testredis: " + serverBinary + " not found: install the Debian package redis-server (apt-get install -y redis-server)")
	}
	return nil
}

// freePort asks the kernel for a loopback port nobody listens on. Another
// process may take it before redis-server binds it; startServer retries.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("testredis: find a free loopback port: %w (is the loopback interface up?)", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
