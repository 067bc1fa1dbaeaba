package sfu

import (
	"log/slog"
	"sync"
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
}

func newRoom(s *SFU, id string) *Room {
	return &Room{
		sfu:   s,
		id:    id,
		log:   s.log.With("room", id),
		peers: map[string]*Peer{},
		pubs:  map[*Publication]struct{}{},
	}
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
	for _, o := range others {
		o.subscribe(pub)
	}
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
