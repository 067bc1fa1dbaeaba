package mail

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// testSMTPD is a recording SMTP server on a free loopback port, the relay
// of the outbox tests and benchmarks. It can be stopped and started again
// on the same port, and told to refuse commands.
type testSMTPD struct {
	tb   testing.TB
	cfg  testSMTPDConfig
	addr string // host:port, fixed by the first start

	mu       sync.Mutex
	srv      *smtp.Server
	l        net.Listener
	served   chan struct{} // closed when the running server's Serve returns
	msgs     []recordedMail
	auths    int                                     // AUTH commands received
	fail     func(stage, arg string) *smtp.SMTPError // nil: accept everything
	changed  chan struct{}                           // closed and replaced when msgs or auths change
	sessions int                                     // sessions opened, to see connection reuse
}

// testSMTPDConfig is what a testSMTPD offers and demands.
type testSMTPDConfig struct {
	StartTLS     bool              // offer STARTTLS with the test certificate
	RequireTLS   bool              // refuse MAIL before TLS (530)
	ImplicitTLS  bool              // TLS from the first byte, like smtps
	Users        map[string]string // AUTH PLAIN accounts; none: no AUTH
	RequireAuth  bool              // refuse MAIL before AUTH (530)
	InsecureAuth bool              // offer AUTH without TLS, to catch a client that uses it
}

// recordedMail is one message the server accepted.
type recordedMail struct {
	From string
	To   []string
	Data []byte
	Helo string
	TLS  bool
	User string // who authenticated, "" for nobody
}

// newTestSMTPD starts a recording server; it stops when tb ends.
func newTestSMTPD(tb testing.TB, cfg testSMTPDConfig) *testSMTPD {
	tb.Helper()
	s := &testSMTPD{tb: tb, cfg: cfg, addr: "127.0.0.1:0", changed: make(chan struct{})}
	s.start()
	tb.Cleanup(s.stop)
	return s
}

// start listens (again) on the server's port.
func (s *testSMTPD) start() {
	s.tb.Helper()
	l, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.tb.Fatalf("testSMTPD: listen: %v", err)
	}
	s.addr = l.Addr().String()
	srv := smtp.NewServer(smtp.BackendFunc(s.newSession))
	srv.Domain = "relay.test"
	srv.AllowInsecureAuth = s.cfg.InsecureAuth
	srv.ErrorLog = testSMTPLog{s.tb}
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	if s.cfg.StartTLS || s.cfg.ImplicitTLS {
		srv.TLSConfig = testServerTLS(s.tb)
	}
	if s.cfg.ImplicitTLS {
		l = tls.NewListener(l, srv.TLSConfig)
		// go-smtp would offer STARTTLS inside TLS otherwise.
		srv.TLSConfig = nil
	}
	served := make(chan struct{})
	s.mu.Lock()
	s.srv, s.l, s.served = srv, l, served
	s.mu.Unlock()
	go func() {
		defer close(served)
		srv.Serve(l)
	}()
}

// stop closes the listener and every session; a stopped server refuses
// connections until start.
func (s *testSMTPD) stop() {
	s.mu.Lock()
	srv, l, served := s.srv, s.l, s.served
	s.srv, s.l = nil, nil
	s.mu.Unlock()
	if srv == nil {
		return
	}
	srv.Close()
	// Close misses a listener that Serve has not registered yet.
	l.Close()
	<-served
}

// setFail makes the server answer f's error to the commands it returns one
// for: stage is "MAIL", "RCPT" or "DATA", arg the address or, for DATA,
// the message. nil accepts everything again.
func (s *testSMTPD) setFail(f func(stage, arg string) *smtp.SMTPError) {
	s.mu.Lock()
	s.fail = f
	s.mu.Unlock()
}

func (s *testSMTPD) failure(stage, arg string) error {
	s.mu.Lock()
	f := s.fail
	s.mu.Unlock()
	if f == nil {
		return nil
	}
	if se := f(stage, arg); se != nil {
		return se
	}
	return nil
}

// url is the relay URL of the server for ParseRelay, with credentials
// when user is not empty.
func (s *testSMTPD) url(user, password string) string {
	u := url.URL{Scheme: "smtp", Host: s.addr}
	switch {
	case s.cfg.ImplicitTLS:
		u.Scheme = "smtps"
	case !s.cfg.StartTLS && user == "":
		u.RawQuery = "tls=none"
	}
	if user != "" {
		u.User = url.UserPassword(user, password)
	}
	return u.String()
}

// relay is the server as a Relay; it fails tb if url does not parse.
func (s *testSMTPD) relay(user, password string) *Relay {
	s.tb.Helper()
	r, err := ParseRelay(s.url(user, password))
	if err != nil {
		s.tb.Fatal(err)
	}
	return r
}

// messages returns a copy of what the server accepted so far.
func (s *testSMTPD) messages() []recordedMail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]recordedMail(nil), s.msgs...)
}

// authAttempts is how many AUTH commands reached the server.
func (s *testSMTPD) authAttempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.auths
}

// sessionCount is how many sessions (EHLOs) the server has seen.
func (s *testSMTPD) sessionCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions
}

// waitMessages waits until the server has accepted at least n messages and
// returns them; it fails tb after timeout.
func (s *testSMTPD) waitMessages(n int, timeout time.Duration) []recordedMail {
	s.tb.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		msgs, changed := append([]recordedMail(nil), s.msgs...), s.changed
		s.mu.Unlock()
		if len(msgs) >= n {
			return msgs
		}
		select {
		case <-changed:
		case <-deadline.C:
			s.tb.Fatalf("testSMTPD: %d messages after %v, want %d", len(msgs), timeout, n)
		}
	}
}

// record adds to what the server saw, under mu, and wakes the waiters.
func (s *testSMTPD) record(f func()) {
	s.mu.Lock()
	f()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

func (s *testSMTPD) newSession(c *smtp.Conn) (smtp.Session, error) {
	_, isTLS := c.TLSConnectionState()
	s.mu.Lock()
	s.sessions++
	s.mu.Unlock()
	return &testSession{s: s, helo: c.Hostname(), tls: isTLS}, nil
}

// testSession is one session of a testSMTPD; go-smtp makes a new one after
// STARTTLS.
type testSession struct {
	s    *testSMTPD
	helo string
	tls  bool
	user string
	from string
	to   []string
}

var errTLSFirst = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Must issue a STARTTLS command first"}
var errAuthFirst = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}

func (ts *testSession) AuthMechanisms() []string {
	if len(ts.s.cfg.Users) == 0 {
		return nil
	}
	return []string{sasl.Plain}
}

func (ts *testSession) Auth(mech string) (sasl.Server, error) {
	ts.s.record(func() { ts.s.auths++ })
	if mech != sasl.Plain || len(ts.s.cfg.Users) == 0 {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, user, password string) error {
		if want, ok := ts.s.cfg.Users[user]; !ok || want != password || (identity != "" && identity != user) {
			return smtp.ErrAuthFailed
		}
		ts.user = user
		return nil
	}), nil
}

func (ts *testSession) Mail(from string, _ *smtp.MailOptions) error {
	switch {
	case ts.s.cfg.RequireTLS && !ts.tls:
		return errTLSFirst
	case ts.s.cfg.RequireAuth && ts.user == "":
		return errAuthFirst
	}
	if err := ts.s.failure("MAIL", from); err != nil {
		return err
	}
	ts.from, ts.to = from, nil
	return nil
}

func (ts *testSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := ts.s.failure("RCPT", to); err != nil {
		return err
	}
	ts.to = append(ts.to, to)
	return nil
}

func (ts *testSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if err := ts.s.failure("DATA", string(data)); err != nil {
		return err
	}
	m := recordedMail{From: ts.from, To: ts.to, Data: data, Helo: ts.helo, TLS: ts.tls, User: ts.user}
	ts.s.record(func() { ts.s.msgs = append(ts.s.msgs, m) })
	return nil
}

func (ts *testSession) Reset()        { ts.from, ts.to = "", nil }
func (ts *testSession) Logout() error { return nil }

// testSMTPLog sends go-smtp's server log to the test log.
type testSMTPLog struct{ tb testing.TB }

func (l testSMTPLog) Printf(format string, v ...any) { l.tb.Logf("testSMTPD: "+format, v...) }
func (l testSMTPLog) Println(v ...any)               { l.tb.Log(append([]any{"testSMTPD:"}, v...)...) }

// The test certificate authority: a self-signed certificate for 127.0.0.1,
// ::1 and localhost, made once per test binary and kept in memory.
var testCert struct {
	once sync.Once
	cert tls.Certificate
	pool *x509.CertPool
	err  error
}

func makeTestCert() {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		testCert.err = err
		return
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "salon test relay"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		testCert.err = err
		return
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		testCert.err = err
		return
	}
	testCert.cert = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
	testCert.pool = x509.NewCertPool()
	testCert.pool.AddCert(leaf)
}

// testServerTLS is the TLS configuration of a test server.
func testServerTLS(tb testing.TB) *tls.Config {
	tb.Helper()
	testCert.once.Do(makeTestCert)
	if testCert.err != nil {
		tb.Fatalf("test certificate: %v", testCert.err)
	}
	return &tls.Config{Certificates: []tls.Certificate{testCert.cert}}
}

// testClientTLS trusts the test certificate.
func testClientTLS(tb testing.TB) *tls.Config {
	tb.Helper()
	testServerTLS(tb)
	return &tls.Config{RootCAs: testCert.pool}
}

// eventually waits until cond holds, checking it every few milliseconds,
// and fails tb with cond's last word after timeout.
func eventually(tb testing.TB, timeout time.Duration, cond func() (bool, string)) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("still not after %v: %s", timeout, why)
		}
		<-tick.C
	}
}

// testMail is the data of a test message: CRLF lines, and lines that
// start with dots, which SMTP must stuff and unstuff byte for byte.
func testMail(id string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: Organizer <organizer@salon.test>\r\nTo: attendee@example.org\r\n")
	fmt.Fprintf(&b, "Message-ID: <%s>\r\nSubject: Invitation %s\r\nMIME-Version: 1.0\r\n", id, id)
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\n\r\nHello.\r\n.\r\n..two dots\r\n.one dot\r\n\r\nBye.\r\n")
	return b.Bytes()
}

// smtpCode is the reply code of an SMTP error, 0 for other errors.
func smtpCode(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}
