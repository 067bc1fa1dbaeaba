package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Timeouts of a relay session. RFC 5321 §4.5.3.2 suggests minutes per
// command for a patient MTA; salon is a submission client with a queue
// behind it, so it gives up sooner and tries again later.
const (
	dialTimeout    = 30 * time.Second
	setupTimeout   = time.Minute     // connect, greeting, STARTTLS, EHLO and AUTH
	commandTimeout = 2 * time.Minute // one command's reply
	// messageTimeout bounds one message from MAIL FROM to the reply to
	// its final dot, however slowly the relay reads; the outbox's lease
	// must outlast it.
	messageTimeout = 5 * time.Minute
	quitTimeout    = 10 * time.Second
)

// Relay is the SMTP submission server the outbox hands messages to, as
// ParseRelay reads it from the --smtp flag.
type Relay struct {
	host        string
	port        string
	implicitTLS bool // smtps://
	tls         tlsMode
	username    string
	password    string
}

// tlsMode is how a smtp:// relay session gets its TLS.
type tlsMode int

const (
	// tlsOpportunistic uses STARTTLS when the relay offers it, and
	// requires it when there are credentials to send.
	tlsOpportunistic tlsMode = iota
	tlsRequired              // ?tls=starttls
	tlsNone                  // ?tls=none: plain text, to a loopback relay only
)

const relayForms = "want smtp://[user:password@]host[:port] (STARTTLS, port 587) or smtps://[user:password@]host[:port] (TLS, port 465)"

// ParseRelay reads the relay URL of the --smtp flag:
//
//	smtp://[user:password@]host[:port][?tls=starttls|none]
//	smtps://[user:password@]host[:port]
//
// smtp:// submits on port 587 by default and uses STARTTLS when the relay
// offers it; with credentials, or with tls=starttls, it refuses a relay
// that does not, so that a password never crosses the network in clear.
// tls=none sends in plain text and is allowed only for a relay on a
// loopback address, without credentials. smtps:// speaks TLS from the
// first byte, on port 465 by default. Credentials are sent with AUTH PLAIN
// (RFC 4616); escape reserved characters in them as in any URL
// (%40 for @, %3A for :).
//
// Errors never contain the password.
func ParseRelay(rawURL string) (*Relay, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error repeats the whole URL, password included.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("--smtp: cannot parse the URL: %v; %s", err, relayForms)
	}
	r := &Relay{host: u.Hostname(), port: u.Port()}
	switch u.Scheme {
	case "smtp":
		if r.port == "" {
			r.port = "587"
		}
	case "smtps":
		r.implicitTLS = true
		if r.port == "" {
			r.port = "465"
		}
	default:
		return nil, fmt.Errorf("--smtp: unknown scheme %q; %s", u.Scheme, relayForms)
	}
	switch {
	case u.Opaque != "" || r.host == "":
		return nil, fmt.Errorf("--smtp: no host in %q; %s", u.Redacted(), relayForms)
	case u.Path != "" && u.Path != "/":
		return nil, fmt.Errorf("--smtp: unexpected path %q; %s", u.Path, relayForms)
	case u.Fragment != "":
		return nil, fmt.Errorf("--smtp: unexpected fragment %q; %s", u.Fragment, relayForms)
	}
	if n, err := strconv.Atoi(r.port); err != nil || n < 1 || n > 65535 {
		return nil, fmt.Errorf("--smtp: bad port %q; want a number from 1 to 65535", r.port)
	}
	if u.User != nil {
		r.username = u.User.Username()
		r.password, _ = u.User.Password()
		if r.username == "" || r.password == "" {
			return nil, errors.New("--smtp: give both a user name and a password (smtp://user:password@host), or neither")
		}
	}
	for key, values := range u.Query() {
		if key != "tls" {
			return nil, fmt.Errorf("--smtp: unknown parameter %q; the only one is tls=starttls|none", key)
		}
		if r.implicitTLS {
			return nil, errors.New("--smtp: tls= is for smtp:// relays; smtps:// always uses TLS")
		}
		switch values[len(values)-1] {
		case "starttls":
			r.tls = tlsRequired
		case "none":
			r.tls = tlsNone
		default:
			return nil, fmt.Errorf("--smtp: tls=%q; want tls=starttls (require STARTTLS) or tls=none (plain text to a loopback relay)", values[len(values)-1])
		}
	}
	if r.tls == tlsNone {
		if !isLoopback(r.host) {
			return nil, fmt.Errorf("--smtp: tls=none is allowed only for a relay on this machine (localhost, 127.0.0.1, ::1), not %s; remove it to use STARTTLS", r.host)
		}
		if r.username != "" {
			return nil, errors.New("--smtp: tls=none cannot be used with a password, which salon never sends in clear text; remove tls=none or the credentials")
		}
	}
	return r, nil
}

// isLoopback reports whether host names this machine without a network in
// between.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// String is the relay's URL with the password hidden, for logs and errors.
func (r *Relay) String() string {
	u := url.URL{Scheme: "smtp", Host: net.JoinHostPort(r.host, r.port)}
	if r.implicitTLS {
		u.Scheme = "smtps"
	}
	if r.username != "" {
		u.User = url.UserPassword(r.username, r.password)
	}
	switch r.tls {
	case tlsRequired:
		u.RawQuery = "tls=starttls"
	case tlsNone:
		u.RawQuery = "tls=none"
	}
	return u.Redacted()
}

// relayClient is one open, authenticated session with the relay, used by
// one goroutine at a time.
type relayClient struct {
	c    *smtp.Client
	conn *relayConn
}

// dial opens a session with the relay: connect, TLS as configured, EHLO
// localName and AUTH. base, when not nil, is the TLS configuration to start
// from (tests give it their root CAs). ctx cancels only the connect; the
// rest is bounded by setupTimeout.
func (r *Relay) dial(ctx context.Context, localName string, base *tls.Config) (*relayClient, error) {
	if localName == "" || strings.ContainsAny(localName, " \t\r\n") {
		return nil, fmt.Errorf("relay %s: bad EHLO name %q", r, localName)
	}
	d := net.Dialer{Timeout: dialTimeout}
	raw, err := d.DialContext(ctx, "tcp", net.JoinHostPort(r.host, r.port))
	if err != nil {
		return nil, fmt.Errorf("relay %s: %w", r, err)
	}
	conn := &relayConn{Conn: raw}
	conn.setLimit(time.Now().Add(setupTimeout))
	rc, err := r.open(conn, localName, base)
	if err != nil {
		raw.Close()
		return nil, fmt.Errorf("relay %s: %w", r, err)
	}
	return rc, nil
}

func (r *Relay) open(conn *relayConn, localName string, base *tls.Config) (*relayClient, error) {
	cfg := &tls.Config{}
	if base != nil {
		cfg = base.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = r.host
	}
	switch {
	case r.implicitTLS:
		tc := tls.Client(conn.Conn, cfg)
		if err := tc.Handshake(); err != nil {
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		conn.Conn = tc
	case r.tls != tlsNone:
		if err := r.startTLS(conn, localName, cfg); err != nil {
			return nil, err
		}
	}
	c := smtp.NewClient(conn)
	c.CommandTimeout = commandTimeout
	c.SubmissionTimeout = messageTimeout
	if err := c.Hello(localName); err != nil {
		return nil, fmt.Errorf("EHLO: %w", err)
	}
	if r.username != "" {
		// startTLS or smtps got TLS, or refused to go on without it.
		if !c.SupportsAuth(sasl.Plain) {
			return nil, errors.New("the relay does not offer AUTH PLAIN, the only mechanism salon speaks")
		}
		if err := c.Auth(sasl.NewPlainClient("", r.username, r.password)); err != nil {
			return nil, fmt.Errorf("AUTH PLAIN as %s: %w", r.username, err)
		}
	}
	return &relayClient{c: c, conn: conn}, nil
}

// replayedGreeting stands in for the greeting a relay sent before STARTTLS.
const replayedGreeting = "220 greeting read by salon before go-smtp\r\n"

// startTLS speaks the plain-text start of a smtp:// session itself
// (RFC 3207): go-smtp starts TLS only from its constructor, which greets as
// "localhost" and gives up when the relay offers no STARTTLS, whereas
// salon greets with its own name and decides by what the relay offers. On
// return conn is ready for go-smtp's client, greeting included.
func (r *Relay) startTLS(conn *relayConn, localName string, cfg *tls.Config) error {
	tp := textproto.NewConn(conn)
	if _, _, err := tp.ReadResponse(220); err != nil {
		return fmt.Errorf("greeting: %w", err)
	}
	if err := tp.PrintfLine("EHLO %s", localName); err != nil {
		return err
	}
	_, msg, err := tp.ReadResponse(250)
	if err != nil {
		return fmt.Errorf("EHLO: %w", err)
	}
	// Whatever a relay sends unasked before TLS could be read as a reply
	// to a command sent inside it (the STARTTLS injection of
	// CVE-2011-0411), and go-smtp would never see it anyway.
	unasked := errors.New("the relay sent data nobody asked for")
	if !hasExtension(msg, "STARTTLS") {
		switch {
		case r.username != "":
			return errors.New("the relay does not offer STARTTLS, and salon never sends a password in clear text; use a relay with STARTTLS, or smtps://")
		case r.tls == tlsRequired:
			return errors.New("the relay does not offer STARTTLS, which tls=starttls requires")
		case tp.R.Buffered() > 0:
			return unasked
		}
		conn.replay = []byte(replayedGreeting)
		return nil
	}
	if err := tp.PrintfLine("STARTTLS"); err != nil {
		return err
	}
	if _, _, err := tp.ReadResponse(220); err != nil {
		return fmt.Errorf("STARTTLS: %w", err)
	}
	if tp.R.Buffered() > 0 {
		return unasked
	}
	tc := tls.Client(conn.Conn, cfg)
	if err := tc.Handshake(); err != nil {
		return fmt.Errorf("STARTTLS handshake: %w", err)
	}
	conn.Conn = tc
	conn.replay = []byte(replayedGreeting)
	return nil
}

// hasExtension reports whether an EHLO reply (its lines after the first)
// names the extension ext.
func hasExtension(ehlo, ext string) bool {
	lines := strings.Split(ehlo, "\n")
	for _, line := range lines[1:] {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		if strings.EqualFold(name, ext) {
			return true
		}
	}
	return false
}

// delivery is what became of one message on a relay session.
type delivery struct {
	err       error  // nil when the relay accepted the message
	permanent bool   // err will not go away by trying again
	broken    bool   // the session is unusable
	refused   string // recipients refused for good while others were accepted, in the relay's words
}

// send submits one message. A refused recipient is dropped when others are
// accepted; a recipient refused for now makes the whole message wait, so
// that a retry never reaches anyone twice.
func (rc *relayClient) send(from string, to []string, data []byte) delivery {
	rc.conn.setLimit(time.Now().Add(messageTimeout))
	opts := &smtp.MailOptions{Size: int64(len(data))}
	if !isASCII(from) || !allASCII(to) {
		if ok, _ := rc.c.Extension("SMTPUTF8"); !ok {
			return delivery{err: errors.New("an address is not ASCII and the relay does not offer SMTPUTF8 (RFC 6531)"), permanent: true}
		}
		opts.UTF8 = true
	}
	if err := rc.c.Mail(from, opts); err != nil {
		return rc.failed(err)
	}
	var refused []string
	var later error
	for _, addr := range to {
		err := rc.c.Rcpt(addr, nil)
		var se *smtp.SMTPError
		switch {
		case err == nil:
		case errors.As(err, &se) && se.Code >= 500:
			refused = append(refused, "<"+addr+">: "+relayText(se))
		case errors.As(err, &se) && se.Code != 421:
			if later == nil {
				later = fmt.Errorf("<%s>: %s", addr, relayText(se))
			}
		default:
			return rc.failed(err)
		}
	}
	switch {
	case later != nil:
		return rc.reset(delivery{err: later})
	case len(refused) == len(to):
		return rc.reset(delivery{err: errors.New("the relay refused every recipient: " + strings.Join(refused, "; ")), permanent: true})
	}
	w, err := rc.c.Data()
	if err != nil {
		return rc.failed(err)
	}
	if _, err := w.Write(data); err != nil {
		return delivery{err: err, broken: true}
	}
	if err := w.Close(); err != nil {
		return rc.failed(err)
	}
	return delivery{refused: strings.Join(refused, "; ")}
}

// failed classifies err from a command of send and leaves the session
// ready for the next message.
func (rc *relayClient) failed(err error) delivery {
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		// Not a reply: a network error or timeout, after which the
		// session is in an unknown state.
		return delivery{err: err, broken: true}
	}
	d := delivery{err: errors.New("the relay answered " + relayText(se)), permanent: se.Code >= 500}
	if se.Code == 421 { // RFC 5321 §3.8: the relay is closing the session
		d.broken = true
		return d
	}
	return rc.reset(d)
}

// reset ends the current mail transaction (RSET) so that the session can
// carry the next message.
func (rc *relayClient) reset(d delivery) delivery {
	if !d.broken && rc.c.Reset() != nil {
		d.broken = true
	}
	return d
}

// quit ends the session politely, briefly: the messages are already sent.
func (rc *relayClient) quit() {
	rc.conn.setLimit(time.Now().Add(quitTimeout))
	if rc.c.Quit() != nil {
		rc.c.Close()
	}
}

// close drops the session.
func (rc *relayClient) close() { rc.c.Close() }

// relayText is a relay's reply as it would appear in its log: code,
// enhanced code and text.
func relayText(se *smtp.SMTPError) string {
	msg := strings.ReplaceAll(se.Message, "\n", " ")
	if se.EnhancedCode == smtp.EnhancedCodeNotSet || se.EnhancedCode == smtp.NoEnhancedCode {
		return fmt.Sprintf("%d %s", se.Code, msg)
	}
	e := se.EnhancedCode
	return fmt.Sprintf("%d %d.%d.%d %s", se.Code, e[0], e[1], e[2], msg)
}

// relayConn is the connection under a relay session. It caps every
// deadline at a limit set per phase: go-smtp clears its deadlines after
// each command and writes message data with none, so a relay that stopped
// reading would otherwise hold a worker for ever. It also replays a
// greeting already read by startTLS.
type relayConn struct {
	net.Conn
	limit  time.Time
	replay []byte
}

// setLimit caps the session's deadlines at t from now on.
func (c *relayConn) setLimit(t time.Time) {
	c.limit = t
	c.Conn.SetDeadline(t)
}

func (c *relayConn) capped(t time.Time) time.Time {
	if t.IsZero() || t.After(c.limit) {
		return c.limit
	}
	return t
}

func (c *relayConn) SetDeadline(t time.Time) error      { return c.Conn.SetDeadline(c.capped(t)) }
func (c *relayConn) SetReadDeadline(t time.Time) error  { return c.Conn.SetReadDeadline(c.capped(t)) }
func (c *relayConn) SetWriteDeadline(t time.Time) error { return c.Conn.SetWriteDeadline(c.capped(t)) }

func (c *relayConn) Read(b []byte) (int, error) {
	if len(c.replay) > 0 {
		n := copy(b, c.replay)
		c.replay = c.replay[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func allASCII(ss []string) bool {
	for _, s := range ss {
		if !isASCII(s) {
			return false
		}
	}
	return true
}
