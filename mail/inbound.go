package mail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"
)

// Limits of the inbound listener.
const (
	defaultInboundRecipients = 50
	inboundReadTimeout       = time.Minute
	inboundWriteTimeout      = time.Minute
	// inboundMaxLine is RFC 5321 §4.5.3.1.6's 1000 octets, doubled as
	// go-smtp does for clients that overshoot.
	inboundMaxLine = 2000
	// handlerTimeout bounds one HandleIMIP call, so that a stuck database
	// turns into a 451 rather than a session held open.
	handlerTimeout = time.Minute
)

// InboundHandler receives the iMIP messages the mail server hands salon:
// the replies attendees send to organizers.
type InboundHandler interface {
	// HandleIMIP processes one received iMIP message for rcpts, the
	// envelope recipients (over LMTP, one recipient per call, so that each
	// gets its own status). envelopeFrom is "" for a null sender. A
	// *RejectError refuses the message for good (SMTP 550 with its text);
	// any other error is temporary (451), and the mail server tries again
	// later, so handling must be idempotent.
	HandleIMIP(ctx context.Context, m *Inbound, envelopeFrom string, rcpts []string) error
}

// RejectError refuses a received message for good. Msg is shown to the
// sender in the bounce, so it says what is wrong without internal detail.
type RejectError struct {
	Msg string
}

// Error is Msg for logs; the sender sees Msg alone.
func (e *RejectError) Error() string { return "mail: message refused: " + e.Msg }

// InboundConfig is where and how the inbound listener listens.
//
// The listener takes mail from the local mail server without
// authentication: bind it to loopback or a Unix socket, never to an
// address the internet can reach.
type InboundConfig struct {
	// Addr is "smtp://127.0.0.1:2525", "lmtp://127.0.0.1:2424",
	// "lmtp+unix:///run/salon/lmtp.sock", "smtp+unix:///path", or a
	// bare host:port meaning SMTP.
	Addr string
	// Domain is the name in the greeting; os.Hostname() when empty.
	Domain string
	// MaxMessageBytes is the largest message accepted; MaxInboundSize
	// when zero.
	MaxMessageBytes int64
	// MaxRecipients is the most recipients one message may have; 50 when
	// zero.
	MaxRecipients int
}

// InboundOptions are the inbound listener's collaborators.
type InboundOptions struct {
	Handler InboundHandler
	Logger  *slog.Logger // slog.Default() when nil
	// Metrics registers salon_mail_received_total when not nil.
	Metrics prometheus.Registerer
}

// InboundServer is the SMTP or LMTP listener through which the mail server
// hands salon the iMIP messages addressed to it.
type InboundServer struct {
	network, addr string
	lmtp          bool
	srv           *smtp.Server
	handler       InboundHandler
	log           *slog.Logger
	metrics       *inboundMetrics
	// ctx is the parent of handler calls; Shutdown cancels it when its
	// own context ends before the sessions do.
	ctx    context.Context
	cancel context.CancelFunc
}

// ParseInboundAddr reads InboundConfig.Addr: "smtp://host:port",
// "lmtp://host:port", "lmtp+unix:///path", "smtp+unix:///path" or a bare
// "host:port" (SMTP). network and addr are as net.Listen takes them.
func ParseInboundAddr(s string) (network, addr string, lmtp bool, err error) {
	const forms = "want smtp://127.0.0.1:2525, lmtp://127.0.0.1:2424, lmtp+unix:///run/salon/lmtp.sock or host:port"
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		if err := checkHostPort(s); err != nil {
			return "", "", false, fmt.Errorf("inbound mail address %q: %v; %s", s, err, forms)
		}
		return "tcp", s, false, nil
	}
	switch scheme {
	case "smtp", "lmtp":
		if err := checkHostPort(rest); err != nil {
			return "", "", false, fmt.Errorf("inbound mail address %q: %v; %s", s, err, forms)
		}
		return "tcp", rest, scheme == "lmtp", nil
	case "smtp+unix", "lmtp+unix":
		u, err := url.Parse(s)
		if err != nil || u.Host != "" || !strings.HasPrefix(u.Path, "/") || u.RawQuery != "" {
			return "", "", false, fmt.Errorf("inbound mail address %q: want an absolute socket path after %s://, as in lmtp+unix:///run/salon/lmtp.sock", s, scheme)
		}
		return "unix", u.Path, scheme == "lmtp+unix", nil
	}
	return "", "", false, fmt.Errorf("inbound mail address %q: unknown scheme %q; %s", s, scheme, forms)
}

func checkHostPort(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return err
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("bad port %q", port)
	}
	return nil
}

// NewInboundServer returns a listener for cfg that hands what it receives
// to opts.Handler.
func NewInboundServer(cfg InboundConfig, opts InboundOptions) (*InboundServer, error) {
	if opts.Handler == nil {
		return nil, errors.New("inbound mail: no handler")
	}
	network, addr, lmtp, err := ParseInboundAddr(cfg.Addr)
	if err != nil {
		return nil, err
	}
	s := &InboundServer{
		network: network,
		addr:    addr,
		lmtp:    lmtp,
		handler: opts.Handler,
		log:     opts.Logger,
		metrics: newInboundMetrics(opts.Metrics),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.log = s.log.With("listener", cfg.Addr)
	s.ctx, s.cancel = context.WithCancel(context.Background())

	srv := smtp.NewServer(smtp.BackendFunc(s.newSession))
	srv.LMTP = lmtp
	srv.Domain = cfg.Domain
	if srv.Domain == "" {
		srv.Domain, _ = os.Hostname()
		if srv.Domain == "" {
			srv.Domain = "localhost"
		}
	}
	srv.MaxMessageBytes = cfg.MaxMessageBytes
	if srv.MaxMessageBytes <= 0 {
		srv.MaxMessageBytes = MaxInboundSize
	}
	srv.MaxRecipients = cfg.MaxRecipients
	if srv.MaxRecipients <= 0 {
		srv.MaxRecipients = defaultInboundRecipients
	}
	srv.MaxLineLength = inboundMaxLine
	srv.ReadTimeout = inboundReadTimeout
	srv.WriteTimeout = inboundWriteTimeout
	srv.ErrorLog = smtpLog{s.log}
	s.srv = srv
	return s, nil
}

// Listen opens the listener Addr names. For a Unix socket it first removes
// a socket file left by a process that is gone, and refuses one that
// another process still listens on.
func (s *InboundServer) Listen() (net.Listener, error) {
	if s.network == "unix" {
		if err := removeStaleSocket(s.addr); err != nil {
			return nil, err
		}
	}
	l, err := net.Listen(s.network, s.addr)
	if err != nil {
		return nil, fmt.Errorf("inbound mail: %w", err)
	}
	if ta, ok := l.Addr().(*net.TCPAddr); ok && !ta.IP.IsLoopback() {
		s.log.Warn("inbound mail listener is reachable from other hosts; it accepts mail without authentication, so firewall it or bind it to 127.0.0.1",
			"addr", ta.String())
	}
	return l, nil
}

func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("inbound mail: %w", err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("inbound mail: %s exists and is not a socket; remove it or choose another path", path)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("inbound mail: another process listens on %s", path)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("inbound mail: remove stale socket: %w", err)
	}
	return nil
}

// Serve accepts sessions on l until Shutdown. It returns nil after
// Shutdown.
func (s *InboundServer) Serve(l net.Listener) error {
	kind := "SMTP"
	if s.lmtp {
		kind = "LMTP"
	}
	s.log.Info("inbound mail listening", "protocol", kind, "addr", l.Addr().String())
	err := s.srv.Serve(l)
	if errors.Is(err, smtp.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting sessions and waits for those open to end. When
// ctx ends first, it cancels the handler calls in flight, closes the
// sessions and returns ctx's error.
func (s *InboundServer) Shutdown(ctx context.Context) error {
	defer s.cancel()
	err := s.srv.Shutdown(ctx)
	if err != nil && ctx.Err() != nil {
		s.cancel()
		s.srv.Close()
		return err
	}
	if errors.Is(err, smtp.ErrServerClosed) {
		return nil
	}
	return err
}

func (s *InboundServer) newSession(c *smtp.Conn) (smtp.Session, error) {
	return &inboundSession{s: s, remote: c.Conn().RemoteAddr().String()}, nil
}

// inboundSession is one SMTP or LMTP session: an envelope, then data.
type inboundSession struct {
	s      *InboundServer
	remote string
	from   string
	rcpts  []string
}

var _ smtp.LMTPSession = (*inboundSession)(nil)

func (ss *inboundSession) Reset() {
	ss.from = ""
	ss.rcpts = nil
}

func (ss *inboundSession) Logout() error { return nil }

func (ss *inboundSession) Mail(from string, _ *smtp.MailOptions) error {
	ss.from = from
	ss.rcpts = nil
	return nil
}

func (ss *inboundSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	// go-smtp enforces MaxRecipients (452) before this.
	ss.rcpts = append(ss.rcpts, to)
	return nil
}

// Data receives an SMTP message: one status for every recipient, so the
// handler sees them all at once.
func (ss *inboundSession) Data(r io.Reader) error {
	m, err := ss.parse(r)
	if err != nil {
		return err
	}
	return ss.handle(m, ss.rcpts)
}

// LMTPData receives an LMTP message (RFC 2033 §4.2): the handler is called
// once per recipient and each recipient gets its own status, so that a
// failure for one organizer does not make the mail server deliver again to
// the others.
func (ss *inboundSession) LMTPData(r io.Reader, status smtp.StatusCollector) error {
	m, err := ss.parse(r)
	if err != nil {
		return err
	}
	for _, rcpt := range ss.rcpts {
		status.SetStatus(rcpt, ss.handle(m, []string{rcpt}))
	}
	return nil
}

// parse reads and parses the message, turning what is wrong with it into
// the SMTP reply that says so.
func (ss *inboundSession) parse(r io.Reader) (*Inbound, error) {
	// r ends with go-smtp's ErrDataTooLarge (552) beyond MaxMessageBytes.
	data, err := io.ReadAll(r)
	if err != nil {
		var se *smtp.SMTPError
		switch {
		case errors.As(err, &se):
			ss.count(resultRejected, "message too large", err)
			return nil, se
		case errors.Is(err, smtp.ErrTooLongLine):
			ss.count(resultRejected, "line too long", err)
			return nil, &smtp.SMTPError{Code: 500, EnhancedCode: smtp.EnhancedCode{5, 5, 0},
				Message: "Line too long; RFC 5321 allows 1000 octets"}
		}
		ss.count(resultTempfail, "cannot read the message", err)
		return nil, &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Cannot read the message; try again later"}
	}
	m, err := ParseIMIP(bytes.NewReader(data))
	switch {
	case err == nil:
		return m, nil
	case errors.Is(err, ErrNoCalendar):
		ss.count(resultRejected, "no calendar", err)
		return nil, &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 6, 0},
			Message: "This address takes only calendar replies (iMIP, RFC 6047); the message has no text/calendar part"}
	case errors.Is(err, ErrTooLarge):
		ss.count(resultRejected, "too large", err)
		return nil, &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: oneReplyLine(err.Error())}
	default:
		ss.count(resultRejected, "malformed", err)
		return nil, &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 6, 0},
			Message: "Cannot read the calendar reply: " + oneReplyLine(err.Error())}
	}
}

// handle hands m to the handler for rcpts and maps its answer to a reply.
func (ss *inboundSession) handle(m *Inbound, rcpts []string) error {
	ctx, cancel := context.WithTimeout(ss.s.ctx, handlerTimeout)
	defer cancel()
	err := ss.s.handler.HandleIMIP(ctx, m, ss.from, rcpts)
	log := ss.s.log.With("remote", ss.remote, "from", ss.from, "to", strings.Join(rcpts, ","),
		"message_id", m.MessageID, "method", m.Method)
	var re *RejectError
	switch {
	case err == nil:
		ss.s.metrics.received.WithLabelValues(resultAccepted).Inc()
		log.Info("iMIP message received")
		return nil
	case errors.As(err, &re):
		ss.s.metrics.received.WithLabelValues(resultRejected).Inc()
		log.Info("iMIP message refused", "reason", re.Msg)
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: oneReplyLine(re.Msg)}
	default:
		ss.s.metrics.received.WithLabelValues(resultTempfail).Inc()
		// The sender's mail server sees that it should try again; the
		// cause stays in the log.
		log.Warn("iMIP message not processed; the mail server will retry", "error", err)
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0},
			Message: "Cannot process the message now; try again later"}
	}
}

// count records a message refused before it reached the handler: once per
// recipient over LMTP, where each gets the refusal, once over SMTP.
func (ss *inboundSession) count(result, what string, err error) {
	n := 1
	if ss.s.lmtp {
		n = len(ss.rcpts)
	}
	ss.s.metrics.received.WithLabelValues(result).Add(float64(n))
	ss.s.log.Info("inbound message refused: "+what, "remote", ss.remote, "from", ss.from,
		"to", strings.Join(ss.rcpts, ","), "error", err)
}

// oneReplyLine keeps a text to one printable line of an SMTP reply.
func oneReplyLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if r := []rune(s); len(r) > 400 {
		s = string(r[:400]) + "…"
	}
	return s
}

// smtpLog routes go-smtp's error log to slog: mostly sessions that broke
// off, sometimes a panic.
type smtpLog struct{ log *slog.Logger }

func (l smtpLog) Printf(format string, v ...any) {
	l.log.Warn("inbound mail: " + strings.TrimSpace(fmt.Sprintf(format, v...)))
}

func (l smtpLog) Println(v ...any) {
	l.log.Warn("inbound mail: " + strings.TrimSpace(fmt.Sprintln(v...)))
}
