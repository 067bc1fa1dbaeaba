package sfu

import (
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"
)

// Room is a set of peers that receive each other's publications.
//
// Its lock guards only its maps. Subscribing and unsubscribing peers is
// done after the lock is released, through each peer's own operation
// queue, so no network I/O or renegotiation happens under it.
type Room struct {
	sfu *SFU
	id  string
	log *slog.Logger

	mu    sync.Mutex
	peers map[string]*Peer
	pubs  map[*Publication]struct{}

	speakers *speakerDetector
	wake     chan struct{} // a subscriber's view changed: allocate soon
	done     chan struct{}
	stopOnce sync.Once

	// Owned by the tick goroutine.
	speaking []string
	recent   []string
	paused   map[*Peer]map[TrackRef]string
}

// Tick periods of a room: speaker detection, then allocation of layers
// and publisher layers every allocateEvery ticks.
const (
	roomTick      = 100 * time.Millisecond
	allocateEvery = 5
)

func newRoom(s *SFU, id string) *Room {
	r := &Room{
		sfu:      s,
		id:       id,
		log:      s.log.With("room", id),
		peers:    map[string]*Peer{},
		pubs:     map[*Publication]struct{}{},
		speakers: newSpeakerDetector(speakerConfig{Interval: roomTick}),
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
		paused:   map[*Peer]map[TrackRef]string{},
	}
	go r.run()
	return r
}

// kick asks the room to allocate layers again soon.
func (r *Room) kick() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *Room) stop() { r.stopOnce.Do(func() { close(r.done) }) }

// run detects speakers, reallocates layers to subscribers and tells
// publishers which layers to encode, until the room is gone.
func (r *Room) run() {
	t := time.NewTicker(roomTick)
	defer t.Stop()
	n := 0
	for {
		realloc := false
		select {
		case <-r.done:
			return
		case <-r.wake:
			realloc = true
		case now := <-t.C:
			n++
			if speaking, changed := r.speakers.tick(now); changed {
				r.speaking = speaking
				r.recent = r.speakers.recent(r.recent[:0])
				r.announceSpeakers(speaking)
				realloc = true
			}
			realloc = realloc || n%allocateEvery == 0
		}
		if realloc {
			r.allocate(time.Now())
		}
	}
}

func (r *Room) snapshot() ([]*Peer, []*Publication) {
	r.mu.Lock()
	defer r.mu.Unlock()
	peers := make([]*Peer, 0, len(r.peers))
	for _, p := range r.peers {
		peers = append(peers, p)
	}
	pubs := make([]*Publication, 0, len(r.pubs))
	for p := range r.pubs {
		pubs = append(pubs, p)
	}
	return peers, pubs
}

func (r *Room) announceSpeakers(ids []string) {
	r.sfu.metrics.speakerFlips.Inc()
	peers, _ := r.snapshot()
	if ids == nil {
		ids = []string{} // nobody: an empty list, not null
	}
	for _, p := range peers {
		p.events.Speakers(slices.Clone(ids))
	}
}

// allocate measures layer rates, chooses every subscriber's layers and
// tells publishers which layers to keep encoding.
func (r *Room) allocate(now time.Time) {
	peers, pubs := r.snapshot()
	nano := now.UnixNano()
	for _, pub := range pubs {
		for i := 0; i < maxLayers; i++ {
			if l := pub.layers[i].Load(); l != nil {
				l.measure(nano)
			}
		}
	}
	rank := make(map[string]int, len(r.recent))
	for i, id := range r.recent {
		rank[id] = i
	}
	m := r.sfu.metrics
	for _, p := range peers {
		paused := p.allocate(nano, rank, r.sfu.lastN, m)
		resync := p.resync.Swap(false)
		if resync {
			// A participant that just joined or came back hears the
			// current state, not only later changes.
			ids := slices.Clone(r.speaking)
			if ids == nil {
				ids = []string{}
			}
			p.events.Speakers(ids)
			for _, pub := range pubs {
				if pub.peer == p && pub.simulcast {
					pub.events().PublisherLayers(pub.source, pub.activeRIDs())
				}
			}
		}
		if resync || !maps.Equal(paused, r.paused[p]) {
			r.paused[p] = paused
			p.events.StreamsPaused(pausedList(paused))
		}
	}
	for p := range r.paused {
		if !slices.Contains(peers, p) {
			delete(r.paused, p)
		}
	}
	for _, pub := range pubs {
		if rids, changed := pub.publisherLayers(now); changed {
			pub.peer.log.Debug("publisher layers", "source", pub.source, "active", rids)
			pub.peer.events.PublisherLayers(pub.source, rids)
		}
	}
}

// pausedList turns a pause map into a sorted list for the subscriber.
func pausedList(m map[TrackRef]string) []PausedTrack {
	out := make([]PausedTrack, 0, len(m))
	for ref, why := range m {
		out = append(out, PausedTrack{Participant: ref.Participant, Source: ref.Source, Reason: why})
	}
	slices.SortFunc(out, func(a, b PausedTrack) int {
		if a.Participant != b.Participant {
			if a.Participant < b.Participant {
				return -1
			}
			return 1
		}
		if a.Source < b.Source {
			return -1
		}
		if a.Source > b.Source {
			return 1
		}
		return 0
	})
	return out
}

// measure updates the layer's bitrate from its byte counter.
func (l *layer) measure(now int64) {
	bytes := l.bytes.Load()
	dt := now - l.rateAt
	if dt < int64(200*time.Millisecond) {
		return
	}
	bps := float64(bytes-l.rateBytes) * 8 * float64(time.Second) / float64(dt)
	l.rateBytes, l.rateAt = bytes, now
	if bps <= 0 {
		return // paused or stalled: keep the last rate as the layer's cost
	}
	old := float64(l.rate.Load())
	if old > 0 {
		bps = 0.7*old + 0.3*bps
	}
	l.rate.Store(int64(bps))
}

// ID is the room's name.
func (r *Room) ID() string { return r.id }

func (r *Room) empty() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.peers) == 0
}

// Publications returns a snapshot of what is published in the room.
func (r *Room) Publications() []*Publication {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*Publication, 0, len(r.pubs))
	for p := range r.pubs {
		out = append(out, p)
	}
	return out
}

// Join adds a media peer for the participant id. events receives the
// peer's offers and candidates; it must not block.
func (r *Room) Join(id string, events PeerEvents, log *slog.Logger) (*Peer, error) {
	if log == nil {
		log = r.log.With("participant", id)
	}
	p, err := newPeer(r, id, events, log)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	if old, ok := r.peers[id]; ok {
		r.mu.Unlock()
		old.Close()
		r.mu.Lock()
	}
	r.peers[id] = p
	existing := make([]*Publication, 0, len(r.pubs))
	for pub := range r.pubs {
		existing = append(existing, pub)
	}
	r.mu.Unlock()
	r.sfu.metrics.peers.Inc()
	p.resync.Store(true) // who speaks now, at the next tick
	r.kick()
	for _, pub := range existing {
		p.subscribe(pub)
	}
	return p, nil
}

func (r *Room) publish(pub *Publication) {
	r.mu.Lock()
	if r.peers[pub.peer.id] != pub.peer {
		r.mu.Unlock()
		return
	}
	r.pubs[pub] = struct{}{}
	others := r.othersLocked(pub.peer)
	r.mu.Unlock()
	r.sfu.metrics.tracks.WithLabelValues(pub.Kind().String()).Inc()
	if pub.level != nil {
		r.speakers.add(pub.peer.id, pub.level)
	}
	for _, o := range others {
		o.subscribe(pub)
	}
	r.kick()
}

func (r *Room) unpublish(pub *Publication) {
	r.mu.Lock()
	if _, ok := r.pubs[pub]; !ok {
		r.mu.Unlock()
		return
	}
	delete(r.pubs, pub)
	others := r.othersLocked(pub.peer)
	r.mu.Unlock()
	pub.stop()
	if pub.level != nil {
		// The detector knows participants, not tracks: a participant who
		// published a new microphone before the old one ended keeps it.
		r.speakers.remove(pub.peer.id)
		r.mu.Lock()
		for other := range r.pubs {
			if other.peer == pub.peer && other.level != nil {
				r.speakers.add(other.peer.id, other.level)
			}
		}
		r.mu.Unlock()
	}
	r.sfu.metrics.tracks.WithLabelValues(pub.Kind().String()).Dec()
	for _, o := range others {
		o.unsubscribe(pub)
	}
}

func (r *Room) othersLocked(self *Peer) []*Peer {
	out := make([]*Peer, 0, len(r.peers))
	for _, p := range r.peers {
		if p != self {
			out = append(out, p)
		}
	}
	return out
}

// leave removes a peer and withdraws its publications from everyone else.
func (r *Room) leave(p *Peer) {
	r.mu.Lock()
	if r.peers[p.id] != p {
		r.mu.Unlock()
		return
	}
	delete(r.peers, p.id)
	var mine []*Publication
	for pub := range r.pubs {
		if pub.peer == p {
			mine = append(mine, pub)
		}
	}
	r.mu.Unlock()
	r.sfu.metrics.peers.Dec()
	for _, pub := range mine {
		r.unpublish(pub)
	}
	r.sfu.removeRoomIfEmpty(r)
}

func (r *Room) closeAll() {
	r.mu.Lock()
	peers := r.othersLocked(nil)
	r.mu.Unlock()
	for _, p := range peers {
		p.Close()
	}
}
