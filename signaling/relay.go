package signaling

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/salonhq/salon/internal/roomstate"
)

// Relaying a socket to the node that hosts its room.
//
// A room's media lives on one node (its host). A participant's WebSocket
// may land on any node (the front). The front reads the join, asks the
// live state which node hosts the room and, when it is another one, pipes
// the socket's frames through the Bus without reading them: the host runs
// the whole protocol on a busConn as if the socket were its own, and its
// SFU answers with its own media address, so media flows straight to the
// host. The front keeps the WebSocket alive (pings) and sends the host a
// beat every PingInterval; a host that hears nothing for ReadTimeout treats
// the socket as dropped, exactly as a silent WebSocket.

// envelope is one message between a front and a host.
type envelope struct {
	T string `json:"t"`           // open, frame, beat, closed (front→host); frame, close (host→front)
	S string `json:"s"`           // the relayed session's ID
	F string `json:"f,omitempty"` // open: the front node
	A string `json:"a,omitempty"` // open: the browser's address, for logs
	D string `json:"d,omitempty"` // frame: the WebSocket text frame
	C int    `json:"c,omitempty"` // closed, close: the WebSocket close code
	R string `json:"r,omitempty"` // close: the reason
}

func nodeTopic(node string) string { return "node:" + node }
func sessTopic(sid string) string  { return "sess:" + sid }

// relay is this node's part in relaying: the host side's sessions.
type relay struct {
	bus roomstate.Bus

	mu    sync.Mutex
	conns map[string]*busConn
}

// StartRelay serves the sockets other nodes relay to this one, in the
// background until ctx ends; the channel it returns closes then. It
// returns once this node listens (or could not, and keeps trying), so
// that no relayed join is lost to a node that has just started. Without
// Options.Bus it does nothing.
func (s *Server) StartRelay(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	if s.relay == nil {
		close(done)
		return done
	}
	sub, err := s.relay.bus.Subscribe(ctx, nodeTopic(s.state.node))
	if err != nil {
		s.log.Warn("cannot hear relayed sockets yet; retrying", "err", err)
		sub = nil
	}
	go func() {
		defer close(done)
		go s.watchFronts(ctx)
		s.runRelay(ctx, sub)
	}()
	return done
}

func (s *Server) runRelay(ctx context.Context, sub roomstate.Subscription) {
	for ctx.Err() == nil {
		var err error
		if sub == nil {
			sub, err = s.relay.bus.Subscribe(ctx, nodeTopic(s.state.node))
		}
		if err != nil {
			s.log.Warn("cannot hear relayed sockets yet; retrying", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		for msg := range sub.C() {
			var e envelope
			if json.Unmarshal(msg, &e) != nil || e.S == "" {
				continue
			}
			s.hostEnvelope(ctx, e)
		}
		_ = sub.Close()
		sub = nil
	}
}

// liveNodes returns the IDs of the nodes whose lease runs.
func (s *Server) liveNodes(ctx context.Context) (map[string]bool, error) {
	c, cancel := context.WithTimeout(ctx, stateTimeout)
	defer cancel()
	nodes, err := s.state.store.Nodes(c)
	if err != nil {
		return nil, err
	}
	return liveSet(nodes), nil
}

// liveSet is the IDs of nodes.
func liveSet(nodes []roomstate.Node) map[string]bool {
	live := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		live[n.ID] = true
	}
	return live
}

// watchFronts ends the relayed sockets of fronts whose lease ran out: their
// browsers are gone with them (or reconnect through another node), and
// the others in the room must see them leave now, not after a timeout.
func (s *Server) watchFronts(ctx context.Context) {
	t := time.NewTicker(min(s.cfg.PingInterval/2, 2*time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		live, err := s.liveNodes(ctx)
		if err != nil {
			continue // the state is unreachable: nobody is known dead
		}
		s.relay.mu.Lock()
		var dead []*busConn
		for _, bc := range s.relay.conns {
			if !live[bc.front] {
				dead = append(dead, bc)
			}
		}
		s.relay.mu.Unlock()
		for _, bc := range dead {
			bc.deliver(envelope{T: "closed", C: websocket.CloseGoingAway})
		}
	}
}

// hostEnvelope handles one message from a front.
func (s *Server) hostEnvelope(ctx context.Context, e envelope) {
	r := s.relay
	if e.T == "open" {
		s.mu.Lock()
		down := s.shuttingDown
		if !down {
			s.wg.Add(1)
		}
		s.mu.Unlock()
		bc := newBusConn(r.bus, e.S, &s.cfg)
		bc.front = e.F
		if down {
			_ = bc.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "shutting-down"), time.Now().Add(s.cfg.WriteTimeout))
			return
		}
		r.mu.Lock()
		r.conns[e.S] = bc
		r.mu.Unlock()
		go func() {
			defer s.wg.Done()
			defer func() {
				r.mu.Lock()
				delete(r.conns, e.S)
				r.mu.Unlock()
			}()
			sess := newSession(bc, &s.cfg, s.log.With("remote", e.A, "via", e.F))
			sess.front = e.F
			s.metrics.sockets.Inc()
			defer s.metrics.sockets.Dec()
			go sess.writeLoop()
			c := &client{srv: s, sess: sess, log: sess.log, remote: e.A}
			c.readLoop()
		}()
		return
	}
	r.mu.Lock()
	bc := r.conns[e.S]
	r.mu.Unlock()
	if bc != nil {
		bc.deliver(e)
	}
}

// busConn is the host's side of a relayed socket: a wsConn whose frames
// come from and go to the Bus.
type busConn struct {
	bus   roomstate.Bus
	sid   string
	cfg   *Config
	front string

	in     chan envelope
	mu     sync.Mutex
	ddl    time.Time
	pong   func(string) error
	closed chan struct{}
	once   sync.Once
}

func newBusConn(bus roomstate.Bus, sid string, cfg *Config) *busConn {
	return &busConn{bus: bus, sid: sid, cfg: cfg, in: make(chan envelope, 256), closed: make(chan struct{})}
}

// deliver hands the host a message of the front. A host that falls 256
// frames behind drops the socket, as a WebSocket's writer would.
func (b *busConn) deliver(e envelope) {
	select {
	case b.in <- e:
	case <-b.closed:
	default:
		b.shut()
	}
}

func (b *busConn) shut() { b.once.Do(func() { close(b.closed) }) }

// errRelayTimeout is a read deadline passing: the front went silent.
type errRelayTimeout struct{}

func (errRelayTimeout) Error() string   { return "relayed socket: read deadline passed" }
func (errRelayTimeout) Timeout() bool   { return true }
func (errRelayTimeout) Temporary() bool { return false }

var _ net.Error = errRelayTimeout{}

func (b *busConn) ReadMessage() (int, []byte, error) {
	for {
		b.mu.Lock()
		ddl := b.ddl
		b.mu.Unlock()
		var timeout <-chan time.Time
		if !ddl.IsZero() {
			t := time.NewTimer(time.Until(ddl))
			defer t.Stop()
			timeout = t.C
		}
		select {
		case e := <-b.in:
			switch e.T {
			case "frame":
				return websocket.TextMessage, []byte(e.D), nil
			case "beat":
				b.mu.Lock()
				pong := b.pong
				b.mu.Unlock()
				if pong != nil {
					_ = pong("")
				}
			case "closed":
				b.shut()
				return 0, nil, &websocket.CloseError{Code: e.C}
			}
		case <-timeout:
			return 0, nil, errRelayTimeout{}
		case <-b.closed:
			return 0, nil, &websocket.CloseError{Code: websocket.CloseAbnormalClosure}
		}
	}
}

func (b *busConn) SetReadDeadline(t time.Time) error {
	b.mu.Lock()
	b.ddl = t
	b.mu.Unlock()
	return nil
}

func (b *busConn) SetPongHandler(h func(string) error) {
	b.mu.Lock()
	b.pong = h
	b.mu.Unlock()
}

func (b *busConn) SetWriteDeadline(time.Time) error { return nil }

func (b *busConn) publish(e envelope) error {
	e.S = b.sid
	msg, err := json.Marshal(e)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.WriteTimeout)
	defer cancel()
	return b.bus.Publish(ctx, sessTopic(b.sid), msg)
}

// WriteMessage sends a frame to the front. When nobody hears the socket's
// topic the front's pipe is gone: either its "closed" is on the way, or the
// front died and watchFronts ends the socket once its lease runs out (the
// participant leaves at once, as when a page closes). Failing the write
// here instead would keep the participant's place for the reconnect
// grace, though nobody can come back through a dead front.
func (b *busConn) WriteMessage(_ int, data []byte) error {
	err := b.publish(envelope{T: "frame", D: string(data)})
	if errors.Is(err, roomstate.ErrNoSubscriber) {
		return nil
	}
	return err
}

// WriteControl passes a close on to the front; pings are the front's own
// business with the browser.
func (b *busConn) WriteControl(messageType int, data []byte, _ time.Time) error {
	if messageType != websocket.CloseMessage {
		return nil
	}
	code, reason := websocket.CloseNormalClosure, ""
	if len(data) >= 2 {
		code = int(data[0])<<8 | int(data[1])
		reason = string(data[2:])
	}
	return b.publish(envelope{T: "close", C: code, R: reason})
}

func (b *busConn) Close() error {
	b.shut()
	return nil
}

// pipe relays this socket, whose join (first) names a room that host
// serves, and returns when the socket or the relay ends.
func (c *client) pipe(host string, first []byte) {
	s := c.srv
	bus := s.relay.bus
	sid := randomID(12)
	log := c.log.With("relay_to", host, "relay", sid)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub, err := bus.Subscribe(ctx, sessTopic(sid))
	if err != nil {
		c.refuse("join", errUnavailable)
		return
	}
	defer sub.Close()
	publish := func(e envelope) error {
		e.S = sid
		msg, _ := json.Marshal(e)
		// Not the pipe's ctx: the last "closed" may be retried after the
		// pipe has returned.
		pctx, pcancel := context.WithTimeout(context.Background(), s.cfg.WriteTimeout)
		defer pcancel()
		return bus.Publish(pctx, nodeTopic(host), msg)
	}
	if publish(envelope{T: "open", F: s.state.node, A: c.remote}) != nil ||
		publish(envelope{T: "frame", D: string(first)}) != nil {
		c.refuse("join", errUnavailable)
		return
	}
	log.Info("relaying socket to the room's node")
	s.metrics.relayed.Inc()
	defer s.metrics.relayed.Dec()

	// Host → browser. A host that does not answer the join soon did not
	// get it (it was resubscribing after a Redis restart): the browser
	// had better try again now than wait for its own join timeout.
	answered := make(chan struct{})
	go func() {
		select {
		case <-answered:
		case <-ctx.Done():
		case <-time.After(relayAnswerTimeout):
			log.Warn("the room's node did not answer the join; the browser will try again")
			c.sess.close(websocket.CloseTryAgainLater, "unavailable")
		}
	}()
	go func() {
		first := true
		for msg := range sub.C() {
			var e envelope
			if json.Unmarshal(msg, &e) != nil {
				continue
			}
			if first {
				first = false
				close(answered)
			}
			switch e.T {
			case "frame":
				c.sess.sendRaw([]byte(e.D))
			case "close":
				c.sess.close(e.C, e.R)
				return
			}
		}
		// The bus dropped us (Redis restarting): the browser reconnects
		// and resumes, on this node or another.
		c.sess.close(websocket.CloseTryAgainLater, "unavailable")
	}()
	// Beats tell the host the socket is alive; a host whose lease ran out
	// is dead, and the browser must reconnect to reach the room's new home.
	go func() {
		beat := time.NewTicker(s.cfg.PingInterval)
		defer beat.Stop()
		check := time.NewTicker(min(s.cfg.PingInterval/2, 2*time.Second))
		defer check.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-c.sess.done:
				return
			case <-beat.C:
				_ = publish(envelope{T: "beat"})
			case <-check.C:
				if live, err := s.liveNodes(ctx); err == nil && !live[host] {
					log.Warn("the room's node is gone; the browser will reconnect")
					c.sess.close(websocket.CloseTryAgainLater, "unavailable")
					return
				}
			}
		}
	}()
	// Browser → host.
	conn := c.sess.conn
	_ = conn.SetReadDeadline(time.Now().Add(s.cfg.ReadTimeout))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(s.cfg.ReadTimeout)) })
	code := websocket.CloseAbnormalClosure
	for {
		mt, data, err := conn.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				code = ce.Code
			}
			break
		}
		_ = conn.SetReadDeadline(time.Now().Add(s.cfg.ReadTimeout))
		if mt != websocket.TextMessage || !c.msgs.Allow() {
			continue // the host refuses what it is told of; floods stop here
		}
		if publish(envelope{T: "frame", D: string(data)}) != nil {
			break
		}
	}
	if publish(envelope{T: "closed", C: code}) != nil {
		// Redis is away: keep telling the host, or it would keep a ghost
		// of this participant until its read deadline and grace ran out.
		go func() {
			deadline := time.Now().Add(2 * time.Minute)
			for time.Now().Before(deadline) {
				time.Sleep(time.Second)
				if publish(envelope{T: "closed", C: code}) == nil {
					return
				}
			}
		}()
	}
	c.sess.close(websocket.CloseNormalClosure, "")
	<-c.sess.done
	log.Info("relayed socket ended", "code", code)
}

// relayAnswerTimeout is how long a front waits for the host's first
// answer to a relayed join.
const relayAnswerTimeout = 5 * time.Second

// route decides where a join goes: "" for this node, or the node that
// hosts the room. A room without a live host is given to the least loaded
// live node that is not draining.
func (s *Server) route(in *inbound) (string, *protoError) {
	if s.relay == nil || in.Type != "join" {
		return "", nil
	}
	room := ""
	if in.Resume != nil {
		room = in.Resume.Room
	} else if claims, err := s.tokens.VerifyJoin(in.Token, s.now()); err == nil {
		room = claims.Room
	}
	if room == "" {
		return "", nil // the join itself says what is wrong, or resumes here
	}
	ctx, cancel := context.WithTimeout(context.Background(), stateTimeout)
	defer cancel()
	nodes, err := s.state.store.Nodes(ctx)
	if err != nil {
		return "", errUnavailable
	}
	live := liveSet(nodes)
	// A node missing from the state has not written itself back since
	// Redis restarted: the rooms it knows of are not there yet either, so
	// deciding now could split a room. The client tries again shortly.
	if !live[s.state.node] {
		return "", errUnavailable
	}
	if in.Resume != nil && in.Resume.Node != "" && live[in.Resume.Node] {
		if in.Resume.Node == s.state.node {
			return "", nil
		}
		return in.Resume.Node, nil
	}
	// HostRoom keeps a live host and re-homes the room of a dead one.
	r, err := s.state.store.HostRoom(ctx, room, s.candidate(nodes))
	if err != nil {
		return "", errUnavailable
	}
	if r.Node == s.state.node {
		return "", nil
	}
	return r.Node, nil
}

// candidate is the node a new room should live on: the live, not
// draining node with the fewest participants, this one on a tie.
func (s *Server) candidate(nodes []roomstate.Node) string {
	self := s.state.node
	best, load := self, -1
	for _, n := range nodes {
		if n.ID == self && !n.Draining && (load < 0 || n.Load <= load) {
			best, load = n.ID, n.Load
		}
	}
	for _, n := range nodes {
		if !n.Draining && (load < 0 || n.Load < load) {
			best, load = n.ID, n.Load
		}
	}
	return best
}
