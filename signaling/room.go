package signaling

import (
	"log/slog"
	"slices"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/salonhq/salon/sfu"
)

// room is the signalling view of a meeting: who is in it.
type room struct {
	id      string
	members map[string]*member
}

// member is one participant. Its fields are guarded by Server.mu; it
// outlives a dropped socket for Config.ReconnectGrace.
type member struct {
	srv    *Server
	room   *room
	id     string
	secret string
	log    *slog.Logger
	peer   *sfu.Peer

	info     Participant
	front    string   // the node holding its socket, "" for this one
	sess     *session // nil while disconnected
	grace    *time.Timer
	gone     bool
	joinedAt time.Time
	timed    bool // join duration observed
}

// snapshotLocked returns the others in the room, to notify after unlock.
func (m *member) othersLocked() []*session {
	out := make([]*session, 0, len(m.room.members))
	for _, o := range m.room.members {
		if o != m && o.sess != nil {
			out = append(out, o.sess)
		}
	}
	return out
}

func broadcast(to []*session, msg any) {
	for _, s := range to {
		s.send(msg)
	}
}

// currentSession returns where to deliver messages for this member.
func (m *member) currentSession() *session {
	m.srv.mu.Lock()
	defer m.srv.mu.Unlock()
	return m.sess
}

// SubscribeOffer implements sfu.PeerEvents. Offers made while the member is
// disconnected are dropped; sfu.Peer.Resume sends one again.
func (m *member) SubscribeOffer(sdp string, tracks map[string]sfu.TrackRef) {
	if s := m.currentSession(); s != nil {
		s.send(offerMsg{Type: "offer", PC: sfu.Subscribe, SDP: sdp, Tracks: tracks})
	}
}

// Candidate implements sfu.PeerEvents.
func (m *member) Candidate(dir sfu.Direction, c *webrtc.ICECandidateInit) {
	if s := m.currentSession(); s != nil {
		var v any
		if c != nil {
			v = c
		}
		s.send(candidateMsg{Type: "candidate", PC: dir, Candidate: v})
	}
}

// ConnectionState implements sfu.PeerEvents; the first connected state of
// either connection ends the join, for the join duration histogram.
func (m *member) ConnectionState(dir sfu.Direction, st webrtc.PeerConnectionState) {
	if st != webrtc.PeerConnectionStateConnected {
		if st == webrtc.PeerConnectionStateFailed {
			m.log.Warn("media connection failed", "pc", dir)
		}
		return
	}
	m.srv.mu.Lock()
	first := !m.timed
	m.timed = true
	d := m.srv.now().Sub(m.joinedAt)
	m.srv.mu.Unlock()
	if first {
		m.srv.metrics.joinDuration.Observe(d.Seconds())
		m.log.Info("media connected", "pc", dir, "after", d.Round(time.Millisecond))
	}
}

// PublicationsChanged implements sfu.PeerEvents: it keeps the screen flag.
func (m *member) PublicationsChanged(sources []string) {
	screen := slices.Contains(sources, "screen")
	m.srv.mu.Lock()
	if m.gone || m.info.Screen == screen {
		m.srv.mu.Unlock()
		return
	}
	m.info.Screen = screen
	info := m.info
	to := m.othersLocked()
	m.srv.mu.Unlock()
	broadcast(to, participantMsg{Type: "participant-updated", Participant: info})
}

// PublisherLayers implements sfu.PeerEvents.
func (m *member) PublisherLayers(source string, rids []string) {
	if s := m.currentSession(); s != nil {
		s.send(layersMsg{Type: "layers", Source: source, Active: rids})
	}
}

// Speakers implements sfu.PeerEvents.
func (m *member) Speakers(ids []string) {
	if s := m.currentSession(); s != nil {
		s.send(speakersMsg{Type: "speakers", Speakers: ids})
	}
}

// StreamsPaused implements sfu.PeerEvents.
func (m *member) StreamsPaused(tracks []sfu.PausedTrack) {
	if s := m.currentSession(); s != nil {
		s.send(pausedMsg{Type: "paused", Tracks: tracks})
	}
}

// addMember puts a new participant in a room and tells the others.
func (s *Server) addMember(roomID, name string, sess *session, log *slog.Logger) (*member, error) {
	id := randomID(8)
	log = log.With("room", roomID, "participant", id)
	m := &member{
		srv: s, id: id, secret: randomID(16), log: log,
		info:     Participant{ID: id, Name: name, Connected: true},
		sess:     sess,
		front:    sess.front,
		joinedAt: s.now(),
	}
	if s.state != nil {
		if pe := s.state.admit(roomID, m.info, m.joinedAt, m.front); pe != nil {
			log.Warn("join refused", "code", pe.code, "err", pe.message)
			return nil, pe
		}
	}
	r, err := s.sfu.Room(roomID)
	if err != nil {
		if s.state != nil {
			s.state.leaveAsync(roomID, id)
		}
		return nil, err
	}

	s.mu.Lock()
	if s.shuttingDown {
		s.mu.Unlock()
		return nil, errShuttingDown
	}
	rm := s.rooms[roomID]
	if rm == nil {
		rm = &room{id: roomID, members: map[string]*member{}}
		s.rooms[roomID] = rm
	}
	m.room = rm
	rm.members[id] = m
	s.members[id] = m
	others := make([]Participant, 0, len(rm.members))
	for _, o := range rm.members {
		if o != m {
			others = append(others, o.info)
		}
	}
	to := m.othersLocked()
	info := m.info
	s.mu.Unlock()

	s.metrics.participants.Inc()
	// joined goes out before the media peer exists: joining the SFU room
	// makes salon offer the others' tracks at once, and the client must
	// know who it is before the first offer arrives.
	sess.send(joinedMsg{Type: "joined", Protocol: ProtocolVersion, Self: info,
		Resume: resumeRef{Participant: id, Secret: m.secret, Room: roomID, Node: s.nodeID()}, Participants: others, IceServers: []any{}})
	broadcast(to, participantMsg{Type: "participant-joined", Participant: info})

	peer, err := r.Join(id, m, log)
	if err != nil {
		s.removeMember(m, "closed", nil)
		return nil, err
	}
	s.mu.Lock()
	m.peer = peer
	gone := m.gone
	s.mu.Unlock()
	if gone { // removed meanwhile (shutdown)
		peer.Close()
		return nil, errShuttingDown
	}
	log.Info("participant joined", "name", name, "in_room", len(others)+1)
	return m, nil
}

// resumeMember gives a participant back its place on a new socket.
func (s *Server) resumeMember(ref resumeRef, sess *session) (*member, error) {
	s.mu.Lock()
	if s.shuttingDown {
		s.mu.Unlock()
		return nil, errShuttingDown
	}
	m := s.members[ref.Participant]
	if m == nil || m.gone || !secretsEqual(m.secret, ref.Secret) {
		s.mu.Unlock()
		return nil, fatalf("resume-failed", "there is no place to resume; join again")
	}
	old := m.sess
	m.sess = sess
	m.front = sess.front
	if m.grace != nil {
		m.grace.Stop()
		m.grace = nil
	}
	wasConnected := m.info.Connected
	m.info.Connected = true
	peer := m.peer
	others := make([]Participant, 0, len(m.room.members))
	for _, o := range m.room.members {
		if o != m {
			others = append(others, o.info)
		}
	}
	to := m.othersLocked()
	info := m.info
	s.mu.Unlock()

	if old != nil {
		old.send(byeMsg{Type: "bye", Reason: "replaced"})
		old.close(websocket1000, "replaced by a new connection")
	}
	sess.send(joinedMsg{Type: "joined", Protocol: ProtocolVersion, Self: info,
		Resume: resumeRef{Participant: m.id, Secret: m.secret, Room: m.room.id, Node: s.nodeID()}, Participants: others, Resumed: true, IceServers: []any{}})
	if !wasConnected {
		broadcast(to, participantMsg{Type: "participant-updated", Participant: info})
	}
	if peer != nil {
		peer.Resume()
	}
	s.metrics.resumes.Inc()
	m.log.Info("participant resumed")
	return m, nil
}

// disconnected is called when a member's socket ends without a leave: the
// member keeps its place for the grace period.
func (s *Server) disconnected(m *member, sess *session) {
	s.mu.Lock()
	if m.gone || m.sess != sess {
		s.mu.Unlock()
		return
	}
	m.sess = nil
	m.info.Connected = false
	m.grace = time.AfterFunc(s.cfg.ReconnectGrace, func() {
		s.mu.Lock()
		stillAway := !m.gone && m.sess == nil
		s.mu.Unlock()
		if stillAway {
			m.log.Info("participant did not come back", "grace", s.cfg.ReconnectGrace)
			s.removeMember(m, "timeout", nil)
		}
	})
	info := m.info
	to := m.othersLocked()
	s.mu.Unlock()
	m.log.Info("participant disconnected; keeping its place", "grace", s.cfg.ReconnectGrace)
	broadcast(to, participantMsg{Type: "participant-updated", Participant: info})
}

// removeMember takes a participant out of its room for good. bye, when
// set, is sent to its socket before the socket is closed.
func (s *Server) removeMember(m *member, reason string, bye *byeMsg) {
	s.mu.Lock()
	if m.gone {
		s.mu.Unlock()
		return
	}
	m.gone = true
	if m.grace != nil {
		m.grace.Stop()
	}
	delete(m.room.members, m.id)
	delete(s.members, m.id)
	if len(m.room.members) == 0 {
		delete(s.rooms, m.room.id)
	}
	sess := m.sess
	m.sess = nil
	peer := m.peer // nil while addMember is still joining the SFU room
	to := m.othersLocked()
	s.mu.Unlock()

	s.metrics.participants.Dec()
	if s.state != nil {
		s.state.leaveAsync(m.room.id, m.id)
	}
	if sess != nil && bye != nil {
		sess.send(*bye)
		code := websocket1000
		if bye.Reason == "server-shutdown" {
			code = websocket1001
		}
		sess.close(code, bye.Reason)
	}
	if peer != nil {
		peer.Close()
	}
	broadcast(to, leftMsg{Type: "participant-left", ID: m.id, Reason: reason})
	m.log.Info("participant left", "reason", reason)
}

// update applies a participant's own change of name or mute state.
func (s *Server) update(m *member, in *inbound) {
	s.mu.Lock()
	if in.Name != nil {
		m.info.Name = *in.Name
	}
	if in.AudioMuted != nil {
		m.info.AudioMuted = *in.AudioMuted
	}
	if in.VideoMuted != nil {
		m.info.VideoMuted = *in.VideoMuted
	}
	info := m.info
	to := m.othersLocked()
	joined, front := m.joinedAt, m.front
	s.mu.Unlock()
	broadcast(to, participantMsg{Type: "participant-updated", Participant: info})
	if s.state != nil {
		s.state.update(m.room.id, info, joined, front)
	}
}

const (
	websocket1000 = 1000 // normal closure
	websocket1001 = 1001 // going away
)
