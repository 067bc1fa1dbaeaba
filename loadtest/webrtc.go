package loadtest

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/logging"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// webrtcAPIs are the WebRTC stacks every simulated participant shares: one
// for publish connections, one for subscribe connections.
type webrtcAPIs struct {
	publish, subscribe *webrtc.API
}

func newAPIs(cfg *Config, log *slog.Logger) (webrtcAPIs, error) {
	pub, err := newAPI(cfg, log, true)
	if err != nil {
		return webrtcAPIs{}, err
	}
	sub, err := newAPI(cfg, log, false)
	return webrtcAPIs{publish: pub, subscribe: sub}, err
}

// newAPI builds one WebRTC stack. It offers what Chrome offers for the
// codecs salon forwards (Opus, VP8), the header extensions simulcast and
// speaker detection need (mid, rid, repaired rid, audio level) and the
// feedback a browser sends: NACKs, PLIs, receiver reports and, unless
// --congestion-feedback=false, transport-wide sequence numbers on what
// publishers send and transport-wide congestion feedback on what
// subscribers receive. Publishers answer salon's NACKs from the last 256
// packets of each video encoding, on the same stream (no RTX), as a
// browser repairs its uplink; what --loss drops never reached that
// buffer and stays lost.
func newAPI(cfg *Config, log *slog.Logger, publish bool) (*webrtc.API, error) {
	lf := pionLoggerFactory{log: log}
	me := &webrtc.MediaEngine{}
	videoFB := []webrtc.RTCPFeedback{
		{Type: "goog-remb"}, {Type: webrtc.TypeRTCPFBTransportCC}, {Type: "ccm", Parameter: "fir"},
		{Type: "nack"}, {Type: "nack", Parameter: "pli"},
	}
	codecs := []struct {
		kind webrtc.RTPCodecType
		c    webrtc.RTPCodecParameters
	}{
		{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecParameters{PayloadType: 111, RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1",
			RTCPFeedback: []webrtc.RTCPFeedback{{Type: webrtc.TypeRTCPFBTransportCC}}}}},
		{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecParameters{PayloadType: 96, RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: videoFB}}},
	}
	if !publish {
		// Receivers take retransmissions and salon's bandwidth probes on an
		// RTX stream (RFC 4588), as Chrome does.
		codecs = append(codecs, struct {
			kind webrtc.RTPCodecType
			c    webrtc.RTPCodecParameters
		}{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecParameters{PayloadType: 97, RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeRTX, ClockRate: 90000, SDPFmtpLine: "apt=96"}}})
	}
	for _, c := range codecs {
		if err := me.RegisterCodec(c.c, c.kind); err != nil {
			return nil, fmt.Errorf("register %s: %w", c.c.MimeType, err)
		}
	}
	exts := []struct {
		uri   string
		kinds []webrtc.RTPCodecType
	}{
		{sdp.SDESMidURI, []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo}},
		{sdp.SDESRTPStreamIDURI, []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo}},
		{sdp.SDESRepairRTPStreamIDURI, []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo}},
		{audioLevelURI, []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio}},
	}
	for _, e := range exts {
		for _, k := range e.kinds {
			if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: e.uri}, k); err != nil {
				return nil, fmt.Errorf("register header extension %s: %w", e.uri, err)
			}
		}
	}

	ir := &interceptor.Registry{}
	gen, err := nack.NewGeneratorInterceptor(nack.WithGeneratorLoggerFactory(lf))
	if err != nil {
		return nil, err
	}
	ir.Add(gen)
	if err := webrtc.ConfigureRTCPReportsWithOptions(ir,
		[]report.ReceiverOption{report.WithReceiverLoggerFactory(lf)}, report.WithSenderLoggerFactory(lf)); err != nil {
		return nil, err
	}
	// Transport-wide sequence numbers on what publishers send, and feedback
	// on what receivers get, as browsers do; salon pays for both, and
	// estimates each subscriber's bandwidth from the feedback. Without the
	// header extension on the subscribe side salon makes no estimate.
	switch {
	case publish:
		resp, err := nack.NewResponderInterceptor(nack.ResponderSize(256), nack.WithResponderLoggerFactory(lf))
		if err != nil {
			return nil, err
		}
		ir.Add(resp)
		if err := webrtc.ConfigureTWCCHeaderExtensionSender(me, ir); err != nil {
			return nil, err
		}
	case cfg.CongestionFeedback:
		if err := webrtc.ConfigureTWCCSenderWithOptions(me, ir, twcc.WithLoggerFactory(lf)); err != nil {
			return nil, err
		}
	}

	se := webrtc.SettingEngine{LoggerFactory: lf}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if cfg.Loopback {
		se.SetIncludeLoopbackCandidate(true)
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)), nil
}

// pionLoggerFactory sends pion's logging to the load tester's log at debug
// level: with hundreds of connections, pion's warnings about single ones
// would drown the report; what matters shows up in the failures.
type pionLoggerFactory struct{ log *slog.Logger }

func (f pionLoggerFactory) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{log: f.log.With("component", "pion", "scope", scope)}
}

type pionLogger struct{ log *slog.Logger }

func (l pionLogger) logf(format string, args ...any) {
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		l.log.Debug(fmt.Sprintf(format, args...))
	}
}

func (l pionLogger) Trace(string)          {}
func (l pionLogger) Tracef(string, ...any) {}
func (l pionLogger) Debug(msg string)      { l.logf("%s", msg) }
func (l pionLogger) Debugf(f string, a ...any) {
	l.logf(f, a...)
}
func (l pionLogger) Info(msg string)           { l.logf("%s", msg) }
func (l pionLogger) Infof(f string, a ...any)  { l.logf(f, a...) }
func (l pionLogger) Warn(msg string)           { l.logf("%s", msg) }
func (l pionLogger) Warnf(f string, a ...any)  { l.logf(f, a...) }
func (l pionLogger) Error(msg string)          { l.logf("%s", msg) }
func (l pionLogger) Errorf(f string, a ...any) { l.logf(f, a...) }
