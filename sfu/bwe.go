package sfu

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
)

// Bandwidth estimation for what salon sends to one subscriber.
//
// Every packet on a subscribe connection carries a transport-wide sequence
// number (twccExtension), and the estimator remembers when it was sent and
// how large it was. The browser's transport-cc feedback says which packets
// arrived and when. From it the estimator derives, per feedback:
//
//   - loss: the share of packets reported missing;
//   - queueing delay: one-way delay above the lowest seen in the last ten
//     seconds (the clocks differ, the baseline cancels the offset);
//   - the acknowledged rate: bytes that arrived per second.
//
// It then moves the estimate the way send-side congestion controllers do:
// down to 85 % of the acknowledged rate when the queue grows over three
// reports in a row (or passes 300 ms), down by half the loss rate when
// loss passes 10 % over a second or a hundred packets, held between 2 and
// 10 % loss, up by 10 % a second while the path is clean, slowly near the rate
// that last congested it, and never above twice the acknowledged rate (plus
// headroom) so that it only grows as fast as salon can prove the path: the
// allocator upgrades a layer when the estimate allows it, which sends more
// and is itself the probe.

const (
	bweInitial = 1_000_000   // bits/s before any feedback
	bweMin     = 100_000     // never below: audio must get through
	bweMax     = 100_000_000 // nobody's downlink needs more from one SFU
	sendRing   = 1024        // packets remembered; feedback comes every 50–100 ms
)

// sentPacket is what is remembered of one packet sent on a connection.
type sentPacket struct {
	at   atomic.Int64  // unix nanoseconds
	meta atomic.Uint32 // transport-wide sequence number << 16 | size
}

// estimator is one subscribe connection's bandwidth estimate.
type estimator struct {
	sent [sendRing]sentPacket

	mu         sync.Mutex
	est        float64
	baseline   []delaySample // (time, minimum one-way delay) per second
	lastDrop   time.Time
	lastRaise  time.Time
	congested  float64 // rate at the last congestion
	congestAt  time.Time
	ackBytes   int
	ackFrom    time.Time
	acked      float64 // bits/s, smoothed
	seenFb     [256]time.Time
	lastQueue  time.Duration
	growing    int // reports in a row with a growing queue
	offset     int64
	haveOffset bool
	winLost    int
	winTotal   int
	winFrom    time.Time

	// A probe: salon sends extra (duplicate) packets up to probeTarget
	// until probeEnd; if the path shows no congestion meanwhile, the
	// estimate jumps to that rate.
	probeTarget  float64
	probeEnd     time.Time
	nextProbe    time.Time
	probeBackoff time.Duration
	lastLoss     float64
	lastUpdate   time.Time
}

type delaySample struct {
	at    time.Time
	delay time.Duration
}

func newEstimator() *estimator {
	return &estimator{est: bweInitial}
}

// sentAt records a packet leaving salon; called on the forwarding path.
func (e *estimator) sentAt(seq uint16, size int, now int64) {
	s := &e.sent[int(seq)%sendRing]
	s.at.Store(now)
	s.meta.Store(uint32(seq)<<16 | uint32(min(size, 0xffff)))
}

// estimate is the current estimate in bits per second.
func (e *estimator) estimate() float64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.est
}

// starved is called when salon sends a subscriber nothing it could get
// feedback on (every video paused for bandwidth, no audio): without
// packets there is no feedback and the estimate would never move again.
// After two silent seconds it grows a quarter a second, so the lowest
// layer is tried again and real feedback takes over.
func (e *estimator) starved(now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.lastUpdate.IsZero() || now.Sub(e.lastUpdate) < 2*time.Second || now.Sub(e.lastRaise) < time.Second {
		return
	}
	e.est = min(e.est*1.25, bweMax)
	e.lastRaise = now
}

// feedback folds one transport-cc feedback packet into the estimate.
func (e *estimator) feedback(fb *rtcp.TransportLayerCC, now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	// A compound RTCP packet reaches the reader of every SSRC it names, so
	// one feedback can arrive more than once.
	if now.Sub(e.seenFb[fb.FbPktCount]) < 2*time.Second {
		return
	}
	e.seenFb[fb.FbPktCount] = now

	recv := int64(fb.ReferenceTime) * 64 * int64(time.Millisecond)
	seq := fb.BaseSequenceNumber
	deltas := fb.RecvDeltas
	var (
		received, lost int
		bytes          int
		firstRecv      int64
		lastRecv       int64
		minDelay       = time.Duration(math.MaxInt64)
		sumDelay       time.Duration
	)
	status := func(sym uint16) {
		defer func() { seq++ }()
		if sym == rtcp.TypeTCCPacketNotReceived {
			lost++
			return
		}
		if sym != rtcp.TypeTCCPacketReceivedSmallDelta && sym != rtcp.TypeTCCPacketReceivedLargeDelta {
			return
		}
		if len(deltas) == 0 {
			return
		}
		recv += deltas[0].Delta * int64(time.Microsecond)
		deltas = deltas[1:]
		s := &e.sent[int(seq)%sendRing]
		meta := s.meta.Load()
		if uint16(meta>>16) != seq {
			return // too old: no longer remembered
		}
		received++
		bytes += int(meta & 0xffff)
		if firstRecv == 0 {
			firstRecv = recv
		}
		lastRecv = recv
		// The receive clock is unrelated to salon's: delays are kept
		// relative to the first one seen, so the sums cannot overflow.
		raw := recv - s.at.Load()
		if !e.haveOffset {
			e.offset, e.haveOffset = raw, true
		}
		d := time.Duration(raw - e.offset)
		minDelay = min(minDelay, d)
		sumDelay += d
	}
	remaining := int(fb.PacketStatusCount)
	for _, chunk := range fb.PacketChunks {
		switch c := chunk.(type) {
		case *rtcp.RunLengthChunk:
			for i := 0; i < int(c.RunLength) && remaining > 0; i++ {
				status(c.PacketStatusSymbol)
				remaining--
			}
		case *rtcp.StatusVectorChunk:
			for _, sym := range c.SymbolList {
				if remaining == 0 {
					break
				}
				if c.SymbolSize == rtcp.TypeTCCSymbolSizeOneBit && sym == 1 {
					sym = rtcp.TypeTCCPacketReceivedSmallDelta
				}
				status(sym)
				remaining--
			}
		}
	}
	if received == 0 && lost == 0 {
		return
	}
	e.update(now, received, lost, bytes, firstRecv, lastRecv, minDelay, sumDelay)
}

func (e *estimator) update(now time.Time, received, lost, bytes int, firstRecv, lastRecv int64,
	minDelay, sumDelay time.Duration) {
	// Loss is judged over at least 100 packets or a second: one lost
	// packet in a report of six is not 17 % loss.
	e.winLost += lost
	e.winTotal += received + lost
	if e.winFrom.IsZero() {
		e.winFrom = now
	}
	lossFresh := false
	if e.winTotal >= 100 || now.Sub(e.winFrom) >= time.Second {
		e.lastLoss = float64(e.winLost) / float64(e.winTotal)
		e.winLost, e.winTotal, e.winFrom = 0, 0, now
		lossFresh = true
	}
	loss := e.lastLoss

	// The acknowledged rate over windows of at least half a second.
	e.ackBytes += bytes
	if e.ackFrom.IsZero() {
		e.ackFrom = now
	}
	if span := now.Sub(e.ackFrom); span >= 500*time.Millisecond {
		rate := float64(e.ackBytes) * 8 / span.Seconds()
		if e.acked == 0 {
			e.acked = rate
		} else {
			e.acked = 0.6*e.acked + 0.4*rate
		}
		e.ackBytes, e.ackFrom = 0, now
	}

	// Queueing delay against the lowest delay of the last ten seconds.
	var queue time.Duration
	if received > 0 {
		second := now.Truncate(time.Second)
		if n := len(e.baseline); n > 0 && e.baseline[n-1].at.Equal(second) {
			e.baseline[n-1].delay = min(e.baseline[n-1].delay, minDelay)
		} else {
			e.baseline = append(e.baseline, delaySample{at: second, delay: minDelay})
		}
		for len(e.baseline) > 10 && now.Sub(e.baseline[0].at) > 10*time.Second {
			e.baseline = e.baseline[1:]
		}
		base := e.baseline[0].delay
		for _, s := range e.baseline[1:] {
			base = min(base, s.delay)
		}
		queue = sumDelay/time.Duration(received) - base
	}
	// One late report is scheduling noise; a queue that keeps growing
	// over several is a bottleneck filling up.
	if queue > e.lastQueue+2*time.Millisecond && queue > 60*time.Millisecond {
		e.growing++
	} else if queue < e.lastQueue {
		e.growing = 0
	}
	e.lastQueue = queue

	dt := now.Sub(e.lastUpdate)
	if e.lastUpdate.IsZero() || dt > time.Second {
		dt = 100 * time.Millisecond
	}
	e.lastUpdate = now

	delayed := queue > 300*time.Millisecond || e.growing >= 3
	lossy := lossFresh && loss > 0.1
	congested := delayed || lossy
	if e.probeTarget > 0 {
		switch {
		case congested:
			e.probeBackoff = min(2*e.probeBackoff, probeMaxBackoff)
			e.nextProbe = now.Add(e.probeBackoff)
			e.probeTarget = 0
		case now.After(e.probeEnd.Add(probeSettle)):
			e.est = min(max(e.est, 0.9*e.probeTarget), bweMax)
			e.probeBackoff = probeMinBackoff
			e.nextProbe = now.Add(e.probeBackoff)
			e.probeTarget = 0
			return
		}
	}
	switch {
	case congested:
		// Congestion: back off at most once per 300 ms, to what got
		// through.
		if now.Sub(e.lastDrop) < 300*time.Millisecond {
			return
		}
		e.lastDrop = now
		e.congested, e.congestAt = e.est, now
		// A filling queue: what got through is what the path carries.
		// Loss alone (a lossy radio link drops without queueing): back off
		// by half the loss rate.
		target := e.est * (1 - 0.5*loss)
		if delayed && e.acked > 0 {
			target = min(e.est, 0.85*e.acked)
		}
		e.est = max(target, bweMin)
	case loss > 0.02:
		// Between 2 and 10 % loss: hold.
	case queue < 25*time.Millisecond:
		if now.Sub(e.lastDrop) < time.Second {
			return // let the queue drain first
		}
		grow := 1 + 0.1*dt.Seconds()
		next := e.est * grow
		// Near the rate that congested the path lately, creep.
		if !e.congestAt.IsZero() && now.Sub(e.congestAt) < 10*time.Second && next > 0.9*e.congested {
			next = e.est + 20_000*dt.Seconds()
		}
		// Grow only within reach of what the path has carried.
		if e.acked > 0 {
			next = min(next, max(e.est, 2*e.acked+300_000))
		}
		e.est = min(next, bweMax)
		e.lastRaise = now
	}
}

const (
	probeLength     = 700 * time.Millisecond
	probeSettle     = 400 * time.Millisecond // feedback about the probe's last packets
	probeMinBackoff = 2 * time.Second
	probeMaxBackoff = 8 * time.Second
)

// startProbe decides whether to probe for target bits/s now: when the
// allocator wants more than the estimate, no probe runs, and the last
// failed probe's back-off has passed. It returns how much extra to send
// and for how long.
func (e *estimator) startProbe(target float64, now time.Time) (extra float64, d time.Duration, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.probeTarget > 0 || now.Before(e.nextProbe) || target <= e.est || e.lastUpdate.IsZero() {
		return 0, 0, false
	}
	if e.probeBackoff == 0 {
		e.probeBackoff = probeMinBackoff
	}
	// Never more than two and a half times the estimate at once.
	target = min(target, 2.5*e.est, bweMax)
	e.probeTarget, e.probeEnd = target, now.Add(probeLength)
	e.nextProbe = now.Add(probeLength + probeSettle + e.probeBackoff)
	return target - e.est, probeLength, true
}

// bweRegistry hands each new connection's transport-wide sequence stamper
// to the peer that owns the connection: the interceptor registry builds it
// inside NewPeerConnection, which the SFU calls under mu.
type bweRegistry struct {
	mu   sync.Mutex
	last *twccExtension
}

func (r *bweRegistry) built(t *twccExtension) { r.last = t }

// newConnection runs create (a NewPeerConnection call) and returns the
// stamper built for it.
func (r *bweRegistry) newConnection(create func() error) (*twccExtension, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last = nil
	err := create()
	return r.last, err
}
