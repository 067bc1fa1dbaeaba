package sfu

import "sync"

// maxPacketSize bounds one cached RTP packet; larger packets are forwarded but
// not cached (browsers keep packets under the path MTU, about 1200 bytes).
const maxPacketSize = 1500

// packetCache keeps the most recent packets of one published track so that
// a subscriber's NACK is answered by salon instead of asking the publisher.
// It is shared by every subscriber of the track: the payload is the same for
// all of them, only SSRC and payload type differ, and those are rewritten on
// the way out.
//
// Slots are fixed-size and allocated once, so storing a packet never
// allocates.
type packetCache struct {
	mu    sync.Mutex
	mask  uint16
	slots []cacheSlot
}

type cacheSlot struct {
	seq   uint16
	valid bool
	n     int
	buf   [maxPacketSize]byte
}

// newPacketCache returns a cache of size packets; size must be a power of two
// no larger than 32768 so that sequence numbers map onto slots without
// ambiguity.
func newPacketCache(size int) *packetCache {
	if size <= 0 || size > 1<<15 || size&(size-1) != 0 {
		panic("sfu: packet cache size must be a power of two up to 32768")
	}
	return &packetCache{mask: uint16(size - 1), slots: make([]cacheSlot, size)}
}

// store copies pkt, an RTP packet whose sequence number is seq.
func (c *packetCache) store(seq uint16, pkt []byte) {
	if len(pkt) > maxPacketSize {
		return
	}
	c.mu.Lock()
	s := &c.slots[seq&c.mask]
	s.seq = seq
	s.valid = true
	s.n = copy(s.buf[:], pkt)
	c.mu.Unlock()
}

// get copies the packet with sequence number seq into dst and returns its
// length, or 0 when the packet is no longer (or never was) in the cache.
func (c *packetCache) get(seq uint16, dst []byte) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &c.slots[seq&c.mask]
	if !s.valid || s.seq != seq || len(dst) < s.n {
		return 0
	}
	return copy(dst, s.buf[:s.n])
}
