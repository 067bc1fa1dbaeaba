package signaling

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/salonhq/salon/internal/roomstate"
)

// stateTimeout bounds one call to the live room state, so that a Redis
// that stopped answering turns into a clear refusal, not a hung join.
const stateTimeout = 3 * time.Second

// errUnavailable is a join refused because the live room state cannot be
// reached; calls in progress keep their media.
var errUnavailable = fatalf("unavailable", "salon cannot reach its room state right now; try again in a moment")

// errElsewhere is a join of a room whose media another salon node hosts.
var errElsewhere = fatalf("unavailable", "this meeting is running on another salon node, which this node cannot reach yet; try again in a moment")

// liveState mirrors this node's participants into the live room state
// every node shares (internal/roomstate): the lists there are what other
// nodes, the API and operators see. This node stays the authority for
// its own participants: when a write fails (Redis restarting), the next
// Reconcile writes the truth again, so no ghost stays and none is lost.
type liveState struct {
	store roomstate.Store
	node  string

	mu    sync.Mutex
	stale map[string]bool // rooms whose mirror may be wrong
	// pending counts leaves still being written, for Shutdown to wait
	// for.
	pending sync.WaitGroup
}

func newLiveState(store roomstate.Store, node string) *liveState {
	if store == nil {
		return nil
	}
	return &liveState{store: store, node: node, stale: map[string]bool{}}
}

func (l *liveState) markStale(room string) {
	l.mu.Lock()
	l.stale[room] = true
	l.mu.Unlock()
}

// admit asks which node hosts the room (this one, when none does) and
// records the participant.
func (l *liveState) admit(room string, p Participant, joined time.Time, front string) *protoError {
	ctx, cancel := context.WithTimeout(context.Background(), stateTimeout)
	defer cancel()
	// Join first, then claim: a room emptied between a claim and a join
	// would come back without a host, and another node could claim it.
	if err := l.store.Join(ctx, l.participant(room, p, joined, front)); err != nil {
		return errUnavailable
	}
	r, err := l.store.HostRoom(ctx, room, l.node)
	if err == nil && r.Node == l.node {
		return nil
	}
	_ = l.store.Leave(ctx, room, p.ID)
	if err != nil {
		return errUnavailable
	}
	return errElsewhere
}

// participant is p as the live state keeps it. Its node is the one that
// holds its socket (front), whose lease it lives by.
func (l *liveState) participant(room string, p Participant, joined time.Time, front string) roomstate.Participant {
	node := l.node
	if front != "" {
		node = front
	}
	return roomstate.Participant{
		ID: p.ID, Room: room, Name: p.Name, Role: "guest", Node: node, JoinedAt: joined,
		AudioMuted: p.AudioMuted, VideoMuted: p.VideoMuted,
	}
}

// update mirrors a participant's change; a failure leaves the room for
// Reconcile.
func (l *liveState) update(room string, p Participant, joined time.Time, front string) {
	ctx, cancel := context.WithTimeout(context.Background(), stateTimeout)
	defer cancel()
	if err := l.store.Update(ctx, l.participant(room, p, joined, front)); err != nil {
		l.markStale(room)
	}
}

// leaveAsync mirrors a departure without holding up the caller (Shutdown
// removes everyone at once, and Redis may be unreachable).
func (l *liveState) leaveAsync(room, id string) {
	l.pending.Add(1)
	go func() {
		defer l.pending.Done()
		l.leave(room, id)
	}()
}

// leave mirrors a departure; a failure leaves the room for Reconcile.
func (l *liveState) leave(room, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), stateTimeout)
	defer cancel()
	if err := l.store.Leave(ctx, room, id); err != nil {
		l.markStale(room)
	}
}

// Reconcile writes this node's participants again into the live room
// state of the rooms whose mirror may be wrong (a write failed) or, with
// all, of every room this node has people in: after Redis restarted empty,
// or lost writes while unreachable. Participants that left meanwhile are
// removed, missing ones added. It returns the first error; the rooms it
// could not fix stay marked.
func (s *Server) Reconcile(ctx context.Context, all bool) error {
	l := s.state
	if l == nil {
		return nil
	}
	type local struct {
		info   Participant
		joined time.Time
		front  string
	}
	s.mu.Lock()
	rooms := map[string][]local{}
	for id, r := range s.rooms {
		for _, m := range r.members {
			rooms[id] = append(rooms[id], local{m.info, m.joinedAt, m.front})
		}
	}
	s.mu.Unlock()
	l.mu.Lock()
	todo := map[string]bool{}
	for r := range l.stale {
		todo[r] = true
	}
	if all {
		for r := range rooms {
			todo[r] = true
		}
	}
	l.mu.Unlock()

	var first error
	for room := range todo {
		err := func() error {
			have, err := l.store.Participants(ctx, room)
			if err != nil {
				return err
			}
			want := map[string]bool{}
			for _, p := range rooms[room] {
				want[p.info.ID] = true
			}
			// Everyone in a room this node hosts is its member, relayed
			// or not: anyone else listed is a ghost.
			r, rerr := l.store.Room(ctx, room)
			hosted := rerr == nil && r.Node == l.node
			for _, p := range have {
				if !want[p.ID] && (p.Node == l.node || hosted) {
					if err := l.store.Leave(ctx, room, p.ID); err != nil {
						return err
					}
				}
			}
			if len(rooms[room]) > 0 {
				r, err := l.store.HostRoom(ctx, room, l.node)
				if err != nil {
					return err
				}
				if r.Node != l.node {
					// While the state was away another node took the
					// room (a restarted Redis forgot it was here): its
					// people here reconnect and meet the others there.
					s.moveRoom(room, r.Node)
					return nil
				}
			}
			for _, p := range rooms[room] {
				if err := l.store.Join(ctx, l.participant(room, p.info, p.joined, p.front)); err != nil {
					return err
				}
			}
			// Someone who left while this ran may have had their leave
			// written before the join above: write it again.
			s.mu.Lock()
			still := map[string]bool{}
			if r := s.rooms[room]; r != nil {
				for id := range r.members {
					still[id] = true
				}
			}
			s.mu.Unlock()
			for _, p := range rooms[room] {
				if !still[p.info.ID] {
					if err := l.store.Leave(ctx, room, p.info.ID); err != nil {
						return err
					}
				}
			}
			return nil
		}()
		if err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		l.mu.Lock()
		delete(l.stale, room)
		l.mu.Unlock()
	}
	if first != nil && !errors.Is(first, context.Canceled) {
		s.log.Warn("live room state not reconciled yet", "err", first)
	}
	return first
}

// moveRoom sends this node's members of room away to rejoin, wherever the
// room now lives.
func (s *Server) moveRoom(room, host string) {
	s.mu.Lock()
	var ms []*member
	if r := s.rooms[room]; r != nil {
		for _, m := range r.members {
			ms = append(ms, m)
		}
	}
	s.mu.Unlock()
	s.log.Warn("another node hosts this room now; its participants here rejoin there", "room", room, "host", host, "participants", len(ms))
	for _, m := range ms {
		s.removeMember(m, "closed", &byeMsg{Type: "bye", Reason: "server-shutdown"})
	}
}

// nodeID is this node's ID in the live state, "" without one.
func (s *Server) nodeID() string {
	if s.state == nil {
		return ""
	}
	return s.state.node
}

// Load is the number of participants whose media this node carries, for
// choosing the node of a new room.
func (s *Server) Load() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.members)
}
