package sfu

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
)

// View is how a subscriber shows one of the tracks it receives: the size
// of its tile in device pixels (0 when unknown) and whether it is on
// screen at all.
type View struct {
	Participant string `json:"participant"`
	Source      string `json:"source"`
	Width       int    `json:"width"`
	Height      int    `json:"height"`
	Visible     bool   `json:"visible"`
}

// maxViews bounds one SetView call: a page shows far fewer tiles.
const maxViews = 256

// ErrBadView is returned for a view with impossible values.
var ErrBadView = errors.New("sfu: bad view")

// SetView records how the subscriber shows tracks; tracks it never
// described are treated as visible at an unknown size. Hidden tracks
// receive nothing, and each visible one gets the smallest layer that
// fills its tile, as the subscriber's bandwidth allows.
func (p *Peer) SetView(views []View) error {
	if len(views) > maxViews {
		return fmt.Errorf("%w: %d tracks, at most %d", ErrBadView, len(views), maxViews)
	}
	for _, v := range views {
		if v.Width < 0 || v.Height < 0 || v.Width > 16384 || v.Height > 16384 {
			return fmt.Errorf("%w: size %dx%d", ErrBadView, v.Width, v.Height)
		}
		if !validSources[v.Source] || v.Participant == "" || len(v.Participant) > 128 {
			return fmt.Errorf("%w: track %q/%q", ErrBadView, v.Participant, v.Source)
		}
	}
	p.alloc.mu.Lock()
	if p.alloc.views == nil {
		p.alloc.views = map[TrackRef]View{}
	}
	for _, v := range views {
		p.alloc.views[TrackRef{Participant: v.Participant, Source: v.Source}] = v
	}
	// Forget views of tracks that are gone, so the map stays small.
	if len(p.alloc.views) > maxViews {
		clear(p.alloc.views)
		for _, v := range views {
			p.alloc.views[TrackRef{Participant: v.Participant, Source: v.Source}] = v
		}
	}
	p.alloc.mu.Unlock()
	p.room.kick()
	return nil
}

// allocation is a subscriber's side of layer selection: which
// publications it receives (by the SSRC of its binding) and how it shows
// them. It is written by the peer's operation goroutine and SetView, and
// read by the room's tick.
type allocation struct {
	mu    sync.Mutex
	subs  map[*Publication]uint32
	views map[TrackRef]View
	// paused is what the last allocation paused, and why, so changes can
	// be reported to the subscriber.
	paused map[TrackRef]string
}

func (a *allocation) add(pub *Publication, ssrc uint32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.subs == nil {
		a.subs = map[*Publication]uint32{}
	}
	a.subs[pub] = ssrc
}

func (a *allocation) remove(pub *Publication) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.subs, pub)
}

// Pause reasons reported to the subscriber.
const (
	PausedHidden    = "hidden"
	PausedLastN     = "last-n"
	PausedBandwidth = "bandwidth"
)

// nominalRate is the bitrate assumed for a layer that has not been
// measured yet, by index.
var nominalRate = [maxLayers]float64{150e3, 500e3, 1.5e6}

// layerRate is the layer's measured bitrate, or a nominal one.
func (p *Publication) layerRate(idx int) float64 {
	if l := p.layers[idx].Load(); l != nil {
		if r := l.rate.Load(); r > 0 {
			return float64(r)
		}
	}
	if p.kind == webrtc.RTPCodecTypeAudio {
		return 40e3
	}
	if !p.simulcast {
		return 1e6
	}
	return nominalRate[idx]
}

// layerHeight is the height of a layer's frames: as last seen in a
// keyframe, else derived from another layer, else assumed for a 720p
// camera.
func (p *Publication) layerHeight(idx int) (w, h int) {
	if l := p.layers[idx].Load(); l != nil && l.height.Load() > 0 {
		return int(l.width.Load()), int(l.height.Load())
	}
	for i := maxLayers - 1; i >= 0; i-- {
		if l := p.layers[i].Load(); l != nil && l.height.Load() > 0 {
			shift := i - idx
			if shift >= 0 {
				return int(l.width.Load()) >> shift, int(l.height.Load()) >> shift
			}
			return int(l.width.Load()) << -shift, int(l.height.Load()) << -shift
		}
	}
	return 1280 >> (maxLayers - 1 - idx), 720 >> (maxLayers - 1 - idx)
}

// available says whether a subscriber may be given layer idx: the
// publisher sends it, or salon paused it and can ask for it again.
func (p *Publication) available(idx int, now int64) bool {
	l := p.layers[idx].Load()
	if l == nil {
		return false
	}
	if p.active&(1<<idx) == 0 {
		return true // paused by salon: restartable
	}
	// Asked for lately: the publisher's encoder is starting it.
	return p.layerLive(idx, now) || now-p.activatedAt[idx].Load() < int64(layerStartup)
}

// initialLayer is the layer a new subscriber starts on: the lowest one
// flowing, so the first frame comes quickly; the allocator raises it.
func (r *Room) initialLayer(pub *Publication) int {
	now := time.Now().UnixNano()
	first := -1
	for i := 0; i < maxLayers; i++ {
		if pub.layers[i].Load() == nil {
			continue
		}
		if first < 0 {
			first = i
		}
		if pub.layerLive(i, now) {
			return i
		}
	}
	return max(first, 0)
}

// wanted is one video track in a subscriber's allocation.
type wanted struct {
	pub     *Publication
	b       *binding
	ref     TrackRef
	rank    int // lower first
	desired int // best layer for the tile; -1 paused
	reason  string
	layer   int // given
}

// allocate chooses the layer each of the subscriber's video tracks
// receives: hidden tracks and those beyond last-N pause; the rest get,
// in priority order (screen shares, then the most recent speakers), the
// lowest layer first and then better ones while the bandwidth estimate
// lasts. It returns what is paused and why.
func (p *Peer) allocate(now int64, recent map[string]int, lastN int, m *metrics) map[TrackRef]string {
	p.alloc.mu.Lock()
	items := make([]wanted, 0, len(p.alloc.subs))
	for pub, ssrc := range p.alloc.subs {
		if pub.kind != webrtc.RTPCodecTypeVideo {
			continue
		}
		b := pub.down.bindingBySSRC(ssrc)
		if b == nil {
			continue
		}
		ref := TrackRef{Participant: pub.peer.id, Source: pub.source}
		w := wanted{pub: pub, b: b, ref: ref, desired: -1}
		v, described := p.alloc.views[ref]
		if described && !v.Visible {
			w.reason = PausedHidden
		} else {
			w.desired = pub.bestLayer(v.Width, v.Height, now)
			if w.desired < 0 {
				w.reason = PausedBandwidth // nothing flows yet
			}
		}
		w.rank = len(recent) + 1
		if pub.source == "screen" {
			w.rank = -1
		} else if r, ok := recent[pub.peer.id]; ok {
			w.rank = r
		}
		items = append(items, w)
	}
	p.alloc.mu.Unlock()
	slices.SortFunc(items, func(a, b wanted) int {
		if a.rank != b.rank {
			return a.rank - b.rank
		}
		if a.ref.Participant != b.ref.Participant {
			if a.ref.Participant < b.ref.Participant {
				return -1
			}
			return 1
		}
		return 0
	})

	// Last-N counts visible camera videos; screen shares always count.
	shown := 0
	for i := range items {
		w := &items[i]
		if w.desired < 0 || w.pub.source == "screen" {
			continue
		}
		if lastN > 0 && shown >= lastN {
			w.desired, w.reason = -1, PausedLastN
			continue
		}
		shown++
	}

	audio, audioTracks := p.alloc.audio()
	budget := p.budget()
	if budget > 0 {
		m.estimate.Observe(budget)
		budget -= audio
	}
	// Pass 1: the lowest available layer for each, in priority order.
	for i := range items {
		w := &items[i]
		w.layer = -1
		if w.desired < 0 {
			continue
		}
		low := w.pub.lowestLayer(now)
		if low < 0 {
			w.reason = PausedBandwidth
			continue
		}
		if budget > 0 {
			// Estimates are noisy and a low layer is small: it pauses
			// only when the budget is clearly short of it.
			cost := w.pub.layerRate(low)
			if cost*0.7 > budget {
				w.reason = PausedBandwidth
				continue
			}
			budget = max(budget-cost, 1)
		}
		w.layer = low
	}
	// Pass 2: better layers, in priority order, while the budget lasts.
	for i := range items {
		w := &items[i]
		if w.layer < 0 {
			continue
		}
		for next := w.layer + 1; next <= w.desired; next++ {
			if !w.pub.available(next, now) {
				continue
			}
			if budget > 0 {
				extra := w.pub.layerRate(next) - w.pub.layerRate(w.layer)
				if extra > budget {
					break
				}
				budget -= extra
			}
			w.layer = next
		}
	}

	// Ask for more bandwidth when some tile gets less than it wants.
	var want, have float64
	for i := range items {
		w := &items[i]
		if w.desired >= 0 && w.reason != PausedLastN && w.reason != PausedHidden {
			want += w.pub.layerRate(w.desired)
		}
		if w.layer >= 0 {
			have += w.pub.layerRate(w.layer)
		}
	}
	if want > have*1.05 {
		if e := p.bwe.estimator(); e != nil {
			if extra, d, ok := e.startProbe((want+audio)*1.2, time.Unix(0, now)); ok {
				p.probe(extra, d, m)
			}
		}
	}

	// Nothing flowing means no feedback: let the estimate recover.
	if budget > 0 && have == 0 && want > 0 && audioTracks == 0 {
		if e := p.bwe.estimator(); e != nil {
			e.starved(time.Unix(0, now))
		}
	}

	var paused map[TrackRef]string
	for i := range items {
		w := &items[i]
		prev := w.b.target.Swap(int32(w.layer))
		// Still waiting for the keyframe of a switch: ask again. A
		// publisher may ignore a request right after its last keyframe,
		// and VP8 encoders send none by themselves.
		if int(prev) == w.layer && w.b.switchPending() {
			w.pub.requestKeyframe(w.layer, m)
		}
		if int(prev) != w.layer {
			m.switches.Inc()
			p.log.Debug("layer chosen", "from", w.ref.Participant, "source", w.ref.Source, "layer", w.layer, "was", prev, "desired", w.desired, "reason", w.reason)
		}
		if w.layer >= 0 && int(prev) != w.layer {
			w.pub.requestKeyframe(w.layer, m)
		}
		if w.layer < 0 {
			if paused == nil {
				paused = map[TrackRef]string{}
			}
			paused[w.ref] = w.reason
		}
	}
	return paused
}

// audio is the bitrate of the audio the subscriber receives, and how many
// audio tracks that is.
func (a *allocation) audio() (bps float64, tracks int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for pub := range a.subs {
		if pub.kind == webrtc.RTPCodecTypeAudio {
			bps += pub.layerRate(0)
			tracks++
		}
	}
	return bps, tracks
}

// lowestLayer is the lowest layer a subscriber can be given, or -1.
func (p *Publication) lowestLayer(now int64) int {
	for i := 0; i < maxLayers; i++ {
		if p.available(i, now) {
			return i
		}
	}
	return -1
}

// bestLayer is the lowest available layer whose frames fill a tile of
// w×h device pixels (the highest available when the size is unknown or
// larger than every layer), or -1 when no layer is available.
func (p *Publication) bestLayer(w, h int, now int64) int {
	best := -1
	for i := 0; i < maxLayers; i++ {
		if !p.available(i, now) {
			continue
		}
		best = i
		if w <= 0 && h <= 0 {
			continue
		}
		lw, lh := p.layerHeight(i)
		// A layer a tenth smaller than the tile still looks sharp.
		if lw*10 >= w*9 && lh*10 >= h*9 {
			return i
		}
	}
	return best
}

// budget is the subscriber's bandwidth estimate in bits per second, or 0
// when there is none (no congestion feedback yet).
func (p *Peer) budget() float64 {
	e := p.bwe.estimator()
	if e == nil {
		return 0
	}
	return e.estimate()
}

// publisherLayers decides which layers of a simulcast publication the
// publisher keeps encoding: those some subscriber receives or waits for,
// and those wanted in the last few seconds (so a layer is not stopped and
// restarted as a tile flickers). It returns the RIDs and whether the set
// changed.
func (pub *Publication) publisherLayers(now time.Time) ([]string, bool) {
	if !pub.simulcast {
		return nil, false
	}
	for _, b := range *pub.down.bindings.Load() {
		if t := b.target.Load(); t >= 0 {
			pub.lastWanted[t] = now
		}
		b.mu.Lock()
		if c := b.current; c >= 0 {
			pub.lastWanted[c] = now
		}
		b.mu.Unlock()
	}
	// A layer that never sent a packet stays on: nobody could have
	// wanted it yet, and a publisher must not be told to stop it before
	// salon has seen it once.
	var active uint8
	for i := 0; i < maxLayers; i++ {
		seen := pub.layers[i].Load() != nil
		if (seen && now.Sub(pub.lastWanted[i]) < layerLinger) || (!seen && pub.declared[i] != "") {
			active |= 1 << i
		}
	}
	if active == pub.active {
		return nil, false
	}
	for i := 0; i < maxLayers; i++ {
		if active&^pub.active&(1<<i) != 0 {
			pub.activatedAt[i].Store(now.UnixNano())
		}
	}
	pub.active = active
	rids := pub.activeRIDs()
	return rids, true
}

// activeRIDs lists the RIDs of the layers the publisher is asked to encode.
func (pub *Publication) activeRIDs() []string {
	rids := make([]string, 0, maxLayers)
	for i := 0; i < maxLayers; i++ {
		if pub.active&(1<<i) == 0 {
			continue
		}
		if l := pub.layers[i].Load(); l != nil {
			rids = append(rids, l.rid)
		} else if pub.declared[i] != "" {
			rids = append(rids, pub.declared[i])
		}
	}
	return rids
}

// events is the publisher's side of the signalling.
func (pub *Publication) events() PeerEvents { return pub.peer.events }

// layerStartup is how long a layer salon asked for may take to arrive
// before subscribers stop waiting for it.
const layerStartup = 3 * time.Second

// layerLinger is how long a layer nobody receives keeps being encoded.
const layerLinger = 3 * time.Second

// probe sends about extra bits/s more to the subscriber for d, as copies of
// recent video packets on the RTX streams, so the bandwidth estimate can
// learn whether the path carries a better layer.
func (p *Peer) probe(extra float64, d time.Duration, m *metrics) {
	type target struct {
		pub *Publication
		b   *binding
	}
	var targets []target
	p.alloc.mu.Lock()
	for pub, ssrc := range p.alloc.subs {
		if pub.kind != webrtc.RTPCodecTypeVideo {
			continue
		}
		if b := pub.down.bindingBySSRC(ssrc); b != nil && b.rtxSSRC != 0 {
			targets = append(targets, target{pub, b})
		}
	}
	p.alloc.mu.Unlock()
	if len(targets) == 0 {
		return
	}
	const every = 10 * time.Millisecond
	perTick := int(extra / 8 * every.Seconds())
	go func() {
		buf := make([]byte, maxPacketSize+2)
		tick := time.NewTicker(every)
		defer tick.Stop()
		end := time.Now().Add(d)
		k := 0
		for {
			select {
			case <-p.done:
				return
			case now := <-tick.C:
				if now.After(end) {
					return
				}
			}
			sent := 0
			for tries := 0; sent < perTick && tries < 64; tries++ {
				t := targets[k%len(targets)]
				k++
				t.b.mu.Lock()
				last, live := t.b.lastSeq, t.b.current >= 0
				t.b.mu.Unlock()
				if !live {
					continue
				}
				if n, _ := t.pub.retransmit(last-uint16(k/len(targets)%8), t.b, buf); n > 0 {
					sent += n
					m.probePackets.Inc()
				}
			}
		}
	}()
}
