package sfu

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// apiWith builds a browser-role API with only the given video codec and
// network types.
func apiWith(t *testing.T, video webrtc.RTPCodecParameters, nets []webrtc.NetworkType) *webrtc.API {
	t.Helper()
	me := &webrtc.MediaEngine{}
	if err := me.RegisterCodec(video, webrtc.RTPCodecTypeVideo); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes(nets)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se))
}

func TestForwardsTheCodecThePublisherChose(t *testing.T) {
	for _, tc := range []struct {
		name  string
		codec webrtc.RTPCodecParameters
	}{
		{"H264", webrtc.RTPCodecParameters{PayloadType: 125, RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}}},
		{"VP9", webrtc.RTPCodecParameters{PayloadType: 120, RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeVP9, ClockRate: 90000, SDPFmtpLine: "profile-id=0"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestSFU(t)
			room, _ := s.Room("r")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			pub := newTestClient(t, apiWith(t, tc.codec, []webrtc.NetworkType{webrtc.NetworkTypeUDP4}), room, "pub")
			sub := newTestClient(t, clientAPI(t), room, "sub")
			track, _ := pub.publishTrack(ctx, tc.codec.RTPCodecCapability, "camera")
			go sendVideoAs(ctx, track, tc.codec.MimeType)
			tr := waitTrack(t, sub)
			if tr.Codec().MimeType != tc.codec.MimeType {
				t.Fatalf("subscriber receives %s, publisher sends %s", tr.Codec().MimeType, tc.codec.MimeType)
			}
			if _, _, err := tr.ReadRTP(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestICETCP: a client whose network drops UDP still connects, over ICE-TCP
// on the media port number.
func TestICETCP(t *testing.T) {
	s := newTestSFU(t)
	room, _ := s.Room("r")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	vp8 := webrtc.RTPCodecParameters{PayloadType: 96, RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}}
	tcpOnly := apiWith(t, vp8, []webrtc.NetworkType{webrtc.NetworkTypeTCP4})
	pub := newTestClient(t, tcpOnly, room, "pub")
	sub := newTestClient(t, tcpOnly, room, "sub")
	track, _ := pub.publishVideo(ctx)
	go sendVideo(ctx, track)
	tr := waitTrack(t, sub)
	if _, _, err := tr.ReadRTP(); err != nil {
		t.Fatal(err)
	}
	pair, err := sub.sub.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil {
		t.Fatalf("no selected pair: %v", err)
	}
	if pair.Remote.Protocol != webrtc.ICEProtocolTCP || pair.Remote.Port != uint16(s.UDPPort()) {
		t.Fatalf("selected remote candidate %s, want TCP on port %d", pair.Remote, s.UDPPort())
	}
}
