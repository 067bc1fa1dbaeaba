package sfu

import (
	"strings"

	"github.com/pion/webrtc/v4"
)

// This file reads just enough of each video codec's RTP payload to switch
// simulcast layers on a keyframe and to keep VP8 picture IDs continuous
// across a switch. Every function runs on each forwarded packet: none
// allocates, and none trusts a length it has not checked.

// vp8Descriptor is what the forwarding path needs from a VP8 payload
// descriptor (RFC 7741 §4.2).
type vp8Descriptor struct {
	headerLen int // bytes of descriptor before the VP8 payload

	nonReference bool // N: the frame can be dropped without harming others
	frameStart   bool // S=1 and PID=0: the first packet of a frame
	keyframe     bool // frameStart and the payload header's P bit is 0

	hasPictureID    bool
	longPictureID   bool  // M=1: 15 bits, else 7
	pictureIDOffset uint8 // of the byte holding the M bit
	pictureID       uint16

	hasTL0PicIdx    bool
	tl0PicIdxOffset uint8
	tl0PicIdx       uint8

	hasTID    bool // T=1: tid and layerSync are valid
	tid       uint8
	layerSync bool // Y
}

// parseVP8 reads the payload descriptor at the start of a VP8 RTP payload.
// It reports false when the descriptor is truncated or no VP8 data follows
// it (RFC 7741 §4.2, §4.3).
func parseVP8(payload []byte) (vp8Descriptor, bool) {
	var d vp8Descriptor
	if len(payload) == 0 {
		return d, false
	}
	b := payload[0]
	d.nonReference = b&0x20 != 0
	d.frameStart = b&0x10 != 0 && b&0x07 == 0
	i := 1
	if b&0x80 != 0 { // X: extension byte follows
		if i >= len(payload) {
			return d, false
		}
		x := payload[i]
		i++
		if x&0x80 != 0 { // I: picture ID
			if i >= len(payload) {
				return d, false
			}
			d.hasPictureID = true
			d.pictureIDOffset = uint8(i)
			if payload[i]&0x80 != 0 { // M: 15-bit picture ID
				if i+1 >= len(payload) {
					return d, false
				}
				d.longPictureID = true
				d.pictureID = uint16(payload[i]&0x7f)<<8 | uint16(payload[i+1])
				i += 2
			} else {
				d.pictureID = uint16(payload[i])
				i++
			}
		}
		if x&0x40 != 0 { // L: TL0PICIDX
			if i >= len(payload) {
				return d, false
			}
			d.hasTL0PicIdx = true
			d.tl0PicIdxOffset = uint8(i)
			d.tl0PicIdx = payload[i]
			i++
		}
		if x&0x30 != 0 { // T or K: one byte carries TID, Y and KEYIDX
			if i >= len(payload) {
				return d, false
			}
			if x&0x20 != 0 {
				d.hasTID = true
				d.tid = payload[i] >> 6
				d.layerSync = payload[i]&0x20 != 0
			}
			i++
		}
	}
	if i >= len(payload) {
		return d, false
	}
	d.headerLen = i
	// RFC 7741 §4.3: the VP8 payload header starts the first partition;
	// its P bit is the inverse key frame flag (RFC 6386 §9.1).
	d.keyframe = d.frameStart && payload[i]&0x01 == 0
	return d, true
}

// rewrite writes pictureID and tl0PicIdx into payload, the packet d was
// parsed from, keeping each field's width: a 7-bit picture ID is written
// modulo 128, a 15-bit one modulo 32768 with its M bit kept. Fields the
// descriptor lacks are left alone. d itself is not changed: it keeps
// describing the packet as received, so that each subscriber's values can
// be derived from the publisher's while the payload is rewritten for one
// subscriber after another.
func (d *vp8Descriptor) rewrite(payload []byte, pictureID uint16, tl0PicIdx uint8) {
	if d.hasPictureID {
		i := int(d.pictureIDOffset)
		if d.longPictureID {
			if i+1 < len(payload) {
				payload[i] = 0x80 | byte(pictureID>>8&0x7f)
				payload[i+1] = byte(pictureID)
			}
		} else if i < len(payload) {
			payload[i] = byte(pictureID & 0x7f)
		}
	}
	if d.hasTL0PicIdx && int(d.tl0PicIdxOffset) < len(payload) {
		payload[d.tl0PicIdxOffset] = tl0PicIdx
	}
}

// h264Keyframe reports whether an H.264 RTP payload (RFC 6184 §5.6–5.8)
// starts an IDR picture or carries a sequence parameter set, which a
// decoder joining the stream needs first.
func h264Keyframe(payload []byte) bool {
	if len(payload) == 0 {
		return false
	}
	switch t := payload[0] & 0x1f; t {
	case 24: // STAP-A: 16-bit size, then the NAL unit, repeated
		for i := 1; i+2 < len(payload); {
			size := int(payload[i])<<8 | int(payload[i+1])
			i += 2
			if size == 0 || size > len(payload)-i {
				return false
			}
			if isH264KeyNAL(payload[i] & 0x1f) {
				return true
			}
			i += size
		}
		return false
	case 28: // FU-A: the FU header's S bit marks the first fragment
		return len(payload) >= 2 && payload[1]&0x80 != 0 && isH264KeyNAL(payload[1]&0x1f)
	default:
		return isH264KeyNAL(t)
	}
}

// isH264KeyNAL reports an IDR slice (5) or a sequence parameter set (7).
func isH264KeyNAL(t byte) bool { return t == 5 || t == 7 }

// vp9Keyframe reports whether a VP9 RTP payload is the first packet of a
// frame that is not inter-picture predicted, in the base spatial layer
// when the descriptor names layers (RFC 9628 §4.2). A descriptor that is
// truncated, or not followed by VP9 data, is not a keyframe.
func vp9Keyframe(payload []byte) bool {
	if len(payload) == 0 {
		return false
	}
	b := payload[0]
	const (
		flagI = 0x80 // picture ID present
		flagP = 0x40 // inter-picture predicted
		flagL = 0x20 // layer indices present
		flagF = 0x10 // flexible mode
		flagB = 0x08 // start of frame
		flagV = 0x02 // scalability structure present
	)
	if b&flagB == 0 || b&flagP != 0 {
		return false
	}
	// P=0, so flexible mode carries no P_DIFF bytes.
	i := 1
	if b&flagI != 0 {
		if i >= len(payload) {
			return false
		}
		if payload[i]&0x80 != 0 { // M: 15-bit picture ID
			i++
		}
		i++
	}
	var sid byte
	if b&flagL != 0 {
		if i >= len(payload) {
			return false
		}
		sid = payload[i] >> 1 & 0x07
		i++
		if b&flagF == 0 { // non-flexible mode adds TL0PICIDX
			i++
		}
	}
	if b&flagV != 0 { // RFC 9628 §4.2.1 scalability structure
		if i >= len(payload) {
			return false
		}
		ss := payload[i]
		i++
		if ss&0x10 != 0 { // Y: width and height of each spatial layer
			i += 4 * (int(ss>>5) + 1)
		}
		if ss&0x08 != 0 { // G: picture group description
			if i >= len(payload) {
				return false
			}
			n := int(payload[i])
			i++
			for ; n > 0; n-- {
				if i >= len(payload) {
					return false
				}
				i += 1 + int(payload[i]>>2&0x03) // R reference P_DIFFs
			}
		}
	}
	return i < len(payload) && sid == 0
}

// isKeyframe reports whether payload, of the codec named by mime, starts a
// frame a decoder can begin with. Codecs salon does not inspect report
// false.
func isKeyframe(mime string, payload []byte) bool {
	switch {
	case strings.EqualFold(mime, webrtc.MimeTypeVP8):
		d, ok := parseVP8(payload)
		return ok && d.keyframe
	case strings.EqualFold(mime, webrtc.MimeTypeVP9):
		return vp9Keyframe(payload)
	case strings.EqualFold(mime, webrtc.MimeTypeH264):
		return h264Keyframe(payload)
	}
	return false
}
