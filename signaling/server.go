package signaling

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/salonhq/salon/internal/auth"
	"github.com/salonhq/salon/internal/roomstate"
	"github.com/salonhq/salon/sfu"
)

// Config holds the protocol's limits and timers; zero values take the
// documented defaults.
type Config struct {
	// PublicURL, when set, is an allowed Origin for the WebSocket besides
	// the request's own host.
	PublicURL string
	// ReconnectGrace is how long a participant whose socket dropped keeps
	// its place (30 s).
	ReconnectGrace time.Duration
	JoinTimeout    time.Duration // first message must be join (10 s)
	PingInterval   time.Duration // WebSocket pings (10 s)
	ReadTimeout    time.Duration // silence that kills a socket (30 s)
	WriteTimeout   time.Duration // one write (10 s)
	MaxMessageSize int64         // bytes (512 KiB)
	// MessageRate and MessageBurst bound all messages of one socket;
	// OfferRate and OfferBurst bound publish offers.
	MessageRate, OfferRate   float64
	MessageBurst, OfferBurst int
	// MaxStrikes refused messages close the socket (10).
	MaxStrikes int
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.ReconnectGrace, 30*time.Second)
	def(&c.JoinTimeout, 10*time.Second)
	def(&c.PingInterval, 10*time.Second)
	def(&c.ReadTimeout, 30*time.Second)
	def(&c.WriteTimeout, 10*time.Second)
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = 512 << 10
	}
	if c.MessageRate <= 0 {
		c.MessageRate, c.MessageBurst = 50, 200
	}
	if c.OfferRate <= 0 {
		c.OfferRate, c.OfferBurst = 1, 5
	}
	if c.MaxStrikes <= 0 {
		c.MaxStrikes = 10
	}
}

// TokenVerifier checks join tokens (implemented by *auth.Tokens).
type TokenVerifier interface {
	VerifyJoin(token string, now time.Time) (auth.JoinClaims, error)
}

// Options are the server's collaborators.
type Options struct {
	SFU        *sfu.SFU
	Tokens     TokenVerifier
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Now        func() time.Time
	// State, when set, is the live room state shared by every salon node
	// (internal/roomstate): joins ask it which node hosts the room and
	// record who is in it; without it each process keeps to itself.
	State roomstate.Store
	// Node is this process's ID in State.
	Node string
	// Bus, with State, relays the sockets of rooms another node hosts to
	// that node (RunRelay serves the other direction).
	Bus roomstate.Bus
}

// Server serves /ws and keeps who is in which room.
type Server struct {
	cfg      Config
	sfu      *sfu.SFU
	tokens   TokenVerifier
	log      *slog.Logger
	now      func() time.Time
	metrics  *metrics
	state    *liveState // nil without Options.State
	relay    *relay     // nil without Options.State and Options.Bus
	upgrader websocket.Upgrader
	allowed  string // host of PublicURL

	wg sync.WaitGroup // one per socket

	mu           sync.Mutex
	rooms        map[string]*room
	members      map[string]*member
	usedNonces   map[string]time.Time // join tokens already used, until they expire
	shuttingDown bool
}

// New builds a signalling server.
func New(cfg Config, opts Options) *Server {
	cfg.setDefaults()
	s := &Server{
		cfg:        cfg,
		sfu:        opts.SFU,
		tokens:     opts.Tokens,
		log:        opts.Logger,
		now:        opts.Now,
		metrics:    newMetrics(opts.Registerer),
		state:      newLiveState(opts.State, opts.Node),
		rooms:      map[string]*room{},
		members:    map[string]*member{},
		usedNonces: map[string]time.Time{},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("component", "signaling")
	if s.now == nil {
		s.now = time.Now
	}
	if s.state != nil && opts.Bus != nil {
		s.relay = &relay{bus: opts.Bus, conns: map[string]*busConn{}}
	}
	if u, err := url.Parse(cfg.PublicURL); err == nil {
		s.allowed = u.Host
	}
	s.upgrader = websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   4096,
		WriteBufferSize:  4096,
		CheckOrigin:      s.checkOrigin,
	}
	return s
}

// checkOrigin accepts browsers on salon's own pages (and clients that send
// no Origin, which are not browsers).
func (s *Server) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	return strings.EqualFold(u.Host, r.Host) || (s.allowed != "" && strings.EqualFold(u.Host, s.allowed))
}

// ServeHTTP upgrades the request and runs the socket's read loop.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	down := s.shuttingDown
	if !down {
		s.wg.Add(1)
	}
	s.mu.Unlock()
	if down {
		http.Error(w, "salon is shutting down; try again in a moment", http.StatusServiceUnavailable)
		return
	}
	defer s.wg.Done()
	conn, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		s.log.Debug("websocket upgrade failed", "err", err, "remote", r.RemoteAddr)
		return // the upgrader has answered
	}
	conn.SetReadLimit(s.cfg.MaxMessageSize)
	sess := newSession(conn, &s.cfg, s.log.With("remote", r.RemoteAddr))
	s.metrics.sockets.Inc()
	defer s.metrics.sockets.Dec()
	go sess.writeLoop()
	c := &client{srv: s, sess: sess, log: sess.log, remote: r.RemoteAddr}
	c.readLoop()
}

// Shutdown stops taking joins, tells every client salon is going away,
// closes their media and waits for the sockets to end (or ctx).
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shuttingDown = true
	ms := make([]*member, 0, len(s.members))
	for _, m := range s.members {
		ms = append(ms, m)
	}
	s.mu.Unlock()
	for _, m := range ms {
		s.removeMember(m, "closed", &byeMsg{Type: "bye", Reason: "server-shutdown"})
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		if s.state != nil {
			s.state.pending.Wait()
		}
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Participants reports how many participants are in a room.
func (s *Server) Participants(roomID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.rooms[roomID]; r != nil {
		return len(r.members)
	}
	return 0
}

func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func secretsEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

var errShuttingDown = errors.New("shutting down")

// useToken records a join token's nonce; a token is good for one join.
func (s *Server) useToken(c auth.JoinClaims) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for n, exp := range s.usedNonces {
		if now.After(exp) {
			delete(s.usedNonces, n)
		}
	}
	if _, used := s.usedNonces[c.Nonce]; used {
		return false
	}
	s.usedNonces[c.Nonce] = c.Expires
	return true
}
