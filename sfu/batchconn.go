package sfu

import (
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// batchConn is a media socket whose writes are sent in batches.
//
// A packet written to a subscriber is copied into a ring and the call
// returns; one goroutine per socket sends what has queued with a single
// sendmmsg(2) for up to batchSize packets. On a busy server the syscall
// and its entry costs are shared by many packets, which is most of what
// forwarding one packet costs (measured: half the CPU went to sendto).
// When the server is idle, a batch is one packet and nothing waits.
//
// Reads pass straight through. pion's UDP mux uses the AddrPort methods,
// which allocate nothing.
type batchConn struct {
	*net.UDPConn
	w batchWriter

	mu    sync.Mutex
	slots []batchSlot
	head  int // first queued slot
	n     int // queued slots, including those being sent
	wake  chan struct{}
	done  chan struct{}
	once  sync.Once

	// loss is the share of SRTP and SRTCP packets dropped on purpose in
	// each direction, in 1/65536 (Config.SimulateLoss); 0 drops none.
	loss uint32
}

type batchSlot struct {
	buf [maxPacketSize]byte
	len int
	to  netip.AddrPort
}

// batchWriter sends queued slots in one system call where the platform
// has one. write sends a prefix of slots and returns how many went; an
// error concerns slots[n], the first one not sent.
type batchWriter interface {
	write(slots []*batchSlot) (n int, err error)
}

const (
	batchRing = 1024 // packets queued before writers send themselves
	batchSize = 64   // packets per sendmmsg
)

func newBatchConn(c *net.UDPConn, loss float64) *batchConn {
	b := &batchConn{
		loss:    uint32(min(max(loss, 0), 0.5) * 65536),
		UDPConn: c,
		slots:   make([]batchSlot, batchRing),
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		w:       newBatchWriter(c),
	}
	go b.flush()
	return b
}

// ReadFromAddrPort reads one datagram (pion's AddrPortReaderWriter).
func (b *batchConn) ReadFromAddrPort(p []byte) (int, netip.AddrPort, error) {
	for {
		n, from, err := b.UDPConn.ReadFromUDPAddrPort(p)
		if err != nil || !b.drop(p[:n]) {
			return n, from, err
		}
	}
}

// drop tells whether to lose this packet on purpose: media only (RFC 7983:
// first byte 128 to 191), so that ICE and DTLS still connect as usual.
func (b *batchConn) drop(p []byte) bool {
	return b.loss != 0 && len(p) > 0 && p[0] >= 128 && p[0] <= 191 && rand.Uint32N(65536) < b.loss
}

// WriteToAddrPort queues one datagram; it is sent with the next batch.
func (b *batchConn) WriteToAddrPort(p []byte, addr netip.AddrPort) (int, error) {
	if b.drop(p) {
		return len(p), nil
	}
	if len(p) > maxPacketSize {
		return b.UDPConn.WriteToUDPAddrPort(p, addr)
	}
	b.mu.Lock()
	if b.n == len(b.slots) {
		// The sender is behind by a whole ring: send this one now.
		b.mu.Unlock()
		return b.UDPConn.WriteToUDPAddrPort(p, addr)
	}
	s := &b.slots[(b.head+b.n)%len(b.slots)]
	s.len = copy(s.buf[:], p)
	s.to = addr
	b.n++
	first := b.n == 1
	b.mu.Unlock()
	if first {
		select {
		case b.wake <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

// flush sends queued packets until the socket closes.
func (b *batchConn) flush() {
	var batch [batchSize]*batchSlot
	for {
		select {
		case <-b.done:
			return
		case <-b.wake:
		}
		for {
			b.mu.Lock()
			k := min(b.n, batchSize, len(b.slots)-b.head)
			head := b.head
			b.mu.Unlock()
			if k == 0 {
				break
			}
			for i := 0; i < k; i++ {
				batch[i] = &b.slots[head+i]
			}
			sent := 0
			for sent < k {
				n, err := b.w.write(batch[sent:k])
				if err != nil {
					if errors.Is(err, net.ErrClosed) {
						return
					}
					// One bad destination must not stall the rest: skip it.
					n = max(n, 1)
				}
				sent += n
			}
			b.mu.Lock()
			b.head = (b.head + k) % len(b.slots)
			b.n -= k
			more := b.n > 0
			b.mu.Unlock()
			if !more {
				break
			}
		}
	}
}

func (b *batchConn) Close() error {
	b.once.Do(func() { close(b.done) })
	return b.UDPConn.Close()
}

// xnetWriter sends with golang.org/x/net's WriteBatch: sendmmsg(2) where
// the platform has it, one write per packet elsewhere.
type xnetWriter struct {
	batch func([]ipv4.Message) (int, error)
	msgs  []ipv4.Message
	addrs []net.UDPAddr
}

func newXnetWriter(c *net.UDPConn) *xnetWriter {
	w := &xnetWriter{msgs: make([]ipv4.Message, batchSize), addrs: make([]net.UDPAddr, batchSize)}
	for i := range w.msgs {
		w.msgs[i].Buffers = make([][]byte, 1)
		w.addrs[i].IP = make(net.IP, 16)
	}
	if la, ok := c.LocalAddr().(*net.UDPAddr); ok && la.IP.To4() == nil && la.IP != nil {
		pc := ipv6.NewPacketConn(c)
		w.batch = func(ms []ipv4.Message) (int, error) { return pc.WriteBatch(ms, 0) }
	} else {
		pc := ipv4.NewPacketConn(c)
		w.batch = func(ms []ipv4.Message) (int, error) { return pc.WriteBatch(ms, 0) }
	}
	return w
}

func (w *xnetWriter) write(slots []*batchSlot) (int, error) {
	for i, s := range slots {
		a := &w.addrs[i]
		ip := s.to.Addr().Unmap()
		if ip.Is4() {
			v := ip.As4()
			a.IP = append(a.IP[:0], v[:]...)
		} else {
			v := ip.As16()
			a.IP = append(a.IP[:0], v[:]...)
		}
		a.Port = int(s.to.Port())
		w.msgs[i].Buffers[0] = s.buf[:s.len]
		w.msgs[i].Addr = a
	}
	return w.batch(w.msgs[:len(slots)])
}
