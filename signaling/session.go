package signaling

import (
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// wsConn is what a session needs of its connection: a *websocket.Conn, or
// a busConn that carries the frames of a socket another node holds.
type wsConn interface {
	ReadMessage() (messageType int, p []byte, err error)
	SetReadDeadline(t time.Time) error
	SetPongHandler(h func(appData string) error)
	SetWriteDeadline(t time.Time) error
	WriteMessage(messageType int, data []byte) error
	WriteControl(messageType int, data []byte, deadline time.Time) error
	Close() error
}

// session is one WebSocket. One goroutine reads it (the HTTP handler's), one
// writes it (writeLoop); everything else hands messages to the writer
// through a bounded queue and never touches the socket.
type session struct {
	conn wsConn
	cfg  *Config
	log  *slog.Logger
	// front is the node that holds the WebSocket when another node relays
	// it here; "" for a socket of this node's own.
	front string

	out       chan []byte
	closeReq  chan websocket.CloseError
	closeOnce sync.Once
	done      chan struct{} // closed when the writer has stopped
}

func newSession(conn wsConn, cfg *Config, log *slog.Logger) *session {
	return &session{
		conn:     conn,
		cfg:      cfg,
		log:      log,
		out:      make(chan []byte, 256),
		closeReq: make(chan websocket.CloseError, 1),
		done:     make(chan struct{}),
	}
}

// send queues a message. A client that does not read its messages fast
// enough to keep 256 queued is cut off rather than allowed to hold memory
// or slow the sender.
func (s *session) send(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.log.Error("encode message", "err", err)
		return
	}
	select {
	case <-s.done:
	case s.out <- b:
	default:
		s.log.Warn("client too slow; closing its socket")
		s.close(websocket.ClosePolicyViolation, "too slow")
	}
}

// sendRaw queues an encoded message, as send does.
func (s *session) sendRaw(b []byte) {
	select {
	case <-s.done:
	case s.out <- b:
	default:
		s.log.Warn("client too slow; closing its socket")
		s.close(websocket.ClosePolicyViolation, "too slow")
	}
}

// close asks the writer to send a close frame and end the connection.
func (s *session) close(code int, reason string) {
	s.closeOnce.Do(func() {
		s.closeReq <- websocket.CloseError{Code: code, Text: reason}
	})
}

func (s *session) writeLoop() {
	defer close(s.done)
	defer s.conn.Close()
	ping := time.NewTicker(s.cfg.PingInterval)
	defer ping.Stop()
	for {
		select {
		case b := <-s.out:
			_ = s.conn.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
			if err := s.conn.WriteMessage(websocket.TextMessage, b); err != nil {
				s.log.Debug("write failed", "err", err)
				return
			}
		case <-ping.C:
			if err := s.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(s.cfg.WriteTimeout)); err != nil {
				s.log.Debug("ping failed", "err", err)
				return
			}
		case ce := <-s.closeReq:
			// Flush what is queued (an error or bye explains the close).
			for {
				select {
				case b := <-s.out:
					_ = s.conn.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
					if s.conn.WriteMessage(websocket.TextMessage, b) != nil {
						return
					}
					continue
				default:
				}
				break
			}
			msg := websocket.FormatCloseMessage(ce.Code, ce.Text)
			_ = s.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(s.cfg.WriteTimeout))
			return
		}
	}
}
