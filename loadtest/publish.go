package loadtest

import (
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// audioLevelURI is the RFC 6464 client-to-mixer audio level extension.
const audioLevelURI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"

// sendTrack is a webrtc.TrackLocal the load tester writes its synthetic
// packets to: one per audio track and one per simulcast encoding. Unlike
// pion's TrackLocalStaticRTP it lets the caller keep one rtp.Header per
// stream, so nothing is allocated per packet.
type sendTrack struct {
	id, streamID, rid string
	codec             webrtc.RTPCodecCapability

	mu    sync.Mutex
	mid   string
	bound atomic.Pointer[sendBinding]
}

// sendBinding is what negotiation fixed for a sendTrack: SSRC, payload
// type, the ids of the header extensions the load tester writes itself,
// and where packets go.
type sendBinding struct {
	ssrc                  uint32
	pt                    uint8
	w                     webrtc.TrackLocalWriter
	midID, ridID, levelID uint8
	mid, rid              []byte
}

func (t *sendTrack) ID() string       { return t.id }
func (t *sendTrack) RID() string      { return t.rid }
func (t *sendTrack) StreamID() string { return t.streamID }

func (t *sendTrack) Kind() webrtc.RTPCodecType {
	if strings.HasPrefix(t.codec.MimeType, "audio/") {
		return webrtc.RTPCodecTypeAudio
	}
	return webrtc.RTPCodecTypeVideo
}

// setMid records the transceiver's mid once the offer assigned it; Bind
// needs it for the sdes:mid header extension.
func (t *sendTrack) setMid(mid string) {
	t.mu.Lock()
	t.mid = mid
	t.mu.Unlock()
}

// Bind is called by pion once salon's answer is applied.
func (t *sendTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	for _, c := range ctx.CodecParameters() {
		if !strings.EqualFold(c.MimeType, t.codec.MimeType) {
			continue
		}
		t.mu.Lock()
		mid := t.mid
		t.mu.Unlock()
		b := &sendBinding{ssrc: uint32(ctx.SSRC()), pt: uint8(c.PayloadType), w: ctx.WriteStream(),
			mid: []byte(mid), rid: []byte(t.rid)}
		for _, e := range ctx.HeaderExtensions() {
			switch e.URI {
			case sdp.SDESMidURI:
				b.midID = uint8(e.ID)
			case sdp.SDESRTPStreamIDURI:
				b.ridID = uint8(e.ID)
			case audioLevelURI:
				b.levelID = uint8(e.ID)
			}
		}
		t.bound.Store(b)
		return c, nil
	}
	return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
}

func (t *sendTrack) Unbind(webrtc.TrackLocalContext) error {
	t.bound.Store(nil)
	return nil
}

// rtpStream is the header state of one outgoing RTP stream.
type rtpStream struct {
	track   *sendTrack
	binding *sendBinding
	hdr     rtp.Header
	level   [1]byte // RFC 6464 payload; the header extension points at it
	r       rng     // loss

	// Owned by the generating goroutine; read once it has stopped.
	sent, sentBytes, dropped int64
}

func newRTPStream(t *sendTrack, seed uint64) rtpStream {
	r := newRand(seed)
	s := rtpStream{track: t, r: r}
	s.hdr.Version = 2
	s.hdr.SequenceNumber = uint16(r.next())
	s.hdr.Timestamp = uint32(r.next())
	return s
}

// ready returns the binding to write to, or nil before negotiation; it
// sets up the header extensions when the binding changed.
func (s *rtpStream) ready() *sendBinding {
	b := s.track.bound.Load()
	if b == nil || b == s.binding {
		return b
	}
	s.binding = b
	s.hdr.SSRC = b.ssrc
	s.hdr.PayloadType = b.pt
	s.hdr.Extension = false
	s.hdr.Extensions = s.hdr.Extensions[:0]
	// RFC 8852: mid and rid let salon tell the simulcast encodings apart.
	if b.midID != 0 && len(b.mid) > 0 {
		_ = s.hdr.SetExtension(b.midID, b.mid)
	}
	if b.ridID != 0 && len(b.rid) > 0 {
		_ = s.hdr.SetExtension(b.ridID, b.rid)
	}
	if b.levelID != 0 {
		_ = s.hdr.SetExtension(b.levelID, s.level[:])
	}
	return b
}

// write sends one packet, or drops it on purpose (the sequence number is
// used all the same, so receivers see a gap).
func (s *rtpStream) write(b *sendBinding, payload []byte, marker bool, loss float64) {
	s.hdr.Marker = marker
	if s.r.drop(loss) {
		s.dropped++
	} else if n, err := b.w.WriteRTP(&s.hdr, payload); err == nil {
		s.sent++
		s.sentBytes += int64(n)
	}
	s.hdr.SequenceNumber++
}

// videoLayer is one simulcast encoding of a camera.
type videoLayer struct {
	rtpStream
	enc            *vp8Encoder
	keySize, inter int
	keyEvery       time.Duration
	lastKey        time.Time
	active         atomic.Bool // salon's layers message
	keyRequested   atomic.Bool // PLI or FIR received
	wasInactive    bool
	tsStep         uint32
	width, height  int
	kbps           int
}

// camera sends synthetic VP8 video: one layer, or three simulcast layers
// q (1/4 size, 1/8 bitrate), h (1/2, 3/8) and f (full).
type camera struct {
	layers []*videoLayer
	fps    int
	loss   float64
}

// layerSpec is one encoding a camera sends.
type layerSpec struct {
	rid           string
	width, height int
	kbps          int
}

// cameraLayers lists the encodings of a camera, lowest first: the order
// of a=simulcast:send q;h;f.
func cameraLayers(cfg *Config) []layerSpec {
	if !cfg.Simulcast {
		return []layerSpec{{"", cfg.Width, cfg.Height, cfg.VideoKbps}}
	}
	return []layerSpec{
		{"q", cfg.Width / 4, cfg.Height / 4, cfg.VideoKbps / 8},
		{"h", cfg.Width / 2, cfg.Height / 2, cfg.VideoKbps * 3 / 8},
		{"f", cfg.Width, cfg.Height, cfg.VideoKbps},
	}
}

// frameSizes spreads a layer's bitrate over its frames: a keyframe four
// times the mean frame, inter frames a little under it, so that the
// periodic keyframes keep the mean at the bitrate.
func frameSizes(kbps, fps int, keyEvery time.Duration) (key, inter int) {
	mean := kbps * 1000 / 8 / fps
	frames := max(int(keyEvery.Seconds()*float64(fps)), 2)
	key = max(4*mean, minVP8Frame)
	inter = max((mean*frames-key)/(frames-1), mean/4, minVP8Frame)
	return key, inter
}

func newCamera(cfg *Config, streamID string, seed uint64) *camera {
	c := &camera{fps: cfg.FPS, loss: cfg.Loss}
	codec := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
	for i, spec := range cameraLayers(cfg) {
		key, inter := frameSizes(spec.kbps, cfg.FPS, cfg.KeyframeInterval)
		t := &sendTrack{id: "camera", streamID: streamID, rid: spec.rid, codec: codec}
		l := &videoLayer{
			rtpStream: newRTPStream(t, seed+uint64(i)*7919),
			enc:       newVP8Encoder(spec.width, spec.height, key, seed+uint64(i)),
			keySize:   key, inter: inter, keyEvery: cfg.KeyframeInterval,
			tsStep: uint32(90000 / cfg.FPS), width: spec.width, height: spec.height, kbps: spec.kbps,
		}
		l.active.Store(true)
		c.layers = append(c.layers, l)
	}
	return c
}

// layer finds an encoding by RID; without simulcast the one layer answers
// to "f" too, so that a layers message can pause it.
func (c *camera) layer(rid string) *videoLayer {
	for _, l := range c.layers {
		if l.track.rid == rid || l.track.rid == "" && rid == "f" {
			return l
		}
	}
	return nil
}

// setActive applies salon's layers message: the listed RIDs are sent, the
// others paused.
func (c *camera) setActive(rids []string) {
	for _, l := range c.layers {
		on := false
		for _, rid := range rids {
			if c.layer(rid) == l {
				on = true
			}
		}
		l.active.Store(on)
	}
}

// run sends a frame on every active layer every 1/fps until stop closes.
func (c *camera) run(stop <-chan struct{}) {
	t := time.NewTicker(time.Second / time.Duration(c.fps))
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			for _, l := range c.layers {
				l.tick(now, c.loss)
			}
		}
	}
}

func (l *videoLayer) tick(now time.Time, loss float64) {
	// The clock runs while a layer is paused, as a browser's capture does.
	l.hdr.Timestamp += l.tsStep
	if !l.active.Load() {
		l.wasInactive = true
		return
	}
	b := l.ready()
	if b == nil {
		return
	}
	// A keyframe when asked, when the layer starts again, and periodically.
	key := l.keyRequested.Swap(false) || l.wasInactive || l.lastKey.IsZero() || now.Sub(l.lastKey) >= l.keyEvery
	l.wasInactive = false
	size := l.inter
	if key {
		size = l.keySize
		l.lastKey = now
	}
	f := l.enc.frame(size, key)
	for off := 0; off < len(f); {
		var payload []byte
		payload, off = l.enc.packet(f, off)
		l.write(b, payload, off == len(f), loss)
	}
}

// opusFrameSamples is 20 ms at Opus's 48 kHz RTP clock.
const opusFrameSamples = 960

// opusTOC is the first byte of every synthetic Opus packet: configuration
// 15 (hybrid, fullband, 20 ms), mono, one frame (RFC 6716 §3.1).
const opusTOC = 15 << 3

// microphone sends synthetic Opus audio every 20 ms, with the RFC 6464
// audio level: a speaking microphone says voice activity and a speech-like
// level, a silent one no activity and a background level.
type microphone struct {
	rtpStream
	payload  []byte
	speaking bool
	loss     float64
	levels   rng
}

func newMicrophone(cfg *Config, streamID string, speaking bool, seed uint64) *microphone {
	t := &sendTrack{id: "audio", streamID: streamID,
		codec: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}}
	m := &microphone{rtpStream: newRTPStream(t, seed), speaking: speaking, loss: cfg.Loss, levels: newRand(seed + 1)}
	m.payload = make([]byte, max(cfg.AudioKbps*1000/8/50, 2))
	m.payload[0] = opusTOC
	for i := 1; i < len(m.payload); i++ {
		m.payload[i] = byte(m.levels.next())
	}
	return m
}

// audioLevel is the RFC 6464 byte: V (voice activity) and the level in
// -dBov, 0 loudest and 127 silence.
func (m *microphone) audioLevel() byte {
	if m.speaking {
		return 0x80 | byte(25+m.levels.next()%20)
	}
	return byte(85 + m.levels.next()%15)
}

func (m *microphone) run(stop <-chan struct{}) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			m.hdr.Timestamp += opusFrameSamples
			b := m.ready()
			if b == nil {
				continue
			}
			m.level[0] = m.audioLevel()
			m.write(b, m.payload, false, m.loss)
		}
	}
}

// readSenderRTCP reads what salon says about one outgoing encoding until
// the connection closes: PLI and FIR ask for a keyframe; everything else
// (receiver reports, NACKs, transport feedback) is read so the
// interceptors see it, and otherwise ignored.
func readSenderRTCP(sender *webrtc.RTPSender, rid string, keyframe *atomic.Bool) {
	buf := make([]byte, 1500)
	for {
		n, _, err := sender.ReadSimulcast(buf, rid)
		if err != nil {
			return
		}
		if keyframe != nil && hasKeyframeRequest(buf[:n]) {
			keyframe.Store(true)
		}
	}
}

// hasKeyframeRequest says whether a compound RTCP packet holds a PLI
// (RFC 4585 §6.3.1) or a FIR (RFC 5104 §4.3.1). It does not allocate.
func hasKeyframeRequest(b []byte) bool {
	for len(b) >= 4 {
		if b[0]>>6 != 2 {
			return false
		}
		fmtField, pt := b[0]&0x1f, b[1]
		size := (int(binary.BigEndian.Uint16(b[2:])) + 1) * 4
		if size > len(b) {
			return false
		}
		if pt == 206 && (fmtField == 1 || fmtField == 4) {
			return true
		}
		b = b[size:]
	}
	return false
}

// browserSimulcastOffer rewrites pion's simulcast offer the way Chrome
// writes one: the encodings are announced by their RIDs only (RFC 8853),
// without an a=ssrc line and an a=msid line per encoding, which a strict
// Unified Plan answerer (salon's pion) takes for Plan B. The packets carry
// mid and rid header extensions, so salon tells the encodings apart by
// those. Other media sections are left as they are.
func browserSimulcastOffer(offer string) string {
	sections := strings.SplitAfter(offer, "\r\nm=")
	for i, sec := range sections {
		if !strings.Contains(sec, "\r\na=simulcast:") {
			continue
		}
		var b strings.Builder
		msid := false
		for line := range strings.SplitSeq(sec, "\r\n") {
			switch {
			case strings.HasPrefix(line, "a=ssrc:"), strings.HasPrefix(line, "a=ssrc-group:"):
				continue
			case strings.HasPrefix(line, "a=msid:"):
				if msid {
					continue
				}
				msid = true
			}
			b.WriteString(line)
			b.WriteString("\r\n")
		}
		sections[i] = strings.TrimSuffix(b.String(), "\r\n")
	}
	return strings.Join(sections, "")
}

// checkSimulcastOffer verifies that an offer announces the three layers
// the way browsers do (RFC 8853), so salon sees what Chrome would send.
func checkSimulcastOffer(offer string) error {
	var missing []string
	for _, line := range []string{"a=simulcast:send q;h;f", "a=rid:q send", "a=rid:h send", "a=rid:f send"} {
		if !strings.Contains(offer, line+"\r\n") {
			missing = append(missing, line)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the publish offer lacks %s", strings.Join(missing, ", "))
	}
	return nil
}
