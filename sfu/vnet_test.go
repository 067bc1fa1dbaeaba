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
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
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
	bytesTo        map[string]*vnetRate // what the router carries towards each host, before its downlink
}

// vnetRate measures the bitrate of a byte counter between two reads.
type vnetRate struct {
	bytes atomic.Int64
	mu    sync.Mutex
	last  int64
	at    time.Time
}

// offered is the rate sent towards a host since the last call.
func (r *vnetRig) offered(ip string) string {
	rt := r.bytesTo[ip]
	rt.mu.Lock()
	defer rt.mu.Unlock()
	now, b := time.Now(), rt.bytes.Load()
	out := "offered ?"
	if !rt.at.IsZero() {
		out = "offered " + vnetKbps(float64(b-rt.last)*8/now.Sub(rt.at).Seconds())
	}
	rt.last, rt.at = b, now
	return out
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
	rig := &vnetRig{log: log, bytesTo: map[string]*vnetRate{}}
	for _, ip := range []string{vnetSFUIP, vnetPubIP, vnetSubIP} {
		rig.bytesTo[ip] = &vnetRate{}
	}
	router.AddChunkFilter(func(c vnet.Chunk) bool {
		if r := rig.bytesTo[c.DestinationAddr().(*net.UDPAddr).IP.String()]; r != nil {
			r.bytes.Add(int64(len(c.UserData())))
		}
		return true
	})
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
// RTCP reports, simulcast header extensions, transport-cc feedback), and
// a filter that keeps the NACK generator from asking again for packets
// repaired by RTX.
func (r *vnetRig) client(t *testing.T, id string, nw *vnet.Net) *testClient {
	t.Helper()
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	lf := pionLoggerFactory{logger: r.log.With("client", id)}
	ir := &interceptor.Registry{}
	// Added first, so that it sees the NACKs the generator writes.
	ir.Add(vnetRepairAwareFactory{})
	if err := webrtc.RegisterDefaultInterceptorsWithOptions(me, ir, webrtc.WithInterceptorLoggerFactory(lf)); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{LoggerFactory: lf}
	se.SetNet(nw)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetICETimeouts(3*time.Second, 10*time.Second, 500*time.Millisecond)
	// Let duplicates through, so that the tests see what salon sends.
	se.DisableSRTPReplayProtection(true)
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
	return newTestClient(t, api, r.room, id)
}

// vnetRepairAware removes from outgoing NACKs the packets that already
// arrived by RTX. pion's NACK generator watches only the original stream,
// so it asks for a repaired packet every 100 ms until the packet leaves
// its window; a browser stops asking once the packet is there, by either
// stream. Without this filter every loss costs dozens of retransmissions.
//
// pion does not tell the original stream's interceptors its RTX SSRC, so
// the filter assumes what these tests do: one video per connection.
type vnetRepairAware struct {
	interceptor.NoOp
	mu       sync.Mutex
	repaired map[uint16]time.Time // original sequence numbers that came by RTX
}

type vnetRepairAwareFactory struct{}

func (vnetRepairAwareFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &vnetRepairAware{repaired: map[uint16]time.Time{}}, nil
}

func (f *vnetRepairAware) BindRemoteStream(info *interceptor.StreamInfo, r interceptor.RTPReader) interceptor.RTPReader {
	if !strings.EqualFold(info.MimeType, webrtc.MimeTypeRTX) {
		return r
	}
	return interceptor.RTPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		n, a, err := r.Read(b, a)
		if err != nil {
			return n, a, err
		}
		var h rtp.Header
		if hl, err := h.Unmarshal(b[:n]); err == nil && n >= hl+2 {
			now := time.Now()
			f.mu.Lock()
			f.repaired[binary.BigEndian.Uint16(b[hl:])] = now
			if len(f.repaired) > 4096 {
				for seq, at := range f.repaired {
					if now.Sub(at) > 10*time.Second {
						delete(f.repaired, seq)
					}
				}
			}
			f.mu.Unlock()
		}
		return n, a, nil
	})
}

func (f *vnetRepairAware) BindRTCPWriter(w interceptor.RTCPWriter) interceptor.RTCPWriter {
	return interceptor.RTCPWriterFunc(func(pkts []rtcp.Packet, a interceptor.Attributes) (int, error) {
		out := make([]rtcp.Packet, 0, len(pkts))
		for _, p := range pkts {
			if nack, ok := p.(*rtcp.TransportLayerNack); ok {
				if p = f.unrepaired(nack); p == nil {
					continue
				}
			}
			out = append(out, p)
		}
		if len(out) == 0 {
			return 0, nil
		}
		return w.Write(out, a)
	})
}

// unrepaired is nack without the packets RTX brought, or nil if none is left.
func (f *vnetRepairAware) unrepaired(nack *rtcp.TransportLayerNack) rtcp.Packet {
	f.mu.Lock()
	defer f.mu.Unlock()
	var want []uint16
	for _, pair := range nack.Nacks {
		for _, seq := range pair.PacketList() {
			if _, ok := f.repaired[seq]; !ok {
				want = append(want, seq)
			}
		}
	}
	if len(want) == 0 {
		return nil
	}
	return &rtcp.TransportLayerNack{SenderSSRC: nack.SenderSSRC, MediaSSRC: nack.MediaSSRC,
		Nacks: rtcp.NackPairsFromSequenceNumbers(want)}
}

// The fake camera's payloads end in a trailer that says where each packet
// belongs: layer index, frame number, packet index and count in the
// frame (then vp8Packet's mark byte).
const vnetTrailerLen = 6

type vnetTrailer struct {
	layer int
	frame uint16
	index int
	count int
}

func vnetReadTrailer(payload []byte) (vnetTrailer, bool) {
	if len(payload) < 14+vnetTrailerLen {
		return vnetTrailer{}, false
	}
	b := payload[len(payload)-vnetTrailerLen:]
	tr := vnetTrailer{layer: int(b[0]), frame: binary.BigEndian.Uint16(b[1:]), index: int(b[3]), count: int(b[4])}
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
	sent          atomic.Int64

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
	vnetFPS        = 30
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
		l.sent.Add(1)
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

// vnetWaitFor polls cond until it holds or the deadline passes, and logs
// how long it took, with status, which it also logs every two seconds.
func vnetWaitFor(t *testing.T, what string, deadline time.Duration, cond func() bool, status func() string) {
	t.Helper()
	start := time.Now()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	lastLog := start
	for !cond() {
		if time.Since(start) > deadline {
			t.Fatalf("%s: not within %v (%s)", what, deadline, status())
		}
		if time.Since(lastLog) >= 2*time.Second {
			t.Logf("  waiting for %s: %s", what, status())
			lastLog = time.Now()
		}
		<-tick.C
	}
	t.Logf("%s after %v (%s)", what, time.Since(start).Round(10*time.Millisecond), status())
}

// vnetSeqSet collects the extended sequence numbers a receiver saw.
type vnetSeqSet struct {
	mu      sync.Mutex
	started bool
	highest int64
	seen    map[int64]int // sequence number → copies received
}

// add records seq and says whether it is the newest so far.
func (s *vnetSeqSet) add(seq uint16) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		s.started, s.highest, s.seen = true, int64(seq)-1, map[int64]int{}
	}
	ext := s.highest + int64(int16(seq-uint16(s.highest)))
	s.seen[ext]++
	if ext <= s.highest {
		return false
	}
	s.highest = ext
	return true
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

	w := &vnetLayerWatch{start: time.Now(), layer: -1}
	go vnetReceive(waitTrack(t, sub), w.packet)
	status := func() string {
		return w.String() + ", " + vnetEstimatorState(sub.peer) + ", " + rig.offered(vnetSubIP) +
			fmt.Sprintf(", retransmitted %v", vnetCounter(t, rig.sfu.metrics.nackRepaired))
	}
	isF := func(l int) bool { return l == 2 }

	vnetWaitFor(t, "on f with a 5 Mbit/s downlink", 30*time.Second, w.steadyOn(isF), status)

	tbf.SetRate(400_000)
	vnetWaitFor(t, "down to q or h at 400 kbit/s", 20*time.Second, w.steadyOn(func(l int) bool { return l <= 1 }), status)

	tbf.SetRate(5_000_000)
	vnetWaitFor(t, "back on f at 5 Mbit/s", 40*time.Second, w.steadyOn(isF), status)
	for _, l := range cam.layers {
		t.Logf("layer %s: %d keyframe requests", vnetLayerName(l.index), l.plis.Load())
	}
	t.Logf("salon retransmitted %v packets, %v cache misses", vnetCounter(t, rig.sfu.metrics.nackRepaired),
		vnetCounter(t, rig.sfu.metrics.nackMissed))
}

// vnetLayerWatch follows which layer a subscriber receives, judged by the
// newest packets: retransmissions of an earlier layer do not count.
type vnetLayerWatch struct {
	start time.Time

	mu      sync.Mutex
	seq     vnetSeqSet
	layer   int
	since   time.Time // receiving layer since
	last    time.Time // newest packet
	history []string
}

func (w *vnetLayerWatch) packet(p *rtp.Packet, at time.Time) {
	tr, ok := vnetReadTrailer(p.Payload)
	if !ok {
		return
	}
	if !w.seq.add(p.SequenceNumber) {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.last = at
	if tr.layer != w.layer {
		w.history = append(w.history, vnetLayerName(tr.layer)+"@"+at.Sub(w.start).Round(100*time.Millisecond).String())
		w.layer, w.since = tr.layer, at
	}
}

// steadyOn holds once a layer that ok accepts has been received for a
// second on end and is still flowing.
func (w *vnetLayerWatch) steadyOn(ok func(int) bool) func() bool {
	return func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.layer >= 0 && ok(w.layer) && time.Since(w.since) >= time.Second &&
			time.Since(w.last) < 300*time.Millisecond
	}
}

func (w *vnetLayerWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return fmt.Sprintf("layer %s, last packet %v ago, switches %v", vnetLayerName(w.layer),
		time.Since(w.last).Round(10*time.Millisecond), vnetLastN(w.history, 6))
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

func vnetLastN(s []string, n int) []string {
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return s
}

// vnetCall starts a call in rig: "pub" sends a 500 kbit/s camera and a
// microphone to "sub". It returns the subscriber, the microphone and what
// stops the publisher.
func vnetCall(t *testing.T, rig *vnetRig) (*testClient, *vnetMic, context.CancelFunc) {
	t.Helper()
	pub := rig.client(t, "pub", rig.pubNet)
	sub := rig.client(t, "sub", rig.subNet)
	mic := newVNetMic(t, "pub")
	cam := vnetPublish(t, pub, []string{""}, []int{500_000}, mic)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go cam.run(ctx)
	go mic.run(ctx)
	return sub, mic, cancel
}

func TestVNetNACKRepairsLoss(t *testing.T) {
	rig := newVNetRig(t, vnetLink{}, vnetLink{}, vnetLink{lossPercent: 5})
	sub, mic, cancel := vnetCall(t, rig)
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
	sub.mu.Lock()
	paused := sub.paused
	sub.mu.Unlock()
	t.Logf("subscriber: %s; paused %v", vnetEstimatorState(sub.peer), paused)
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
	if aspan < 300 || float64(amissing) > 0.12*float64(aspan) {
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

	cam := vnetPublish(t, pub, []string{""}, []int{500_000}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go cam.run(ctx)

	var frames vnetFrames
	go vnetReceive(waitTrack(t, sub), frames.packet)
	// A minute: the goal is no freeze over a second per minute.
	time.Sleep(time.Minute)
	end := time.Now()
	sub.mu.Lock()
	paused := sub.paused
	sub.mu.Unlock()
	t.Logf("subscriber: %s; paused %v", vnetEstimatorState(sub.peer), paused)
	var received uint64 // by salon from the publisher, repairs included
	for _, pub := range rig.room.Publications() {
		received += pub.layers[0].Load().packets.Load()
	}
	cancel()
	time.Sleep(time.Second) // the last repairs arrive

	complete, total, dups, gap, at := frames.summary(end)
	l := cam.layers[0]
	t.Logf("%d of %d frames complete (%.1f %%), %d duplicate packets, longest gap %v at %v",
		complete, total, 100*float64(complete)/float64(max(total, 1)), dups, gap.Round(time.Millisecond), at.Round(100*time.Millisecond))
	m := rig.sfu.metrics
	t.Logf("publisher: %d packets sent, salon NACKed %d, %d keyframe requests; salon received %d, forwarded %v, "+
		"retransmitted %v to the subscriber, %v cache misses", l.sent.Load(), l.nacked.Load(), l.plis.Load(), received,
		vnetCounter(t, m.fwdPackets), vnetCounter(t, m.nackRepaired), vnetCounter(t, m.nackMissed))
	if gap > time.Second {
		t.Errorf("no complete frame for %v until %v (paused at the end: %v)", gap.Round(time.Millisecond),
			at.Round(100*time.Millisecond), paused)
	}
	if complete < total*95/100 {
		t.Errorf("only %d of %d frames complete", complete, total)
	}
}

// vnetFrames assembles the fake camera's frames from the packets that
// arrive, first-hand or repaired.
type vnetFrames struct {
	mu     sync.Mutex
	start  time.Time
	frames map[uint16]*vnetFrame
	seq    vnetSeqSet
}

type vnetFrame struct {
	got      uint64 // packet indexes received
	count    int
	complete time.Time // when the last missing packet arrived
}

func (fs *vnetFrames) packet(p *rtp.Packet, at time.Time) {
	tr, ok := vnetReadTrailer(p.Payload)
	if !ok || tr.count > 64 {
		return
	}
	fs.seq.add(p.SequenceNumber)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.frames == nil {
		fs.frames, fs.start = map[uint16]*vnetFrame{}, at
	}
	f := fs.frames[tr.frame]
	if f == nil {
		f = &vnetFrame{count: tr.count}
		fs.frames[tr.frame] = f
	}
	f.got |= 1 << tr.index
	if f.complete.IsZero() && f.got == 1<<f.count-1 {
		f.complete = at
	}
}

// summary counts the frames between the first and the last complete one
// and finds the longest wait for the next complete frame, shown in order
// (a frame completed late holds back those after it), until end; at is
// when that wait ended, from the first packet.
func (fs *vnetFrames) summary(end time.Time) (complete, total, dups int, gap, at time.Duration) {
	_, _, dups = fs.seq.stats()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var nums []int
	for n, f := range fs.frames {
		if !f.complete.IsZero() {
			nums = append(nums, int(n))
		}
	}
	if len(nums) == 0 {
		return 0, 0, dups, 0, 0
	}
	slices.Sort(nums)
	total = nums[len(nums)-1] - nums[0] + 1
	var shown time.Time
	for i, n := range nums {
		f := fs.frames[uint16(n)]
		next := f.complete
		if i > 0 {
			next = vnetLater(next, shown)
			if d := next.Sub(shown); d > gap {
				gap, at = d, next.Sub(fs.start)
			}
		}
		shown = next
		complete++
	}
	if d := end.Sub(shown); d > gap {
		gap, at = d, end.Sub(fs.start)
	}
	return complete, total, dups, gap, at
}

func vnetLater(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// longestRun is the longest run of consecutive numbers that never arrived.
func (s *vnetSeqSet) longestRun() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.seen) == 0 {
		return 0
	}
	lowest := s.highest
	for seq := range s.seen {
		lowest = min(lowest, seq)
	}
	longest, run := 0, 0
	for seq := lowest; seq <= s.highest; seq++ {
		if s.seen[seq] > 0 {
			run = 0
			continue
		}
		run++
		longest = max(longest, run)
	}
	return longest
}

// TestVNetAudioThroughTenPercentLoss: with 10 % loss on every link (about
// 19 % end to end) and video competing for the downlink, salon forwards
// every audio packet that reaches it, never pauses audio for bandwidth,
// and no gap is longer than what Opus concealment bridges (about 160 ms).
// Intelligibility itself rests on Opus FEC in the browser, which salon
// passes through untouched.
func TestVNetAudioThroughTenPercentLoss(t *testing.T) {
	lossy := vnetLink{lossPercent: 10}
	rig := newVNetRig(t, lossy, lossy, lossy)
	sub, mic, cancel := vnetCall(t, rig)
	tracks := vnetWaitTracks(t, sub, 2)
	var audio vnetSeqSet
	go vnetReceive(tracks[webrtc.RTPCodecTypeAudio], func(p *rtp.Packet, _ time.Time) { audio.add(p.SequenceNumber) })
	go vnetReceive(tracks[webrtc.RTPCodecTypeVideo], func(*rtp.Packet, time.Time) {})
	time.Sleep(15 * time.Second)
	cancel()
	time.Sleep(500 * time.Millisecond)

	var atSalon uint64
	for _, p := range rig.room.Publications() {
		if p.Kind() == webrtc.RTPCodecTypeAudio {
			atSalon = p.layers[0].Load().packets.Load()
		}
	}
	span, missing, dups := audio.stats()
	got := span - missing
	longest := audio.longestRun()
	t.Logf("audio: %d sent, %d reached salon, %d reached the subscriber (%.1f %% of the stream lost end to end), "+
		"longest run lost %d packets (%d ms), %d duplicates; %s", mic.sent.Load(), atSalon, got,
		100*float64(missing)/float64(max(span, 1)), longest, longest*20, dups, vnetEstimatorState(sub.peer))
	if span < 500 {
		t.Fatalf("only %d audio packets in the stream", span)
	}
	// Two links that lose 10 % each lose 19 % end to end; salon itself
	// must drop nothing more.
	if lost := float64(missing) / float64(span); lost > 0.25 {
		t.Errorf("%.1f %% of the audio lost end to end; the two links lose about 19 %%", 100*lost)
	}
	if longest > 8 {
		t.Errorf("%d audio packets in a row lost (%d ms)", longest, longest*20)
	}
	if dups > 0 {
		t.Errorf("%d duplicate audio packets", dups)
	}
}
