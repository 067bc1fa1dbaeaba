package sfu

// These tests run salon and its pion clients on a pion virtual network
// (vnet) whose links are capped and lossy, and check what the SFU does
// about it: simulcast layers follow the subscriber's downlink, NACKs are
// answered from the packet cache, and video keeps flowing through loss.
//
// One vnet router joins three hosts: salon (1.2.3.1, its UDP mux on port
// 7882), the publisher (1.2.3.2) and the subscriber (1.2.3.3). Each
// host's downlink — what the router delivers to it — can drop packets at
// random and be rate limited by a token bucket with a drop-tail queue.

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/transport/v5/vnet"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

const (
	vnetSFUIP = "1.2.3.1"
	vnetPubIP = "1.2.3.2"
	vnetSubIP = "1.2.3.3"
)

// vnetLink is what a host's downlink does to the packets it carries.
type vnetLink struct {
	lossPercent int            // dropped at random
	tbf         *vnet.TBFQueue // rate limit and queue; nil for none
}

// vnetRig is salon on a virtual network with one room, and the networks
// of the publisher's and the subscriber's hosts.
type vnetRig struct {
	sfu            *SFU
	room           *Room
	log            *slog.Logger
	pubNet, subNet *vnet.Net
}

func newVNetRig(t *testing.T, sfuLink, pubLink, subLink vnetLink) *vnetRig {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("SALON_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: levelTrace}))
	}
	lf := pionLoggerFactory{logger: log.With("component", "vnet")}
	// A little latency makes NACK round trips and queueing delay real.
	router, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "1.2.3.0/24", MinDelay: 10 * time.Millisecond, LoggerFactory: lf})
	if err != nil {
		t.Fatal(err)
	}
	host := func(ip string, link vnetLink) *vnet.Net {
		t.Helper()
		nw, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{ip}})
		if err != nil {
			t.Fatal(err)
		}
		var nic vnet.NIC = nw
		if link.tbf != nil {
			q, err := vnet.NewQueue(nic, link.tbf)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = q.Close() })
			nic = q
		}
		if link.lossPercent > 0 {
			lf, err := vnet.NewLossFilter(nic, link.lossPercent)
			if err != nil {
				t.Fatal(err)
			}
			nic = lf
		}
		if err := router.AddNet(nic); err != nil {
			t.Fatal(err)
		}
		return nw
	}
	rig := &vnetRig{log: log}
	sfuNet := host(vnetSFUIP, sfuLink)
	rig.pubNet = host(vnetPubIP, pubLink)
	rig.subNet = host(vnetSubIP, subLink)
	if err := router.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = router.Stop() })

	rig.sfu, err = New(Config{ListenIP: vnetSFUIP}, Options{Logger: log, net: sfuNet, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatalf("New on vnet: %v", err)
	}
	t.Cleanup(func() { _ = rig.sfu.Close() })
	if rig.room, err = rig.sfu.Room("vnet"); err != nil {
		t.Fatal(err)
	}
	return rig
}

// client joins the room as a browser on the given host's network, with
// pion's default codecs and interceptors (NACK generator and responder,
// RTCP reports, simulcast header extensions, transport-cc feedback).
func (r *vnetRig) client(t *testing.T, id string, nw *vnet.Net, opts ...webrtc.InterceptorOption) *testClient {
	t.Helper()
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	lf := pionLoggerFactory{logger: r.log.With("client", id)}
	ir := &interceptor.Registry{}
	opts = append([]webrtc.InterceptorOption{webrtc.WithInterceptorLoggerFactory(lf)}, opts...)
	if err := webrtc.RegisterDefaultInterceptorsWithOptions(me, ir, opts...); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{LoggerFactory: lf}
	se.SetNet(nw)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetICETimeouts(3*time.Second, 10*time.Second, 500*time.Millisecond)
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
	return newTestClient(t, api, r.room, id)
}

// The fake camera's payloads end in a trailer that says where each packet
// belongs: layer index, frame number, packet index and count in the
// frame, and the low byte of the publisher's sequence number.
const vnetTrailerLen = 6

type vnetTrailer struct {
	layer  int
	frame  uint16
	index  int
	count  int
	seqLow byte
}

func vnetReadTrailer(payload []byte) (vnetTrailer, bool) {
	if len(payload) < 14+vnetTrailerLen {
		return vnetTrailer{}, false
	}
	b := payload[len(payload)-vnetTrailerLen:]
	tr := vnetTrailer{layer: int(b[0]), frame: binary.BigEndian.Uint16(b[1:]), index: int(b[3]), count: int(b[4]), seqLow: b[5]}
	return tr, tr.count > 0 && tr.index < tr.count
}

// vnetLayer is one encoding of the fake camera.
type vnetLayer struct {
	track         *webrtc.TrackLocalStaticRTP
	index         int
	bitrate       int // payload bits per second
	width, height int
	wantKey       atomic.Bool // a PLI or FIR asked for a keyframe
	plis          atomic.Int64
	nacked        atomic.Int64 // sequence numbers salon asked for again

	seq   uint16
	ts    uint32
	pid   uint16
	frame uint16
}

// vnetCamera sends VP8-shaped frames at 30 fps on each of its layers:
// several packets per frame, the marker on the last, a keyframe every
// second and when asked.
type vnetCamera struct {
	layers       []*vnetLayer
	midID, ridID uint8 // header extension ids, for simulcast
	mid          string
}

const (
	vnetFPS     = 30
	vnetMaxPayload = 1100
)

// vnetPublish adds one video transceiver to c's publish connection:
// simulcast with one encoding per RID when rids has several entries, a
// plain track otherwise. It negotiates it as "camera", together with a
// microphone if mic is set.
func vnetPublish(t *testing.T, c *testClient, rids []string, bitrates []int, mic *vnetMic) *vnetCamera {
	t.Helper()
	cam := &vnetCamera{}
	codec := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
	for i, rid := range rids {
		var opts []func(*webrtc.TrackLocalStaticRTP)
		if rid != "" {
			opts = append(opts, webrtc.WithRTPStreamID(rid))
		}
		track, err := webrtc.NewTrackLocalStaticRTP(codec, "v", c.id, opts...)
		if err != nil {
			t.Fatal(err)
		}
		shift := len(rids) - 1 - i
		cam.layers = append(cam.layers, &vnetLayer{track: track, index: i, bitrate: bitrates[i],
			width: 1280 >> shift, height: 720 >> shift, seq: uint16(1000 * (i + 1))})
	}
	tr, err := c.pub.AddTransceiverFromTrack(cam.layers[0].track,
		webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range cam.layers[1:] {
		if err := tr.Sender().AddEncoding(l.track); err != nil {
			t.Fatal(err)
		}
	}
	var micTr *webrtc.RTPTransceiver
	if mic != nil {
		if micTr, err = c.pub.AddTransceiverFromTrack(mic.track,
			webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
			t.Fatal(err)
		}
	}
	offer, err := c.pub.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.pub.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	cam.mid = tr.Mid()
	sources := map[string]string{cam.mid: "camera"}
	if micTr != nil {
		sources[micTr.Mid()] = "audio"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	answer, err := c.peer.Publish(ctx, offer.SDP, sources)
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if err := c.pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	c.flushCandidates(Publish, c.pub)
	if len(rids) > 1 {
		// pion does not stamp mid and RID itself; salon needs them to
		// tell the layers apart.
		for _, e := range tr.Sender().GetParameters().HeaderExtensions {
			switch e.URI {
			case "urn:ietf:params:rtp-hdrext:sdes:mid":
				cam.midID = uint8(e.ID)
			case "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id":
				cam.ridID = uint8(e.ID)
			}
		}
		if cam.midID == 0 || cam.ridID == 0 {
			t.Fatal("the mid and rtp-stream-id header extensions were not negotiated")
		}
	}
	for _, l := range cam.layers {
		go l.readRTCP(tr.Sender())
	}
	return cam
}

// readRTCP reads what salon says about one layer: keyframe requests and
// NACKs. Reading is also what lets the NACK responder answer.
func (l *vnetLayer) readRTCP(s *webrtc.RTPSender) {
	for {
		var (
			pkts []rtcp.Packet
			err  error
		)
		if rid := l.track.RID(); rid != "" {
			pkts, _, err = s.ReadSimulcastRTCP(rid)
		} else {
			pkts, _, err = s.ReadRTCP()
		}
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p := p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				l.plis.Add(1)
				l.wantKey.Store(true)
			case *rtcp.TransportLayerNack:
				for _, pair := range p.Nacks {
					l.nacked.Add(int64(len(pair.PacketList())))
				}
			}
		}
	}
}

// run sends frames until ctx ends.
func (cam *vnetCamera) run(ctx context.Context) {
	tick := time.NewTicker(time.Second / vnetFPS)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for _, l := range cam.layers {
			key := n%vnetFPS == 0 || l.wantKey.Swap(false)
			cam.sendFrame(l, key)
		}
	}
}

func (cam *vnetCamera) sendFrame(l *vnetLayer, key bool) {
	frameBytes := l.bitrate / 8 / vnetFPS
	count := (frameBytes + vnetMaxPayload - 1) / vnetMaxPayload
	size := frameBytes / count
	l.ts += 90000 / vnetFPS
	for i := 0; i < count; i++ {
		payload := vp8Packet(l.pid, key && i == 0, l.width, l.height, size, byte(l.seq))
		if i > 0 {
			payload[0] &^= 0x10 // not the start of the frame
		}
		b := payload[size-vnetTrailerLen:]
		b[0] = byte(l.index)
		binary.BigEndian.PutUint16(b[1:], l.frame)
		b[3], b[4] = byte(i), byte(count)
		pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: l.seq, Timestamp: l.ts, Marker: i == count-1},
			Payload: payload}
		if cam.ridID != 0 {
			_ = pkt.Header.SetExtension(cam.midID, []byte(cam.mid))
			_ = pkt.Header.SetExtension(cam.ridID, []byte(l.track.RID()))
		}
		_ = l.track.WriteRTP(pkt)
		l.seq++
	}
	l.pid = (l.pid + 1) & 0x7fff
	l.frame++
}

// vnetMic sends 20 ms Opus-sized packets whose payload is derived from
// their sequence number, so a subscriber can check it arrived intact.
type vnetMic struct {
	track *webrtc.TrackLocalStaticRTP
	sent  atomic.Int64
}

func newVNetMic(t *testing.T, id string) *vnetMic {
	t.Helper()
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus,
		ClockRate: 48000, Channels: 2}, "a", id)
	if err != nil {
		t.Fatal(err)
	}
	return &vnetMic{track: track}
}

func vnetMicPayload(seq uint16) []byte {
	b := make([]byte, 80)
	binary.BigEndian.PutUint16(b, seq)
	for i := 2; i < len(b); i++ {
		b[i] = byte(int(seq)*7 + i)
	}
	return b
}

func (m *vnetMic) run(ctx context.Context) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	seq := uint16(60000) // wraps during the test
	var ts uint32
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		_ = m.track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts},
			Payload: vnetMicPayload(seq)})
		m.sent.Add(1)
		seq++
		ts += 960
	}
}

// vnetReceive reads a remote track until it ends, calling fn for each packet.
func vnetReceive(tr *webrtc.TrackRemote, fn func(p *rtp.Packet, at time.Time)) {
	buf := make([]byte, 1500)
	for {
		n, _, err := tr.Read(buf)
		if err != nil {
			return
		}
		var p rtp.Packet
		if p.Unmarshal(buf[:n]) != nil {
			continue
		}
		fn(&p, time.Now())
	}
}

// vnetWaitTracks waits for n tracks on c's subscribe connection.
func vnetWaitTracks(t *testing.T, c *testClient, n int) map[webrtc.RTPCodecType]*webrtc.TrackRemote {
	t.Helper()
	out := map[webrtc.RTPCodecType]*webrtc.TrackRemote{}
	for len(out) < n {
		tr := waitTrack(t, c)
		out[tr.Kind()] = tr
	}
	return out
}

// vnetWaitFor polls cond until it holds or the deadline passes, and says how
// long it took.
func vnetWaitFor(t *testing.T, what string, deadline time.Duration, cond func() bool, status func() string) time.Duration {
	t.Helper()
	start := time.Now()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	lastLog := start
	for !cond() {
		if time.Since(start) > deadline {
			t.Fatalf("%s: not within %v (%s)", what, deadline, status())
		}
		if time.Since(lastLog) >= 500*time.Millisecond {
			t.Logf("  waiting for %s: %s", what, status())
			lastLog = time.Now()
		}
		<-tick.C
	}
	took := time.Since(start)
	t.Logf("%s after %v (%s)", what, took.Round(10*time.Millisecond), status())
	return took
}

// vnetSeqSet collects the extended sequence numbers a receiver saw.
type vnetSeqSet struct {
	mu      sync.Mutex
	started bool
	highest int64
	seen    map[int64]int // sequence number → copies received
}

func (s *vnetSeqSet) add(seq uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		s.started, s.highest, s.seen = true, int64(seq), map[int64]int{}
	}
	ext := s.highest + int64(int16(seq-uint16(s.highest)))
	s.highest = max(s.highest, ext)
	s.seen[ext]++
}

// stats returns the span from the lowest to the highest number seen, how
// many numbers in it never arrived, and how many copies came twice.
func (s *vnetSeqSet) stats() (span, missing, dups int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.seen) == 0 {
		return 0, 0, 0
	}
	lowest := s.highest
	for seq, n := range s.seen {
		lowest = min(lowest, seq)
		dups += n - 1
	}
	span = int(s.highest-lowest) + 1
	return span, span - len(s.seen), dups
}

func TestVNetLayersFollowBandwidth(t *testing.T) {
	// The subscriber's downlink: a token bucket at 5 Mbit/s whose queue
	// holds about 600 ms at the capped rate.
	tbf := vnet.NewTBFQueue(5_000_000, 20_000, 30_000)
	rig := newVNetRig(t, vnetLink{}, vnetLink{}, vnetLink{tbf: tbf})
	pub := rig.client(t, "pub", rig.pubNet)
	sub := rig.client(t, "sub", rig.subNet)

	cam := vnetPublish(t, pub, []string{"q", "h", "f"}, []int{150_000, 500_000, 1_500_000}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go cam.run(ctx)

	track := waitTrack(t, sub)
	var (
		mu      sync.Mutex
		layer   = -1
		since   time.Time
		history []string
		start   = time.Now()
	)
	go vnetReceive(track, func(p *rtp.Packet, at time.Time) {
		tr, ok := vnetReadTrailer(p.Payload)
		if !ok {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if tr.layer != layer {
			history = append(history, vnetLayerName(tr.layer)+"@"+at.Sub(start).Round(100*time.Millisecond).String())
			layer, since = tr.layer, at
		}
	})
	// A layer counts once it has been received for a second on end.
	steadyOn := func(ok func(int) bool) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			return layer >= 0 && ok(layer) && time.Since(since) >= time.Second
		}
	}
	status := func() string {
		mu.Lock()
		defer mu.Unlock()
		return "layer " + vnetLayerName(layer) + ", " + vnetEstimatorState(sub.peer) + ", switches " + vnetLastN(history, 6)
	}

	vnetWaitFor(t, "on f with a 5 Mbit/s downlink", 40*time.Second, steadyOn(func(l int) bool { return l == 2 }), status)

	tbf.SetRate(400_000)
	vnetWaitFor(t, "down to q or h at 400 kbit/s", 20*time.Second, steadyOn(func(l int) bool { return l <= 1 }), status)

	tbf.SetRate(5_000_000)
	vnetWaitFor(t, "back on f at 5 Mbit/s", 40*time.Second, steadyOn(func(l int) bool { return l == 2 }), status)
	for _, l := range cam.layers {
		t.Logf("layer %s: %d keyframe requests", vnetLayerName(l.index), l.plis.Load())
	}
}

// vnetCounter reads a counter the way a scrape would.
func vnetCounter(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// vnetEstimatorState describes a subscriber's bandwidth estimate.
func vnetEstimatorState(p *Peer) string {
	e := p.bwe.estimator()
	if e == nil {
		return "no estimate"
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return fmt.Sprintf("estimate %s (acked %s, queue %v, loss %.1f %%)", vnetKbps(e.est), vnetKbps(e.acked),
		e.lastQueue.Round(time.Millisecond), 100*e.lastLoss)
}

func vnetLayerName(l int) string {
	if l < 0 || l >= maxLayers {
		return "none"
	}
	return layerRIDs[l]
}

func vnetKbps(bps float64) string {
	return itoa(int(math.Round(bps/1000))) + " kbit/s"
}

func vnetLastN(s []string, n int) string {
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return "[" + vnetJoin(s) + "]"
}

func vnetJoin(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}

func TestVNetNACKRepairsLoss(t *testing.T) {
	rig := newVNetRig(t, vnetLink{}, vnetLink{}, vnetLink{lossPercent: 5})
	pub := rig.client(t, "pub", rig.pubNet)
	sub := rig.client(t, "sub", rig.subNet)

	mic := newVNetMic(t, "pub")
	cam := vnetPublish(t, pub, []string{""}, []int{500_000}, mic)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go cam.run(ctx)
	go mic.run(ctx)

	tracks := vnetWaitTracks(t, sub, 2)
	var video, audio vnetSeqSet
	var (
		audioBad    atomic.Int64
		audioOffset atomic.Int32 // subscriber's sequence number minus the publisher's, +1
	)
	go vnetReceive(tracks[webrtc.RTPCodecTypeVideo], func(p *rtp.Packet, _ time.Time) { video.add(p.SequenceNumber) })
	go vnetReceive(tracks[webrtc.RTPCodecTypeAudio], func(p *rtp.Packet, _ time.Time) {
		audio.add(p.SequenceNumber)
		if len(p.Payload) != 80 {
			audioBad.Add(1)
			return
		}
		sent := binary.BigEndian.Uint16(p.Payload)
		off := int32(p.SequenceNumber-sent) + 1
		audioOffset.CompareAndSwap(0, off)
		if !slices.Equal(p.Payload, vnetMicPayload(sent)) || audioOffset.Load() != off {
			audioBad.Add(1)
		}
	})

	time.Sleep(10 * time.Second)
	cancel()
	time.Sleep(time.Second) // the last repairs arrive

	m := rig.sfu.metrics
	repaired := vnetCounter(t, m.nackRepaired)
	missed := vnetCounter(t, m.nackMissed)
	span, missing, dups := video.stats()
	t.Logf("video: %d packets in the stream, %d missing after repair (%.2f %%), %d duplicates; salon retransmitted %v, cache misses %v",
		span, missing, 100*float64(missing)/float64(max(span, 1)), dups, repaired, missed)
	aspan, amissing, adups := audio.stats()
	t.Logf("audio: %d sent, %d packets in the stream, %d missing (%.1f %%), %d duplicates, %d damaged",
		mic.sent.Load(), aspan, amissing, 100*float64(amissing)/float64(max(aspan, 1)), adups, audioBad.Load())

	if span < 400 {
		t.Fatalf("only %d video packets in 10 s", span)
	}
	if float64(missing) > 0.005*float64(span) {
		t.Errorf("%d of %d video packets still missing after NACK repair (%.2f %%), want < 0.5 %%",
			missing, span, 100*float64(missing)/float64(span))
	}
	if repaired == 0 {
		t.Error("salon retransmitted nothing")
	}
	// Audio is not repaired but flows as sent: about 5 % lost, never
	// duplicated, payloads intact.
	if aspan < 400 || float64(amissing) > 0.12*float64(aspan) {
		t.Errorf("audio: %d of %d packets missing", amissing, aspan)
	}
	if adups > 0 || audioBad.Load() > 0 {
		t.Errorf("audio: %d duplicates, %d damaged payloads", adups, audioBad.Load())
	}
}

func TestVNetVideoSurvivesLoss(t *testing.T) {
	lossy := vnetLink{lossPercent: 5}
	rig := newVNetRig(t, lossy, lossy, lossy)
	pub := rig.client(t, "pub", rig.pubNet)
	sub := rig.client(t, "sub", rig.subNet)
	_ = nack.GeneratorMaxNacksPerPacket
	_ = pub
	_ = sub
}
