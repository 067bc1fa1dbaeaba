package loadtest

import (
	"testing"
	"time"

	"github.com/pion/rtp"
)

// sentPacket is what the camera or microphone wrote.
type sentPacket struct {
	seq    uint16
	ts     uint32
	marker bool
	ssrc   uint32
	mid    string
	rid    string
	level  byte
	info   vp8Info
	size   int
}

// captureWriter stands in for pion's TrackLocalWriter.
type captureWriter struct {
	pkts   []sentPacket
	count  int
	record bool
}

func (w *captureWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	w.count++
	if w.record {
		p := sentPacket{seq: h.SequenceNumber, ts: h.Timestamp, marker: h.Marker, ssrc: h.SSRC,
			mid: string(h.GetExtension(1)), rid: string(h.GetExtension(2)), size: len(payload)}
		if l := h.GetExtension(3); len(l) == 1 {
			p.level = l[0]
		}
		p.info, _ = parseVP8(payload)
		w.pkts = append(w.pkts, p)
	}
	return h.MarshalSize() + len(payload), nil
}

func (w *captureWriter) Write(b []byte) (int, error) { return len(b), nil }

// bind does what pion's Bind would for a track negotiated with mid 1, rid
// 2 and audio level 3.
func bind(t *sendTrack, w *captureWriter, ssrc uint32) {
	t.setMid("0")
	t.bound.Store(&sendBinding{ssrc: ssrc, pt: 96, w: w, midID: 1, ridID: 2, levelID: 3, mid: []byte("0"), rid: []byte(t.rid)})
}

func TestCameraLayerSendsFrames(t *testing.T) {
	cfg := DefaultConfig()
	cam := newCamera(&cfg, "s", 7)
	f := cam.layers[2]
	w := &captureWriter{record: true}
	bind(f.track, w, 42)
	start := time.Now()
	for i := range 5 {
		f.tick(start.Add(time.Duration(i)*time.Second/30), 0)
	}
	var frames, keyframes int
	for i, p := range w.pkts {
		if p.ssrc != 42 || p.mid != "0" || p.rid != "f" {
			t.Fatalf("packet %d: ssrc %d mid %q rid %q", i, p.ssrc, p.mid, p.rid)
		}
		if i > 0 {
			prev := w.pkts[i-1]
			if p.seq != prev.seq+1 {
				t.Errorf("packet %d: sequence %d after %d", i, p.seq, prev.seq)
			}
			if prev.marker && p.ts-prev.ts != 3000 || !prev.marker && p.ts != prev.ts {
				t.Errorf("packet %d: timestamp %d after %d (marker %v)", i, p.ts, prev.ts, prev.marker)
			}
			if prev.marker != p.info.start {
				t.Errorf("packet %d: starts a frame %v, but the previous packet's marker was %v", i, p.info.start, prev.marker)
			}
		}
		if p.marker {
			frames++
		}
		if p.info.keyframe {
			keyframes++
			if p.info.width != 640 || p.info.height != 360 {
				t.Errorf("keyframe of %dx%d on layer f", p.info.width, p.info.height)
			}
		}
	}
	if frames != 5 || keyframes != 1 || !w.pkts[0].info.keyframe {
		t.Errorf("%d frames, %d keyframes, first packet %+v: want 5 frames starting with the one keyframe", frames, keyframes, w.pkts[0].info)
	}

	// A PLI makes the next frame a keyframe; a paused layer sends nothing
	// but its clock runs, and it starts again with a keyframe.
	w.pkts = nil
	f.keyRequested.Store(true)
	f.tick(start.Add(6*time.Second/30), 0)
	if !w.pkts[0].info.keyframe {
		t.Error("no keyframe after a PLI")
	}
	ts := w.pkts[0].ts
	w.pkts = nil
	f.active.Store(false)
	f.tick(start.Add(7*time.Second/30), 0)
	f.tick(start.Add(8*time.Second/30), 0)
	if len(w.pkts) != 0 {
		t.Errorf("a paused layer sent %d packets", len(w.pkts))
	}
	f.active.Store(true)
	f.tick(start.Add(9*time.Second/30), 0)
	if len(w.pkts) == 0 || !w.pkts[0].info.keyframe || w.pkts[0].ts != ts+3*3000 {
		t.Errorf("after a pause: %+v, want a keyframe 3 frames of time later", w.pkts[:min(1, len(w.pkts))])
	}
}

func TestUnboundLayerSendsNothing(t *testing.T) {
	cfg := DefaultConfig()
	cam := newCamera(&cfg, "s", 7)
	cam.layers[0].tick(time.Now(), 0) // before salon's answer: no binding
	if cam.layers[0].sent != 0 {
		t.Error("sent before negotiation")
	}
}

func TestLossAtThePublisher(t *testing.T) {
	cfg := DefaultConfig()
	mic := newMicrophone(&cfg, "s", true, 3)
	w := &captureWriter{record: true}
	bind(mic.track, w, 7)
	b := mic.ready()
	first := mic.hdr.SequenceNumber
	for range 2000 {
		mic.level[0] = mic.audioLevel()
		mic.write(b, mic.payload, false, 0.1)
	}
	if mic.dropped < 150 || mic.dropped > 250 || mic.sent+mic.dropped != 2000 {
		t.Errorf("sent %d, dropped %d of 2000 at --loss 0.1", mic.sent, mic.dropped)
	}
	next := mic.hdr.SequenceNumber
	if gaps := int(next-first) - len(w.pkts); gaps != int(mic.dropped) || next-first != 2000 {
		t.Errorf("%d sequence numbers missing, %d packets dropped: a drop must leave a gap", gaps, mic.dropped)
	}
	if w.pkts[0].level&0x80 == 0 {
		t.Errorf("audio level %#x of a speaking microphone", w.pkts[0].level)
	}
}

// rtpOf marshals one packet as salon would forward it.
func rtpOf(t testing.TB, seq uint16, marker bool, payload []byte) []byte {
	b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: uint32(seq) * 3000,
		SSRC: 5, Marker: marker}, Payload: payload}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// stream makes the packets of n frames, the first a keyframe when key.
func stream(t testing.TB, n int, key bool, seq uint16) [][]byte {
	e := newVP8Encoder(640, 360, 20000, 1)
	var out [][]byte
	for i := range n {
		frame := e.frame(2500, key && i == 0)
		for off := 0; off < len(frame); {
			var p []byte
			p, off = e.packet(frame, off)
			out = append(out, rtpOf(t, seq, off == len(frame), p))
			seq++
		}
	}
	return out
}

func TestReceiverFirstFramesAndPLI(t *testing.T) {
	p := &participant{}
	tr := &recvTrack{owner: p, video: true, visible: true, seq: newSeqTracker()}
	now := int64(time.Second)
	var plis int
	for _, b := range stream(t, 3, false, 100) {
		now += int64(10 * time.Millisecond)
		if tr.packet(b, now, phaseWarmup, 0).askKeyframe {
			plis++
		}
	}
	if p.firstFrame.Load() == 0 || p.firstKeyframe.Load() != 0 || plis != 1 {
		t.Errorf("delta frames only: first frame %d, first keyframe %d, %d PLIs; want a frame, no keyframe, one PLI (a second apart)",
			p.firstFrame.Load(), p.firstKeyframe.Load(), plis)
	}
	for _, b := range stream(t, 3, true, 200) {
		now += int64(10 * time.Millisecond)
		if tr.packet(b, now, phaseWindow, 0).askKeyframe {
			plis++
		}
	}
	if p.firstKeyframe.Load() == 0 || tr.keyframe != 1 || plis != 1 {
		t.Errorf("after a keyframe: first keyframe %d, %d keyframes, %d PLIs", p.firstKeyframe.Load(), tr.keyframe, plis)
	}
	if tr.frames != 3 || tr.packets == 0 {
		t.Errorf("%d frames and %d packets counted in the window", tr.frames, tr.packets)
	}
}

func TestReceiverKeyframeWithAHoleIsNotDecodable(t *testing.T) {
	p := &participant{}
	tr := &recvTrack{owner: p, video: true, seq: newSeqTracker()}
	pkts := stream(t, 1, true, 10)
	for i, b := range pkts {
		if i == 1 {
			continue // lost
		}
		tr.packet(b, int64(time.Second)+int64(i), phaseWarmup, 0)
	}
	if p.firstKeyframe.Load() != 0 || p.firstFrame.Load() == 0 {
		t.Errorf("a keyframe missing a packet counted as decodable")
	}
}

func TestHotPathsDoNotAllocate(t *testing.T) {
	cfg := DefaultConfig()
	cam := newCamera(&cfg, "s", 7)
	w := &captureWriter{}
	for i, l := range cam.layers {
		bind(l.track, w, uint32(i+1))
	}
	now := time.Now()
	if n := testing.AllocsPerRun(200, func() {
		now = now.Add(time.Second / 30)
		for _, l := range cam.layers {
			l.tick(now, 0.01)
		}
	}); n != 0 {
		t.Errorf("a camera frame allocates %v times", n)
	}
	mic := newMicrophone(&cfg, "s", true, 1)
	bind(mic.track, w, 9)
	b := mic.ready()
	if n := testing.AllocsPerRun(200, func() {
		mic.level[0] = mic.audioLevel()
		mic.write(b, mic.payload, false, 0.01)
	}); n != 0 {
		t.Errorf("an audio packet allocates %v times", n)
	}
	pkts := stream(t, 60, true, 1)
	tr := &recvTrack{owner: &participant{}, video: true, visible: true, seq: newSeqTracker()}
	i := 0
	clock := int64(time.Second)
	if n := testing.AllocsPerRun(len(pkts)-1, func() {
		clock += int64(11 * time.Millisecond)
		tr.packet(pkts[i%len(pkts)], clock, phaseWindow, 0)
		i++
	}); n != 0 {
		t.Errorf("a received packet allocates %v times", n)
	}
}

// TestReceiverDuplicatesCompleteNoFrame: every packet arrives twice (a
// retransmission that crossed the original, or salon's bandwidth probe);
// frames are counted once and the duplicates are reported as such.
func TestReceiverDuplicatesCompleteNoFrame(t *testing.T) {
	tr := &recvTrack{owner: &participant{}, video: true, visible: true, seq: newSeqTracker()}
	now := int64(time.Second)
	for _, b := range stream(t, 3, true, 300) {
		for range 2 {
			now += int64(time.Millisecond)
			tr.packet(b, now, phaseWindow, 0)
		}
	}
	if tr.frames != 3 || tr.keyframe != 1 || tr.seq.duplicates == 0 {
		t.Errorf("%d frames, %d keyframes, %d duplicates; want 3, 1 and some", tr.frames, tr.keyframe, tr.seq.duplicates)
	}
}
