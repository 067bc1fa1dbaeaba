package loadtest

import (
	"encoding/binary"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// pliEvery is how often a receiver that has not decoded a keyframe yet
// asks for one.
const pliEvery = time.Second

// recvTrack is one track a participant receives. One goroutine reads it
// with one buffer; the counters belong to that goroutine and are read only
// after it has ended, so counting costs no lock and no atomic operation.
type recvTrack struct {
	owner   *participant
	ref     trackRef
	video   bool
	visible bool

	ssrc     uint32
	seq      seqTracker
	loss     lossCounts // of earlier SSRCs of this track
	freeze   freezeDetector
	packets  int64 // received in the window
	bytes    int64
	frames   int64 // completed (marker bit) in the window
	keyframe int64 // keyframes started, whole run
	dropped  int64 // dropped on purpose (--loss)
	started  int64 // ns since the run began: the first packet

	// The first decodable frame: a keyframe whose packets all arrived in
	// order, up to its marker bit.
	inKey   bool
	keyNext uint16
	decoded bool
	lastPLI int64
}

// rtpPayloadOffset returns where the payload of an RTP packet starts and
// where it ends (before padding); ok is false for a malformed packet.
func rtpPayloadOffset(b []byte) (start, end int, ok bool) {
	if len(b) < 12 || b[0]>>6 != 2 {
		return 0, 0, false
	}
	start = 12 + 4*int(b[0]&0x0f)
	if b[0]&0x10 != 0 { // X
		if len(b) < start+4 {
			return 0, 0, false
		}
		start += 4 + 4*int(binary.BigEndian.Uint16(b[start+2:]))
	}
	end = len(b)
	if b[0]&0x20 != 0 && end > 0 { // P
		end -= int(b[end-1])
	}
	if start > end {
		return 0, 0, false
	}
	return start, end, true
}

// read runs until the track ends (the subscribe connection closed or salon
// removed the track).
func (t *recvTrack) read(remote *webrtc.TrackRemote, pc *webrtc.PeerConnection, r *runner) {
	buf := make([]byte, 1500)
	lossRand := newRand(r.cfg.Seed ^ uint64(remote.SSRC()))
	t.seq = newSeqTracker()
	for {
		n, _, err := remote.Read(buf)
		if err != nil {
			return
		}
		now := r.now()
		if lossRand.drop(r.cfg.Loss) {
			t.dropped++
			continue
		}
		ev := t.packet(buf[:n], now, r.phase.Load(), r.windowStart.Load())
		if ev.froze {
			t.owner.log.Debug("freeze", "from", t.ref.Participant, "source", t.ref.Source,
				"gap", time.Duration(now-t.freeze.prev).Round(time.Millisecond), "at", time.Duration(now).Round(time.Millisecond))
		}
		if ev.askKeyframe {
			_ = pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(remote.SSRC())}})
		}
	}
}

// packetEvents is what one packet asks the reading loop to do.
type packetEvents struct {
	askKeyframe bool // send a PLI
	froze       bool // a freeze ended
}

// packet accounts for one RTP packet read at now (ns since the run
// began) in the given window phase; the window began at windowStart. It
// allocates nothing.
func (t *recvTrack) packet(b []byte, now int64, phase int32, windowStart int64) (ev packetEvents) {
	start, end, ok := rtpPayloadOffset(b)
	if !ok {
		return ev
	}
	if ssrc := binary.BigEndian.Uint32(b[8:]); ssrc != t.ssrc {
		if t.ssrc != 0 {
			t.loss.add(t.seq.counts())
			t.seq = newSeqTracker()
		}
		t.ssrc = ssrc
	}
	seq := binary.BigEndian.Uint16(b[2:])
	fresh := t.seq.observe(seq, phase)
	if phase == phaseWindow {
		t.packets++
		t.bytes += int64(len(b))
	}
	if t.started == 0 {
		t.started = now
		if !t.video {
			t.owner.firstAudio.CompareAndSwap(0, now)
		}
	}
	// A copy of a packet already seen (a retransmission that crossed the
	// original, or salon's bandwidth probe) completes no frame again.
	if !t.video || !fresh {
		return ev
	}
	marker := b[1]&0x80 != 0
	if info, ok := parseVP8(b[start:end]); ok && info.keyframe {
		t.keyframe++
		t.inKey, t.keyNext = true, seq
	}
	if t.inKey {
		if seq == t.keyNext {
			t.keyNext++
			if marker {
				t.inKey = false
				if !t.decoded {
					t.decoded = true
					t.owner.firstKeyframe.CompareAndSwap(0, now)
				}
			}
		} else {
			t.inKey = false
		}
	}
	if !marker {
		return ev
	}
	t.owner.firstFrame.CompareAndSwap(0, now)
	if phase == phaseWindow {
		t.frames++
	}
	ev.froze = t.freeze.frame(now, phase == phaseWindow && t.visible, windowStart)
	// A frame before any keyframe cannot be decoded: the browser's
	// decoder would ask for a keyframe.
	if !t.decoded && now-t.lastPLI >= int64(pliEvery) {
		t.lastPLI = now
		ev.askKeyframe = true
	}
	return ev
}
