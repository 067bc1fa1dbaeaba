package sfu

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// Direction names one of a participant's two PeerConnections.
type Direction string

const (
	// Publish carries the participant's own tracks to salon; the browser
	// makes the offers.
	Publish Direction = "publish"
	// Subscribe carries everyone else's tracks to the participant; salon
	// makes the offers.
	Subscribe Direction = "subscribe"
)

// TrackRef says whose track a subscribe transceiver carries.
type TrackRef struct {
	Participant string `json:"participant"`
	Source      string `json:"source"`
}

// PeerEvents is how a Peer talks back to its signalling session. Methods
// are called from the SFU's goroutines and must not block.
type PeerEvents interface {
	// SubscribeOffer delivers a new offer for the subscribe connection and
	// which participant and source each transceiver (by mid) carries.
	SubscribeOffer(sdp string, tracks map[string]TrackRef)
	// Candidate delivers a local ICE candidate; nil means gathering ended.
	Candidate(dir Direction, c *webrtc.ICECandidateInit)
	// ConnectionState reports a connection's state changes.
	ConnectionState(dir Direction, s webrtc.PeerConnectionState)
	// PublicationsChanged reports that the set of sources the participant
	// publishes changed.
	PublicationsChanged(sources []string)
	// PublisherLayers tells the publisher which simulcast layers (RIDs) of
	// a source to keep encoding; the others nobody receives.
	PublisherLayers(source string, rids []string)
	// Speakers reports the participants speaking now, loudest first.
	Speakers(ids []string)
	// StreamsPaused reports the video tracks salon stopped sending to this
	// subscriber, and why (PausedHidden, PausedLastN, PausedBandwidth).
	StreamsPaused(tracks []PausedTrack)
}

// PausedTrack is a video track a subscriber does not receive for now.
type PausedTrack struct {
	Participant string `json:"participant"`
	Source      string `json:"source"`
	Reason      string `json:"reason"`
}

// Sources accepted in a publish offer.
var validSources = map[string]bool{"audio": true, "camera": true, "screen": true}

// ErrBadSource is returned for a publish offer naming an unknown source.
var ErrBadSource = errors.New("sfu: unknown source")

// Peer is one participant's media in a room: a publish and a subscribe
// PeerConnection and the publications and subscriptions that go with them.
//
// All changes to the connections run one at a time on the peer's operation
// goroutine; callers post operations and, where they need an answer, wait
// for it.
type Peer struct {
	id     string
	room   *Room
	log    *slog.Logger
	events PeerEvents
	pub    *webrtc.PeerConnection
	sub    *webrtc.PeerConnection
	ops    *opQueue
	alloc  allocation     // what the subscriber receives and how it shows it
	bwe    *twccExtension // the subscribe connection's sequence stamper and bandwidth estimate
	resync atomic.Bool    // tell the participant the room's current speakers, layers and pauses

	closeOnce sync.Once
	done      chan struct{}

	// Owned by the operation goroutine.
	sources        map[string]string       // mid → source, from the last publish offer
	published      map[string]*Publication // mid → publication
	subs           map[*Publication]*webrtc.RTPSender
	awaitingAnswer bool
	needOffer      bool
	restartICE     bool
	pubCands       []webrtc.ICECandidateInit
	subCands       []webrtc.ICECandidateInit
	pubCandCount   int // remote candidates since the last remote description
	subCandCount   int
}

// maxRemoteCandidates bounds the candidates a browser may trickle for one
// connection between two descriptions; browsers send well under ten.
const maxRemoteCandidates = 32

// ErrTooManyCandidates is returned when a client trickles more candidates
// than any browser would.
var ErrTooManyCandidates = errors.New("sfu: too many ICE candidates")

func newPeer(r *Room, id string, events PeerEvents, log *slog.Logger) (*Peer, error) {
	cfg := webrtc.Configuration{
		BundlePolicy:  webrtc.BundlePolicyMaxBundle,
		RTCPMuxPolicy: webrtc.RTCPMuxPolicyRequire,
	}
	// Every connection is made through the registry, which hands over the
	// stamper the interceptor registry builds for it.
	var pub *webrtc.PeerConnection
	_, err := r.sfu.bwe.newConnection(func() (err error) {
		pub, err = r.sfu.api.NewPeerConnection(cfg)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create publish connection: %w", err)
	}
	var sub *webrtc.PeerConnection
	bwe, err := r.sfu.bwe.newConnection(func() (err error) {
		sub, err = r.sfu.api.NewPeerConnection(cfg)
		return err
	})
	if err != nil {
		_ = pub.Close()
		return nil, fmt.Errorf("create subscribe connection: %w", err)
	}
	p := &Peer{
		id: id, room: r, log: log, events: events, pub: pub, sub: sub, bwe: bwe,
		ops:       newOpQueue(),
		done:      make(chan struct{}),
		sources:   map[string]string{},
		published: map[string]*Publication{},
		subs:      map[*Publication]*webrtc.RTPSender{},
	}
	for dir, pc := range map[Direction]*webrtc.PeerConnection{Publish: pub, Subscribe: sub} {
		pc.OnICECandidate(func(c *webrtc.ICECandidate) {
			if c == nil {
				events.Candidate(dir, nil)
				return
			}
			init := c.ToJSON()
			events.Candidate(dir, &init)
		})
		pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
			log.Debug("connection state", "pc", dir, "state", s.String())
			events.ConnectionState(dir, s)
			if dir == Subscribe && s == webrtc.PeerConnectionStateFailed {
				// salon offers on this connection, so salon restarts it;
				// the browser restarts its publish connection itself.
				p.restartSubscribeICE()
			}
		})
	}
	pub.OnTrack(func(remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
		p.ops.post(func() { p.startPublication(remote, recv) })
	})
	go p.ops.run(p.done)
	return p, nil
}

// ID is the participant's id.
func (p *Peer) ID() string { return p.id }

// do runs fn on the operation goroutine and waits for it.
func (p *Peer) do(ctx context.Context, fn func() error) error {
	errc := make(chan error, 1)
	if !p.ops.post(func() { errc <- fn() }) {
		return ErrClosed
	}
	select {
	case err := <-errc:
		return err
	case <-p.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Publish applies the browser's offer for the publish connection and
// returns salon's answer. sources maps each sending transceiver's mid to
// "audio", "camera" or "screen"; a publication whose mid is missing ends.
func (p *Peer) Publish(ctx context.Context, offer string, sources map[string]string) (string, error) {
	for mid, src := range sources {
		if !validSources[src] || mid == "" || len(mid) > 32 {
			return "", fmt.Errorf("%w %q for mid %q", ErrBadSource, src, mid)
		}
	}
	var answer string
	err := p.do(ctx, func() error {
		if err := p.pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
			return fmt.Errorf("apply publish offer: %w", err)
		}
		p.pubCandCount = 0
		p.sources = make(map[string]string, len(sources))
		for mid, src := range sources {
			p.sources[mid] = src
		}
		for _, c := range p.pubCands {
			_ = p.pub.AddICECandidate(c)
		}
		p.pubCands = nil
		a, err := p.pub.CreateAnswer(nil)
		if err != nil {
			return fmt.Errorf("create publish answer: %w", err)
		}
		if err := p.pub.SetLocalDescription(a); err != nil {
			return fmt.Errorf("set publish answer: %w", err)
		}
		answer = p.pub.LocalDescription().SDP
		p.endStalePublications()
		return nil
	})
	return answer, err
}

// endStalePublications withdraws publications whose mid the latest offer
// no longer lists, and relabels those whose source changed.
func (p *Peer) endStalePublications() {
	changed := false
	for mid, pub := range p.published {
		if p.sources[mid] != pub.source {
			delete(p.published, mid)
			p.room.unpublish(pub)
			changed = true
		}
	}
	if changed {
		p.events.PublicationsChanged(p.publishedSources())
	}
}

func (p *Peer) publishedSources() []string {
	out := make([]string, 0, len(p.published))
	for _, pub := range p.published {
		out = append(out, pub.source)
	}
	return out
}

func (p *Peer) startPublication(remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	var mid string
	for _, t := range p.pub.GetTransceivers() {
		if t.Receiver() == recv {
			mid = t.Mid()
		}
	}
	source, ok := p.sources[mid]
	if !ok {
		p.log.Warn("track on an undeclared transceiver; ignored", "mid", mid, "kind", remote.Kind().String())
		return
	}
	levelID := audioLevelID(recv)
	if old := p.published[mid]; old != nil {
		if remote.RID() != "" && old.simulcast && old.receiver == recv {
			// Another layer of a simulcast track.
			if l := old.addLayer(remote, levelID); l != nil {
				p.log.Info("publishing layer", "source", source, "rid", l.rid, "layer", l.index, "ssrc", l.ssrc)
				p.startLayer(old, l, recv)
			}
			return
		}
		delete(p.published, mid)
		p.room.unpublish(old)
	}
	pub := newPublication(p, source, mid, remote)
	pub.receiver = recv
	pub.declare(recv)
	l := pub.addLayer(remote, levelID)
	p.published[mid] = pub
	p.log.Info("publishing", "source", source, "mid", mid, "codec", remote.Codec().MimeType, "ssrc", l.ssrc,
		"rid", l.rid, "simulcast", pub.simulcast)
	p.startLayer(pub, l, recv)
	p.room.publish(pub)
	p.events.PublicationsChanged(p.publishedSources())
}

// startLayer forwards one incoming stream; when it ends, the publication
// ends (its layers share one receiver and stop together).
func (p *Peer) startLayer(pub *Publication, l *layer, recv *webrtc.RTPReceiver) {
	go func() {
		l.forward(p.room.sfu.metrics)
		p.ops.post(func() {
			if p.published[pub.mid] == pub {
				delete(p.published, pub.mid)
				p.events.PublicationsChanged(p.publishedSources())
			}
			p.room.unpublish(pub)
		})
	}()
	go readReceiverRTCP(recv, l.rid)
}

// audioLevelID is the id the publisher negotiated for the RFC 6464 audio
// level header extension, or 0.
func audioLevelID(recv *webrtc.RTPReceiver) uint8 {
	for _, e := range recv.GetParameters().HeaderExtensions {
		if e.URI == audioLevelURI && e.ID > 0 && e.ID < 15 {
			return uint8(e.ID)
		}
	}
	return 0
}

// readReceiverRTCP drains RTCP that arrives for one incoming stream (sender
// reports); reading is what lets the interceptors process it.
func readReceiverRTCP(recv *webrtc.RTPReceiver, rid string) {
	buf := make([]byte, maxPacketSize)
	for {
		var err error
		if rid == "" {
			_, _, err = recv.Read(buf)
		} else {
			_, _, err = recv.ReadSimulcast(buf, rid)
		}
		if err != nil {
			return
		}
	}
}

// Answer applies the browser's answer to salon's last subscribe offer.
func (p *Peer) Answer(ctx context.Context, answer string) error {
	return p.do(ctx, func() error {
		if !p.awaitingAnswer {
			return errors.New("no subscribe offer is waiting for an answer")
		}
		if err := p.sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
			return fmt.Errorf("apply subscribe answer: %w", err)
		}
		p.awaitingAnswer = false
		p.subCandCount = 0
		for _, c := range p.subCands {
			_ = p.sub.AddICECandidate(c)
		}
		p.subCands = nil
		p.maybeOffer()
		return nil
	})
}

// AddCandidate adds a remote ICE candidate to one of the connections;
// candidates that arrive before the description they belong to are kept
// until it is applied.
func (p *Peer) AddCandidate(ctx context.Context, dir Direction, c webrtc.ICECandidateInit) error {
	return p.do(ctx, func() error {
		pc, pending, count := p.pub, &p.pubCands, &p.pubCandCount
		if dir == Subscribe {
			pc, pending, count = p.sub, &p.subCands, &p.subCandCount
		}
		// Each remote candidate makes salon send connectivity checks to
		// its address; a client gets a handful, not a way to aim traffic.
		if *count >= maxRemoteCandidates {
			return ErrTooManyCandidates
		}
		*count++
		if pc.RemoteDescription() == nil {
			if len(*pending) >= 64 {
				return errors.New("too many early ICE candidates")
			}
			*pending = append(*pending, c)
			return nil
		}
		if err := pc.AddICECandidate(c); err != nil {
			return fmt.Errorf("add ICE candidate: %w", err)
		}
		return nil
	})
}

// Resume is called when the participant's signalling comes back after a
// drop: any offer that may have been lost is sent again, followed by an
// ICE restart of the subscribe connection.
func (p *Peer) Resume() {
	// What the room said while the participant was away is said again.
	p.resync.Store(true)
	p.room.kick()
	p.ops.post(func() {
		if p.sub.RemoteDescription() == nil && !p.awaitingAnswer {
			return // nothing was ever negotiated
		}
		p.restartICE = true
		p.needOffer = true
		if p.awaitingAnswer {
			if ld := p.sub.LocalDescription(); ld != nil {
				p.events.SubscribeOffer(ld.SDP, p.trackMap())
			}
			return
		}
		p.maybeOffer()
	})
}

// restartSubscribeICE sends a subscribe offer with new ICE credentials,
// after any offer still waiting for its answer.
func (p *Peer) restartSubscribeICE() {
	p.ops.post(func() {
		p.log.Info("subscribe connection failed; restarting ICE")
		p.restartICE = true
		p.needOffer = true
		p.maybeOffer()
	})
}

func (p *Peer) subscribe(pub *Publication) {
	p.ops.post(func() {
		select {
		case <-pub.stopped:
			return
		default:
		}
		if _, ok := p.subs[pub]; ok {
			return
		}
		sender, err := p.sub.AddTrack(pub.down)
		if err != nil {
			p.log.Warn("cannot subscribe", "to", pub.peer.id, "source", pub.source, "err", err)
			return
		}
		p.subs[pub] = sender
		if enc := sender.GetParameters().Encodings; len(enc) > 0 {
			p.alloc.add(pub, uint32(enc[0].SSRC))
		}
		go p.readSenderRTCP(sender, pub)
		p.needOffer = true
		p.maybeOffer()
	})
}

func (p *Peer) unsubscribe(pub *Publication) {
	p.ops.post(func() {
		sender, ok := p.subs[pub]
		if !ok {
			return
		}
		delete(p.subs, pub)
		p.alloc.remove(pub)
		if err := p.sub.RemoveTrack(sender); err != nil && !errors.Is(err, webrtc.ErrConnectionClosed) {
			p.log.Debug("remove track", "err", err)
		}
		p.needOffer = true
		p.maybeOffer()
	})
}

// readSenderRTCP handles what a subscriber says about one track: keyframe
// requests go to the publisher of the layer it receives, NACKs are answered
// from the packet cache, congestion feedback goes to the estimator.
func (p *Peer) readSenderRTCP(sender *webrtc.RTPSender, pub *Publication) {
	m := p.room.sfu.metrics
	var buf []byte // for retransmissions; made on the first NACK
	for {
		pkts, _, err := sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, pkt := range pkts {
			switch pkt := pkt.(type) {
			case *rtcp.PictureLossIndication:
				if b := pub.down.bindingBySSRC(pkt.MediaSSRC); b != nil {
					pub.requestKeyframe(b.currentLayer(), m)
				}
			case *rtcp.FullIntraRequest:
				if b := pub.down.bindingBySSRC(pkt.MediaSSRC); b != nil {
					pub.requestKeyframe(b.currentLayer(), m)
				}
			case *rtcp.TransportLayerNack:
				b := pub.down.bindingBySSRC(pkt.MediaSSRC)
				if b == nil {
					continue
				}
				now := time.Now().UnixNano()
				if buf == nil {
					buf = make([]byte, maxPacketSize+2)
				}
				for _, pair := range pkt.Nacks {
					pair.Range(func(seq uint16) bool {
						if !b.shouldResend(seq, now) {
							return true
						}
						if n, found := pub.retransmit(seq, b, buf); !found {
							m.nackMissed.Inc()
						} else if n > 0 {
							m.nackRepaired.Inc()
						}
						return true
					})
				}
			case *rtcp.TransportLayerCC:
				if e := p.bwe.estimator(); e != nil {
					e.feedback(pkt, time.Now())
				}
			}
		}
	}
}

// maybeOffer sends a subscribe offer when one is needed and none is
// waiting for its answer.
func (p *Peer) maybeOffer() {
	if !p.needOffer || p.awaitingAnswer {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	var opts *webrtc.OfferOptions
	if p.restartICE {
		opts = &webrtc.OfferOptions{ICERestart: true}
	}
	offer, err := p.sub.CreateOffer(opts)
	if err != nil {
		p.log.Warn("create subscribe offer", "err", err)
		return
	}
	if err := p.sub.SetLocalDescription(offer); err != nil {
		p.log.Warn("set subscribe offer", "err", err)
		return
	}
	p.needOffer, p.restartICE, p.awaitingAnswer = false, false, true
	p.events.SubscribeOffer(p.sub.LocalDescription().SDP, p.trackMap())
}

func (p *Peer) trackMap() map[string]TrackRef {
	tracks := map[string]TrackRef{}
	for _, t := range p.sub.GetTransceivers() {
		if t.Mid() == "" || t.Sender() == nil {
			continue
		}
		if dt, ok := t.Sender().Track().(*downTrack); ok {
			tracks[t.Mid()] = TrackRef{Participant: dt.pub.peer.id, Source: dt.pub.source}
		}
	}
	return tracks
}

// Close ends the peer: its publications leave the room and both
// connections close.
func (p *Peer) Close() {
	p.closeOnce.Do(func() {
		p.ops.close()
		close(p.done)
		p.room.leave(p)
		_ = p.pub.Close()
		_ = p.sub.Close()
		p.log.Debug("media peer closed")
	})
}

// Done is closed when the peer is closed.
func (p *Peer) Done() <-chan struct{} { return p.done }

// opQueue is an unbounded FIFO of operations run by one goroutine, so that
// posting from a publisher's goroutine never waits for a slow peer.
type opQueue struct {
	mu     sync.Mutex
	ops    []func()
	wake   chan struct{}
	closed bool
}

func newOpQueue() *opQueue { return &opQueue{wake: make(chan struct{}, 1)} }

func (q *opQueue) post(fn func()) bool {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false
	}
	q.ops = append(q.ops, fn)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return true
}

func (q *opQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.ops = nil
	q.mu.Unlock()
}

func (q *opQueue) run(done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		case <-q.wake:
		}
		for {
			q.mu.Lock()
			if len(q.ops) == 0 || q.closed {
				q.mu.Unlock()
				break
			}
			fn := q.ops[0]
			q.ops[0] = nil
			q.ops = q.ops[1:]
			q.mu.Unlock()
			fn()
		}
	}
}
