package sfu

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
)

// twccExtension stamps the transport-wide sequence number (transport-cc
// header extension) on every packet a connection sends, so the browser can
// send congestion feedback. It does what pion's twcc.HeaderExtensionInterceptor
// does without allocating a buffer per packet: it sits on the forwarding
// path of every subscriber.
//
// It also remembers when each packet left, for the connection's bandwidth
// estimator; the estimator is made when the connection first sends, so
// publish connections never pay for one.
type twccExtension struct {
	interceptor.NoOp
	next atomic.Uint32 // transport-wide: one counter per PeerConnection
	est  atomic.Pointer[estimator]
	mu   sync.Mutex
}

type twccExtensionFactory struct{ reg *bweRegistry }

func (f twccExtensionFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	t := &twccExtension{}
	if f.reg != nil {
		f.reg.built(t)
	}
	return t, nil
}

// estimator returns the connection's estimator, or nil before it sends.
func (t *twccExtension) estimator() *estimator {
	if t == nil {
		return nil
	}
	return t.est.Load()
}

// extBufs holds the two-byte payloads while a packet is marshalled; the
// header keeps only a reference until the write returns.
var extBufs = sync.Pool{New: func() any { return new([2]byte) }}

func (t *twccExtension) BindLocalStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	var id uint8
	for _, e := range info.RTPHeaderExtensions {
		if e.URI == sdp.TransportCCURI && e.ID > 0 && e.ID < 15 {
			id = uint8(e.ID)
		}
	}
	if id == 0 {
		return w
	}
	t.mu.Lock()
	est := t.est.Load()
	if est == nil {
		est = newEstimator()
		t.est.Store(est)
	}
	t.mu.Unlock()
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		seq := uint16(t.next.Add(1) - 1)
		est.sentAt(seq, h.MarshalSize()+len(payload), monoNanos())
		b := extBufs.Get().(*[2]byte)
		binary.BigEndian.PutUint16(b[:], seq)
		if err := h.SetExtension(id, b[:]); err != nil {
			extBufs.Put(b)
			return 0, err
		}
		n, err := w.Write(h, payload, a)
		// The header may be written again (a retransmission reuses it
		// only after this returns), so drop the reference before reuse.
		h.DelExtension(id)
		extBufs.Put(b)
		return n, err
	})
}

// monoEpoch and monoNanos give the send times of the estimator: only their
// differences to the receive times count, and the monotonic clock alone
// is read in half the time of time.Now (which reads the wall clock too).
var monoEpoch = time.Now()

func monoNanos() int64 { return int64(time.Since(monoEpoch)) }
