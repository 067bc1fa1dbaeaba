package loadtest

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Report is what a load test measured. Times are in milliseconds or
// seconds as the field names say; NaN percentiles (no sample) are null in
// JSON.
type Report struct {
	URL      string   `json:"url"`
	Meetings []string `json:"meetings"`
	PerRoom  struct {
		VideoPublishers int `json:"videoPublishers"`
		AudioPublishers int `json:"audioPublishers"`
		Subscribers     int `json:"subscribers"`
	} `json:"perRoom"`
	Video         string  `json:"video"`
	Audio         string  `json:"audio"`
	Loss          float64 `json:"loss"`
	WarmupSeconds float64 `json:"warmupSeconds"`
	WindowSeconds float64 `json:"windowSeconds"`

	Joins      JoinReport     `json:"joins"`
	FirstFrame LatencyReport  `json:"joinToFirstFrame"`
	FirstKey   LatencyReport  `json:"joinToFirstKeyframe"`
	Received   ReceivedReport `json:"received"`
	Sent       SentReport     `json:"sent"`
	Freezes    FreezeReport   `json:"freezes"`
	Server     *ServerReport  `json:"server"`
	LoadTester struct {
		CPUPercent float64 `json:"cpuPercent"` // in the window, of one core
		Cores      int     `json:"cores"`      // GOMAXPROCS
	} `json:"loadTester"`
	Messages MessagesReport `json:"messages"`
}

// JoinReport counts the joins and how long they took.
type JoinReport struct {
	Attempted int            `json:"attempted"`
	Joined    int            `json:"joined"`
	Failed    int            `json:"failed"`
	Failures  map[string]int `json:"failures,omitempty"` // by reason
	Dropped   map[string]int `json:"dropped,omitempty"`  // joined, then lost before the end
	// From the first token request to the last joined message, and to the
	// last receiver's first media; null unless everyone got there.
	AllJoinedSeconds    *float64 `json:"allJoinedSeconds"`
	AllReceivingSeconds *float64 `json:"allReceivingSeconds"`
	JoinedP50Ms         Millis   `json:"joinedP50Ms"` // token request → joined message
	JoinedP95Ms         Millis   `json:"joinedP95Ms"`
}

// LatencyReport is a distribution over the participants that receive.
type LatencyReport struct {
	Count   int    `json:"count"`
	Missing int    `json:"missing"` // receivers that never got there
	P50Ms   Millis `json:"p50Ms"`
	P95Ms   Millis `json:"p95Ms"`
	P99Ms   Millis `json:"p99Ms"`
	MaxMs   Millis `json:"maxMs"`
}

// ReceivedReport is what the receivers got in the window.
type ReceivedReport struct {
	Packets          int64      `json:"packets"`
	PacketsPerSecond float64    `json:"packetsPerSecond"`
	VideoPerSecond   float64    `json:"videoPacketsPerSecond"`
	AudioPerSecond   float64    `json:"audioPacketsPerSecond"`
	Mbps             float64    `json:"mbitPerSecond"`
	FramesPerSecond  float64    `json:"videoFramesPerSecond"` // per video track
	Tracks           int        `json:"tracks"`
	ExpectedTracks   int        `json:"expectedTracks"` // everyone else's, but hidden tiles
	HiddenTiles      int        `json:"hiddenTiles"`
	Keyframes        int64      `json:"keyframes"` // whole run
	DroppedOnPurpose int64      `json:"droppedOnPurpose"`
	Loss             lossCounts `json:"loss"`
	LostPackets      int64      `json:"lostPackets"`
	LossFraction     float64    `json:"lossFraction"`
}

// SentReport is what the publishers sent, whole run.
type SentReport struct {
	Packets          int64 `json:"packets"`
	Bytes            int64 `json:"bytes"`
	DroppedOnPurpose int64 `json:"droppedOnPurpose"`
}

// FreezeReport counts freezes of visible video tracks in the window.
type FreezeReport struct {
	Count        int     `json:"count"`
	TotalSeconds float64 `json:"totalSeconds"`
	VideoTracks  int     `json:"videoTracks"`
}

// ServerReport is salon's cost.
type ServerReport struct {
	Source                string  `json:"source"`
	CPUSeconds            float64 `json:"cpuSeconds"` // in the window
	CPUPercent            float64 `json:"cpuPercent"` // of one core
	CPUSecondsPerMPackets float64 `json:"cpuSecondsPerMillionPackets"`
	MicrosecondsPerPacket float64 `json:"microsecondsPerPacket"`
	RSSBeforeBytes        int64   `json:"rssBeforeBytes"`
	RSSEndBytes           int64   `json:"rssEndBytes"`
	MiBPerParticipant     float64 `json:"mibPerParticipant"`
	ForwardedPerSecond    float64 `json:"forwardedPacketsPerSecond"` // salon's own count; -1 unknown
	Error                 string  `json:"error,omitempty"`
}

// MessagesReport counts signalling messages besides SDP.
type MessagesReport struct {
	messageCounts
	ViewRefused bool `json:"viewRefused"` // salon answered view with an error
}

func (r *runner) report(all []*participant, window time.Duration) *Report {
	cfg := &r.cfg
	rep := &Report{URL: cfg.URL, Loss: cfg.Loss, WarmupSeconds: cfg.Warmup.Seconds(), WindowSeconds: window.Seconds()}
	for _, p := range all {
		if !slices.Contains(rep.Meetings, p.slug) {
			rep.Meetings = append(rep.Meetings, p.slug)
		}
	}
	rep.PerRoom.VideoPublishers, rep.PerRoom.AudioPublishers, rep.PerRoom.Subscribers =
		cfg.VideoPublishers, cfg.AudioPublishers, cfg.Subscribers
	rep.Video = "none"
	if cfg.VideoPublishers > 0 {
		var layers []string
		for _, l := range cameraLayers(cfg) {
			name := l.rid
			if name == "" {
				name = "single layer"
			}
			layers = append(layers, fmt.Sprintf("%s %dx%d %d kbit/s", name, l.width, l.height, l.kbps))
		}
		rep.Video = fmt.Sprintf("VP8 %d fps, keyframe every %s: %s", cfg.FPS, cfg.KeyframeInterval, strings.Join(layers, ", "))
	}
	rep.Audio = "none"
	if cfg.AudioPublishers > 0 {
		rep.Audio = fmt.Sprintf("Opus 20 ms %d kbit/s, %d speaking per room", cfg.AudioKbps, min(cfg.Speaking, cfg.AudioPublishers))
	}

	j := &rep.Joins
	j.Attempted = len(all)
	var first, lastJoined, lastReceiving int64 = math.MaxInt64, 0, 0
	everyoneJoined, everyoneReceiving := true, true
	var joinMs, frameMs, keyMs []float64
	var videoPkts, audioPkts, bytes, frames int64
	var videoTracks int
	for _, p := range all {
		failure, dropped := p.outcome()
		start := p.startedAt.Load()
		rep.Messages.add(p.counts)
		first = min(first, start)
		if failure != "" {
			j.Failed++
			addCount(&j.Failures, failure)
			everyoneJoined, everyoneReceiving = false, false
			continue
		}
		j.Joined++
		if dropped != "" {
			addCount(&j.Dropped, dropped)
		}
		lastJoined = max(lastJoined, p.joinedAt.Load())
		joinMs = append(joinMs, ms(p.joinedAt.Load()-start))
		// Hidden tiles get no video: salon is right not to send it.
		expectVideo := max(p.expectVideo-p.hiddenTiles, 0)
		rep.Received.ExpectedTracks += expectVideo + p.expectAudio
		rep.Received.HiddenTiles += p.hiddenTiles
		if expectVideo+p.expectAudio > 0 {
			media := p.firstAudio.Load()
			if expectVideo > 0 {
				media = p.firstFrame.Load()
				if k := p.firstKeyframe.Load(); k != 0 {
					keyMs = append(keyMs, ms(k-start))
				} else {
					rep.FirstKey.Missing++
				}
			}
			if media == 0 {
				rep.FirstFrame.Missing++
				everyoneReceiving = false
			} else {
				frameMs = append(frameMs, ms(media-start))
				lastReceiving = max(lastReceiving, media)
			}
		}
		// The participant's goroutines have ended: its counters are final.
		for _, t := range p.tracks {
			rep.Received.Tracks++
			rep.Received.Keyframes += t.keyframe
			rep.Received.DroppedOnPurpose += t.dropped
			bytes += t.bytes
			loss := t.loss
			loss.add(t.seq.counts())
			rep.Received.Loss.add(loss)
			if t.video {
				videoPkts += t.packets
				frames += t.frames
				if t.visible {
					videoTracks++
					rep.Freezes.Count += t.freeze.count
					rep.Freezes.TotalSeconds += time.Duration(t.freeze.total).Seconds()
				}
			} else {
				audioPkts += t.packets
			}
		}
		for _, s := range p.sentStreams() {
			rep.Sent.Packets += s.sent
			rep.Sent.Bytes += s.sentBytes
			rep.Sent.DroppedOnPurpose += s.dropped
		}
	}
	rep.Freezes.VideoTracks = videoTracks
	rep.Messages.ViewRefused = r.viewRefused.Load()
	if everyoneJoined && lastJoined > 0 {
		v := time.Duration(lastJoined - first).Seconds()
		j.AllJoinedSeconds = &v
	}
	if everyoneReceiving && lastReceiving > 0 {
		v := time.Duration(lastReceiving - first).Seconds()
		j.AllReceivingSeconds = &v
	}
	jp := percentiles(joinMs, 50, 95)
	j.JoinedP50Ms, j.JoinedP95Ms = Millis(jp[0]), Millis(jp[1])
	rep.FirstFrame.fill(frameMs)
	rep.FirstKey.fill(keyMs)

	secs := window.Seconds()
	rc := &rep.Received
	rc.Packets = videoPkts + audioPkts
	rc.PacketsPerSecond = float64(rc.Packets) / secs
	rc.VideoPerSecond = float64(videoPkts) / secs
	rc.AudioPerSecond = float64(audioPkts) / secs
	rc.Mbps = float64(bytes) * 8 / secs / 1e6
	if videoTracks > 0 {
		rc.FramesPerSecond = float64(frames) / secs / float64(videoTracks)
	}
	rc.LostPackets = rc.Loss.Lost()
	if rc.Loss.Expected > 0 {
		rc.LossFraction = float64(rc.LostPackets) / float64(rc.Loss.Expected)
	}
	return rep
}

func (l *LatencyReport) fill(msValues []float64) {
	l.Count = len(msValues)
	p := percentiles(msValues, 50, 95, 99, 100)
	l.P50Ms, l.P95Ms, l.P99Ms, l.MaxMs = Millis(p[0]), Millis(p[1]), Millis(p[2]), Millis(p[3])
}

// Millis is a duration in milliseconds; NaN (no sample) is null in JSON.
type Millis float64

func (m Millis) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(m)) || math.IsInf(float64(m), 0) {
		return []byte("null"), nil
	}
	return []byte(strconv.FormatFloat(math.Round(float64(m)*10)/10, 'f', -1, 64)), nil
}

// WriteJSON prints the report for programs.
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

func (p *participant) outcome() (failure, dropped string) {
	p.outcomeMu.Lock()
	defer p.outcomeMu.Unlock()
	return p.failure, p.dropped
}

func (p *participant) sentStreams() []*rtpStream {
	var out []*rtpStream
	if p.mic != nil {
		out = append(out, &p.mic.rtpStream)
	}
	if p.cam != nil {
		for _, l := range p.cam.layers {
			out = append(out, &l.rtpStream)
		}
	}
	return out
}

func addCount(m *map[string]int, k string) {
	if *m == nil {
		*m = map[string]int{}
	}
	(*m)[k]++
}

func ms(ns int64) float64 { return float64(ns) / 1e6 }

// serverReport turns the samples before the first join (before) and at
// both ends of the window (s0, s1) into salon's cost per packet received
// by the participants and per participant.
func serverReport(source string, before, s0, s1 serverSample, ok bool, rep *Report, joined int) *ServerReport {
	sr := &ServerReport{Source: source, ForwardedPerSecond: -1}
	if !ok {
		sr.Error = "not measured: see the log"
		return sr
	}
	sr.CPUSeconds = s1.CPUSeconds - s0.CPUSeconds
	sr.CPUPercent = 100 * sr.CPUSeconds / rep.WindowSeconds
	if n := rep.Received.Packets; n > 0 {
		sr.CPUSecondsPerMPackets = sr.CPUSeconds / float64(n) * 1e6
		sr.MicrosecondsPerPacket = sr.CPUSeconds / float64(n) * 1e6
	}
	sr.RSSBeforeBytes, sr.RSSEndBytes = before.RSSBytes, s1.RSSBytes
	if joined > 0 {
		sr.MiBPerParticipant = float64(s1.RSSBytes-before.RSSBytes) / float64(joined) / (1 << 20)
	}
	if s0.Forwarded >= 0 && s1.Forwarded >= 0 {
		sr.ForwardedPerSecond = (s1.Forwarded - s0.Forwarded) / rep.WindowSeconds
	}
	return sr
}

// WriteText prints the report for people.
func (rep *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	pf := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	pf("salon load test: %s, %d room(s): %d video publisher(s), %d audio publisher(s), %d subscriber(s) each\n",
		rep.URL, len(rep.Meetings), rep.PerRoom.VideoPublishers, rep.PerRoom.AudioPublishers, rep.PerRoom.Subscribers)
	pf("  video: %s\n  audio: %s\n", rep.Video, rep.Audio)
	if rep.Loss > 0 {
		pf("  loss on purpose: %.1f %% of RTP at publishers and at receivers\n", 100*rep.Loss)
	}
	pf("  window: %.1f s after %.1f s of warm-up\n", rep.WindowSeconds, rep.WarmupSeconds)
	j := rep.Joins
	pf("joins: %d attempted, %d joined, %d failed", j.Attempted, j.Joined, j.Failed)
	if j.AllJoinedSeconds != nil {
		pf("; all joined %.2f s after the first token request", *j.AllJoinedSeconds)
	}
	if j.AllReceivingSeconds != nil {
		pf(", all receiving after %.2f s", *j.AllReceivingSeconds)
	}
	pf("\n  token request → joined: p50 %s, p95 %s\n", fmtMs(j.JoinedP50Ms), fmtMs(j.JoinedP95Ms))
	for _, k := range sortedKeys(j.Failures) {
		pf("  failed: %d × %s\n", j.Failures[k], k)
	}
	for _, k := range sortedKeys(j.Dropped) {
		pf("  dropped after joining: %d × %s\n", j.Dropped[k], k)
	}
	for _, l := range []struct {
		name string
		r    LatencyReport
	}{{"join → first frame", rep.FirstFrame}, {"join → first keyframe", rep.FirstKey}} {
		if l.r.Count+l.r.Missing == 0 {
			continue
		}
		pf("%s: p50 %s, p95 %s, p99 %s, max %s over %d receivers", l.name,
			fmtMs(l.r.P50Ms), fmtMs(l.r.P95Ms), fmtMs(l.r.P99Ms), fmtMs(l.r.MaxMs), l.r.Count)
		if l.r.Missing > 0 {
			pf("; %d never got one", l.r.Missing)
		}
		pf("\n")
	}
	rc := rep.Received
	pf("received in the window: %.0f packets/s (video %.0f, audio %.0f), %.1f Mbit/s; %d of %d expected tracks",
		rc.PacketsPerSecond, rc.VideoPerSecond, rc.AudioPerSecond, rc.Mbps, rc.Tracks, rc.ExpectedTracks)
	if rc.HiddenTiles > 0 {
		pf(" (%d hidden tiles not expected)", rc.HiddenTiles)
	}
	if rc.FramesPerSecond > 0 {
		pf("; %.1f frames/s per video track", rc.FramesPerSecond)
	}
	pf("\n  receiver loss: %d of %d packets (%.3f %%), %d late or reordered, %d duplicates",
		rc.LostPackets, rc.Loss.Expected, 100*rc.LossFraction, rc.Loss.Late, rc.Loss.Duplicates)
	if rc.DroppedOnPurpose > 0 {
		pf("; %d dropped on purpose", rc.DroppedOnPurpose)
	}
	pf("\n  keyframes received: %d\n", rc.Keyframes)
	pf("freezes: %d, %.2f s in all, over %d visible video tracks\n", rep.Freezes.Count, rep.Freezes.TotalSeconds, rep.Freezes.VideoTracks)
	pf("sent: %d packets, %.1f MB", rep.Sent.Packets, float64(rep.Sent.Bytes)/1e6)
	if rep.Sent.DroppedOnPurpose > 0 {
		pf(", %d dropped on purpose", rep.Sent.DroppedOnPurpose)
	}
	pf("\n")
	if s := rep.Server; s != nil {
		if s.Error != "" {
			pf("server (%s): %s\n", s.Source, s.Error)
		} else {
			pf("server (%s): %.2f CPU s in the window (%.0f %% of a core), %.2f CPU s per million received packets (%.2f µs/packet)\n",
				s.Source, s.CPUSeconds, s.CPUPercent, s.CPUSecondsPerMPackets, s.MicrosecondsPerPacket)
			pf("  memory: %.1f MiB before the first join, %.1f MiB at the window's end: %.2f MiB per participant\n",
				float64(s.RSSBeforeBytes)/(1<<20), float64(s.RSSEndBytes)/(1<<20), s.MiBPerParticipant)
			if s.ForwardedPerSecond >= 0 {
				pf("  salon counted %.0f forwarded packets/s\n", s.ForwardedPerSecond)
			}
		}
	}
	lt := rep.LoadTester
	pf("load tester: %.0f %% of a core in the window (%d core(s))", lt.CPUPercent, lt.Cores)
	if lt.CPUPercent > 90*float64(lt.Cores) {
		pf(": saturated, so the figures above may say more about it than about salon")
	}
	pf("\n")
	m := rep.Messages
	pf("messages: %d speakers, %d layers, %d paused, %d view sent", m.Speakers, m.Layers, m.PausedMsgs, m.ViewSent)
	if m.ViewRefused {
		pf(" (salon refused view: it does not know it yet)")
	}
	if m.Unknown > 0 {
		pf(", %d unknown or unreadable", m.Unknown)
	}
	for _, k := range sortedKeys(m.Errors) {
		pf(", error %s × %d", k, m.Errors[k])
	}
	pf("\n")
	if len(m.PausedInWindow) > 0 {
		pf("  tracks salon listed as paused during the window:")
		for _, k := range sortedKeys(m.PausedInWindow) {
			pf(" %s × %d", k, m.PausedInWindow[k])
		}
		pf("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func fmtMs(m Millis) string {
	v := float64(m)
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.0f ms", v)
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
