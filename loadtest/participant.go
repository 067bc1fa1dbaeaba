package loadtest

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"
)

// participant is one simulated person in a room: a signalling socket, a
// publish connection when it sends something, a subscribe connection for
// everyone else, and what it measured.
type participant struct {
	r     *runner
	log   *slog.Logger
	room  int
	slug  string
	index int // in its room
	name  string

	video, audio, speaking bool
	// Tracks it should receive: everyone else's.
	expectVideo, expectAudio int

	// Timeline in ns since the run began (runner.now); 0 until reached.
	startedAt     atomic.Int64 // the token request
	joinedAt      atomic.Int64 // salon's joined message
	publishingAt  atomic.Int64 // the publish connection is up
	firstFrame    atomic.Int64 // the first complete video frame
	firstKeyframe atomic.Int64 // the first complete keyframe
	firstAudio    atomic.Int64 // the first audio packet

	ready     chan struct{} // joined and, for publishers, sending; or failed
	readyOnce sync.Once
	leaving   atomic.Bool

	outcomeMu sync.Mutex
	failure   string // why the join failed: "stage: reason"
	dropped   string // why it left before the end, once joined

	sig       *signalConn
	pub, sub  *webrtc.PeerConnection
	cam       *camera
	mic       *microphone
	stopMedia chan struct{}
	mediaWG   sync.WaitGroup

	// Owned by the signalling goroutine.
	id                     string
	pendingPub, pendingSub []webrtc.ICECandidateInit
	viewKnown              map[trackRef]bool
	viewOff                bool
	hiddenTiles            int // video tiles reported as not visible
	counts                 messageCounts

	mu      sync.Mutex
	mids    map[string]trackRef // subscribe transceivers, from salon's last offer
	tracks  []*recvTrack
	closing bool
	trackWG sync.WaitGroup
}

// messageCounts is what a participant heard from salon besides SDP.
type messageCounts struct {
	Speakers   int `json:"speakers"`
	Layers     int `json:"layers"`
	ViewSent   int `json:"viewSent"`
	PausedMsgs int `json:"paused"`
	// Tracks listed in paused messages during the window, by reason.
	PausedInWindow map[string]int `json:"pausedInWindow,omitempty"`
	Unknown        int            `json:"unknown"`
	Errors         map[string]int `json:"errors,omitempty"`
}

func (c *messageCounts) add(o messageCounts) {
	c.Speakers += o.Speakers
	c.Layers += o.Layers
	c.ViewSent += o.ViewSent
	c.PausedMsgs += o.PausedMsgs
	c.Unknown += o.Unknown
	for k, v := range o.Errors {
		if c.Errors == nil {
			c.Errors = map[string]int{}
		}
		c.Errors[k] += v
	}
	for k, v := range o.PausedInWindow {
		if c.PausedInWindow == nil {
			c.PausedInWindow = map[string]int{}
		}
		c.PausedInWindow[k] += v
	}
}

func (p *participant) publishes() bool { return p.video || p.audio }

func (p *participant) isReady() bool {
	select {
	case <-p.ready:
		return true
	default:
		return false
	}
}

func (p *participant) markReady() { p.readyOnce.Do(func() { close(p.ready) }) }

// fail records why the join failed, if it had not succeeded or failed
// already, and ends the participant.
func (p *participant) fail(stage string, err error) {
	p.outcomeMu.Lock()
	if p.failure == "" && !p.isReady() {
		p.failure = stage + ": " + reason(err)
		p.log.Debug("join failed", "stage", stage, "err", err)
	}
	p.outcomeMu.Unlock()
	p.markReady()
	if p.sig != nil {
		p.sig.close()
	}
}

// drop records why a joined participant ended before the test did.
func (p *participant) drop(why string) {
	if p.leaving.Load() {
		return
	}
	p.outcomeMu.Lock()
	if p.dropped == "" && p.failure == "" {
		p.dropped = why
		p.log.Debug("participant dropped", "why", why)
	}
	p.outcomeMu.Unlock()
}

// reason turns an error into a short, stable text, so that the report can
// group failures without ports and addresses making each one unique.
func reason(err error) string {
	var ae *apiError
	var ce *websocket.CloseError
	var ne net.Error
	switch {
	case errors.As(err, &ae):
		return ae.Error()
	case errors.As(err, &ce):
		return fmt.Sprintf("socket closed (%d %s)", ce.Code, ce.Text)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "timed out"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return "connection closed"
	case errors.As(err, &ne) && ne.Timeout():
		return "timed out"
	}
	return err.Error()
}

// run joins, then handles salon's messages until ctx ends (the test is
// over: the participant leaves) or the participant fails or is dropped.
func (p *participant) run(ctx context.Context) {
	r := p.r
	p.startedAt.Store(r.now())
	jctx, cancel := context.WithTimeout(ctx, r.cfg.JoinTimeout)
	defer cancel()
	defer p.markReady()

	token, wsURL, err := r.http.joinToken(jctx, p.slug, p.name)
	if err != nil {
		p.fail("token", err)
		return
	}
	sig, err := dialSignal(jctx, wsURL, r.cfg.URL)
	if err != nil {
		p.fail("websocket", err)
		return
	}
	p.sig = sig
	defer p.teardown()
	p.sub, err = r.webrtc.subscribe.NewPeerConnection(pcConfig)
	if err != nil {
		p.fail("webrtc", err)
		return
	}
	p.hookConnection(p.sub, "subscribe")
	p.sub.OnTrack(p.onTrack)
	sig.send(joinMsg{Type: "join", V: 1, Token: token})

	// The join has JoinTimeout to complete; the test's end makes everyone
	// leave.
	go func() {
		select {
		case <-p.ready:
		case <-jctx.Done():
			if ctx.Err() == nil {
				p.fail("timeout", fmt.Errorf("not %s within --join-timeout %s", p.waitingFor(), r.cfg.JoinTimeout))
			}
		}
		select {
		case <-ctx.Done():
			p.leaving.Store(true)
			sig.leave()
		case <-sig.done:
		}
	}()

	for {
		data, err := sig.read()
		if err != nil {
			if !p.isReady() {
				p.fail("websocket", fmt.Errorf("closed before joining: %w", err))
			} else {
				p.drop("signalling: " + reason(err))
			}
			return
		}
		m, err := decodeServerMessage(data)
		if err != nil {
			p.counts.Unknown++
			continue
		}
		p.handle(m)
	}
}

// waitingFor says which step of the join has not happened, for timeouts.
func (p *participant) waitingFor() string {
	switch {
	case p.joinedAt.Load() == 0:
		return "joined"
	case p.publishes() && p.publishingAt.Load() == 0:
		return "publishing (publish connection up)"
	}
	return "ready"
}

var pcConfig = webrtc.Configuration{
	BundlePolicy:  webrtc.BundlePolicyMaxBundle,
	RTCPMuxPolicy: webrtc.RTCPMuxPolicyRequire,
}

func (p *participant) handle(m serverMsg) {
	switch m.Type {
	case "joined":
		p.id = m.Self
		p.joinedAt.Store(p.r.now())
		if !p.publishes() {
			p.markReady()
			return
		}
		if err := p.publish(); err != nil {
			p.fail("publish", err)
		}
	case "answer":
		if m.PC != "publish" || p.pub == nil {
			return
		}
		if err := p.pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP}); err != nil {
			p.fail("publish", fmt.Errorf("apply salon's answer: %w", err))
			return
		}
		for _, c := range p.pendingPub {
			_ = p.pub.AddICECandidate(c)
		}
		p.pendingPub = nil
	case "offer":
		if m.PC == "subscribe" {
			if err := p.answerSubscribe(m); err != nil {
				p.fail("subscribe", err)
				p.drop("subscribe: " + err.Error())
			}
		}
	case "candidate":
		if m.Candidate == nil || m.Candidate.Candidate == "" {
			return
		}
		pc, pending := p.sub, &p.pendingSub
		if m.PC == "publish" {
			pc, pending = p.pub, &p.pendingPub
		}
		if pc == nil || pc.RemoteDescription() == nil {
			*pending = append(*pending, *m.Candidate)
			return
		}
		_ = pc.AddICECandidate(*m.Candidate)
	case "error":
		if p.counts.Errors == nil {
			p.counts.Errors = map[string]int{}
		}
		p.counts.Errors[m.Code]++
		p.log.Debug("salon refused a message", "code", m.Code, "ref", m.Ref, "message", m.Message, "fatal", m.Fatal)
		if m.Ref == "view" {
			// This salon does not take view messages (yet): stop sending
			// them before the refusals close the socket.
			p.viewOff = true
			p.r.viewRefused.Store(true)
		}
		if m.Fatal {
			err := fmt.Errorf("salon's error %s: %s", m.Code, m.Message)
			if !p.isReady() {
				p.fail("join", err)
			} else {
				p.drop(err.Error())
			}
		}
	case "bye":
		p.drop("bye " + m.Reason)
	case "layers":
		p.counts.Layers++
		p.log.Debug("salon asks for layers", "source", m.Source, "active", m.Active)
		if m.Source == "camera" && p.cam != nil {
			p.cam.setActive(m.Active)
		}
	case "speakers":
		p.counts.Speakers++
	case "paused":
		p.counts.PausedMsgs++
		for _, t := range m.Paused {
			if p.r.phase.Load() == phaseWindow {
				addCount(&p.counts.PausedInWindow, t.Reason)
			}
		}
		p.log.Debug("salon paused tracks", "tracks", m.Paused)
	case "pong", "participant-joined", "participant-updated", "participant-left":
	default:
		p.counts.Unknown++
	}
}

// publish makes the publish connection: a microphone and/or a camera with
// its simulcast encodings, one offer naming their sources.
func (p *participant) publish() error {
	r := p.r
	pc, err := r.webrtc.publish.NewPeerConnection(pcConfig)
	if err != nil {
		return err
	}
	p.pub = pc
	p.hookConnection(pc, "publish")
	sendonly := webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}
	seed := r.cfg.Seed + uint64(p.room)*100003 + uint64(p.index)*1009
	var micTr, camTr *webrtc.RTPTransceiver
	if p.audio {
		p.mic = newMicrophone(&r.cfg, p.streamID(), p.speaking, seed)
		if micTr, err = pc.AddTransceiverFromTrack(p.mic.track, sendonly); err != nil {
			return fmt.Errorf("add the microphone: %w", err)
		}
	}
	if p.video {
		p.cam = newCamera(&r.cfg, p.streamID(), seed+17)
		if camTr, err = pc.AddTransceiverFromTrack(p.cam.layers[0].track, sendonly); err != nil {
			return fmt.Errorf("add the camera: %w", err)
		}
		for _, l := range p.cam.layers[1:] {
			if err := camTr.Sender().AddEncoding(l.track); err != nil {
				return fmt.Errorf("add simulcast encoding %s: %w", l.track.rid, err)
			}
		}
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return err
	}
	sdp := offer.SDP
	if p.video && r.cfg.Simulcast {
		sdp = browserSimulcastOffer(sdp)
		if err := checkSimulcastOffer(sdp); err != nil {
			return err
		}
	}
	sources := map[string]string{}
	if micTr != nil {
		sources[micTr.Mid()] = "audio"
		p.mic.track.setMid(micTr.Mid())
	}
	if camTr != nil {
		sources[camTr.Mid()] = "camera"
		for _, l := range p.cam.layers {
			l.track.setMid(camTr.Mid())
		}
	}
	// The offer is queued before gathering starts, so that salon gets it
	// before the candidates.
	p.sig.send(sdpMsg{Type: "offer", PC: "publish", SDP: sdp, Sources: sources})
	if err := pc.SetLocalDescription(offer); err != nil {
		return err
	}
	p.stopMedia = make(chan struct{})
	if micTr != nil {
		go readSenderRTCP(micTr.Sender(), "", nil)
		p.mediaWG.Go(func() { p.mic.run(p.stopMedia) })
	}
	if camTr != nil {
		for _, l := range p.cam.layers {
			go readSenderRTCP(camTr.Sender(), l.track.rid, &l.keyRequested)
		}
		p.mediaWG.Go(func() { p.cam.run(p.stopMedia) })
	}
	return nil
}

// streamID is the media stream id of what the participant publishes (the
// msid of its offer): one token, no spaces.
func (p *participant) streamID() string { return fmt.Sprintf("loadtest-%d-%d", p.room+1, p.index+1) }

// answerSubscribe answers salon's subscribe offer and tells salon how the
// new video tiles are shown.
func (p *participant) answerSubscribe(m serverMsg) error {
	// The mids are known before any track can start.
	p.mu.Lock()
	p.mids = m.Tracks
	p.mu.Unlock()
	if err := p.sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: m.SDP}); err != nil {
		return fmt.Errorf("apply salon's offer: %w", err)
	}
	for _, c := range p.pendingSub {
		_ = p.sub.AddICECandidate(c)
	}
	p.pendingSub = nil
	answer, err := p.sub.CreateAnswer(nil)
	if err != nil {
		return err
	}
	p.sig.send(sdpMsg{Type: "answer", PC: "subscribe", SDP: answer.SDP})
	if err := p.sub.SetLocalDescription(answer); err != nil {
		return err
	}
	p.sendView(m.Tracks)
	return nil
}

// sendView tells salon the size and visibility of every video tile after
// an offer that added one, as the room page does.
func (p *participant) sendView(tracks map[string]trackRef) {
	if p.viewOff {
		return
	}
	if p.viewKnown == nil {
		p.viewKnown = map[trackRef]bool{}
	}
	added := false
	var tiles []viewTile
	for _, ref := range tracks {
		if ref.Source != "camera" && ref.Source != "screen" {
			continue
		}
		visible := p.visible(ref)
		if !p.viewKnown[ref] {
			p.viewKnown[ref] = true
			added = true
			if !visible {
				p.hiddenTiles++
			}
		}
		tiles = append(tiles, viewTile{Participant: ref.Participant, Source: ref.Source,
			Width: p.r.cfg.TileWidth, Height: p.r.cfg.TileHeight, Visible: visible})
	}
	if !added {
		return
	}
	slices.SortFunc(tiles, func(a, b viewTile) int {
		return strings.Compare(a.Participant+a.Source, b.Participant+b.Source)
	})
	if p.sig.send(viewMsg{Type: "view", Tracks: tiles}) {
		p.counts.ViewSent++
	}
}

// visible decides, the same way for the whole run, whether this
// participant shows a tile: --hidden of the tiles are scrolled away.
func (p *participant) visible(ref trackRef) bool {
	if p.r.cfg.Hidden <= 0 {
		return true
	}
	h := fnv.New64a()
	_, _ = io.WriteString(h, p.name+"|"+ref.Participant+"|"+ref.Source)
	return float64(h.Sum64()>>11)/(1<<53) >= p.r.cfg.Hidden
}

func (p *participant) hookConnection(pc *webrtc.PeerConnection, dir string) {
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		var init *webrtc.ICECandidateInit
		if c != nil {
			v := c.ToJSON()
			init = &v
		}
		p.sig.send(candidateMsg{Type: "candidate", PC: dir, Candidate: init})
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		switch s {
		case webrtc.PeerConnectionStateConnected:
			if dir == "publish" {
				p.publishingAt.CompareAndSwap(0, p.r.now())
				p.markReady()
			}
		case webrtc.PeerConnectionStateFailed:
			if !p.isReady() {
				p.fail(dir, errors.New("connection failed (ICE or DTLS)"))
			} else {
				p.drop(dir + " connection failed")
			}
		}
	})
}

func (p *participant) onTrack(remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	var mid string
	for _, t := range p.sub.GetTransceivers() {
		if t.Receiver() == recv {
			mid = t.Mid()
		}
	}
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		return
	}
	ref, ok := p.mids[mid]
	if !ok {
		ref = trackRef{Participant: "?", Source: remote.Kind().String()}
	}
	t := &recvTrack{owner: p, ref: ref, video: remote.Kind() == webrtc.RTPCodecTypeVideo}
	t.visible = !t.video || p.visible(ref)
	p.tracks = append(p.tracks, t)
	p.trackWG.Add(1)
	p.mu.Unlock()
	defer p.trackWG.Done()
	t.read(remote, p.sub, p.r)
}

// teardown stops sending, closes both connections and waits for every
// receiving goroutine, after which the counters may be read.
func (p *participant) teardown() {
	if p.stopMedia != nil {
		close(p.stopMedia)
		p.mediaWG.Wait()
	}
	p.sig.close()
	p.mu.Lock()
	p.closing = true
	p.mu.Unlock()
	if p.pub != nil {
		_ = p.pub.Close()
	}
	if p.sub != nil {
		_ = p.sub.Close()
	}
	p.trackWG.Wait()
}
