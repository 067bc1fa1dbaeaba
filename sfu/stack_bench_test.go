package sfu

import (
	"testing"
	"time"

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
	l := pubs[0].layers[0].Load()
	var hdr rtp.Header
	pkt := benchPacket(b, 1000)
	m := s.metrics
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		pkt[2], pkt[3] = byte(i>>8), byte(i)
		l.forwardPacket(pkt, &hdr, time.Now().UnixNano(), m)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/forwarded")
}

func bareClientAPI(t testing.TB) *webrtc.API {
	return newClientAPI(t, webrtc.WithInterceptorRegistry(&interceptor.Registry{}))
}
