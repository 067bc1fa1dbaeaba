package sfu

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// newTestSFU starts an SFU that gathers only loopback candidates.
func newTestSFU(t testing.TB) *SFU {
	t.Helper()
	var opts Options
	if os.Getenv("SALON_TEST_LOG") != "" {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: levelTrace}))
	}
	s, err := New(Config{ListenIP: "127.0.0.1", IncludeLoopback: true}, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// clientAPI is a plain pion API for the browser role, loopback only.
func clientAPI(t *testing.T) *webrtc.API {
	t.Helper()
	return clientAPIFor(t)
}

func clientAPIFor(t testing.TB) *webrtc.API {
	t.Helper()
	return newClientAPI(t)
}

// newClientAPI: default codecs, loopback UDP only, no mDNS; pion's
// default interceptors unless opts replace them.
func newClientAPI(t testing.TB, opts ...func(*webrtc.API)) *webrtc.API {
	t.Helper()
	return newClientAPIWith(t, nil, opts...)
}

// newClientAPIWith is newClientAPI with a hook to add to the MediaEngine.
func newClientAPIWith(t testing.TB, media func(*webrtc.MediaEngine), opts ...func(*webrtc.API)) *webrtc.API {
	t.Helper()
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	if media != nil {
		media(me)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	// The NACK test asks again for a packet it did receive; SRTP replay
	// protection would drop the copy.
	se.DisableSRTPReplayProtection(true)
	return webrtc.NewAPI(append([]func(*webrtc.API){webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se)}, opts...)...)
}

// testClient plays the browser for one participant: it owns the two
// PeerConnections and implements PeerEvents.
type testClient struct {
	t    testing.TB
	id   string
	pub  *webrtc.PeerConnection
	sub  *webrtc.PeerConnection
	peer *Peer

	mu     sync.Mutex
	tracks map[string]TrackRef // mid → ref from the last offer
	offers chan struct{}
	remote chan *webrtc.TrackRemote
	srcs   []string
	early  map[Direction][]webrtc.ICECandidateInit
	// What salon told this participant.
	layers   [][]string
	speaking []string
	paused   []PausedTrack
}

func newTestClient(t testing.TB, api *webrtc.API, room *Room, id string) *testClient {
	t.Helper()
	c := &testClient{t: t, id: id, offers: make(chan struct{}, 16), remote: make(chan *webrtc.TrackRemote, 16),
		early: map[Direction][]webrtc.ICECandidateInit{}}
	var err error
	if c.pub, err = api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		t.Fatal(err)
	}
	if c.sub, err = api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.pub.Close(); _ = c.sub.Close() })
	c.sub.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { c.remote <- tr })
	if c.peer, err = room.Join(id, c, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.peer.Close)
	for dir, pc := range map[Direction]*webrtc.PeerConnection{Publish: c.pub, Subscribe: c.sub} {
		pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
			if cand == nil {
				return
			}
			_ = c.peer.AddCandidate(context.Background(), dir, cand.ToJSON())
		})
	}
	return c
}

func (c *testClient) SubscribeOffer(sdp string, tracks map[string]TrackRef) {
	c.mu.Lock()
	c.tracks = tracks
	c.mu.Unlock()
	go func() {
		if c.sub.ConnectionState() == webrtc.PeerConnectionStateClosed {
			return // the test is over
		}
		if err := c.sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
			c.t.Errorf("%s: subscribe offer: %v", c.id, err)
			return
		}
		c.flushCandidates(Subscribe, c.sub)
		answer, err := c.sub.CreateAnswer(nil)
		if err != nil && c.sub.ConnectionState() == webrtc.PeerConnectionStateClosed {
			return
		}
		if err != nil {
			c.t.Errorf("%s: create answer: %v", c.id, err)
			return
		}
		if err := c.sub.SetLocalDescription(answer); err != nil {
			c.t.Errorf("%s: set answer: %v", c.id, err)
			return
		}
		if err := c.peer.Answer(context.Background(), answer.SDP); err != nil && err != ErrClosed {
			c.t.Errorf("%s: Answer: %v", c.id, err)
		}
		c.offers <- struct{}{}
	}()
}

// Candidate adds salon's candidate, or keeps it until the description it
// belongs to is applied (the subscribe offer is handled asynchronously).
func (c *testClient) Candidate(dir Direction, cand *webrtc.ICECandidateInit) {
	if cand == nil {
		return
	}
	pc := c.pub
	if dir == Subscribe {
		pc = c.sub
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if pc.RemoteDescription() == nil {
		c.early[dir] = append(c.early[dir], *cand)
		return
	}
	_ = pc.AddICECandidate(*cand)
}

// flushCandidates adds the candidates that came before the description.
func (c *testClient) flushCandidates(dir Direction, pc *webrtc.PeerConnection) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cand := range c.early[dir] {
		_ = pc.AddICECandidate(cand)
	}
	c.early[dir] = nil
}

func (c *testClient) ConnectionState(Direction, webrtc.PeerConnectionState) {}

func (c *testClient) PublisherLayers(source string, rids []string) {
	c.mu.Lock()
	c.layers = append(c.layers, rids)
	c.mu.Unlock()
}

func (c *testClient) Speakers(ids []string) {
	c.mu.Lock()
	c.speaking = ids
	c.mu.Unlock()
}

func (c *testClient) StreamsPaused(tracks []PausedTrack) {
	c.mu.Lock()
	c.paused = tracks
	c.mu.Unlock()
}

func (c *testClient) PublicationsChanged(sources []string) {
	c.mu.Lock()
	c.srcs = sources
	c.mu.Unlock()
}

// publishVideo adds a VP8 track and negotiates it as "camera".
func (c *testClient) publishVideo(ctx context.Context) (*webrtc.TrackLocalStaticRTP, *webrtc.RTPSender) {
	c.t.Helper()
	track, tr := c.publishTrack(ctx, webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "camera")
	return track, tr.Sender()
}

// publishTrack adds the client's first track, of the given codec, and
// negotiates it as source.
func (c *testClient) publishTrack(ctx context.Context, codec webrtc.RTPCodecCapability, source string) (*webrtc.TrackLocalStaticRTP, *webrtc.RTPTransceiver) {
	c.t.Helper()
	id := "v"
	if source == "audio" {
		id = "a"
	}
	track, err := webrtc.NewTrackLocalStaticRTP(codec, id, c.id)
	if err != nil {
		c.t.Fatal(err)
	}
	tr, err := c.pub.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		c.t.Fatal(err)
	}
	c.negotiatePublish(ctx, map[string]string{"0": source})
	return track, tr
}

func (c *testClient) negotiatePublish(ctx context.Context, sources map[string]string) {
	c.t.Helper()
	offer, err := c.pub.CreateOffer(nil)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.pub.SetLocalDescription(offer); err != nil {
		c.t.Fatal(err)
	}
	answer, err := c.peer.Publish(ctx, offer.SDP, sources)
	if err != nil {
		c.t.Fatalf("Publish: %v", err)
	}
	if err := c.pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		c.t.Fatal(err)
	}
	c.flushCandidates(Publish, c.pub)
}

// vp8Packet builds a one-packet VP8 frame: an RFC 7741 descriptor with a
// 15-bit picture id, then a frame header (a keyframe announces its size),
// then filler up to size bytes whose last byte is mark.
func vp8Packet(pid uint16, key bool, width, height, size int, mark byte) []byte {
	b := make([]byte, size)
	b[0] = 0x90 // X, S, partition 0
	b[1] = 0x80 // I: picture id present
	b[2] = 0x80 | byte(pid>>8&0x7f)
	b[3] = byte(pid)
	if key {
		b[4] = 0x10 // show_frame, P=0
		copy(b[7:], []byte{0x9d, 0x01, 0x2a, byte(width), byte(width >> 8), byte(height), byte(height >> 8)})
	} else {
		b[4] = 0x11 // P=1: an interframe
	}
	b[size-1] = mark
	return b
}

// sendVideo writes fake VP8 frames, one packet each, every 5 ms until ctx
// ends, with a keyframe every 20 frames.
func sendVideo(ctx context.Context, track *webrtc.TrackLocalStaticRTP) {
	sendVideoAs(ctx, track, webrtc.MimeTypeVP8)
}

// sendVideoAs is sendVideo for VP8, VP9 or H.264 payloads.
func sendVideoAs(ctx context.Context, track *webrtc.TrackLocalStaticRTP, mime string) {
	var seq uint16 = 1000
	var ts uint32
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for frame := 0; ; frame++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		seq++
		ts += 450
		key := frame%20 == 0
		var payload []byte
		switch mime {
		case webrtc.MimeTypeH264:
			payload = make([]byte, 200)
			payload[0] = 0x41 // a non-IDR slice
			if key {
				payload[0] = 0x65 // an IDR slice
			}
			payload[199] = byte(seq)
		case webrtc.MimeTypeVP9:
			payload = make([]byte, 200)
			payload[0] = 0x4c // P, B, E: an interframe in one packet
			if key {
				payload[0] = 0x0c
			}
			payload[199] = byte(seq)
		default:
			payload = vp8Packet(uint16(frame), key, 320, 180, 200, byte(seq))
		}
		_ = track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts, Marker: true}, Payload: payload})
	}
}

// videoPair is a room in which "pub" publishes VP8 that "sub" receives.
type videoPair struct {
	sfu      *SFU
	room     *Room
	pub, sub *testClient
	track    *webrtc.TrackRemote // what sub receives
	stop     context.CancelFunc  // stops the publisher's packets
}

func newVideoPair(t testing.TB, subAPI *webrtc.API) *videoPair {
	t.Helper()
	s := newTestSFU(t)
	room, err := s.Room("r")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	pub := newTestClient(t, clientAPIFor(t), room, "pub")
	sub := newTestClient(t, subAPI, room, "sub")
	track, _ := pub.publishVideo(ctx)
	go sendVideo(ctx, track)
	return &videoPair{sfu: s, room: room, pub: pub, sub: sub, track: waitTrack(t, sub), stop: cancel}
}

func waitTrack(t testing.TB, c *testClient) *webrtc.TrackRemote {
	t.Helper()
	select {
	case tr := <-c.remote:
		return tr
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: no track arrived", c.id)
		return nil
	}
}

func TestForwardsToEverySubscriber(t *testing.T) {
	s := newTestSFU(t)
	room, err := s.Room("r1")
	if err != nil {
		t.Fatal(err)
	}
	api := clientAPI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	alice := newTestClient(t, api, room, "alice")
	bob := newTestClient(t, api, room, "bob")
	carol := newTestClient(t, api, room, "carol")
	track, _ := alice.publishVideo(ctx)
	go sendVideo(ctx, track)

	for _, sub := range []*testClient{bob, carol} {
		tr := waitTrack(t, sub)
		if tr.Codec().MimeType != webrtc.MimeTypeVP8 {
			t.Errorf("%s: codec %s, want VP8", sub.id, tr.Codec().MimeType)
		}
		var lastTWCC uint16
		for i := 0; i < 20; i++ {
			p, _, err := tr.ReadRTP()
			if err != nil {
				t.Fatalf("%s: read: %v", sub.id, err)
			}
			if len(p.Payload) != 200 || p.Payload[0] != 0x90 || p.Payload[199] != byte(p.SequenceNumber) {
				t.Fatalf("%s: payload not forwarded intact: % x", sub.id, p.Payload[:4])
			}
			// Each packet carries salon's own transport-wide sequence number.
			ids := p.GetExtensionIDs()
			if len(ids) != 1 || len(p.GetExtension(ids[0])) != 2 {
				t.Fatalf("%s: header extensions %v, want only transport-cc", sub.id, ids)
			}
			seq := binary.BigEndian.Uint16(p.GetExtension(ids[0]))
			if i > 0 && seq != lastTWCC+1 {
				t.Fatalf("%s: transport-wide sequence %d after %d", sub.id, seq, lastTWCC)
			}
			lastTWCC = seq
		}
		sub.mu.Lock()
		refs := sub.tracks
		sub.mu.Unlock()
		if len(refs) != 1 {
			t.Fatalf("%s: track map %v, want one entry", sub.id, refs)
		}
		for _, ref := range refs {
			if ref != (TrackRef{Participant: "alice", Source: "camera"}) {
				t.Errorf("%s: track ref %+v", sub.id, ref)
			}
		}
	}
	if got := len(room.Publications()); got != 1 {
		t.Errorf("publications = %d, want 1", got)
	}
	// Only the peers whose received tracks changed renegotiate.
	select {
	case <-alice.offers:
		t.Error("the publisher got a subscribe offer for its own track")
	default:
	}
	alice.mu.Lock()
	srcs := alice.srcs
	alice.mu.Unlock()
	if len(srcs) != 1 || srcs[0] != "camera" {
		t.Errorf("PublicationsChanged = %v, want [camera]", srcs)
	}
}

func TestNACKIsAnsweredFromCache(t *testing.T) {
	vp := newVideoPair(t, clientAPI(t))
	tr, sub := vp.track, vp.sub

	var lost uint16
	for i := 0; i < 10; i++ {
		p, _, err := tr.ReadRTP()
		if err != nil {
			t.Fatal(err)
		}
		lost = p.SequenceNumber
	}
	// Pretend packet `lost` never arrived and ask for it until it comes back.
	nack := &rtcp.TransportLayerNack{MediaSSRC: uint32(tr.SSRC()), Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{lost})}
	if err := sub.sub.WriteRTCP([]rtcp.Packet{nack}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		_ = tr.SetReadDeadline(time.Now().Add(time.Second))
		p, _, err := tr.ReadRTP()
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if p.SequenceNumber == lost {
			if p.Payload[len(p.Payload)-1] != byte(lost) {
				t.Fatalf("retransmission carries the wrong payload")
			}
			return
		}
	}
	t.Fatalf("packet %d was not retransmitted after a NACK", lost)
}

func TestPLIReachesPublisher(t *testing.T) {
	s := newTestSFU(t)
	room, _ := s.Room("r")
	api := clientAPI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pub := newTestClient(t, api, room, "pub")
	sub := newTestClient(t, api, room, "sub")
	track, sender := pub.publishVideo(ctx)
	go sendVideo(ctx, track)

	plis := make(chan time.Time, 64)
	go func() {
		for {
			pkts, _, err := sender.ReadRTCP()
			if err != nil {
				return
			}
			for _, p := range pkts {
				if _, ok := p.(*rtcp.PictureLossIndication); ok {
					select {
					case plis <- time.Now():
					default:
					}
				}
			}
		}
	}()
	tr := waitTrack(t, sub)
	if _, _, err := tr.ReadRTP(); err != nil {
		t.Fatal(err)
	}
	// The new subscriber alone causes a keyframe request.
	select {
	case <-plis:
	case <-time.After(10 * time.Second):
		t.Fatal("no PLI reached the publisher when a subscriber joined")
	}
	// A subscriber's own PLI reaches the publisher too (after the rate limit).
	asked := time.Now()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case at := <-plis:
			if at.After(asked) {
				return
			}
		case <-tick.C:
			_ = sub.sub.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(tr.SSRC())}})
		case <-deadline:
			t.Fatal("a subscriber's PLI never reached the publisher")
		}
	}
}

func TestReceiverReportsReachPublisher(t *testing.T) {
	s := newTestSFU(t)
	room, _ := s.Room("r")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pub := newTestClient(t, clientAPI(t), room, "pub")
	track, sender := pub.publishVideo(ctx)
	go sendVideo(ctx, track)
	for {
		pkts, _, err := sender.ReadRTCP()
		if err != nil {
			t.Fatalf("no receiver report before the connection ended: %v", err)
		}
		for _, p := range pkts {
			if rr, ok := p.(*rtcp.ReceiverReport); ok && len(rr.Reports) > 0 {
				return
			}
		}
		if ctx.Err() != nil {
			t.Fatal("no receiver report within 30 s")
		}
	}
}

func TestUnpublishRenegotiatesSubscribers(t *testing.T) {
	vp := newVideoPair(t, clientAPI(t))
	room, pub, sub := vp.room, vp.pub, vp.sub
	<-sub.offers

	// The publisher withdraws the camera: its next offer lists no sources.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pub.negotiatePublish(ctx, map[string]string{})
	select {
	case <-sub.offers:
	case <-time.After(10 * time.Second):
		t.Fatal("subscriber got no offer after unpublish")
	}
	sub.mu.Lock()
	n := len(sub.tracks)
	sub.mu.Unlock()
	if n != 0 {
		t.Errorf("after unpublish the offer still maps %d tracks", n)
	}
	if got := len(room.Publications()); got != 0 {
		t.Errorf("publications = %d after unpublish", got)
	}
}

func TestLeaveWithdrawsPublications(t *testing.T) {
	vp := newVideoPair(t, clientAPI(t))
	s, room, pub, sub := vp.sfu, vp.room, vp.pub, vp.sub
	<-sub.offers
	pub.peer.Close()
	select {
	case <-sub.offers:
	case <-time.After(10 * time.Second):
		t.Fatal("subscriber got no offer after the publisher left")
	}
	if got := len(room.Publications()); got != 0 {
		t.Errorf("publications = %d after leave", got)
	}
	sub.peer.Close()
	s.mu.Lock()
	_, still := s.rooms["r"]
	s.mu.Unlock()
	if still {
		t.Error("empty room was not forgotten")
	}
}

func TestPublishRejectsUnknownSource(t *testing.T) {
	s := newTestSFU(t)
	room, _ := s.Room("r")
	c := newTestClient(t, clientAPI(t), room, "x")
	if _, err := c.peer.Publish(context.Background(), "v=0", map[string]string{"0": "webcam"}); err == nil {
		t.Fatal("unknown source accepted")
	}
	if _, err := c.peer.Publish(context.Background(), "not sdp", map[string]string{}); err == nil {
		t.Fatal("garbage SDP accepted")
	}
}

func TestCandidateFloodIsRefused(t *testing.T) {
	s := newTestSFU(t)
	room, _ := s.Room("r")
	c := newTestClient(t, clientAPI(t), room, "x")
	ctx := context.Background()
	var err error
	for i := 0; i < maxRemoteCandidates+1 && err == nil; i++ {
		err = c.peer.AddCandidate(ctx, Publish, webrtc.ICECandidateInit{
			Candidate: fmt.Sprintf("candidate:%d 1 udp 2122260223 192.0.2.%d 9 typ host", i, i%250+1)})
	}
	if !errors.Is(err, ErrTooManyCandidates) {
		t.Fatalf("after %d candidates: err = %v, want ErrTooManyCandidates", maxRemoteCandidates+1, err)
	}
}
