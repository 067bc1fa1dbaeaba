package loadtest

import "encoding/binary"

// maxRTPPayload bounds the payload of every RTP packet the load tester
// sends, payload descriptor included: browsers keep packets well under a
// path MTU of 1,200 bytes.
const maxRTPPayload = 1100

// vp8DescriptorSize is the payload descriptor the load tester writes: X=1,
// I=1, M=1, so a 15-bit picture id (RFC 7741 §4.2).
const vp8DescriptorSize = 4

// minVP8Frame is the smallest frame vp8Encoder makes: a keyframe header is
// 10 bytes.
const minVP8Frame = 16

// vp8Encoder makes the RTP payloads of one synthetic VP8 encoding (one
// simulcast layer). Frames have a real VP8 frame header (RFC 6386 §9.1)
// followed by filler bytes, and are split into packets with a real payload
// descriptor (RFC 7741), so an SFU that looks at VP8 sees keyframes, their
// size and picture ids. Nothing is allocated per frame or per packet.
type vp8Encoder struct {
	width, height int
	pictureID     uint16 // 15 bits, of the frame last returned by frame
	frameBuf      []byte // filler bytes; frames are prefixes of it
	pkt           [maxRTPPayload]byte
}

func newVP8Encoder(width, height, maxFrame int, seed uint64) *vp8Encoder {
	e := &vp8Encoder{width: width, height: height, frameBuf: make([]byte, max(maxFrame, minVP8Frame))}
	r := newRand(seed)
	for i := range e.frameBuf {
		e.frameBuf[i] = byte(r.next())
	}
	e.pictureID = uint16(r.next()) & 0x7fff
	return e
}

// frame returns the next frame of size bytes (bounded by the encoder's
// largest frame) and advances the picture id.
func (e *vp8Encoder) frame(size int, key bool) []byte {
	size = min(max(size, minVP8Frame), len(e.frameBuf))
	f := e.frameBuf[:size]
	hdr := 3
	if key {
		hdr = 10
	}
	// Frame tag: bit 0 is 0 for a keyframe, version 0, show_frame 1, then
	// the 19-bit size of the first partition.
	firstPart := min((size-hdr)/4, 1<<19-1)
	tag := uint32(1<<4) | uint32(firstPart)<<5
	if !key {
		tag |= 1
	}
	f[0], f[1], f[2] = byte(tag), byte(tag>>8), byte(tag>>16)
	if key {
		f[3], f[4], f[5] = 0x9d, 0x01, 0x2a // start code
		binary.LittleEndian.PutUint16(f[6:], uint16(e.width)&0x3fff)
		binary.LittleEndian.PutUint16(f[8:], uint16(e.height)&0x3fff)
	}
	e.pictureID = (e.pictureID + 1) & 0x7fff
	return f
}

// packet returns the RTP payload that carries frame[off:] (as much of it
// as fits) and the offset of the rest; the packet is the last of the frame
// (marker bit) when next == len(frame). The payload is valid until the
// next call.
func (e *vp8Encoder) packet(frame []byte, off int) (payload []byte, next int) {
	b := e.pkt[:]
	b[0] = 0x80 // X
	if off == 0 {
		b[0] |= 0x10 // S: the first packet of partition 0
	}
	b[1] = 0x80 // I
	b[2] = 0x80 | byte(e.pictureID>>8)
	b[3] = byte(e.pictureID)
	n := copy(b[vp8DescriptorSize:], frame[off:])
	return b[:vp8DescriptorSize+n], off + n
}

// vp8Info is what a receiver learns from the start of a VP8 RTP payload.
type vp8Info struct {
	start     bool // S=1 and partition 0: the first packet of a frame
	pictureID int  // -1 when the descriptor carries none
	keyframe  bool // start, and the frame tag says keyframe with the start code
	width     int  // of a keyframe
	height    int
}

// parseVP8 reads the payload descriptor (RFC 7741 §4.2) and, on the first
// packet of a frame, the frame header (RFC 6386 §9.1). It does not
// allocate.
func parseVP8(p []byte) (vp8Info, bool) {
	info := vp8Info{pictureID: -1}
	if len(p) < 1 {
		return info, false
	}
	i := 1
	if p[0]&0x80 != 0 { // X
		if len(p) < 2 {
			return info, false
		}
		x := p[1]
		i = 2
		if x&0x80 != 0 { // I
			if len(p) < i+1 {
				return info, false
			}
			if p[i]&0x80 != 0 { // M: 15 bits
				if len(p) < i+2 {
					return info, false
				}
				info.pictureID = int(p[i]&0x7f)<<8 | int(p[i+1])
				i += 2
			} else {
				info.pictureID = int(p[i] & 0x7f)
				i++
			}
		}
		if x&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if x&0x30 != 0 { // T or K: TID/Y/KEYIDX
			i++
		}
	}
	if i >= len(p) {
		return info, false
	}
	info.start = p[0]&0x10 != 0 && p[0]&0x07 == 0
	if info.start && p[i]&0x01 == 0 && len(p) >= i+10 &&
		p[i+3] == 0x9d && p[i+4] == 0x01 && p[i+5] == 0x2a {
		info.keyframe = true
		info.width = int(binary.LittleEndian.Uint16(p[i+6:]) & 0x3fff)
		info.height = int(binary.LittleEndian.Uint16(p[i+8:]) & 0x3fff)
	}
	return info, true
}

// rng is xorshift64*: cheap, allocation-free and good enough to pick which
// packets to drop.
type rng struct{ s uint64 }

func newRand(seed uint64) rng {
	if seed == 0 {
		seed = 0x9e3779b97f4a7c15
	}
	r := rng{s: seed}
	r.next()
	return r
}

func (r *rng) next() uint64 {
	r.s ^= r.s >> 12
	r.s ^= r.s << 25
	r.s ^= r.s >> 27
	return r.s * 2685821657736338717
}

// float returns a number in [0, 1).
func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// drop says whether to drop a packet at loss rate p.
func (r *rng) drop(p float64) bool { return p > 0 && r.float() < p }
