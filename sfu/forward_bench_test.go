package sfu

import (
	"fmt"
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// discardWriter stands in for a subscriber's SRTP stream.
type discardWriter struct{ n int }

func (w *discardWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	w.n++
	return h.MarshalSize() + len(payload), nil
}
func (w *discardWriter) Write(b []byte) (int, error) { w.n++; return len(b), nil }

func benchPublication(subscribers int) *Publication {
	p := &Publication{kind: webrtc.RTPCodecTypeVideo, clock: 90000, vp8: true, stopped: make(chan struct{})}
	p.layers[0].Store(&layer{pub: p, cache: newPacketCache(256)})
	p.down = &downTrack{kind: webrtc.RTPCodecTypeVideo, pub: p}
	bs := make([]*binding, subscribers)
	for i := range bs {
		bs[i] = newBinding(fmt.Sprint(i), uint32(1000+i), 96, &discardWriter{}, false)
		bs[i].target.Store(0)
	}
	p.down.bindings.Store(&bs)
	return p
}

// benchPacket is a marshalled VP8 keyframe packet with one header
// extension, as a browser sends it.
func benchPacket(tb testing.TB, size int) []byte {
	in := &rtp.Packet{
		Header:  rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: 1, Timestamp: 1, SSRC: 42},
		Payload: vp8Packet(1, true, 640, 360, size, 0),
	}
	if err := in.SetExtension(3, []byte{1, 2, 3}); err != nil {
		tb.Fatal(err)
	}
	pkt, err := in.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	return pkt
}

// BenchmarkForwardPacket measures salon's own forwarding work for one
// incoming RTP packet: parse, cache, rewrite and hand to each subscriber's
// writer (SRTP and the socket are excluded). ns/op divided by the number of
// subscribers is the cost per forwarded packet.
func BenchmarkForwardPacket(b *testing.B) {
	for _, subs := range []int{1, 10, 40} {
		b.Run(fmt.Sprintf("subscribers=%d", subs), func(b *testing.B) {
			p := benchPublication(subs)
			m := newMetrics(nil)
			pkt := benchPacket(b, 1100)
			l := p.layers[0].Load()
			var hdr rtp.Header
			b.SetBytes(int64(len(pkt)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				pkt[2], pkt[3] = byte(i>>8), byte(i)
				l.forwardPacket(pkt, &hdr, int64(i), m)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*subs), "ns/forwarded")
		})
	}
}

func TestForwardPathDoesNotAllocate(t *testing.T) {
	p := benchPublication(3)
	m := newMetrics(nil)
	pkt := benchPacket(t, 900)
	l := p.layers[0].Load()
	var hdr rtp.Header
	l.forwardPacket(pkt, &hdr, 1, m)
	allocs := testing.AllocsPerRun(200, func() {
		pkt[3]++
		l.forwardPacket(pkt, &hdr, 1, m)
	})
	if allocs != 0 {
		t.Fatalf("forwarding allocates %.1f times per packet", allocs)
	}
	for _, b := range *p.down.bindings.Load() {
		if got := b.writer.(*discardWriter).n; got != 202 {
			t.Errorf("subscriber %s got %d packets, want 202", b.id, got)
		}
	}
}
