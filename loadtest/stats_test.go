package loadtest

import (
	"math"
	"testing"
	"time"
)

func TestPercentiles(t *testing.T) {
	var hundred []float64
	for i := 100; i >= 1; i-- {
		hundred = append(hundred, float64(i))
	}
	for _, tc := range []struct {
		name   string
		values []float64
		ps     []float64
		want   []float64
	}{
		{"one to a hundred", hundred, []float64{50, 95, 99, 100}, []float64{50, 95, 99, 100}},
		{"one value", []float64{7}, []float64{50, 99}, []float64{7, 7}},
		{"two values", []float64{9, 1}, []float64{50, 51, 100}, []float64{1, 9, 9}},
		{"three values", []float64{3, 1, 2}, []float64{0, 34, 95}, []float64{1, 2, 3}},
	} {
		got := percentiles(tc.values, tc.ps...)
		for i := range tc.want {
			if got[i] != tc.want[i] {
				t.Errorf("%s: p%v = %v, want %v", tc.name, tc.ps[i], got[i], tc.want[i])
			}
		}
	}
	if got := percentiles(nil, 50); !math.IsNaN(got[0]) {
		t.Errorf("no values: %v, want NaN", got[0])
	}
}

// feed sends sequence numbers through a tracker: the first warm-up ones
// before the window, window ones inside it, after ones after it.
func feed(warmup, window, after []uint16) lossCounts {
	s := newSeqTracker()
	for _, q := range warmup {
		s.observe(q, phaseWarmup)
	}
	for _, q := range window {
		s.observe(q, phaseWindow)
	}
	for _, q := range after {
		s.observe(q, phaseAfter)
	}
	return s.counts()
}

func seqRange(from, to uint16) []uint16 {
	var out []uint16
	for q := from; ; q++ {
		out = append(out, q)
		if q == to {
			return out
		}
	}
}

func TestSeqTrackerLoss(t *testing.T) {
	cat := func(parts ...[]uint16) []uint16 {
		var out []uint16
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	for _, tc := range []struct {
		name                  string
		warmup, window, after []uint16
		expected, lost        int64
		late, duplicates      int64
	}{
		{"in order", seqRange(1, 10), seqRange(11, 110), seqRange(111, 120), 100, 0, 0, 0},
		{"a gap", seqRange(1, 10), cat(seqRange(11, 50), seqRange(53, 110)), nil, 100, 2, 0, 0},
		{"reordered", nil, []uint16{1, 2, 4, 3, 5, 7, 6, 8}, nil, 8, 0, 2, 0},
		{"duplicates do not hide a loss", nil, []uint16{1, 2, 2, 2, 4, 5}, nil, 5, 1, 0, 2},
		{"late after the window counts", seqRange(1, 5), []uint16{6, 7, 9, 10}, []uint16{8, 11, 12}, 5, 0, 1, 0},
		{"loss before the window is not counted", []uint16{1, 2, 5, 6}, seqRange(7, 20), nil, 14, 0, 0, 0},
		{"loss after the window is not counted", nil, seqRange(1, 20), []uint16{25, 30}, 20, 0, 0, 0},
		{"wrapping around", seqRange(65530, 65534), cat(seqRange(65535, 65535), seqRange(1, 9)), nil, 11, 1, 0, 0},
		{"a packet from before the window arrives in it", seqRange(1, 5), []uint16{7, 6, 8}, nil, 3, 0, 1, 0},
		{"too old to place", nil, cat(seqRange(2000, 3100), []uint16{1000}), nil, 1101, 0, 0, 0},
		{"joined during the window", nil, nil, nil, 0, 0, 0, 0},
	} {
		got := feed(tc.warmup, tc.window, tc.after)
		if got.Expected != tc.expected || got.Lost() != tc.lost || got.Late != tc.late || got.Duplicates != tc.duplicates {
			t.Errorf("%s: expected %d lost %d late %d duplicates %d, want %d %d %d %d", tc.name,
				got.Expected, got.Lost(), got.Late, got.Duplicates, tc.expected, tc.lost, tc.late, tc.duplicates)
		}
	}
}

func TestSeqTrackerFirstPacketInWindow(t *testing.T) {
	s := newSeqTracker()
	for _, q := range []uint16{100, 101, 103} {
		s.observe(q, phaseWindow)
	}
	if c := s.counts(); c.Expected != 4 || c.Lost() != 1 {
		t.Errorf("%+v, want 4 expected and 1 lost", c)
	}
	late := newSeqTracker()
	late.observe(500, phaseAfter)
	late.observe(501, phaseAfter)
	if c := late.counts(); c.Expected != 0 || c.Received != 0 {
		t.Errorf("a stream that began after the window: %+v", c)
	}
}

func TestLossCountsAdd(t *testing.T) {
	a := lossCounts{Expected: 10, Received: 9, Late: 1}
	a.add(lossCounts{Expected: 5, Received: 5, Duplicates: 2})
	if a != (lossCounts{Expected: 15, Received: 14, Late: 1, Duplicates: 2}) || a.Lost() != 1 {
		t.Errorf("%+v", a)
	}
}

func TestFreezeDetector(t *testing.T) {
	const frame = int64(33 * time.Millisecond)
	run := func(gaps []int64, measure bool) freezeDetector {
		var f freezeDetector
		now := int64(time.Second)
		f.frame(now, measure, 0)
		for _, g := range gaps {
			now += g
			f.frame(now, measure, 0)
		}
		return f
	}
	steady := func(n int) []int64 {
		out := make([]int64, n)
		for i := range out {
			out[i] = frame
		}
		return out
	}
	with := func(gap int64) []int64 { return append(append(steady(40), gap), steady(40)...) }
	for _, tc := range []struct {
		name    string
		gaps    []int64
		measure bool
		count   int
		total   time.Duration
	}{
		{"steady 30 fps", steady(200), true, 0, 0},
		{"a 300 ms gap", with(int64(300 * time.Millisecond)), true, 1, 300 * time.Millisecond},
		// At 33 ms frames the threshold is max(99 ms, 183 ms).
		{"150 ms is no freeze", with(int64(150 * time.Millisecond)), true, 0, 0},
		{"200 ms is a freeze", with(int64(200 * time.Millisecond)), true, 1, 200 * time.Millisecond},
		{"outside the window", with(int64(time.Second)), false, 0, 0},
		{"too early to tell", append(steady(3), int64(time.Second)), true, 0, 0},
		{"two freezes", append(with(int64(400*time.Millisecond)), with(int64(500*time.Millisecond))...), true, 2, 900 * time.Millisecond},
	} {
		f := run(tc.gaps, tc.measure)
		if f.count != tc.count || time.Duration(f.total) != tc.total {
			t.Errorf("%s: %d freezes, %v in all; want %d, %v", tc.name, f.count, time.Duration(f.total), tc.count, tc.total)
		}
	}
	// A freeze that began before the window counts from the window's start.
	var f freezeDetector
	now := int64(time.Second)
	for range 20 {
		now += frame
		f.frame(now, false, 0)
	}
	windowStart := now + int64(100*time.Millisecond)
	now += int64(time.Second)
	if !f.frame(now, true, windowStart) || time.Duration(f.total) != 900*time.Millisecond {
		t.Errorf("a 1 s freeze of which 900 ms in the window: %v", time.Duration(f.total))
	}

	// At 5 fps (200 ms frames) the threshold is three frames: 600 ms.
	slow := make([]int64, 20)
	for i := range slow {
		slow[i] = int64(200 * time.Millisecond)
	}
	if f := run(append(slow, int64(500*time.Millisecond)), true); f.count != 0 {
		t.Errorf("500 ms at 5 fps counted as a freeze")
	}
	if f := run(append(slow, int64(700*time.Millisecond)), true); f.count != 1 {
		t.Errorf("700 ms at 5 fps not counted as a freeze")
	}
}
