package sfu

// This file reads RFC 2198 redundant audio (audio/red), in which browsers
// send each Opus frame again in the packets that follow it. A subscriber
// that did not negotiate RED receives only the primary block.
//
// RFC 2198 §3: a 4-byte header for each redundant block (F=1, block
// payload type, 14-bit timestamp offset, 10-bit length), then a 1-byte
// header for the primary block (F=0, payload type); then the blocks in the
// same order, the primary last, taking the rest of the payload.

// redLayout returns the length of a RED payload's headers and of its
// redundant blocks together, or false when a header is truncated or the
// blocks run past the end.
func redLayout(payload []byte) (headerLen, redundantLen int, ok bool) {
	i := 0
	for {
		if i >= len(payload) {
			return 0, 0, false
		}
		if payload[i]&0x80 == 0 { // F=0: the primary's header, the last
			i++
			break
		}
		if len(payload)-i < 4 {
			return 0, 0, false
		}
		redundantLen += int(payload[i+2]&0x03)<<8 | int(payload[i+3])
		i += 4
	}
	if redundantLen > len(payload)-i {
		return 0, 0, false
	}
	return i, redundantLen, true
}

// redPrimary returns the primary (newest) block of a RED payload, a
// subslice of payload; it may be empty. It reports false for a malformed
// payload.
func redPrimary(payload []byte) ([]byte, bool) {
	h, r, ok := redLayout(payload)
	if !ok {
		return nil, false
	}
	return payload[h+r:], true
}

// redBlocks calls fn for each block of a RED payload until fn returns
// false: the redundant ones in the order of their headers (browsers put
// the oldest first), then the primary, whose tsOffset is 0. Blocks are
// subslices of payload capped at their length. It reports false, without
// calling fn, for a malformed payload.
func redBlocks(payload []byte, fn func(pt uint8, tsOffset uint16, block []byte) bool) bool {
	h, _, ok := redLayout(payload)
	if !ok {
		return false
	}
	data := payload[h:]
	for i := 0; i+4 <= h; i += 4 {
		n := int(payload[i+2]&0x03)<<8 | int(payload[i+3])
		ts := uint16(payload[i+1])<<6 | uint16(payload[i+2]>>2)
		if !fn(payload[i]&0x7f, ts, data[:n:n]) {
			return true
		}
		data = data[n:]
	}
	fn(payload[h-1]&0x7f, 0, data)
	return true
}
