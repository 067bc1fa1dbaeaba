package sfu

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// keyframeInterval is the shortest time between two PLIs sent to one
// publisher: subscribers that ask together cost the publisher one keyframe.
const keyframeInterval = 500 * time.Millisecond

// Publication is one track a participant publishes: its incoming stream,
// its packet cache and the outgoing track every subscriber binds to.
type Publication struct {
	peer   *Peer
	source string
	mid    string
	remote *webrtc.TrackRemote
	down   *downTrack
	cache  *packetCache
	ssrc   uint32

	lastPLI    atomic.Int64 // unix nanoseconds of the last PLI sent
	plePending atomic.Bool

	stopOnce sync.Once
	stopped  chan struct{}
}

// Source says what the publication carries: "audio", "camera" or "screen".
func (p *Publication) Source() string { return p.source }

// Participant is the id of the publishing participant.
func (p *Publication) Participant() string { return p.peer.id }

// Kind is audio or video.
func (p *Publication) Kind() webrtc.RTPCodecType { return p.remote.Kind() }

func newPublication(peer *Peer, source, mid string, remote *webrtc.TrackRemote) *Publication {
	size := 512
	if remote.Kind() == webrtc.RTPCodecTypeAudio {
		size = 128
	}
	p := &Publication{
		peer:    peer,
		source:  source,
		mid:     mid,
		remote:  remote,
		cache:   newPacketCache(size),
		ssrc:    uint32(remote.SSRC()),
		stopped: make(chan struct{}),
	}
	p.down = &downTrack{
		id:       source,
		streamID: peer.id + ":" + source,
		kind:     remote.Kind(),
		codec:    remote.Codec().RTPCodecCapability,
		pub:      p,
	}
	empty := []*binding{}
	p.down.bindings.Store(&empty)
	return p
}

// forward reads the publisher's RTP and writes it to every subscriber until
// the track ends. It is the hot path: one buffer and one header are reused
// for every packet, and the subscriber list is read without a lock.
func (p *Publication) forward(m *metrics) {
	buf := make([]byte, maxPacketSize)
	var hdr rtp.Header
	for {
		n, _, err := p.remote.Read(buf)
		if err != nil {
			return
		}
		p.forwardPacket(buf[:n], &hdr, m)
	}
}

func (p *Publication) forwardPacket(pkt []byte, hdr *rtp.Header, m *metrics) {
	hl, err := hdr.Unmarshal(pkt)
	if err != nil {
		return
	}
	p.cache.store(hdr.SequenceNumber, pkt)
	p.down.write(hdr, pkt[hl:], m)
}

// requestKeyframe asks the publisher for a keyframe, at most once per
// keyframeInterval; a request inside the interval is sent when it ends.
func (p *Publication) requestKeyframe(m *metrics) {
	if p.remote.Kind() != webrtc.RTPCodecTypeVideo {
		return
	}
	now := time.Now().UnixNano()
	last := p.lastPLI.Load()
	if wait := time.Duration(last + int64(keyframeInterval) - now); wait > 0 {
		if p.plePending.CompareAndSwap(false, true) {
			time.AfterFunc(wait, func() {
				p.plePending.Store(false)
				p.requestKeyframe(m)
			})
		}
		return
	}
	if !p.lastPLI.CompareAndSwap(last, now) {
		return
	}
	select {
	case <-p.stopped:
		return
	default:
	}
	if err := p.peer.pub.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: p.ssrc}}); err == nil {
		m.keyframeReqs.Inc()
	}
}

func (p *Publication) stop() {
	p.stopOnce.Do(func() { close(p.stopped) })
}

// binding is one subscriber's view of a downTrack: the SSRC and payload
// type negotiated on that subscriber's connection and where to write.
type binding struct {
	id     string
	ssrc   uint32
	pt     uint8
	writer webrtc.TrackLocalWriter
}

// downTrack is the webrtc.TrackLocal that carries one publication to all of
// its subscribers. Its binding list is copied on write so that the
// forwarding path reads it without locking.
type downTrack struct {
	id, streamID string
	kind         webrtc.RTPCodecType
	codec        webrtc.RTPCodecCapability
	pub          *Publication

	mu       sync.Mutex // serialises writers of bindings
	bindings atomic.Pointer[[]*binding]
}

func (t *downTrack) ID() string                { return t.id }
func (t *downTrack) RID() string               { return "" }
func (t *downTrack) StreamID() string          { return t.streamID }
func (t *downTrack) Kind() webrtc.RTPCodecType { return t.kind }

// Bind picks, among the codecs the subscriber negotiated, the one the
// publisher sends.
func (t *downTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	codec, ok := matchCodec(t.codec, ctx.CodecParameters())
	if !ok {
		return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
	}
	b := &binding{id: ctx.ID(), ssrc: uint32(ctx.SSRC()), pt: uint8(codec.PayloadType), writer: ctx.WriteStream()}
	t.mu.Lock()
	old := *t.bindings.Load()
	next := make([]*binding, 0, len(old)+1)
	next = append(next, old...)
	next = append(next, b)
	t.bindings.Store(&next)
	t.mu.Unlock()
	// A new subscriber cannot decode until the next keyframe.
	go t.pub.requestKeyframe(t.pub.peer.room.sfu.metrics)
	return codec, nil
}

// Unbind removes a subscriber.
func (t *downTrack) Unbind(ctx webrtc.TrackLocalContext) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := *t.bindings.Load()
	next := make([]*binding, 0, len(old))
	for _, b := range old {
		if b.id != ctx.ID() {
			next = append(next, b)
		}
	}
	t.bindings.Store(&next)
	return nil
}

func (t *downTrack) bindingBySSRC(ssrc uint32) *binding {
	for _, b := range *t.bindings.Load() {
		if b.ssrc == ssrc {
			return b
		}
	}
	return nil
}

// write sends one packet to every subscriber. Header extensions are dropped:
// their ids were negotiated with the publisher, not with the subscriber, and
// the subscriber connection's interceptors add their own.
func (t *downTrack) write(hdr *rtp.Header, payload []byte, m *metrics) {
	hdr.Extension = false
	hdr.Extensions = hdr.Extensions[:0]
	bs := *t.bindings.Load()
	var n int
	for _, b := range bs {
		hdr.SSRC = b.ssrc
		hdr.PayloadType = b.pt
		w, err := b.writer.WriteRTP(hdr, payload)
		if err == nil {
			n += w
		}
	}
	if len(bs) > 0 {
		m.fwdPackets.Add(float64(len(bs)))
		m.fwdBytes.Add(float64(n))
	}
}

// matchCodec finds the negotiated codec that carries what the publisher
// sends: same MIME type and, for H.264 and VP9, the same profile.
func matchCodec(want webrtc.RTPCodecCapability, have []webrtc.RTPCodecParameters) (webrtc.RTPCodecParameters, bool) {
	var fallback *webrtc.RTPCodecParameters
	for i := range have {
		c := have[i]
		if !strings.EqualFold(c.MimeType, want.MimeType) {
			continue
		}
		if fmtpKey(c.SDPFmtpLine) == fmtpKey(want.SDPFmtpLine) {
			return c, true
		}
		if fallback == nil {
			fallback = &have[i]
		}
	}
	if fallback != nil && !strings.EqualFold(want.MimeType, webrtc.MimeTypeH264) {
		return *fallback, true
	}
	return webrtc.RTPCodecParameters{}, false
}

// fmtpKey reduces an fmtp line to the parameters that make two codec
// configurations incompatible.
func fmtpKey(fmtp string) string {
	var profile, mode string
	for _, kv := range strings.Split(fmtp, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		switch strings.ToLower(k) {
		case "profile-level-id":
			if len(v) >= 2 {
				profile = strings.ToLower(v[:2]) // profile_idc; the level may differ
			}
		case "packetization-mode":
			mode = v
		case "profile-id":
			profile = v
		}
	}
	return profile + "/" + mode
}

// retransmit resends one cached packet to one subscriber; buf is the
// caller's scratch buffer.
func (p *Publication) retransmit(seq uint16, b *binding, buf []byte, m *metrics) {
	n := p.cache.get(seq, buf)
	if n == 0 {
		m.nackMissed.Inc()
		return
	}
	var hdr rtp.Header
	hl, err := hdr.Unmarshal(buf[:n])
	if err != nil {
		return
	}
	hdr.Extension = false
	hdr.Extensions = nil
	hdr.SSRC = b.ssrc
	hdr.PayloadType = b.pt
	if _, err := b.writer.WriteRTP(&hdr, buf[hl:n]); err == nil {
		m.nackRepaired.Inc()
	}
}
