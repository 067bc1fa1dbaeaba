package sfu

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// TestRoomAnnouncesSpeakers: a publisher's RFC 6464 audio levels make it
// the room's speaker while it talks, and not once it is silent.
func TestRoomAnnouncesSpeakers(t *testing.T) {
	s := newTestSFU(t)
	room, _ := s.Room("r")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	withLevel := func(me *webrtc.MediaEngine) {
		if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: audioLevelURI}, webrtc.RTPCodecTypeAudio); err != nil {
			t.Fatal(err)
		}
	}
	pub := newTestClient(t, newClientAPIWith(t, withLevel), room, "pub")
	sub := newTestClient(t, clientAPI(t), room, "sub")
	track, tr := pub.publishTrack(ctx, webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio")
	var levelID uint8
	for _, e := range tr.Sender().GetParameters().HeaderExtensions {
		if e.URI == audioLevelURI {
			levelID = uint8(e.ID)
		}
	}
	if levelID == 0 {
		t.Fatal("the audio level extension was not negotiated")
	}
	loud := make(chan bool, 1)
	loud <- true
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		talking := true
		for seq := uint16(1); ctx.Err() == nil; seq++ {
			<-tick.C
			select {
			case talking = <-loud:
			default:
			}
			level := byte(0x80 | 25) // voice, -25 dBov
			if !talking {
				level = 127 // silence
			}
			p := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 960}, Payload: []byte{0xf8, 0xff, 0xfe}}
			_ = p.SetExtension(levelID, []byte{level})
			_ = track.WriteRTP(p)
		}
	}()
	speaking := func() []string {
		sub.mu.Lock()
		defer sub.mu.Unlock()
		return sub.speaking
	}
	waitFor(t, 10*time.Second, "pub announced as the speaker", func() bool { return slices.Equal(speaking(), []string{"pub"}) })
	// Someone who joins now hears who speaks without waiting for a change.
	late := newTestClient(t, clientAPI(t), room, "late")
	waitFor(t, 5*time.Second, "the late joiner told who speaks", func() bool {
		late.mu.Lock()
		defer late.mu.Unlock()
		return slices.Equal(late.speaking, []string{"pub"})
	})
	loud <- false
	waitFor(t, 10*time.Second, "nobody speaking after silence", func() bool { s := speaking(); return s != nil && len(s) == 0 })
}
