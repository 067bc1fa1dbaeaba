package sfu

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// keyframeInterval is the shortest time between two PLIs sent for one
// layer: subscribers that ask together cost the publisher one keyframe.
const keyframeInterval = 500 * time.Millisecond

// maxLayers is the number of simulcast layers salon forwards from one
// publication: low, medium and high quality.
const maxLayers = 3

// layerRIDs are the RIDs the room page gives its layers, lowest first; the
// publisher is told which of these to keep encoding.
var layerRIDs = [maxLayers]string{"q", "h", "f"}

// layerIndex maps a RID to a quality index. Names in common use are
// recognised; other names take the next free index in arrival order.
func layerIndex(rid string, taken func(int) bool) int {
	switch strings.ToLower(rid) {
	case "q", "l", "low", "0":
		return 0
	case "h", "m", "mid", "medium", "1":
		return 1
	case "f", "hi", "high", "full", "2":
		return 2
	}
	for i := 0; i < maxLayers; i++ {
		if !taken(i) {
			return i
		}
	}
	return -1
}

// Publication is one track a participant publishes: one incoming stream
// per simulcast layer (one in all for audio and non-simulcast video), and
// the outgoing track every subscriber binds to.
type Publication struct {
	peer      *Peer
	source    string
	mid       string
	kind      webrtc.RTPCodecType
	codec     webrtc.RTPCodecCapability
	clock     uint32 // RTP clock rate
	vp8       bool
	simulcast bool
	down      *downTrack
	level     *levelMeter // audio only
	receiver  *webrtc.RTPReceiver
	declared  [maxLayers]string // RIDs the publisher's offer lists, by layer index

	layers [maxLayers]atomic.Pointer[layer]

	// Layers the publisher was asked to encode (a bit per index), and
	// when each was last wanted by a subscriber. Owned by the room's tick.
	active      uint8
	lastWanted  [maxLayers]time.Time
	activatedAt [maxLayers]atomic.Int64 // unix nanoseconds

	stopOnce sync.Once
	stopped  chan struct{}
}

// Source says what the publication carries: "audio", "camera" or "screen".
func (p *Publication) Source() string { return p.source }

// Participant is the id of the publishing participant.
func (p *Publication) Participant() string { return p.peer.id }

// Kind is audio or video.
func (p *Publication) Kind() webrtc.RTPCodecType { return p.kind }

// Simulcast says whether the publisher sends several layers.
func (p *Publication) Simulcast() bool { return p.simulcast }

func newPublication(peer *Peer, source, mid string, remote *webrtc.TrackRemote) *Publication {
	codec := remote.Codec().RTPCodecCapability
	p := &Publication{
		peer:      peer,
		source:    source,
		mid:       mid,
		kind:      remote.Kind(),
		codec:     codec,
		clock:     codec.ClockRate,
		vp8:       strings.EqualFold(codec.MimeType, webrtc.MimeTypeVP8),
		simulcast: remote.RID() != "",
		active:    1<<maxLayers - 1,
		stopped:   make(chan struct{}),
	}
	if p.clock == 0 {
		p.clock = 90000
	}
	if p.kind == webrtc.RTPCodecTypeAudio {
		p.level = &levelMeter{}
	}
	p.down = &downTrack{
		id:       source,
		streamID: peer.id + ":" + source,
		kind:     p.kind,
		codec:    codec,
		pub:      p,
	}
	empty := []*binding{}
	p.down.bindings.Store(&empty)
	return p
}

// declare records the RIDs the publisher's offer lists for this track:
// layers that have not sent a packet yet are never paused.
func (p *Publication) declare(recv *webrtc.RTPReceiver) {
	if !p.simulcast || recv == nil {
		return
	}
	for _, t := range recv.Tracks() {
		rid := t.RID()
		if rid == "" {
			continue
		}
		idx := layerIndex(rid, func(i int) bool { return p.declared[i] != "" })
		if idx >= 0 && p.declared[idx] == "" {
			p.declared[idx] = rid
		}
	}
}

// addLayer attaches an incoming stream (one RID of a simulcast track, or
// the only stream) and returns it, or nil when the slot is taken.
func (p *Publication) addLayer(remote *webrtc.TrackRemote, audioLevelID uint8) *layer {
	idx := 0
	if p.simulcast {
		idx = layerIndex(remote.RID(), func(i int) bool { return p.layers[i].Load() != nil })
	}
	if idx < 0 {
		return nil
	}
	// About a second of each layer (q 32, h 64, f 128 packets; 128 for
	// one-layer video), longer than a NACK takes to come back. Audio is
	// not retransmitted (Opus carries its own FEC), so it keeps none.
	var cache *packetCache
	if p.kind == webrtc.RTPCodecTypeVideo {
		size := 128 >> (maxLayers - 1 - idx)
		if !p.simulcast {
			size = 128
		}
		cache = newPacketCache(size)
	}
	l := &layer{pub: p, index: idx, rid: remote.RID(), remote: remote, ssrc: uint32(remote.SSRC()),
		cache: cache, levelID: audioLevelID}
	l.rateAt = time.Now().UnixNano()
	p.activatedAt[idx].Store(l.rateAt)
	if !p.layers[idx].CompareAndSwap(nil, l) {
		return nil
	}
	return l
}

// layer is one incoming stream of a publication.
type layer struct {
	pub     *Publication
	index   int
	rid     string
	remote  *webrtc.TrackRemote
	ssrc    uint32
	cache   *packetCache
	levelID uint8 // audio-level header extension id on the publisher's connection; 0 if none

	packets    atomic.Uint64
	bytes      atomic.Uint64
	lastPacket atomic.Int64 // unix nanoseconds
	width      atomic.Uint32
	height     atomic.Uint32
	rate       atomic.Int64 // bits per second, measured by the room's tick

	rateBytes uint64 // owned by the room's tick
	rateAt    int64

	lastPLI    atomic.Int64 // unix nanoseconds of the last PLI sent
	plePending atomic.Bool
}

// frame is what the forwarding path learns about one packet's payload.
type frame struct {
	keyframe bool // the first packet of a keyframe
	vp8      vp8Descriptor
	vp8ok    bool
}

// forward reads the layer's RTP and writes it to every subscriber until the
// stream ends. It is the hot path: one buffer and one header are reused for
// every packet, and the subscriber list is read without a lock.
func (l *layer) forward(m *metrics) {
	buf := make([]byte, maxPacketSize)
	var hdr rtp.Header
	for {
		n, _, err := l.remote.Read(buf)
		if err != nil {
			return
		}
		l.forwardPacket(buf[:n], &hdr, time.Now().UnixNano(), m)
	}
}

func (l *layer) forwardPacket(pkt []byte, hdr *rtp.Header, now int64, m *metrics) {
	hl, err := hdr.Unmarshal(pkt)
	if err != nil {
		return
	}
	l.packets.Add(1)
	l.bytes.Add(uint64(len(pkt)))
	l.lastPacket.Store(now)
	if l.cache != nil {
		l.cache.store(hdr.SequenceNumber, pkt)
	}
	payload := pkt[hl:]
	media := payload
	if hdr.Padding && len(media) > 0 {
		pad := int(media[len(media)-1])
		if pad > len(media) {
			return
		}
		media = media[:len(media)-pad]
	}
	p := l.pub
	var f frame
	if p.kind == webrtc.RTPCodecTypeAudio {
		if l.levelID != 0 && p.level != nil {
			if ext := hdr.GetExtension(l.levelID); ext != nil {
				if lvl, voice, ok := parseAudioLevel(ext); ok {
					p.level.observe(lvl, voice)
				}
			}
		}
	} else if len(media) > 0 {
		if p.vp8 {
			f.vp8, f.vp8ok = parseVP8(media)
			f.keyframe = f.vp8ok && f.vp8.keyframe
			if f.keyframe {
				l.noteVP8Size(media[f.vp8.headerLen:])
			}
		} else {
			f.keyframe = isKeyframe(p.codec.MimeType, media)
		}
	}
	hdr.Extension = false
	hdr.Extensions = hdr.Extensions[:0]
	p.down.write(l, hdr, payload, &f, now, m)
}

// noteVP8Size records the frame size a VP8 keyframe announces (RFC 6386
// section 9.1): three bytes of frame tag, the start code, then 14-bit width
// and height.
func (l *layer) noteVP8Size(b []byte) {
	if len(b) < 10 || b[3] != 0x9d || b[4] != 0x01 || b[5] != 0x2a {
		return
	}
	w := uint32(b[6]) | uint32(b[7]&0x3f)<<8
	h := uint32(b[8]) | uint32(b[9]&0x3f)<<8
	l.width.Store(w)
	l.height.Store(h)
}

// requestKeyframe asks the publisher for a keyframe on this layer, at most
// once per keyframeInterval; a request inside the interval is sent when it
// ends.
func (l *layer) requestKeyframe(m *metrics) {
	p := l.pub
	if p.kind != webrtc.RTPCodecTypeVideo {
		return
	}
	now := time.Now().UnixNano()
	last := l.lastPLI.Load()
	if wait := time.Duration(last + int64(keyframeInterval) - now); wait > 0 {
		if l.plePending.CompareAndSwap(false, true) {
			time.AfterFunc(wait, func() {
				l.plePending.Store(false)
				l.requestKeyframe(m)
			})
		}
		return
	}
	if !l.lastPLI.CompareAndSwap(last, now) {
		return
	}
	select {
	case <-p.stopped:
		return
	default:
	}
	if err := p.peer.pub.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: l.ssrc}}); err == nil {
		m.keyframeReqs.Inc()
	}
}

// requestKeyframe asks for a keyframe on one layer by index, if it exists.
func (p *Publication) requestKeyframe(idx int, m *metrics) {
	if idx < 0 || idx >= maxLayers {
		return
	}
	if l := p.layers[idx].Load(); l != nil {
		l.requestKeyframe(m)
	}
}

func (p *Publication) stop() {
	p.stopOnce.Do(func() { close(p.stopped) })
}

// layerLive says whether a layer exists and has sent a packet recently.
func (p *Publication) layerLive(idx int, now int64) bool {
	l := p.layers[idx].Load()
	return l != nil && now-l.lastPacket.Load() < int64(1500*time.Millisecond)
}

// binding is one subscriber's view of a downTrack: the SSRC and payload
// types negotiated on that subscriber's connection, where to write, which
// layer it receives and how that layer's numbering maps onto the one
// continuous stream the subscriber sees.
type binding struct {
	id      string
	ssrc    uint32
	pt      uint8
	rtxSSRC uint32 // 0 when the subscriber did not negotiate RTX
	rtxPT   uint8
	writer  webrtc.TrackLocalWriter
	audio   bool
	unRED   bool // the publisher sends RED, this subscriber takes plain Opus

	// target is the layer the allocator wants this subscriber to receive;
	// -1 pauses it. Forwarding switches to it on the layer's next keyframe.
	target atomic.Int32

	mu        sync.Mutex
	current   int32 // layer being forwarded; -1 for none
	started   bool
	cur, prev munger
	lastSeq   uint16
	lastTS    uint32
	lastPID   uint16
	lastTL0   uint8
	lastWrite int64
	rtxSeq    uint16
	resent    *[64]resend // recent retransmissions, by sequence number; made on the first NACK
}

// resend remembers one retransmission to a subscriber.
type resend struct {
	seq uint16
	at  int64
}

// resendInterval is the shortest time between two retransmissions of one
// packet to one subscriber: a browser NACKs again before the first repair
// could arrive.
const resendInterval = 100 * time.Millisecond

// shouldResend says whether packet out may be sent again now, and notes
// that it is.
func (b *binding) shouldResend(out uint16, now int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.resent == nil {
		b.resent = new([64]resend)
	}
	r := &b.resent[out%uint16(len(b.resent))]
	if r.seq == out && r.at != 0 && now-r.at < int64(resendInterval) {
		return false
	}
	r.seq, r.at = out, now
	return true
}

// munger maps one layer's sequence numbers, timestamps and VP8 picture
// ids onto the subscriber's stream from a switch point on.
type munger struct {
	valid   bool
	settled bool
	layer   int32
	fromIn  uint16 // first sequence number of the layer forwarded
	fromOut uint16 // the number it got
	seqOff  uint16
	tsOff   uint32
	pidOff  uint16
	tl0Off  uint8
}

func newBinding(id string, ssrc uint32, pt uint8, w webrtc.TrackLocalWriter, audio bool) *binding {
	b := &binding{id: id, ssrc: ssrc, pt: pt, writer: w, audio: audio, current: -1}
	return b
}

// seqBefore reports whether a comes before b in RTP sequence order.
func seqBefore(a, b uint16) bool { return a != b && b-a < 0x8000 }

// forward writes one packet of layer l to the subscriber if it receives
// that layer, switching to it first when it is the target and the packet
// starts a keyframe.
func (b *binding) forward(l *layer, hdr *rtp.Header, payload []byte, f *frame, now int64, m *metrics) int {
	idx := int32(l.index)
	b.mu.Lock()
	if b.current != idx {
		if b.target.Load() != idx || !(b.audio || f.keyframe) {
			b.mu.Unlock()
			return 0
		}
		b.switchTo(idx, hdr, f, now, l.pub.clock)
		if l.pub.peer != nil && l.pub.peer.log.Enabled(context.Background(), slog.LevelDebug) {
			l.pub.peer.log.Debug("subscriber switched layer", "binding", b.id, "layer", idx, "seq", hdr.SequenceNumber,
				"pid", f.vp8.pictureID, "tl0", f.vp8.tl0PicIdx, "out_seq", b.cur.fromOut)
		}
	} else if b.target.Load() < 0 {
		b.current = -1
		b.mu.Unlock()
		return 0
	}
	mg := &b.cur
	if !mg.settled {
		if seqBefore(hdr.SequenceNumber, mg.fromIn) {
			b.mu.Unlock()
			return 0 // from before the switch: the subscriber never had its place
		}
		// Far enough past the switch that late packets from before it
		// are gone; from here on the numbers may wrap around.
		mg.settled = hdr.SequenceNumber-mg.fromIn > 0x1000
	}
	seq := hdr.SequenceNumber + mg.seqOff
	ts := hdr.Timestamp + mg.tsOff
	if !seqBefore(seq, b.lastSeq) {
		b.lastSeq, b.lastTS, b.lastWrite = seq, ts, now
	}
	if f.vp8ok && f.vp8.hasPictureID {
		pid := f.vp8.pictureID + mg.pidOff
		tl0 := f.vp8.tl0PicIdx + mg.tl0Off
		f.vp8.rewrite(payload, pid, tl0)
		b.lastPID = pid
		if f.vp8.hasTL0PicIdx {
			b.lastTL0 = tl0
		}
	}
	b.mu.Unlock()
	if b.unRED {
		primary, ok := redPrimary(payload)
		if !ok {
			return 0
		}
		payload = primary
	}
	inSeq, inTS := hdr.SequenceNumber, hdr.Timestamp
	hdr.SequenceNumber, hdr.Timestamp, hdr.SSRC, hdr.PayloadType = seq, ts, b.ssrc, b.pt
	n, err := b.writer.WriteRTP(hdr, payload)
	hdr.SequenceNumber, hdr.Timestamp = inSeq, inTS
	if err != nil {
		return 0
	}
	return n
}

// switchTo starts forwarding layer idx at the packet hdr: the layer's
// numbering is shifted to continue where the subscriber's stream left off.
func (b *binding) switchTo(idx int32, hdr *rtp.Header, f *frame, now int64, clock uint32) {
	b.prev = b.cur
	mg := munger{valid: true, layer: idx, fromIn: hdr.SequenceNumber}
	if b.started {
		mg.seqOff = b.lastSeq + 1 - hdr.SequenceNumber
		delta := uint32(uint64(max(now-b.lastWrite, 0)) * uint64(clock) / uint64(time.Second))
		mg.tsOff = b.lastTS + max(delta, 1) - hdr.Timestamp
		if f.vp8ok && f.vp8.hasPictureID {
			mg.pidOff = b.lastPID + 1 - f.vp8.pictureID
			mg.tl0Off = b.lastTL0 + 1 - f.vp8.tl0PicIdx
		}
	} else {
		b.started = true
		b.lastSeq = hdr.SequenceNumber - 1
		b.lastTS = hdr.Timestamp
		b.lastWrite = now
	}
	mg.fromOut = hdr.SequenceNumber + mg.seqOff
	b.cur = mg
	b.current = idx
}

// origin maps a sequence number the subscriber saw back to the layer and
// sequence number it came from, and the munger that applied.
func (b *binding) origin(out uint16) (munger, uint16, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.cur.valid {
		return munger{}, 0, false
	}
	if out-b.cur.fromOut <= b.lastSeq-b.cur.fromOut {
		return b.cur, out - b.cur.seqOff, true
	}
	if b.prev.valid && out-b.prev.fromOut < b.cur.fromOut-b.prev.fromOut {
		return b.prev, out - b.prev.seqOff, true
	}
	return munger{}, 0, false
}

// currentLayer is the layer the subscriber receives now, or its target
// while it waits for the first keyframe.
func (b *binding) currentLayer() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.current >= 0 {
		return int(b.current)
	}
	return int(b.target.Load())
}

// switchPending says whether the subscriber waits for a keyframe to move to
// its target layer.
func (b *binding) switchPending() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.target.Load()
	return t >= 0 && b.current != t
}

// nextRTXSeq numbers the subscriber's retransmission stream.
func (b *binding) nextRTXSeq() uint16 {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.rtxSeq++
	return b.rtxSeq
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
// publisher sends, and its retransmission format when there is one.
func (t *downTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	codecs := ctx.CodecParameters()
	codec, ok := matchCodec(t.codec, codecs)
	unRED := false
	if !ok && strings.EqualFold(t.codec.MimeType, mimeTypeRED) {
		// A receiver without RED gets the primary Opus data.
		codec, ok = matchCodec(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, codecs)
		unRED = true
	}
	if !ok {
		return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
	}
	b := newBinding(ctx.ID(), uint32(ctx.SSRC()), uint8(codec.PayloadType), ctx.WriteStream(), t.kind == webrtc.RTPCodecTypeAudio)
	b.unRED = unRED
	if rtx := uint32(ctx.SSRCRetransmission()); rtx != 0 {
		if pt, ok := rtxPayloadType(codecs, codec.PayloadType); ok {
			b.rtxSSRC, b.rtxPT = rtx, pt
		}
	}
	// Audio flows at once; video waits for the allocator's first choice,
	// which Room.subscribe makes before the first offer.
	if b.audio {
		b.target.Store(0)
	} else {
		b.target.Store(-1)
		if p := t.pub.peer; p != nil {
			b.target.Store(int32(p.room.initialLayer(t.pub)))
		}
	}
	t.mu.Lock()
	old := *t.bindings.Load()
	next := make([]*binding, 0, len(old)+1)
	next = append(next, old...)
	next = append(next, b)
	t.bindings.Store(&next)
	t.mu.Unlock()
	// A new subscriber cannot decode until the next keyframe.
	if t.pub.peer != nil {
		go t.pub.requestKeyframe(int(b.target.Load()), t.pub.peer.room.sfu.metrics)
	}
	return codec, nil
}

// rtxPayloadType finds the video/rtx format whose apt is pt.
func rtxPayloadType(codecs []webrtc.RTPCodecParameters, pt webrtc.PayloadType) (uint8, bool) {
	want := "apt=" + itoa(int(pt))
	for _, c := range codecs {
		if strings.EqualFold(c.MimeType, webrtc.MimeTypeRTX) {
			for _, kv := range strings.Split(c.SDPFmtpLine, ";") {
				if strings.TrimSpace(kv) == want {
					return uint8(c.PayloadType), true
				}
			}
		}
	}
	return 0, false
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [8]byte
	i := len(b)
	for n > 0 && i > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
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

// write sends one packet of layer l to every subscriber that receives it.
// Header extensions were dropped by the caller: their ids were negotiated
// with the publisher, not with the subscriber, and the subscriber
// connection's interceptors add their own.
func (t *downTrack) write(l *layer, hdr *rtp.Header, payload []byte, f *frame, now int64, m *metrics) {
	bs := *t.bindings.Load()
	var n, sent int
	for _, b := range bs {
		if w := b.forward(l, hdr, payload, f, now, m); w > 0 {
			n += w
			sent++
		}
	}
	if sent > 0 {
		m.fwdPackets.Add(float64(sent))
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

// retransmit resends one packet the subscriber lost, found through the
// binding's numbering in the cache of the layer it came from: on the RTX
// stream when the subscriber negotiated one, otherwise as it was. buf is
// the caller's scratch buffer of at least maxPacketSize+2 bytes.
//
// It returns the bytes written and whether the packet was still there.
func (p *Publication) retransmit(out uint16, b *binding, buf []byte) (int, bool) {
	mg, in, ok := b.origin(out)
	if !ok {
		return 0, false
	}
	l := p.layers[mg.layer].Load()
	if l == nil || l.cache == nil {
		return 0, false
	}
	n := l.cache.get(in, buf[2:])
	if n == 0 {
		return 0, false
	}
	var hdr rtp.Header
	hl, err := hdr.Unmarshal(buf[2 : 2+n])
	if err != nil {
		return 0, true
	}
	end := 2 + n
	if hdr.Padding {
		pad := int(buf[end-1])
		if pad > end-2-hl {
			return 0, true
		}
		end -= pad
		hdr.Padding, hdr.PaddingSize = false, 0
	}
	payload := buf[2+hl : end]
	if p.vp8 {
		if d, ok := parseVP8(payload); ok && d.hasPictureID {
			d.rewrite(payload, d.pictureID+mg.pidOff, d.tl0PicIdx+mg.tl0Off)
		}
	}
	hdr.Extension = false
	hdr.Extensions = nil
	hdr.SequenceNumber = out
	hdr.Timestamp += mg.tsOff
	if b.rtxSSRC != 0 {
		// RFC 4588: the original sequence number, then the payload.
		payload = buf[hl:end]
		payload[0], payload[1] = byte(out>>8), byte(out)
		hdr.SSRC, hdr.PayloadType, hdr.SequenceNumber = b.rtxSSRC, b.rtxPT, b.nextRTXSeq()
	} else {
		hdr.SSRC = b.ssrc
		hdr.PayloadType = b.pt
	}
	w, _ := b.writer.WriteRTP(&hdr, payload)
	return w, true
}
