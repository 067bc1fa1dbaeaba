package sfu

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// TestREDForwarding: a publisher sends RED (RFC 2198) audio; a subscriber
// that negotiated RED gets it as sent, one that did not gets the primary
// Opus data.
func TestREDForwarding(t *testing.T) {
	s := newTestSFU(t)
	room, _ := s.Room("r")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	red := webrtc.RTPCodecCapability{MimeType: mimeTypeRED, ClockRate: 48000, Channels: 2, SDPFmtpLine: "111/111"}
	withRED := func(me *webrtc.MediaEngine) {
		if err := me.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: red, PayloadType: 63}, webrtc.RTPCodecTypeAudio); err != nil {
			t.Fatal(err)
		}
	}
	pub := newTestClient(t, newClientAPIWith(t, withRED), room, "pub")
	plain := newTestClient(t, clientAPI(t), room, "plain")
	redSub := newTestClient(t, newClientAPIWith(t, withRED), room, "red")

	track, _ := pub.publishTrack(ctx, red, "audio")
	redundant, primary := []byte("older-frame"), []byte("newest-frame")
	// One redundant block of 11 bytes 960 ticks old, then the primary.
	payload := []byte{0x80 | 111, 0x0f, 0x00, byte(len(redundant)), 111}
	payload = append(append(payload, redundant...), primary...)
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for seq := uint16(1); ctx.Err() == nil; seq++ {
			<-tick.C
			_ = track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 960}, Payload: payload})
		}
	}()

	for _, c := range []struct {
		sub  *testClient
		mime string
		want []byte
	}{{plain, webrtc.MimeTypeOpus, primary}, {redSub, mimeTypeRED, payload}} {
		tr := waitTrack(t, c.sub)
		if !bytes.EqualFold([]byte(tr.Codec().MimeType), []byte(c.mime)) {
			t.Errorf("%s: receives %s, want %s", c.sub.id, tr.Codec().MimeType, c.mime)
		}
		p, _, err := tr.ReadRTP()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(p.Payload, c.want) {
			t.Errorf("%s: payload %q, want %q", c.sub.id, p.Payload, c.want)
		}
	}
}
