package sfu

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// simulcastAPI is a browser-role API that can send simulcast: the mid and
// RID header extensions are registered.
func simulcastAPI(t testing.TB) *webrtc.API {
	t.Helper()
	return newClientAPIWith(t, func(me *webrtc.MediaEngine) {
		for _, uri := range []string{sdp.SDESMidURI, sdp.SDESRTPStreamIDURI, sdp.SDESRepairRTPStreamIDURI} {
			if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: uri}, webrtc.RTPCodecTypeVideo); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// publishSimulcast adds a camera track sent as three layers q, h, f and
// negotiates it; it returns the layers' tracks, lowest first.
func (c *testClient) publishSimulcast(ctx context.Context) ([maxLayers]*webrtc.TrackLocalStaticRTP, *webrtc.RTPTransceiver) {
	c.t.Helper()
	var tracks [maxLayers]*webrtc.TrackLocalStaticRTP
	for i, rid := range layerRIDs {
		tr, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "v", c.id,
			webrtc.WithRTPStreamID(rid))
		if err != nil {
			c.t.Fatal(err)
		}
		tracks[i] = tr
	}
	tr, err := c.pub.AddTransceiverFromTrack(tracks[0], webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		c.t.Fatal(err)
	}
	for _, t := range tracks[1:] {
		if err := tr.Sender().AddEncoding(t); err != nil {
			c.t.Fatal(err)
		}
	}
	c.negotiatePublish(ctx, map[string]string{"0": "camera"})
	return tracks, tr
}

// sendLayers sends the three layers at 320x180, 640x360 and 1280x720, one
// packet per frame every 10 ms, a keyframe every 10 frames; the last byte
// of each payload is the layer index. Layers the SFU stopped are not sent.
//
// pion does not stamp the mid and RID header extensions itself; a browser
// does, and salon needs them to tell the layers apart.
func sendLayers(ctx context.Context, c *testClient, tracks [maxLayers]*webrtc.TrackLocalStaticRTP, tr *webrtc.RTPTransceiver) {
	var midID, ridID uint8
	for _, e := range tr.Sender().GetParameters().HeaderExtensions {
		switch e.URI {
		case sdp.SDESMidURI:
			midID = uint8(e.ID)
		case sdp.SDESRTPStreamIDURI:
			ridID = uint8(e.ID)
		}
	}
	var seq [maxLayers]uint16
	var ts [maxLayers]uint32
	for i := range seq {
		seq[i] = uint16(1000 * (i + 1))
		ts[i] = uint32(50000 * (i + 1))
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for frame := 0; ; frame++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		c.mu.Lock()
		active := []string{"q", "h", "f"}
		if n := len(c.layers); n > 0 {
			active = c.layers[n-1]
		}
		c.mu.Unlock()
		for i, track := range tracks {
			seq[i]++
			ts[i] += 900
			if !slices.Contains(active, layerRIDs[i]) {
				continue
			}
			w, h := 320<<i, 180<<i
			payload := vp8Packet(uint16(frame+100*i), frame%10 == 0, w, h, 300, byte(i))
			p := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq[i], Timestamp: ts[i], Marker: true}, Payload: payload}
			_ = p.SetExtension(midID, []byte(tr.Mid()))
			_ = p.SetExtension(ridID, []byte(layerRIDs[i]))
			_ = track.WriteRTP(p)
		}
	}
}

// received is what a subscriber saw of one track.
type received struct {
	layer   byte
	seq     uint16
	ts      uint32
	pid     uint16
	hasPID  bool
	arrived time.Time
}

func readTrack(tr *webrtc.TrackRemote, out chan<- received) {
	for {
		p, _, err := tr.ReadRTP()
		if err != nil {
			close(out)
			return
		}
		r := received{layer: p.Payload[len(p.Payload)-1], seq: p.SequenceNumber, ts: p.Timestamp, arrived: time.Now()}
		if d, ok := parseVP8(p.Payload); ok && d.hasPictureID {
			r.pid, r.hasPID = d.pictureID, true
		}
		out <- r
	}
}

func TestSimulcastLayerFollowsTileSize(t *testing.T) {
	s := newTestSFU(t)
	room, _ := s.Room("r")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	pub := newTestClient(t, simulcastAPI(t), room, "pub")
	sub := newTestClient(t, clientAPI(t), room, "sub")
	tracks, ptr := pub.publishSimulcast(ctx)
	go sendLayers(ctx, pub, tracks, ptr)
	tr := waitTrack(t, sub)
	pkts := make(chan received, 1024)
	go readTrack(tr, pkts)

	var last *received
	var switches int
	// next reads packets until one comes from layer want, checking on
	// the way that the subscriber's stream stays continuous.
	next := func(what string, want byte) {
		t.Helper()
		start := time.Now()
		deadline := time.After(30 * time.Second)
		for {
			select {
			case <-deadline:
				t.Fatalf("%s: layer %d never arrived (last layer %d)", what, want, last.layer)
			case r, ok := <-pkts:
				if !ok {
					t.Fatalf("%s: track ended", what)
				}
				if last != nil {
					if r.seq != last.seq+1 {
						t.Fatalf("%s: sequence %d after %d: the stream is not continuous", what, r.seq, last.seq)
					}
					if int32(r.ts-last.ts) <= 0 {
						t.Fatalf("%s: timestamp %d after %d", what, r.ts, last.ts)
					}
					if r.hasPID && last.hasPID && r.pid != (last.pid+1)&0x7fff {
						t.Fatalf("%s: picture id %d after %d", what, r.pid, last.pid)
					}
					if r.layer != last.layer {
						switches++
					}
				}
				last = &r
				if r.layer == want {
					t.Logf("%s: on layer %d after %s", what, want, time.Since(start).Round(time.Millisecond))
					return
				}
			}
		}
	}
	// Nothing said about the tile: the best layer.
	next("no view", 2)
	// A thumbnail gets the low layer, a large tile the high one.
	if err := sub.peer.SetView([]View{{Participant: "pub", Source: "camera", Width: 320, Height: 180, Visible: true}}); err != nil {
		t.Fatal(err)
	}
	next("small tile", 0)
	if err := sub.peer.SetView([]View{{Participant: "pub", Source: "camera", Width: 640, Height: 360, Visible: true}}); err != nil {
		t.Fatal(err)
	}
	next("medium tile", 1)
	if err := sub.peer.SetView([]View{{Participant: "pub", Source: "camera", Width: 1920, Height: 1080, Visible: true}}); err != nil {
		t.Fatal(err)
	}
	next("large tile", 2)
	if switches < 3 {
		t.Errorf("%d layer switches, want at least 3", switches)
	}

	// The thumbnail again: once the other layers have lingered, the
	// publisher is told to encode only q.
	if err := sub.peer.SetView([]View{{Participant: "pub", Source: "camera", Width: 160, Height: 90, Visible: true}}); err != nil {
		t.Fatal(err)
	}
	next("thumbnail", 0)
	waitFor(t, 20*time.Second, "the publisher told to encode only q", func() bool {
		pub.mu.Lock()
		defer pub.mu.Unlock()
		n := len(pub.layers)
		return n > 0 && slices.Equal(pub.layers[n-1], []string{"q"})
	})

	// A hidden tile receives nothing, and the subscriber is told why.
	if err := sub.peer.SetView([]View{{Participant: "pub", Source: "camera", Width: 160, Height: 90, Visible: false}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the hidden tile reported paused", func() bool {
		sub.mu.Lock()
		defer sub.mu.Unlock()
		return len(sub.paused) == 1 && sub.paused[0].Reason == PausedHidden
	})
	for len(pkts) > 0 {
		r := <-pkts // what was sent before the pause
		last = &r
	}
	select {
	case r := <-pkts:
		t.Fatalf("a hidden tile still receives packets (layer %d)", r.layer)
	case <-time.After(time.Second):
	}
	waitFor(t, 20*time.Second, "the publisher told to stop every layer", func() bool {
		pub.mu.Lock()
		defer pub.mu.Unlock()
		n := len(pub.layers)
		return n > 0 && len(pub.layers[n-1]) == 0
	})

	// Visible again: the publisher restarts q and the stream resumes,
	// still continuous.
	if err := sub.peer.SetView([]View{{Participant: "pub", Source: "camera", Width: 160, Height: 90, Visible: true}}); err != nil {
		t.Fatal(err)
	}
	next("visible again", 0)
	r := <-pkts
	if r.seq != last.seq+1 {
		t.Fatalf("after the pause: sequence %d after %d", r.seq, last.seq)
	}
}

func TestSetViewRejectsBadInput(t *testing.T) {
	s := newTestSFU(t)
	room, _ := s.Room("r")
	c := newTestClient(t, clientAPI(t), room, "x")
	for _, v := range [][]View{
		{{Participant: "a", Source: "camera", Width: -1, Height: 10, Visible: true}},
		{{Participant: "a", Source: "camera", Width: 10, Height: 1 << 20, Visible: true}},
		{{Participant: "", Source: "camera", Visible: true}},
		{{Participant: "a", Source: "webcam", Visible: true}},
		make([]View, maxViews+1),
	} {
		if err := c.peer.SetView(v); err == nil {
			t.Errorf("SetView(%+v) accepted", v[0])
		}
	}
	if err := c.peer.SetView([]View{{Participant: "a", Source: "screen", Width: 10, Height: 10}}); err != nil {
		t.Errorf("a good view was refused: %v", err)
	}
}

func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
