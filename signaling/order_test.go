package signaling

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// publishCamera makes c publish a VP8 track over the protocol, as a browser
// does, and keeps sending packets until the test ends.
func publishCamera(t *testing.T, c *wsClient) {
	t.Helper()
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "v", "s")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	c.send(map[string]any{"type": "offer", "pc": "publish", "sdp": pc.LocalDescription().SDP, "sources": map[string]string{"0": "camera"}})
	answer := c.expect("answer")
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer["sdp"].(string)}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for seq := uint16(0); ; seq++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			_ = track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 900}, Payload: []byte{0x10, 0, 0, 0}})
		}
	}()
}

// TestJoinedComesBeforeTheFirstOffer: someone joining a room where tracks
// are already published learns who they are before salon's first
// subscribe offer, or a client cannot place the offer.
func TestJoinedComesBeforeTheFirstOffer(t *testing.T) {
	e := newEnv(t, Config{})
	alice, _ := e.join("r", "Alice")
	publishCamera(t, alice)
	deadline := time.Now().Add(10 * time.Second)
	// Wait until the publication exists in the SFU room.
	for {
		room, err := e.srv.sfu.Room("r")
		if err != nil {
			t.Fatal(err)
		}
		if len(room.Publications()) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Alice's camera was never published")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i := 0; i < 5; i++ {
		bob := e.dial()
		bob.send(map[string]any{"type": "join", "v": 1, "token": e.token("r", "Bob", time.Minute)})
		first := <-bob.msgs
		if first["type"] != "joined" {
			t.Fatalf("join %d: first message is %v, want joined", i, first["type"])
		}
		if offer := bob.expect("offer"); offer["pc"] != "subscribe" {
			t.Fatalf("offer for pc %v", offer["pc"])
		}
		bob.send(map[string]any{"type": "leave"})
		bob.expect("bye")
	}
}
