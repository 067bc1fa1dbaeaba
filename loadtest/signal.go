package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"
)

// Signalling timing, as web/static/protocol.js does it.
const (
	pingEvery    = 10 * time.Second
	readTimeout  = 25 * time.Second // the page gives up after 25 silent seconds
	writeTimeout = 10 * time.Second
	maxMessage   = 1 << 20
)

// trackRef says whose track a subscribe transceiver carries.
type trackRef struct {
	Participant string `json:"participant"`
	Source      string `json:"source"`
}

// serverMsg is one message from salon, reduced to what the load tester
// uses. Unknown types decode to their type alone and are ignored.
type serverMsg struct {
	Type      string
	PC        string
	SDP       string
	Candidate *webrtc.ICECandidateInit // nil: end of candidates
	Tracks    map[string]trackRef      // of a subscribe offer, by mid
	Self      string                   // of joined
	Code      string                   // of error
	Message   string
	Fatal     bool
	Ref       string
	Reason    string   // of bye
	Source    string   // of layers
	Active    []string // of layers
	Speakers  int      // of speakers: how many are listed
	Paused    []pausedTrack
}

// pausedTrack is a video track salon does not send for now, and why
// ("hidden", "last-n", "bandwidth").
type pausedTrack struct {
	Participant string `json:"participant"`
	Source      string `json:"source"`
	Reason      string `json:"reason"`
}

// decodeServerMessage reads one text frame from salon. It fails only when
// the frame is not a JSON object with a type, or when a message type the
// load tester acts on has fields of the wrong JSON type.
func decodeServerMessage(data []byte) (serverMsg, error) {
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return serverMsg{}, fmt.Errorf("not a JSON object with a type: %w", err)
	}
	if head.Type == "" {
		return serverMsg{}, errors.New("a message without a type")
	}
	m := serverMsg{Type: head.Type}
	var err error
	switch head.Type {
	case "joined":
		var v struct {
			Self struct {
				ID string `json:"id"`
			} `json:"self"`
		}
		err = json.Unmarshal(data, &v)
		m.Self = v.Self.ID
	case "offer", "answer":
		var v struct {
			PC     string              `json:"pc"`
			SDP    string              `json:"sdp"`
			Tracks map[string]trackRef `json:"tracks"`
		}
		err = json.Unmarshal(data, &v)
		m.PC, m.SDP, m.Tracks = v.PC, v.SDP, v.Tracks
	case "candidate":
		var v struct {
			PC        string                   `json:"pc"`
			Candidate *webrtc.ICECandidateInit `json:"candidate"`
		}
		err = json.Unmarshal(data, &v)
		m.PC, m.Candidate = v.PC, v.Candidate
	case "error":
		var v struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Fatal   bool   `json:"fatal"`
			Ref     string `json:"ref"`
		}
		err = json.Unmarshal(data, &v)
		m.Code, m.Message, m.Fatal, m.Ref = v.Code, v.Message, v.Fatal, v.Ref
	case "bye":
		var v struct {
			Reason string `json:"reason"`
		}
		err = json.Unmarshal(data, &v)
		m.Reason = v.Reason
	case "layers":
		var v struct {
			Source string   `json:"source"`
			Active []string `json:"active"`
		}
		err = json.Unmarshal(data, &v)
		m.Source, m.Active = v.Source, v.Active
	case "paused":
		var v struct {
			Tracks []pausedTrack `json:"tracks"`
		}
		err = json.Unmarshal(data, &v)
		m.Paused = v.Tracks
	case "speakers":
		var v struct {
			Speakers []json.RawMessage `json:"speakers"`
		}
		err = json.Unmarshal(data, &v)
		m.Speakers = len(v.Speakers)
	}
	if err != nil {
		return serverMsg{Type: head.Type}, fmt.Errorf("%s message: %w", head.Type, err)
	}
	return m, nil
}

// Client messages (docs/protocol.md).
type (
	joinMsg struct {
		Type  string `json:"type"`
		V     int    `json:"v"`
		Token string `json:"token"`
	}
	sdpMsg struct {
		Type    string            `json:"type"`
		PC      string            `json:"pc"`
		SDP     string            `json:"sdp"`
		Sources map[string]string `json:"sources,omitempty"`
	}
	candidateMsg struct {
		Type      string                   `json:"type"`
		PC        string                   `json:"pc"`
		Candidate *webrtc.ICECandidateInit `json:"candidate"`
	}
	pingMsg struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	}
	viewMsg struct {
		Type   string     `json:"type"`
		Tracks []viewTile `json:"tracks"`
	}
	viewTile struct {
		Participant string `json:"participant"`
		Source      string `json:"source"`
		Width       int    `json:"width"`
		Height      int    `json:"height"`
		Visible     bool   `json:"visible"`
	}
)

// signalConn is one participant's WebSocket: one goroutine writes (queued
// messages and a ping every 10 s), the participant's goroutine reads.
type signalConn struct {
	conn *websocket.Conn
	out  chan []byte
	done chan struct{}
	once sync.Once

	leaving   chan struct{}
	leaveOnce sync.Once
}

func dialSignal(ctx context.Context, wsURL, origin string) (*signalConn, error) {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 8192, WriteBufferSize: 8192}
	conn, resp, err := d.DialContext(ctx, wsURL, http.Header{"Origin": {origin}})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		return nil, err
	}
	conn.SetReadLimit(maxMessage)
	s := &signalConn{conn: conn, out: make(chan []byte, 256), done: make(chan struct{}),
		leaving: make(chan struct{})}
	conn.SetPingHandler(func(data string) error {
		_ = conn.SetReadDeadline(time.Now().Add(readTimeout))
		err := conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(writeTimeout))
		if errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		return err
	})
	go s.writeLoop()
	return s, nil
}

// send queues a message; it reports false when the socket is closed or so
// far behind that the participant is as good as gone.
func (s *signalConn) send(v any) bool {
	data, err := json.Marshal(v)
	if err != nil {
		return false
	}
	select {
	case s.out <- data:
		return true
	case <-s.done:
		return false
	case <-time.After(writeTimeout):
		s.close()
		return false
	}
}

func (s *signalConn) writeLoop() {
	t := time.NewTicker(pingEvery)
	defer t.Stop()
	var pings int
	write := func(data []byte) bool {
		_ = s.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
		if err := s.conn.WriteMessage(websocket.TextMessage, data); err != nil {
			s.close()
			return false
		}
		return true
	}
	for {
		select {
		case <-s.done:
			return
		case data := <-s.out:
			if !write(data) {
				return
			}
		case <-s.leaving:
			for len(s.out) > 0 {
				if !write(<-s.out) {
					return
				}
			}
			data, _ := json.Marshal(map[string]string{"type": "leave"})
			if write(data) {
				_ = s.conn.WriteControl(websocket.CloseMessage,
					websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			}
			return
		case <-t.C:
			pings++
			data, _ := json.Marshal(pingMsg{Type: "ping", ID: strconv.Itoa(pings)})
			if !write(data) {
				return
			}
		}
	}
}

// read returns the next text message.
func (s *signalConn) read() ([]byte, error) {
	for {
		_ = s.conn.SetReadDeadline(time.Now().Add(readTimeout))
		mt, data, err := s.conn.ReadMessage()
		if err != nil {
			return nil, err
		}
		if mt == websocket.TextMessage {
			return data, nil
		}
	}
}

// leave says goodbye: whatever is queued, a leave message and a normal
// close; it returns once salon closed the socket, or after two seconds.
func (s *signalConn) leave() {
	s.leaveOnce.Do(func() { close(s.leaving) })
	select {
	case <-s.done:
	case <-time.After(2 * time.Second):
	}
	s.close()
}

func (s *signalConn) close() {
	s.once.Do(func() {
		close(s.done)
		_ = s.conn.Close()
	})
}
