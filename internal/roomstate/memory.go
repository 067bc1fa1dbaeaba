package roomstate

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"
)

// MemoryOptions are the knobs of NewMemory.
type MemoryOptions struct {
	// Now is the clock that leases, JoinedAt and Created follow; time.Now
	// when nil. Tests pass a fake clock to expire leases at will.
	Now func() time.Time
	// BusBuffer is how many messages a subscriber may fall behind before
	// its subscription ends; DefaultBusBuffer when zero.
	BusBuffer int
}

// Memory is the Store and Bus of a single salon process. Its entries hang
// on node leases as Redis's do, measured by its own clock, so that both
// behave alike; a process that is the only node renews its own lease.
type Memory struct {
	now func() time.Time

	mu    sync.Mutex
	nodes map[string]Node // LeaseUntil is the deadline; expired ones are dropped lazily
	rooms map[string]*memRoom

	bus memBus
}

// memRoom is a room as Memory keeps it: its host and participants, alive or
// not. Readers filter by lease; writers drop the dead lazily.
type memRoom struct {
	host         string
	created      time.Time
	locked       bool
	lobby        bool
	seq          uint64 // order of first joins
	participants map[string]*memParticipant
}

type memParticipant struct {
	Participant
	seq uint64
}

// NewMemory returns an empty in-memory Store and Bus.
func NewMemory(opts MemoryOptions) *Memory {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	buffer := opts.BusBuffer
	if buffer <= 0 {
		buffer = DefaultBusBuffer
	}
	return &Memory{
		now:   now,
		nodes: map[string]Node{},
		rooms: map[string]*memRoom{},
		bus:   memBus{buffer: buffer, topics: map[string]map[*memSubscription]struct{}{}},
	}
}

var _ Store = (*Memory)(nil)
var _ Bus = (*Memory)(nil)

// alive reports whether node id holds a running lease. The caller holds
// m.mu.
func (m *Memory) alive(id string, now time.Time) bool {
	n, ok := m.nodes[id]
	return ok && now.Before(n.LeaseUntil)
}

// RenewNode implements Store.
func (m *Memory) RenewNode(ctx context.Context, n Node, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkNode(n, ttl); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	for id, old := range m.nodes {
		if !now.Before(old.LeaseUntil) {
			delete(m.nodes, id)
		}
	}
	// Whole milliseconds, as Redis keeps them.
	n.LeaseUntil = time.UnixMilli(now.UnixMilli() + ttl.Milliseconds())
	m.nodes[n.ID] = n
	return nil
}

// RemoveNode implements Store.
func (m *Memory) RemoveNode(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkID("node ID", id); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.nodes, id)
	return nil
}

// Nodes implements Store. The nodes come sorted by ID.
func (m *Memory) Nodes(ctx context.Context) ([]Node, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	out := []Node{}
	for id, n := range m.nodes {
		if m.alive(id, now) {
			out = append(out, n)
		}
	}
	slices.SortFunc(out, func(a, b Node) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// HostRoom implements Store.
func (m *Memory) HostRoom(ctx context.Context, room, candidate string) (Room, error) {
	if err := ctx.Err(); err != nil {
		return Room{}, err
	}
	if err := checkID("room ID", room); err != nil {
		return Room{}, err
	}
	if err := checkID("candidate node ID", candidate); err != nil {
		return Room{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	r := m.rooms[room]
	if r != nil && r.host != "" && m.alive(r.host, now) {
		return m.view(room, r, now, ""), nil
	}
	if r == nil {
		r = &memRoom{participants: map[string]*memParticipant{}}
		m.rooms[room] = r
	}
	for id, p := range r.participants {
		if !m.alive(p.Node, now) {
			delete(r.participants, id)
		}
	}
	if len(r.participants) == 0 {
		// Nobody left: a new room, whatever the old one was.
		*r = memRoom{seq: r.seq, participants: r.participants, created: toMillis(now)}
	}
	r.host = candidate
	// The answer names the host just chosen even if its lease is not
	// running (yet), as Redis's does.
	return m.view(room, r, now, candidate), nil
}

// view is r as callers see it at now, taking node chosen as alive too.
// The caller holds m.mu.
func (m *Memory) view(id string, r *memRoom, now time.Time, chosen string) Room {
	alive := func(node string) bool { return node == chosen || m.alive(node, now) }
	v := Room{ID: id, Created: r.created, Locked: r.locked, Lobby: r.lobby}
	if r.host != "" && alive(r.host) {
		v.Node = r.host
	}
	for _, p := range r.participants {
		if alive(p.Node) {
			v.Participants++
		}
	}
	return v
}

// live returns the room when someone alive is in it or a live node hosts
// it. The caller holds m.mu.
func (m *Memory) live(room string, now time.Time) (*memRoom, Room, bool) {
	r := m.rooms[room]
	if r == nil {
		return nil, Room{}, false
	}
	v := m.view(room, r, now, "")
	if v.Node == "" && v.Participants == 0 {
		return nil, Room{}, false
	}
	return r, v, true
}

// Room implements Store.
func (m *Memory) Room(ctx context.Context, room string) (Room, error) {
	if err := ctx.Err(); err != nil {
		return Room{}, err
	}
	if err := checkID("room ID", room); err != nil {
		return Room{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	_, v, ok := m.live(room, m.now())
	if !ok {
		return Room{}, notFound("room", room)
	}
	return v, nil
}

// SetRoomPolicy implements Store.
func (m *Memory) SetRoomPolicy(ctx context.Context, room string, locked, lobby bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkID("room ID", room); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, _, ok := m.live(room, m.now())
	if !ok {
		return notFound("room", room)
	}
	r.locked, r.lobby = locked, lobby
	return nil
}

// Join implements Store.
func (m *Memory) Join(ctx context.Context, p Participant) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkParticipant(p); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if p.JoinedAt.IsZero() {
		p.JoinedAt = now
	}
	p.JoinedAt = toMillis(p.JoinedAt)
	r := m.rooms[p.Room]
	if r == nil {
		r = &memRoom{created: toMillis(now), participants: map[string]*memParticipant{}}
		m.rooms[p.Room] = r
	}
	if old := r.participants[p.ID]; old != nil {
		r.participants[p.ID] = &memParticipant{Participant: p, seq: old.seq}
		return nil
	}
	r.seq++
	r.participants[p.ID] = &memParticipant{Participant: p, seq: r.seq}
	return nil
}

// Update implements Store.
func (m *Memory) Update(ctx context.Context, p Participant) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkParticipant(p); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.rooms[p.Room]
	if r == nil || r.participants[p.ID] == nil {
		return notFound("participant", p.ID)
	}
	old := r.participants[p.ID]
	old.Name, old.Role = p.Name, p.Role
	old.AudioMuted, old.VideoMuted, old.HandRaised = p.AudioMuted, p.VideoMuted, p.HandRaised
	return nil
}

// Leave implements Store.
func (m *Memory) Leave(ctx context.Context, room, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkID("room ID", room); err != nil {
		return err
	}
	if err := checkID("participant ID", id); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.rooms[room]
	if r == nil || r.participants[id] == nil {
		// Nothing changes: the room did not become empty, and
		// forgetting it could drop the host that a newcomer's HostRoom
		// just chose.
		return nil
	}
	delete(r.participants, id)
	now := m.now()
	for _, p := range r.participants {
		if m.alive(p.Node, now) {
			return nil
		}
	}
	delete(m.rooms, room)
	return nil
}

// Participants implements Store.
func (m *Memory) Participants(ctx context.Context, room string) ([]Participant, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkID("room ID", room); err != nil {
		return nil, err
	}
	m.mu.Lock()
	r := m.rooms[room]
	var ps []*memParticipant
	if r != nil {
		now := m.now()
		for _, p := range r.participants {
			if m.alive(p.Node, now) {
				c := *p
				ps = append(ps, &c)
			}
		}
	}
	m.mu.Unlock()
	slices.SortFunc(ps, func(a, b *memParticipant) int {
		return cmp.Or(a.JoinedAt.Compare(b.JoinedAt), cmp.Compare(a.seq, b.seq))
	})
	out := make([]Participant, len(ps))
	for i, p := range ps {
		out[i] = p.Participant
	}
	return out, nil
}
