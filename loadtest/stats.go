package loadtest

import (
	"math"
	"slices"
	"time"
)

// Window phases, read by every receiving goroutine for each packet.
const (
	phaseWarmup int32 = iota // before the measurement window
	phaseWindow              // inside it
	phaseAfter               // after it
)

// seqWindow is how far back (in packets) a late packet is still matched
// with the gap it fills.
const seqWindow = 1024

// seqTracker counts the loss of one RTP stream (one SSRC) inside the
// measurement window from its sequence numbers. A packet that arrives late
// or out of order fills its gap and is not lost; a duplicate counts once.
//
// The window is a range of extended sequence numbers: it starts after the
// highest one seen before the window began and ends with the highest one
// seen when it ended. A packet of that range that arrives after the window
// (late) still counts as received. Loss is the number of sequence numbers
// of the range that never arrived.
type seqTracker struct {
	started bool
	highest int64 // extended sequence number
	bits    [seqWindow / 64]uint64

	winStart, winEnd int64 // -1 until the window begins or ends
	received         int64 // distinct packets of the window's range
	late             int64 // of those, how many arrived after a higher one
	duplicates       int64 // packets of the range seen more than once
	tooOld           int64 // packets older than seqWindow; not counted
}

func newSeqTracker() seqTracker { return seqTracker{winStart: -1, winEnd: -1} }

// observe records one packet; phase is the window phase when it was read.
// It reports whether the packet is new: not a duplicate, nor too old to
// tell.
func (t *seqTracker) observe(seq uint16, phase int32) (fresh bool) {
	if !t.started {
		t.started = true
		// Extended numbers start high, so that late packets stay positive.
		t.highest = 1<<32 + int64(seq)
		t.mark(t.highest)
		if phase >= phaseWindow {
			t.winStart = t.highest
		}
		if phase >= phaseAfter {
			t.winEnd = t.highest - 1 // joined after the window: nothing to count
		}
		if t.inWindow(t.highest) {
			t.received++
		}
		return true
	}
	if phase >= phaseWindow && t.winStart < 0 {
		t.winStart = t.highest + 1
	}
	if phase >= phaseAfter && t.winEnd < 0 {
		t.winEnd = t.highest
	}
	diff := int64(int16(seq - uint16(t.highest)))
	ext := t.highest + diff
	switch {
	case diff > 0:
		if diff >= seqWindow {
			clear(t.bits[:])
		} else {
			for s := t.highest + 1; s < ext; s++ {
				t.unmark(s)
			}
		}
		t.highest = ext
		t.mark(ext)
	case t.highest-ext >= seqWindow:
		t.tooOld++
		return false
	case t.marked(ext):
		if t.inWindow(ext) {
			t.duplicates++
		}
		return false
	default:
		t.mark(ext)
		if t.inWindow(ext) {
			t.late++
		}
	}
	if t.inWindow(ext) {
		t.received++
	}
	return true
}

func (t *seqTracker) inWindow(ext int64) bool {
	return t.winStart >= 0 && ext >= t.winStart && (t.winEnd < 0 || ext <= t.winEnd)
}

func (t *seqTracker) mark(ext int64) {
	i := uint64(ext) % seqWindow
	t.bits[i/64] |= 1 << (i % 64)
}

func (t *seqTracker) unmark(ext int64) {
	i := uint64(ext) % seqWindow
	t.bits[i/64] &^= 1 << (i % 64)
}

func (t *seqTracker) marked(ext int64) bool {
	i := uint64(ext) % seqWindow
	return t.bits[i/64]&(1<<(i%64)) != 0
}

// expected is the number of sequence numbers in the window's range; when
// the window has not ended for this stream (it went quiet), the range ends
// with the highest number seen.
func (t *seqTracker) expected() int64 {
	if t.winStart < 0 {
		return 0
	}
	end := t.winEnd
	if end < 0 {
		end = t.highest
	}
	return max(end-t.winStart+1, 0)
}

// lossCounts is the loss of one or more streams in the window.
type lossCounts struct {
	Expected   int64 `json:"expected"`
	Received   int64 `json:"received"`
	Late       int64 `json:"late"`
	Duplicates int64 `json:"duplicates"`
}

func (t *seqTracker) counts() lossCounts {
	return lossCounts{Expected: t.expected(), Received: t.received, Late: t.late, Duplicates: t.duplicates}
}

func (c *lossCounts) add(o lossCounts) {
	c.Expected += o.Expected
	c.Received += o.Received
	c.Late += o.Late
	c.Duplicates += o.Duplicates
}

// Lost is how many packets of the window never arrived.
func (c lossCounts) Lost() int64 { return max(c.Expected-c.Received, 0) }

// freezeHistory is how many inter-frame intervals the mean is taken over,
// like the 30 frames of libwebrtc's freeze detection.
const freezeHistory = 30

// freezeMinFrames is how many intervals must be known before a gap can be
// called a freeze.
const freezeMinFrames = 10

// freezeDetector finds freezes in one video track: an interval between two
// complete frames longer than max(3 × mean, mean + 150 ms), where the mean
// is over the last 30 intervals (the definition of freezeCount in the
// WebRTC statistics, w3c/webrtc-stats). Long intervals enter the mean too,
// as in libwebrtc.
type freezeDetector struct {
	last  int64 // time of the last frame, ns; 0 before the first
	prev  int64 // time of the frame before it
	gaps  [freezeHistory]int64
	n, i  int
	sum   int64
	count int
	total int64 // ns
}

// frame records a complete frame at now (ns since any fixed origin, > 0).
// A freeze that ends at this frame is counted only when measure is set,
// and only its part after from (the start of the measurement window).
func (f *freezeDetector) frame(now int64, measure bool, from int64) bool {
	if f.last == 0 {
		f.last = now
		return false
	}
	gap := now - f.last
	f.prev, f.last = f.last, now
	froze := false
	if f.n >= freezeMinFrames {
		mean := f.sum / int64(f.n)
		if gap > max(3*mean, mean+int64(150*time.Millisecond)) && measure {
			f.count++
			f.total += min(gap, now-from)
			froze = true
		}
	}
	if f.n == freezeHistory {
		f.sum -= f.gaps[f.i]
	} else {
		f.n++
	}
	f.gaps[f.i] = gap
	f.sum += gap
	f.i = (f.i + 1) % freezeHistory
	return froze
}

// percentiles returns the p-th percentiles (nearest rank) of values, which
// it sorts; NaN when there are none.
func percentiles(values []float64, ps ...float64) []float64 {
	out := make([]float64, len(ps))
	slices.Sort(values)
	for i, p := range ps {
		if len(values) == 0 {
			out[i] = math.NaN()
			continue
		}
		rank := int(math.Ceil(p / 100 * float64(len(values))))
		out[i] = values[min(max(rank-1, 0), len(values)-1)]
	}
	return out
}
