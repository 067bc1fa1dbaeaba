package sfu

import (
	"math"
	"slices"
	"sync"
	"testing"
	"time"
)

var audioLevelCases = []struct {
	name  string
	ext   []byte
	level uint8
	voice bool
	ok    bool
}{
	{name: "empty", ext: nil},
	{name: "voice at -30 dBov", ext: []byte{0x80 | 30}, level: 30, voice: true, ok: true},
	{name: "silence", ext: []byte{127}, level: 127, ok: true},
	{name: "full scale, no voice", ext: []byte{0}, level: 0, ok: true},
	{name: "padded", ext: []byte{0x80 | 45, 0, 0}, level: 45, voice: true, ok: true},
}

func TestParseAudioLevel(t *testing.T) {
	for _, tc := range audioLevelCases {
		t.Run(tc.name, func(t *testing.T) {
			level, voice, ok := parseAudioLevel(tc.ext)
			if level != tc.level || voice != tc.voice || ok != tc.ok {
				t.Errorf("parseAudioLevel(% x) = %d, %v, %v; want %d, %v, %v",
					tc.ext, level, voice, ok, tc.level, tc.voice, tc.ok)
			}
		})
	}
}

func FuzzParseAudioLevel(f *testing.F) {
	for _, tc := range audioLevelCases {
		f.Add(tc.ext)
	}
	f.Fuzz(func(t *testing.T, ext []byte) {
		level, _, ok := parseAudioLevel(ext)
		if ok != (len(ext) > 0) || level > 127 {
			t.Fatalf("parseAudioLevel(% x): level %d, ok %v", ext, level, ok)
		}
	})
}

func TestLevelMeterWindow(t *testing.T) {
	var m levelMeter
	m.observe(0, true)
	m.observe(10, true)
	m.observe(30, false)
	m.observe(200, true) // out of range: read as 200&0x7f = 72
	w := m.take()
	want := levelWindow{packets: 4, voiced: 3, energy: levelPower[0] + levelPower[10] + levelPower[72]}
	if w != want {
		t.Errorf("window %+v, want %+v", w, want)
	}
	if w := m.take(); w != (levelWindow{}) {
		t.Errorf("second take %+v, want empty", w)
	}
}

func TestLevelMeterSaturates(t *testing.T) {
	var m levelMeter
	for range 2 * meterCountMax {
		m.observe(0, true)
	}
	w := m.take()
	want := levelWindow{packets: meterCountMax, voiced: meterCountMax, energy: meterCountMax * levelPower[0]}
	if w != want {
		t.Errorf("window %+v, want %+v", w, want)
	}
}

func TestLevelMeterConcurrentTake(t *testing.T) {
	var m levelMeter
	const n = 3000 // below meterCountMax: nothing may be dropped
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range n {
			m.observe(uint8(i%2*20), i%2 == 0)
		}
	})
	var sum levelWindow
	for range 1000 {
		w := m.take()
		sum.packets += w.packets
		sum.voiced += w.voiced
		sum.energy += w.energy
	}
	wg.Wait()
	w := m.take()
	sum.packets += w.packets
	sum.voiced += w.voiced
	sum.energy += w.energy
	want := levelWindow{packets: n, voiced: n / 2, energy: n / 2 * levelPower[0]}
	if sum != want {
		t.Errorf("windows add up to %+v, want %+v", sum, want)
	}
}

// A source says what a participant's client sends for the 20 ms packet at
// t: its level, its V bit, and whether it sends at all (DTX).
type source func(t time.Duration) (level uint8, voice, send bool)

func silence(time.Duration) (uint8, bool, bool) { return 127, false, true }
func dtx(time.Duration) (uint8, bool, bool)     { return 0, false, false }

func voiceAt(level uint8) source {
	return func(time.Duration) (uint8, bool, bool) { return level, true, true }
}

// between plays s from from until to, then rest.
func between(from, to time.Duration, s, rest source) source {
	return func(t time.Duration) (uint8, bool, bool) {
		if t >= from && t < to {
			return s(t)
		}
		return rest(t)
	}
}

// speakerSim drives a detector: every participant sends a packet every
// 20 ms, the detector ticks every cfg.Interval.
type speakerSim struct {
	t       *testing.T
	d       *speakerDetector
	ids     []string
	meters  map[string]*levelMeter
	sources map[string]source
	start   time.Time
	now     time.Duration
	ticks   int
	changes []speakerChange
}

type speakerChange struct {
	at       time.Duration
	speaking []string
}

// stopSlack is how long the smoothed score of someone who was talking
// takes to fall below StopScore, plus a tick.
const stopSlack = 700 * time.Millisecond

// forEachTick runs test with the default settings ticked at the default
// interval and at the slower one a room may choose.
func forEachTick(t *testing.T, test func(t *testing.T, cfg speakerConfig)) {
	for _, d := range []time.Duration{50 * time.Millisecond, 100 * time.Millisecond} {
		t.Run(d.String(), func(t *testing.T) { test(t, speakerConfig{Interval: d}) })
	}
}

// newSpeakerSim adds participants in order; sources alternate an id and
// its source.
func newSpeakerSim(t *testing.T, cfg speakerConfig, sources ...any) *speakerSim {
	s := &speakerSim{
		t:       t,
		d:       newSpeakerDetector(cfg),
		meters:  make(map[string]*levelMeter),
		sources: make(map[string]source),
		start:   time.Date(2025, 1, 1, 9, 0, 0, 0, time.UTC),
	}
	for i := 0; i < len(sources); i += 2 {
		id := sources[i].(string)
		s.ids = append(s.ids, id)
		s.meters[id] = &levelMeter{}
		switch src := sources[i+1].(type) {
		case source:
			s.sources[id] = src
		case func(time.Duration) (uint8, bool, bool):
			s.sources[id] = src
		}
		s.d.add(id, s.meters[id])
	}
	return s
}

// run advances the simulation until d, in steps of 10 ms.
func (s *speakerSim) run(d time.Duration) {
	const step = 10 * time.Millisecond
	for ; s.now < d; s.now += step {
		if s.now%(20*time.Millisecond) == 0 {
			for _, id := range s.ids {
				if src := s.sources[id]; src != nil {
					if level, voice, send := src(s.now); send {
						s.meters[id].observe(level, voice)
					}
				}
			}
		}
		if (s.now+step)%s.d.cfg.Interval == 0 {
			at := s.now + step
			speaking, changed := s.d.tick(s.start.Add(at))
			s.ticks++
			if changed {
				s.changes = append(s.changes, speakerChange{at, speaking})
			}
		}
	}
}

// speaking returns who the last tick announced.
func (s *speakerSim) speaking() []string {
	if len(s.changes) == 0 {
		return nil
	}
	return s.changes[len(s.changes)-1].speaking
}

// started returns when id was first announced speaking, or -1.
func (s *speakerSim) started(id string) time.Duration {
	for _, c := range s.changes {
		if slices.Contains(c.speaking, id) {
			return c.at
		}
	}
	return -1
}

// stopped returns when id was last dropped from the speakers, or -1.
func (s *speakerSim) stopped(id string) time.Duration {
	was, at := false, time.Duration(-1)
	for _, c := range s.changes {
		is := slices.Contains(c.speaking, id)
		if was && !is {
			at = c.at
		}
		was = is
	}
	return at
}

func (s *speakerSim) wantRecent(want ...string) {
	s.t.Helper()
	if got := s.d.recent(nil); !slices.Equal(got, want) {
		s.t.Errorf("at %v recent = %q, want %q", s.now, got, want)
	}
}

func (s *speakerSim) wantNoChanges() {
	s.t.Helper()
	if len(s.changes) != 0 {
		s.t.Errorf("changes %+v, want none", s.changes)
	}
}

func TestSpeakerSilence(t *testing.T) {
	forEachTick(t, func(t *testing.T, cfg speakerConfig) {
		s := newSpeakerSim(t, cfg, "a", silence, "b", dtx, "c", voiceAt(127))
		s.run(10 * time.Second)
		s.wantNoChanges()
		s.wantRecent("a", "b", "c")
	})
}

func TestSpeakerOneTalker(t *testing.T) {
	forEachTick(t, func(t *testing.T, cfg speakerConfig) {
		const from = time.Second
		s := newSpeakerSim(t, cfg, "a", silence, "b", between(from, time.Hour, voiceAt(25), silence), "c", dtx)
		s.run(5 * time.Second)
		at := s.started("b")
		cfg = s.d.cfg
		if at < from+cfg.StartHold || at > from+cfg.StartHold+4*cfg.Interval {
			t.Errorf("b announced %v after starting to talk, want within %v to %v",
				at-from, cfg.StartHold, cfg.StartHold+4*cfg.Interval)
		}
		if len(s.changes) != 1 || !slices.Equal(s.speaking(), []string{"b"}) {
			t.Errorf("changes %+v, want one to [b]", s.changes)
		}
		s.wantRecent("b", "a", "c")
	})
}

func TestSpeakerCoughIsNotSpeech(t *testing.T) {
	forEachTick(t, func(t *testing.T, cfg speakerConfig) {
		for _, start := range []time.Duration{1000, 1010, 1030, 1040} {
			start *= time.Millisecond
			s := newSpeakerSim(t, cfg, "a", between(start, start+100*time.Millisecond, voiceAt(5), silence))
			s.run(5 * time.Second)
			s.wantNoChanges()
		}
	})
}

func TestSpeakerPausingBetweenWordsKeepsSpeaking(t *testing.T) {
	forEachTick(t, func(t *testing.T, cfg speakerConfig) {
		const last = 5800 * time.Millisecond
		// Words of 300 ms, pauses of 250 ms, until the last word ends.
		words := func(t time.Duration) (uint8, bool, bool) {
			if t < last && t%(550*time.Millisecond) < 300*time.Millisecond {
				return 30, true, true
			}
			return 110, false, true
		}
		s := newSpeakerSim(t, cfg, "a", words)
		s.run(10 * time.Second)
		if len(s.changes) != 2 {
			t.Fatalf("changes %+v, want start then stop", s.changes)
		}
		cfg = s.d.cfg
		if end := s.stopped("a"); end < last+cfg.StopHold || end > last+cfg.StopHold+stopSlack {
			t.Errorf("a stopped %v after the last word, want within %v to %v",
				end-last, cfg.StopHold, cfg.StopHold+stopSlack)
		}
	})
}

func TestSpeakerAlternating(t *testing.T) {
	forEachTick(t, func(t *testing.T, cfg speakerConfig) {
		turn := func(from, to time.Duration) source {
			return between(from, to, voiceAt(30), silence)
		}
		s := newSpeakerSim(t, cfg,
			"a", turn(1*time.Second, 4*time.Second),
			"b", turn(6*time.Second, 9*time.Second),
			"c", silence,
			"d", between(11*time.Second, 14*time.Second, voiceAt(30), dtx),
			"e", dtx)
		s.run(5 * time.Second)
		s.wantRecent("a", "b", "c", "d", "e")
		s.run(10 * time.Second)
		s.wantRecent("b", "a", "c", "d", "e")
		if s.stopped("a") >= s.started("b") {
			t.Errorf("a stopped at %v, after b started at %v", s.stopped("a"), s.started("b"))
		}
		s.run(16 * time.Second)
		s.wantRecent("d", "b", "a", "c", "e")
		s.sources["a"] = turn(17*time.Second, 19*time.Second)
		s.run(18 * time.Second)
		s.wantRecent("a", "d", "b", "c", "e")
		if len(s.changes) != 7 {
			t.Errorf("changes %+v, want 7", s.changes)
		}
	})
}

func TestSpeakerBackgroundNoiseIsNotSpeech(t *testing.T) {
	forEachTick(t, func(t *testing.T, cfg speakerConfig) {
		for _, tc := range []struct {
			name  string
			noise source
		}{
			{"moderate level, V bit off", func(time.Duration) (uint8, bool, bool) { return 35, false, true }},
			{"loud, V bit off", func(time.Duration) (uint8, bool, bool) { return 10, false, true }},
			{"quiet level, V bit on", voiceAt(55)},
			{"V bit flickering on quiet hiss", func(t time.Duration) (uint8, bool, bool) {
				return 50, t%(60*time.Millisecond) == 0, true
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s := newSpeakerSim(t, cfg, "a", tc.noise, "b", silence)
				s.run(10 * time.Second)
				s.wantNoChanges()
			})
		}
	})
}

func TestSpeakerDTXIsSilence(t *testing.T) {
	forEachTick(t, func(t *testing.T, cfg speakerConfig) {
		const end = 3 * time.Second
		s := newSpeakerSim(t, cfg, "a", between(time.Second, end, voiceAt(30), dtx))
		s.run(6 * time.Second)
		cfg = s.d.cfg
		if s.started("a") < 0 {
			t.Fatal("a never spoke")
		}
		if at := s.stopped("a"); at < end+cfg.StopHold || at > end+cfg.StopHold+stopSlack {
			t.Errorf("a stopped %v after it went quiet, want within %v to %v", at-end, cfg.StopHold, cfg.StopHold+stopSlack)
		}
	})
}

func TestSpeakerRemove(t *testing.T) {
	forEachTick(t, func(t *testing.T, cfg speakerConfig) {
		s := newSpeakerSim(t, cfg, "a", voiceAt(30), "b", silence, "c", voiceAt(20))
		s.run(2 * time.Second)
		if got := s.speaking(); !slices.Equal(got, []string{"c", "a"}) {
			t.Fatalf("speaking %q, want [c a]", got)
		}
		s.d.remove("c")
		s.d.remove("nobody")
		s.run(2*time.Second + s.d.cfg.Interval)
		if got := s.speaking(); !slices.Equal(got, []string{"a"}) {
			t.Errorf("after remove, speaking %q, want [a]", got)
		}
		if c := s.changes[len(s.changes)-1]; c.at != 2*time.Second+s.d.cfg.Interval {
			t.Errorf("change at %v, want on the first tick after remove", c.at)
		}
		s.wantRecent("a", "b")

		// Removing the last speaker empties the list on the next tick.
		s.d.remove("a")
		n := len(s.changes)
		s.run(3 * time.Second)
		if len(s.changes) != n+1 || len(s.speaking()) != 0 {
			t.Errorf("changes after removing a: %+v, want one to []", s.changes[n:])
		}
		s.wantRecent("b")
	})
}

func TestSpeakerAddAgainKeepsState(t *testing.T) {
	s := newSpeakerSim(t, speakerConfig{}, "a", voiceAt(30))
	s.run(2 * time.Second)
	s.meters["a"] = &levelMeter{} // a republished its microphone
	s.d.add("a", s.meters["a"])
	s.run(4 * time.Second)
	if len(s.changes) != 1 {
		t.Errorf("changes %+v, want a announced once", s.changes)
	}
	s.wantRecent("a")
}

func TestSpeakerOrder(t *testing.T) {
	forEachTick(t, func(t *testing.T, cfg speakerConfig) {
		// a and b are as loud as each other, one level apart in turn; c is
		// much louder and joins later.
		jitter := func(phase time.Duration) source {
			return func(t time.Duration) (uint8, bool, bool) {
				if (t+phase)%(100*time.Millisecond) < 50*time.Millisecond {
					return 30, true, true
				}
				return 31, true, true
			}
		}
		s := newSpeakerSim(t, cfg, "a", jitter(0), "b", jitter(50*time.Millisecond),
			"c", between(5*time.Second, time.Hour, voiceAt(10), silence))
		s.run(4 * time.Second)
		if len(s.changes) > 2 {
			t.Errorf("%d changes for two equal speakers: %+v", len(s.changes), s.changes)
		}
		if got := s.speaking(); len(got) != 2 {
			t.Fatalf("speaking %q, want a and b", got)
		}
		s.run(8 * time.Second)
		if got := s.speaking(); len(got) != 3 || got[0] != "c" {
			t.Errorf("speaking %q, want c first", got)
		}
	})
}

func TestSpeakerTickReturnsTheSameSliceUntilChanged(t *testing.T) {
	s := newSpeakerSim(t, speakerConfig{}, "a", voiceAt(30))
	s.run(2 * time.Second)
	first := s.speaking()
	again, changed := s.d.tick(s.start.Add(s.now + s.d.cfg.Interval))
	if changed || &again[0] != &first[0] {
		t.Errorf("tick without change returned a new slice (changed %v)", changed)
	}
}

func TestSpeakerConfigDefaults(t *testing.T) {
	c := speakerConfig{ActiveLevel: 200, OrderMargin: 0.5}.withDefaults()
	if c.ActiveLevel != 127 || c.OrderMargin != 2 || c.Interval != 50*time.Millisecond {
		t.Errorf("defaults %+v", c)
	}
	if got := 10 * math.Log10(meterFullScale/float64(levelPower[40])); math.Abs(got-40) > 0.01 {
		t.Errorf("levelPower[40] is %.2f dB below full scale, want 40", got)
	}
}

func TestSpeakerPathDoesNotAllocate(t *testing.T) {
	var m levelMeter
	if allocs := testing.AllocsPerRun(1000, func() {
		if level, voice, ok := parseAudioLevel([]byte{0x80 | 30}); ok {
			m.observe(level, voice)
		}
		m.take()
	}); allocs != 0 {
		t.Errorf("observe and take: %v allocations, want 0", allocs)
	}

	s := newSpeakerSim(t, speakerConfig{}, "a", voiceAt(30), "b", voiceAt(20), "c", silence)
	s.run(2 * time.Second)
	if allocs := testing.AllocsPerRun(100, func() {
		s.run(s.now + s.d.cfg.Interval)
	}); allocs != 0 {
		t.Errorf("steady tick: %v allocations, want 0", allocs)
	}
}

func BenchmarkLevelMeterObserve(b *testing.B) {
	var m levelMeter
	var i uint8
	for b.Loop() {
		i++
		m.observe(i&0x7f, i&1 == 0)
		if i == 0 {
			m.take()
		}
	}
}

func BenchmarkSpeakerTick(b *testing.B) {
	d := newSpeakerDetector(speakerConfig{})
	meters := make([]levelMeter, 50)
	for i := range meters {
		d.add(string(rune('A'+i)), &meters[i])
	}
	now := time.Now()
	for b.Loop() {
		for i := range meters[:3] {
			meters[i].observe(uint8(20+i), true)
		}
		now = now.Add(50 * time.Millisecond)
		d.tick(now)
	}
}
