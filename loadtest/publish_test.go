package loadtest

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// simulcastOffer makes a camera publisher's offer as the load tester sends
// it to salon.
func simulcastOffer(t *testing.T) string {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Loopback = true
	api, err := newAPI(&cfg, slog.New(slog.DiscardHandler), true)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := api.NewPeerConnection(pcConfig)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	p := &participant{room: 0, index: 0}
	cam := newCamera(&cfg, p.streamID(), 1)
	tr, err := pc.AddTransceiverFromTrack(cam.layers[0].track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range cam.layers[1:] {
		if err := tr.Sender().AddEncoding(l.track); err != nil {
			t.Fatal(err)
		}
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	return browserSimulcastOffer(offer.SDP)
}

func TestSimulcastOfferLooksLikeChrome(t *testing.T) {
	offer := simulcastOffer(t)
	if err := checkSimulcastOffer(offer); err != nil {
		t.Fatalf("%v\n%s", err, offer)
	}
	if strings.Contains(offer, "a=ssrc:") {
		t.Errorf("the offer still lists SSRCs per encoding:\n%s", offer)
	}
	var msids []string
	for line := range strings.Lines(offer) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "a=msid:"); ok {
			msids = append(msids, v)
		}
	}
	// One msid, of two tokens: a stream id with a space makes pion drop
	// the RIDs of the section.
	if len(msids) != 1 || len(strings.Fields(msids[0])) != 2 {
		t.Errorf("msid lines %q, want one with a stream id and a track id", msids)
	}
	for _, uri := range []string{sdp.SDESMidURI, sdp.SDESRTPStreamIDURI} {
		if !strings.Contains(offer, uri) {
			t.Errorf("the offer lacks the %s extension salon needs to tell the layers apart", uri)
		}
	}
}

// A strict Unified Plan answerer with salon's codecs (VP8 and its RTX)
// accepts the offer and answers with the three layers.
func TestSimulcastOfferIsAcceptedAsUnifiedPlan(t *testing.T) {
	me := &webrtc.MediaEngine{}
	for _, c := range []webrtc.RTPCodecParameters{
		{PayloadType: 96, RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}},
		{PayloadType: 97, RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeRTX, ClockRate: 90000, SDPFmtpLine: "apt=96"}},
	} {
		if err := me.RegisterCodec(c, webrtc.RTPCodecTypeVideo); err != nil {
			t.Fatal(err)
		}
	}
	for _, uri := range []string{sdp.SDESMidURI, sdp.SDESRTPStreamIDURI, sdp.SDESRepairRTPStreamIDURI} {
		if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: uri}, webrtc.RTPCodecTypeVideo); err != nil {
			t.Fatal(err)
		}
	}
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(me)).NewPeerConnection(webrtc.Configuration{SDPSemantics: webrtc.SDPSemanticsUnifiedPlan})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: simulcastOffer(t)}); err != nil {
		t.Fatal(err)
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(answer.SDP, "a=simulcast:recv q;h;f") {
		t.Errorf("the answer takes no simulcast:\n%s", answer.SDP)
	}
}

func TestBrowserSimulcastOfferLeavesOtherSectionsAlone(t *testing.T) {
	offer := "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=ssrc:1 cname:x\r\na=msid:s a\r\n" +
		"m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=ssrc:2 cname:x\r\na=msid:s v\r\na=ssrc:3 cname:x\r\na=msid:s v\r\n" +
		"a=rid:q send\r\na=rid:f send\r\na=simulcast:send q;f\r\n"
	want := "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=ssrc:1 cname:x\r\na=msid:s a\r\n" +
		"m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=msid:s v\r\n" +
		"a=rid:q send\r\na=rid:f send\r\na=simulcast:send q;f\r\n"
	if got := browserSimulcastOffer(offer); got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}
