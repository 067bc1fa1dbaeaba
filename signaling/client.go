package signaling

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"
	"golang.org/x/time/rate"

	"github.com/salonhq/salon/internal/auth"
	"github.com/salonhq/salon/internal/meeting"
	"github.com/salonhq/salon/sfu"
)

// client is the read side of one socket: it parses, checks and dispatches
// what the browser sends.
type client struct {
	srv     *Server
	sess    *session
	log     *slog.Logger
	member  *member
	strikes int
	leaving bool
	kicked  bool // closed by salon for abuse: no reconnect grace
	msgs    *rate.Limiter
	offers  *rate.Limiter
	remote  string // the browser's address, for logs
}

// maxMediaSections bounds the tracks one participant publishes at once
// (microphone, camera and screen need three).
const maxMediaSections = 16

// opTimeout bounds one SDP operation on a peer.
const opTimeout = 10 * time.Second

func (c *client) readLoop() {
	cfg := &c.srv.cfg
	c.msgs = rate.NewLimiter(rate.Limit(cfg.MessageRate), cfg.MessageBurst)
	c.offers = rate.NewLimiter(rate.Limit(cfg.OfferRate), cfg.OfferBurst)
	conn := c.sess.conn
	_ = conn.SetReadDeadline(time.Now().Add(cfg.JoinTimeout))
	conn.SetPongHandler(func(string) error {
		if c.member != nil {
			return conn.SetReadDeadline(time.Now().Add(cfg.ReadTimeout))
		}
		return nil
	})
	var closeCode int
	for {
		mt, data, err := conn.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			switch {
			case errors.As(err, &ce):
				closeCode = ce.Code
			case errors.Is(err, websocket.ErrReadLimit):
				c.srv.metrics.errors.WithLabelValues("too-large").Inc()
				c.kicked = true
				c.sess.send(errorMsg{Type: "error", Code: "bad-message", Fatal: true,
					Message: "message larger than the limit"})
				c.sess.close(websocket.CloseMessageTooBig, "message too big")
			}
			break
		}
		if c.member != nil {
			_ = conn.SetReadDeadline(time.Now().Add(cfg.ReadTimeout))
		}
		if mt != websocket.TextMessage {
			c.refuse("", errorf("bad-message", "messages are JSON text frames"))
			continue
		}
		if !c.msgs.Allow() {
			c.refuse("", errorf("rate-limited", "too many messages; slow down"))
			continue
		}
		if stop := c.handle(data); stop {
			break
		}
	}
	c.sess.close(websocket.CloseNormalClosure, "")
	<-c.sess.done
	if c.member == nil {
		return
	}
	if c.kicked {
		c.srv.removeMember(c.member, "closed", nil)
		return
	}
	if c.leaving || closeCode == websocket.CloseNormalClosure || closeCode == websocket.CloseGoingAway {
		c.srv.removeMember(c.member, "left", nil)
		return
	}
	c.srv.disconnected(c.member, c.sess)
}

// refuse answers a refused message and counts it; too many refusals close
// the socket.
func (c *client) refuse(ref string, e *protoError) {
	c.srv.metrics.errors.WithLabelValues(e.code).Inc()
	c.strikes++
	fatal := e.fatal || c.strikes >= c.srv.cfg.MaxStrikes
	c.sess.send(errorMsg{Type: "error", Code: e.code, Message: e.message, Fatal: fatal, Ref: ref})
	if fatal {
		code := websocket.ClosePolicyViolation
		if e.fatal {
			code = 4000 + closeCodeFor(e.code)
		}
		c.log.Info("closing socket after refused message", "code", e.code, "strikes", c.strikes)
		c.kicked = true
		c.sess.close(code, e.code)
	}
}

func closeCodeFor(code string) int {
	switch code {
	case "bad-token", "token-expired", "wrong-room":
		return 1
	case "resume-failed":
		return 2
	case "shutting-down":
		return 3
	case "unavailable":
		return 4
	}
	return 8
}

// handle dispatches one message; it reports whether to stop reading.
func (c *client) handle(data []byte) bool {
	in, perr := parseMessage(data)
	if perr != nil {
		c.refuse("", perr)
		return false
	}
	if in.Type == "ping" {
		c.sess.send(pongMsg{Type: "pong", ID: in.ID})
		return false
	}
	if c.member == nil && in.Type != "join" {
		if knownTypes[in.Type] {
			c.refuse(in.Type, errorf("not-joined", "send join first"))
		} else {
			c.refuse(in.Type, errorf("unknown-type", "unknown message type"))
		}
		return false
	}
	var err *protoError
	switch in.Type {
	case "join":
		host, perr := c.srv.route(in)
		if perr != nil {
			err = perr
			break
		}
		if host != "" {
			c.pipe(host, data)
			return true
		}
		err = c.join(in)
	case "offer":
		err = c.offer(in)
	case "answer":
		err = c.answer(in)
	case "candidate":
		err = c.candidate(in)
	case "update":
		err = c.update(in)
	case "view":
		err = c.view(in)
	case "leave":
		c.leaving = true
		c.srv.removeMember(c.member, "left", &byeMsg{Type: "bye", Reason: "left"})
		return true
	default:
		err = errorf("unknown-type", "unknown message type")
	}
	if err != nil {
		c.refuse(in.Type, err)
	}
	return false
}

// parseMessage decodes one client message: exactly one JSON object with a
// type, every field of the right JSON type.
func parseMessage(data []byte) (*inbound, *protoError) {
	if len(bytes.TrimSpace(data)) == 0 || bytes.TrimSpace(data)[0] != '{' {
		return nil, errorf("bad-message", "a message is one JSON object")
	}
	var in inbound
	if err := json.Unmarshal(data, &in); err != nil {
		return nil, errorf("bad-message", "not a valid message: "+jsonProblem(err))
	}
	if in.Type == "" || len(in.Type) > 32 {
		return nil, errorf("bad-message", "the message has no valid type")
	}
	return &in, nil
}

var knownTypes = map[string]bool{"join": true, "offer": true, "answer": true, "candidate": true, "update": true, "leave": true, "ping": true, "view": true}

func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "field " + te.Field + " has the wrong type"
	}
	return "malformed JSON"
}

func (c *client) join(in *inbound) *protoError {
	if c.member != nil {
		return errorf("already-joined", "this socket has already joined")
	}
	if in.V != 0 && in.V != ProtocolVersion {
		return fatalf("bad-message", "unsupported protocol version; reload the page")
	}
	var (
		m   *member
		err error
	)
	if in.Resume != nil {
		m, err = c.srv.resumeMember(*in.Resume, c.sess)
	} else {
		claims, verr := c.srv.tokens.VerifyJoin(in.Token, c.srv.now())
		switch {
		case errors.Is(verr, auth.ErrTokenExpired):
			return fatalf("token-expired", "the join token has expired; reload the page")
		case verr != nil:
			c.log.Info("join refused", "err", verr)
			return fatalf("bad-token", "the join token is not valid")
		case !c.srv.useToken(claims):
			return fatalf("bad-token", "this join token was already used; reload the page")
		}
		m, err = c.srv.addMember(claims.Room, claims.Name, c.sess, c.log)
	}
	var pe *protoError
	switch {
	case errors.As(err, &pe):
		return pe
	case errors.Is(err, errShuttingDown), errors.Is(err, sfu.ErrClosed):
		return fatalf("shutting-down", "salon is restarting; try again in a moment")
	case err != nil:
		c.log.Error("join failed", "err", err)
		return fatalf("internal", "could not join the room")
	}
	c.member = m
	c.log = m.log
	_ = c.sess.conn.SetReadDeadline(time.Now().Add(c.srv.cfg.ReadTimeout))
	return nil
}

func (c *client) offer(in *inbound) *protoError {
	if in.PC != string(sfu.Publish) {
		return errorf("bad-message", `offers are accepted only for pc "publish"`)
	}
	if in.SDP == "" {
		return errorf("bad-message", "the offer has no sdp")
	}
	if len(in.Sources) > maxMediaSections || strings.Count(in.SDP, "\nm=") > maxMediaSections {
		return errorf("bad-sdp", "too many media sections in one offer")
	}
	if !c.offers.Allow() {
		return errorf("rate-limited", "too many offers; slow down")
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	answer, err := c.member.peer.Publish(ctx, in.SDP, in.Sources)
	if err != nil {
		c.log.Info("publish offer refused", "err", err)
		if errors.Is(err, sfu.ErrBadSource) {
			return errorf("bad-message", err.Error())
		}
		return errorf("bad-sdp", "the offer could not be applied")
	}
	c.sess.send(answerMsg{Type: "answer", PC: sfu.Publish, SDP: answer})
	return nil
}

func (c *client) answer(in *inbound) *protoError {
	if in.PC != string(sfu.Subscribe) {
		return errorf("bad-message", `answers are accepted only for pc "subscribe"`)
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if err := c.member.peer.Answer(ctx, in.SDP); err != nil {
		c.log.Info("subscribe answer refused", "err", err)
		return errorf("bad-sdp", "the answer could not be applied")
	}
	return nil
}

// view takes the sizes and visibility of the participant's tiles.
func (c *client) view(in *inbound) *protoError {
	if err := c.member.peer.SetView(in.Tracks); err != nil {
		return errorf("bad-message", "tracks: each needs a participant, a source (audio, camera, screen), a width and height from 0 to 16384, and visible; at most 256")
	}
	return nil
}

func (c *client) candidate(in *inbound) *protoError {
	dir := sfu.Direction(in.PC)
	if dir != sfu.Publish && dir != sfu.Subscribe {
		return errorf("bad-message", `pc must be "publish" or "subscribe"`)
	}
	if len(in.Candidate) == 0 || string(in.Candidate) == "null" {
		return nil // end of candidates
	}
	var cand webrtc.ICECandidateInit
	if err := json.Unmarshal(in.Candidate, &cand); err != nil || cand.Candidate == "" && cand.SDPMid == nil {
		return errorf("bad-message", "candidate is not an RTCIceCandidateInit")
	}
	if cand.Candidate == "" {
		return nil // an empty candidate also marks the end
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if err := c.member.peer.AddCandidate(ctx, dir, cand); err != nil {
		if errors.Is(err, sfu.ErrTooManyCandidates) {
			return errorf("rate-limited", "too many ICE candidates")
		}
		return errorf("bad-message", "the candidate could not be added")
	}
	return nil
}

func (c *client) update(in *inbound) *protoError {
	if in.Name != nil {
		name, err := meeting.CleanDisplayName(*in.Name)
		if err != nil {
			return errorf("bad-message", "a name has 1 to 64 characters and no control characters")
		}
		in.Name = &name
	}
	c.srv.update(c.member, in)
	return nil
}
