package sfu

import (
	"testing"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// BenchmarkForwardThroughPion drives packets through the real write path of
// one subscriber: salon's forwarding, pion's interceptors (RTCP reports,
// TWCC sequence numbers), SRTP encryption and the UDP mux socket, to a pion
// subscriber over loopback. Allocations are counted process-wide, so they
// include the subscriber's receiving side: an upper bound on the server's.
func BenchmarkForwardThroughPion(b *testing.B) {
	// The subscriber runs no interceptors, so what allocates on its
	// receiving side is only pion's SRTP and buffers.
	vp := newVideoPair(b, bareClientAPI(b))
	vp.stop()
	go func() {
		buf := make([]byte, 1500)
		for {
			if _, _, err := vp.track.Read(buf); err != nil {
				return
			}
		}
	}()
	room, s := vp.room, vp.sfu
	pubs := room.Publications()
	if len(pubs) != 1 {
		b.Fatalf("%d publications", len(pubs))
	}
	p := pubs[0]
	hdr := rtp.Header{Version: 2, PayloadType: 96, SSRC: 1, Timestamp: 1}
	payload := make([]byte, 1000)
	payload[0] = 0x10
	m := s.metrics
	b.SetBytes(int64(len(payload) + 12))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		hdr.SequenceNumber = uint16(i)
		hdr.Timestamp += 90
		p.down.write(&hdr, payload, m)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/forwarded")
}

func bareClientAPI(t testing.TB) *webrtc.API {
	return newClientAPI(t, webrtc.WithInterceptorRegistry(&interceptor.Registry{}))
}
