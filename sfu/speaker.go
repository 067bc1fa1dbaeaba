package sfu

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/sdp/v3"
)

// This file detects who is speaking in a room from the audio level each
// publisher puts in its packets (RFC 6464), without decoding any audio.
// A levelMeter per audio publication accumulates levels on the packet path;
// a speakerDetector per room folds the meters on a ticker, smooths each
// participant's voice activity and applies hysteresis so that coughs and
// pauses between words do not change who is speaking.

// audioLevelURI names the header extension parseAudioLevel reads.
const audioLevelURI = sdp.AudioLevelURI

// parseAudioLevel reads the client-to-mixer audio level header extension
// (urn:ietf:params:rtp-hdrext:ssrc-audio-level, RFC 6464 §3): the V bit,
// set when the sender believes the packet holds voice, and the level in
// -dBov, from 0 (loudest) to 127 (silence). Bytes past the first are
// padding some senders add.
func parseAudioLevel(ext []byte) (level uint8, voice bool, ok bool) {
	if len(ext) == 0 {
		return 0, false, false
	}
	return ext[0] & 0x7f, ext[0]&0x80 != 0, true
}

// A window of levels is packed in one 64-bit word so that the packet path
// adds a packet with one atomic operation and the detector takes a window
// whose counts and energy agree: packets in the low 12 bits, voiced
// packets in the next 12, the energy of voiced packets in the top 40.
const (
	meterCountBits   = 12
	meterCountMax    = 1<<meterCountBits - 1
	meterEnergyShift = 2 * meterCountBits
	meterFullScale   = 1 << 24 // levelPower of 0 dBov; 4095 of them fit 40 bits
)

// levelPower[l] is the power of a level of -l dBov in units of
// 1/meterFullScale. Levels below about -72 dBov round to 0: silence.
var levelPower = func() (p [128]uint64) {
	for l := range p {
		p[l] = uint64(math.Round(meterFullScale * math.Pow(10, -float64(l)/10)))
	}
	return p
}()

// levelMeter accumulates the audio levels of one publication between two
// ticks of the speakerDetector. The packet goroutine calls observe while
// the detector's goroutine takes; neither locks nor allocates. The zero
// value is ready to use.
type levelMeter struct {
	window atomic.Uint64
}

// observe counts one packet of level -level dBov; voice is the packet's V
// bit. A window that holds meterCountMax packets (82 s of 20 ms packets,
// when nothing ticks) takes no more.
func (m *levelMeter) observe(level uint8, voice bool) {
	add := uint64(1)
	if voice {
		add += 1<<meterCountBits | levelPower[level&0x7f]<<meterEnergyShift
	}
	for {
		w := m.window.Load()
		if w&meterCountMax == meterCountMax || m.window.CompareAndSwap(w, w+add) {
			return
		}
	}
}

// levelWindow is what a meter saw since it was last taken.
type levelWindow struct {
	packets int
	voiced  int    // packets with the V bit set
	energy  uint64 // sum of levelPower over voiced packets
}

// take returns the window observed since the last take and starts a new
// one.
func (m *levelMeter) take() levelWindow {
	w := m.window.Swap(0)
	return levelWindow{
		packets: int(w & meterCountMax),
		voiced:  int(w >> meterCountBits & meterCountMax),
		energy:  w >> meterEnergyShift,
	}
}

// speakerConfig tunes the speakerDetector. Zero fields take the defaults,
// chosen for Opus at 50 packets/s with levels as browsers compute them
// (speech after automatic gain control around -20 to -35 dBov, a quiet
// room below -55).
type speakerConfig struct {
	// Interval is how often the caller ticks the detector; the detector
	// uses it as the length of the first window. Default 50 ms: two or
	// three packets per window, so the hold times below are kept to
	// within a tick.
	Interval time.Duration

	// Smoothing is the time constant of the exponential moving average of
	// each participant's voice activity score. Default 300 ms: long
	// enough to carry the score over short gaps between words, short
	// enough that a 100 ms burst lifts it only to 0.28.
	Smoothing time.Duration

	// ActiveLevel: a window counts as voice when its packets with the V
	// bit set average louder than -ActiveLevel dBov. The window's voice
	// activity is then the share of its packets with the V bit set, and
	// 0 otherwise (or when no packet came: senders using DTX send nothing
	// in silence). Default 40.
	ActiveLevel uint8

	// A participant starts speaking once the score has stayed at or above
	// StartScore for StartHold. Defaults 0.4 and 250 ms: continuous
	// speech reaches 0.4 after 150 ms, so it is announced about 400 ms
	// after the first word; a burst of noise must last about 300 ms to
	// count.
	StartScore float64
	StartHold  time.Duration

	// A speaker stops once the score has stayed below StopScore for
	// StopHold. Defaults 0.2 and 1 s: speech with pauses between words
	// keeps the score above 0.2; after the last word the score takes
	// about 0.5 s to fall below it, so a speaker stops about 1.5 s after
	// falling silent.
	StopScore float64
	StopHold  time.Duration

	// OrderMargin: among speakers, one moves ahead of another only when
	// its smoothed power is OrderMargin times higher. Default 2 (3 dB), so
	// two people talking equally loud keep their order.
	OrderMargin float64
}

func (c speakerConfig) withDefaults() speakerConfig {
	if c.Interval <= 0 {
		c.Interval = 50 * time.Millisecond
	}
	if c.Smoothing <= 0 {
		c.Smoothing = 300 * time.Millisecond
	}
	if c.ActiveLevel == 0 {
		c.ActiveLevel = 40
	}
	c.ActiveLevel = min(c.ActiveLevel, 127)
	if c.StartScore <= 0 {
		c.StartScore = 0.4
	}
	if c.StartHold <= 0 {
		c.StartHold = 250 * time.Millisecond
	}
	if c.StopScore <= 0 {
		c.StopScore = 0.2
	}
	if c.StopHold <= 0 {
		c.StopHold = time.Second
	}
	if c.OrderMargin < 1 {
		c.OrderMargin = 2
	}
	return c
}

// speakerState is one participant as the detector sees it.
type speakerState struct {
	id    string
	meter *levelMeter
	score float64 // smoothed voice activity, 0 to 1
	power float64 // smoothed mean power relative to full scale

	speaking bool
	crossing bool      // the score is past the threshold that would change speaking
	since    time.Time // when crossing began
	listed   bool      // in the detector's speaking list
}

// fold takes the participant's window and moves its score, then decides
// whether it speaks. alpha is the smoothing weight of this window.
func (s *speakerState) fold(cfg *speakerConfig, alpha float64, now time.Time) {
	w := s.meter.take()
	var activity, power float64
	if w.packets > 0 {
		power = float64(w.energy) / float64(w.packets) / meterFullScale
		if w.voiced > 0 && w.energy >= uint64(w.voiced)*levelPower[cfg.ActiveLevel] {
			activity = float64(w.voiced) / float64(w.packets)
		}
	}
	s.score += alpha * (activity - s.score)
	s.power += alpha * (power - s.power)

	past, hold := s.score >= cfg.StartScore, cfg.StartHold
	if s.speaking {
		past, hold = s.score < cfg.StopScore, cfg.StopHold
	}
	switch {
	case !past:
		s.crossing = false
	case !s.crossing:
		s.crossing, s.since = true, now
	}
	if s.crossing && now.Sub(s.since) >= hold {
		s.speaking, s.crossing = !s.speaking, false
	}
}

// speakerDetector decides who in a room is speaking. One goroutine ticks
// it; add, remove and recent may be called from others.
type speakerDetector struct {
	cfg speakerConfig

	mu        sync.Mutex
	byID      map[string]*speakerState
	recency   []*speakerState // most recently speaking first, then never heard in the order added
	speaking  []*speakerState // the last tick's speakers in announced order
	next      []*speakerState // scratch for the coming tick's speakers
	announced []string        // what tick last returned; never modified
	last      time.Time       // of the last tick
}

func newSpeakerDetector(cfg speakerConfig) *speakerDetector {
	return &speakerDetector{cfg: cfg.withDefaults(), byID: make(map[string]*speakerState)}
}

// add starts following participant id through m. Adding an id again
// replaces its meter and keeps what was learnt about it.
func (d *speakerDetector) add(id string, m *levelMeter) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s := d.byID[id]; s != nil {
		s.meter = m
		return
	}
	s := &speakerState{id: id, meter: m}
	d.byID[id] = s
	d.recency = append(d.recency, s)
}

// remove forgets participant id; if it was speaking, the next tick
// reports the change.
func (d *speakerDetector) remove(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.byID[id]
	if s == nil {
		return
	}
	delete(d.byID, id)
	d.recency = deleteState(d.recency, s)
	d.speaking = deleteState(d.speaking, s)
}

func deleteState(list []*speakerState, s *speakerState) []*speakerState {
	for i, x := range list {
		if x == s {
			copy(list[i:], list[i+1:])
			list[len(list)-1] = nil
			return list[:len(list)-1]
		}
	}
	return list
}

// tick folds every meter's window ending at now and returns who is
// speaking, loudest first. changed reports that the list differs from the
// one the previous tick returned; when it does not, the same slice is
// returned again. Returned slices are never modified. The order among
// speakers changes only when one is OrderMargin times louder than the
// one ahead of it, so equally loud speakers do not swap places each tick.
func (d *speakerDetector) tick(now time.Time) (speaking []string, changed bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	dt := d.cfg.Interval
	if e := now.Sub(d.last); !d.last.IsZero() && e > 0 {
		dt = e
	}
	d.last = now
	alpha := 1 - math.Exp(-float64(dt)/float64(d.cfg.Smoothing))
	for _, s := range d.recency {
		s.fold(&d.cfg, alpha, now)
	}

	// Those already speaking keep their order, newcomers follow loudest
	// first; then anyone clearly louder than the one ahead moves up.
	next := d.next[:0]
	for _, s := range d.speaking {
		if s.speaking {
			next = append(next, s)
		}
	}
	kept := len(next)
	for _, s := range d.recency {
		if s.speaking && !s.listed {
			next = append(next, s)
			for i := len(next) - 1; i > kept && next[i].power > next[i-1].power; i-- {
				next[i], next[i-1] = next[i-1], next[i]
			}
		}
	}
	for i := 1; i < len(next); i++ {
		for j := i; j > 0 && next[j].power > next[j-1].power*d.cfg.OrderMargin; j-- {
			next[j], next[j-1] = next[j-1], next[j]
		}
	}
	for _, s := range d.speaking {
		s.listed = false
	}
	for _, s := range next {
		s.listed = true
	}
	d.speaking, d.next = next, clear0(d.speaking)

	if sameIDs(next, d.announced) {
		return d.announced, false
	}
	d.announced = nil
	if len(next) > 0 {
		d.announced = make([]string, len(next))
	}
	// Speakers move to the front of recency, loudest first; while the
	// list does not change, the front already holds them.
	for i := len(next) - 1; i >= 0; i-- {
		d.announced[i] = next[i].id
		d.recency = moveToFront(d.recency, next[i])
	}
	return d.announced, true
}

// clear0 empties list for reuse, dropping its references.
func clear0(list []*speakerState) []*speakerState {
	clear(list)
	return list[:0]
}

func sameIDs(list []*speakerState, ids []string) bool {
	if len(list) != len(ids) {
		return false
	}
	for i, s := range list {
		if s.id != ids[i] {
			return false
		}
	}
	return true
}

func moveToFront(list []*speakerState, s *speakerState) []*speakerState {
	for i, x := range list {
		if x == s {
			copy(list[1:i+1], list[:i])
			list[0] = s
			break
		}
	}
	return list
}

// recent appends to dst every participant, the most recently speaking
// first; those never heard follow in the order they were added. It
// returns the extended slice.
func (d *speakerDetector) recent(dst []string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, s := range d.recency {
		dst = append(dst, s.id)
	}
	return dst
}
