package sfu

import (
	"testing"

	"github.com/pion/interceptor"
)

// loopProbe stands for one of pion's ticking interceptors: it counts the
// loops it starts and the RTCP packets its reader sees.
type loopProbe struct {
	interceptor.NoOp
	loops, rtcpSeen int
}

func (p *loopProbe) BindRTCPWriter(w interceptor.RTCPWriter) interceptor.RTCPWriter {
	p.loops++
	return w
}

func (p *loopProbe) BindRTCPReader(r interceptor.RTCPReader) interceptor.RTCPReader {
	return interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		p.rtcpSeen++
		return r.Read(b, a)
	})
}

type loopProbeFactory struct{ probe *loopProbe }

func (f loopProbeFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return f.probe, nil
}

func TestLazyLoopStartsWithItsFirstStream(t *testing.T) {
	for _, local := range []bool{false, true} {
		probe := &loopProbe{}
		i, err := lazyLoop(loopProbeFactory{probe}, local).NewInterceptor("")
		if err != nil {
			t.Fatal(err)
		}
		i.BindRTCPWriter(interceptor.RTCPWriterFunc(nil))
		rtcp := i.BindRTCPReader(interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
			return len(b), a, nil
		}))
		read := func() { _, _, _ = rtcp.Read([]byte{0x80}, nil) }
		read()
		if probe.loops != 0 || probe.rtcpSeen != 0 {
			t.Fatalf("local=%v: before any stream: %d loops, %d RTCP packets seen, want none", local, probe.loops, probe.rtcpSeen)
		}
		// The stream of the other direction starts nothing.
		if local {
			i.BindRemoteStream(&interceptor.StreamInfo{}, nil)
		} else {
			i.BindLocalStream(&interceptor.StreamInfo{}, nil)
		}
		read()
		if probe.loops != 0 || probe.rtcpSeen != 0 {
			t.Fatalf("local=%v: a stream of the other direction started the loop", local)
		}
		for range 2 {
			if local {
				i.BindLocalStream(&interceptor.StreamInfo{}, nil)
			} else {
				i.BindRemoteStream(&interceptor.StreamInfo{}, nil)
			}
		}
		read()
		if probe.loops != 1 || probe.rtcpSeen != 1 {
			t.Fatalf("local=%v: after two streams: %d loops, %d RTCP packets seen, want 1 and 1", local, probe.loops, probe.rtcpSeen)
		}
	}
}
