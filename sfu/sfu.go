package sfu

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/sdp/v3"
	"github.com/pion/transport/v5"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"
)

// Config is the media plane's configuration, as an operator sets it.
type Config struct {
	// UDPPort is the one UDP port that carries all media of the process
	// (ICE UDP mux); ICE-TCP listens on the same port number. Zero picks a
	// free port, which is only useful in tests.
	UDPPort int
	// ListenIP restricts the sockets to one local address; empty means all.
	ListenIP string
	// AnnounceIPs replace the host addresses in the candidates sent to
	// browsers (the public address of a host behind 1:1 NAT).
	AnnounceIPs []string
	// Interfaces limits candidate gathering to these interface names;
	// empty means every interface.
	Interfaces []string
	// IncludeLoopback offers loopback addresses as candidates. Off in
	// production; tests that run in a loopback-only namespace need it.
	IncludeLoopback bool
	// DisableTCP turns ICE-TCP off.
	DisableTCP bool
	// IPv6 gathers IPv6 candidates too.
	IPv6 bool
	// LastN is the most videos one subscriber receives at once, the
	// latest speakers first (screen shares always); 0 means no limit.
	LastN int
	// SimulateLoss drops this share (0 to 0.5) of the media packets salon
	// sends and of those it receives over UDP, at random: for trying how
	// meetings hold up on a bad network. Never set in production.
	SimulateLoss float64
}

// Options carries the collaborators of the SFU.
type Options struct {
	Logger *slog.Logger
	// net replaces the host's network (tests: a pion vnet with bandwidth
	// limits and loss); the media port is then UDP only.
	net transport.Net
	// Registerer receives the SFU's metrics; nil registers nowhere.
	Registerer prometheus.Registerer
}

// SFU is one process's media plane: the sockets, the WebRTC API and the
// rooms.
type SFU struct {
	log     *slog.Logger
	api     *webrtc.API
	metrics *metrics
	udpMux  ice.UDPMux
	tcpMux  ice.TCPMux
	tcpLis  net.Listener
	udpPort int
	lastN   int
	bwe     *bweRegistry

	mu     sync.Mutex
	rooms  map[string]*Room
	closed bool
}

// ErrClosed is returned by operations on a closed SFU, room or peer.
var ErrClosed = errors.New("sfu: closed")

// New opens the media sockets and builds the WebRTC API.
func New(cfg Config, opts Options) (*SFU, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "sfu")
	lf := pionLoggerFactory{logger: log}

	keepIP := func(ip net.IP) bool {
		if ip.IsLoopback() {
			return cfg.IncludeLoopback
		}
		if ip.To4() == nil && !cfg.IPv6 {
			return false
		}
		if cfg.ListenIP != "" {
			return ip.Equal(net.ParseIP(cfg.ListenIP))
		}
		return true
	}
	keepIface := func(name string) bool {
		if len(cfg.Interfaces) == 0 {
			return true
		}
		for _, n := range cfg.Interfaces {
			if n == name {
				return true
			}
		}
		return false
	}

	udpNets := []ice.NetworkType{ice.NetworkTypeUDP4}
	netTypes := []webrtc.NetworkType{webrtc.NetworkTypeUDP4}
	if cfg.IPv6 {
		udpNets = append(udpNets, ice.NetworkTypeUDP6)
		netTypes = append(netTypes, webrtc.NetworkTypeUDP6)
	}
	muxOpts := []ice.UDPMuxFromPortOption{
		ice.UDPMuxFromPortWithInterfaceFilter(keepIface),
		ice.UDPMuxFromPortWithIPFilter(keepIP),
		ice.UDPMuxFromPortWithNetworks(udpNets...),
		ice.UDPMuxFromPortWithLogger(lf.NewLogger("udpmux")),
		ice.UDPMuxFromPortWithReadBufferSize(4 << 20),
		ice.UDPMuxFromPortWithWriteBufferSize(4 << 20),
	}
	if cfg.IncludeLoopback {
		muxOpts = append(muxOpts, ice.UDPMuxFromPortWithLoopback())
	}
	if opts.net != nil {
		muxOpts = append(muxOpts, ice.UDPMuxFromPortWithNet(opts.net))
		cfg.DisableTCP = true
		if cfg.UDPPort == 0 {
			cfg.UDPPort = 7882
		}
	}
	// A port salon picks itself (tests) must be free for UDP and for TCP:
	// another process may hold the TCP side of a free UDP number, so a
	// few numbers are tried.
	var (
		udpPort int
		udpMux  *ice.MultiUDPMuxDefault
		lis     net.Listener
	)
	for attempt := 0; ; attempt++ {
		udpPort = cfg.UDPPort
		if udpPort == 0 {
			p, err := freeUDPPort(cfg.ListenIP)
			if err != nil {
				return nil, err
			}
			udpPort = p
		}
		var mux *ice.MultiUDPMuxDefault
		var err error
		if opts.net != nil {
			mux, err = ice.NewMultiUDPMuxFromPort(udpPort, muxOpts...)
		} else {
			mux, err = batchedUDPMux(udpPort, keepIface, keepIP, cfg.IncludeLoopback, cfg.IPv6, cfg.SimulateLoss, lf)
		}
		if err != nil {
			if cfg.UDPPort == 0 && attempt < 10 {
				continue
			}
			return nil, fmt.Errorf("open media UDP port %d: %w", udpPort, err)
		}
		udpMux = mux
		if cfg.DisableTCP {
			break
		}
		l, err := net.Listen("tcp", net.JoinHostPort(cfg.ListenIP, strconv.Itoa(udpPort)))
		if err == nil {
			lis = l
			break
		}
		_ = udpMux.Close()
		if cfg.UDPPort != 0 || attempt >= 10 {
			return nil, fmt.Errorf("open media TCP port %d: %w", udpPort, err)
		}
	}
	s := &SFU{log: log, udpMux: udpMux, udpPort: udpPort, lastN: cfg.LastN, rooms: map[string]*Room{}}

	se := webrtc.SettingEngine{LoggerFactory: lf}
	if opts.net != nil {
		se.SetNet(opts.net)
	}
	se.SetICEUDPMux(udpMux)
	if !cfg.DisableTCP {
		s.tcpLis = lis
		s.tcpMux = webrtc.NewICETCPMux(lf.NewLogger("tcpmux"), lis, 32)
		se.SetICETCPMux(s.tcpMux)
		netTypes = append(netTypes, webrtc.NetworkTypeTCP4)
		if cfg.IPv6 {
			netTypes = append(netTypes, webrtc.NetworkTypeTCP6)
		}
	}
	se.SetNetworkTypes(netTypes)
	se.SetIncludeLoopbackCandidate(cfg.IncludeLoopback)
	se.SetInterfaceFilter(keepIface)
	se.SetIPFilter(keepIP)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	// Notice a vanished browser in 5 s and give up on the path after 15 s
	// (then an ICE restart can find a new one); keep NAT bindings warm.
	se.SetICETimeouts(5*time.Second, 15*time.Second, 2*time.Second)
	if len(cfg.AnnounceIPs) > 0 {
		if err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
			External:        cfg.AnnounceIPs,
			AsCandidateType: webrtc.ICECandidateTypeHost,
		}); err != nil {
			s.closeSockets()
			return nil, fmt.Errorf("announce addresses %v: %w", cfg.AnnounceIPs, err)
		}
	}

	s.bwe = &bweRegistry{}
	me, ir, err := newMediaEngine(lf, s.bwe)
	if err != nil {
		s.closeSockets()
		return nil, err
	}
	s.api = webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
	s.metrics = newMetrics(opts.Registerer)
	log.Info("media sockets open", "udp_port", udpPort, "tcp", !cfg.DisableTCP, "loopback", cfg.IncludeLoopback,
		"announce", cfg.AnnounceIPs)
	if cfg.SimulateLoss > 0 {
		log.Warn("dropping media packets on purpose (--rtc-simulate-loss): not for production",
			"percent", 100*min(cfg.SimulateLoss, 0.5))
	}
	return s, nil
}

// batchedUDPMux listens on port at every local address the filters keep,
// like ice.NewMultiUDPMuxFromPort, with sockets that send in batches
// (batchConn).
func batchedUDPMux(port int, keepIface func(string) bool, keepIP func(net.IP) bool, loopback, v6 bool,
	loss float64, lf pionLoggerFactory) (*ice.MultiUDPMuxDefault, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list network interfaces: %w", err)
	}
	var conns []*batchConn
	closeAll := func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}
	for _, iface := range ifaces {
		if iface.Flags&net.FlagUp == 0 || (iface.Flags&net.FlagLoopback != 0 && !loopback) || !keepIface(iface.Name) {
			continue
		}
		addrs, err := iface.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip := ipn.IP
			if (ip.IsLoopback() && !loopback) || (ip.To4() == nil && (!v6 || ip.IsLinkLocalUnicast())) || !keepIP(ip) {
				continue
			}
			uc, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip, Port: port})
			if err != nil {
				closeAll()
				return nil, err
			}
			_ = uc.SetReadBuffer(4 << 20)
			_ = uc.SetWriteBuffer(4 << 20)
			conns = append(conns, newBatchConn(uc, loss))
		}
	}
	if len(conns) == 0 {
		return nil, errors.New("no local address to listen on: check --rtc-listen-ip and --rtc-interfaces " +
			"(a loopback address needs --rtc-loopback)")
	}
	muxes := make([]ice.UDPMux, 0, len(conns))
	for _, c := range conns {
		muxes = append(muxes, ice.NewUDPMuxDefault(ice.UDPMuxParams{Logger: lf.NewLogger("udpmux"), UDPConn: c}))
	}
	return ice.NewMultiUDPMuxDefault(muxes...), nil
}

func freeUDPPort(ip string) (int, error) {
	c, err := net.ListenPacket("udp4", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, fmt.Errorf("find a free UDP port: %w", err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

// newMediaEngine registers the codecs salon forwards and the interceptors
// that keep streams healthy: NACK generation towards publishers (answering
// subscribers' NACKs is done from salon's own per-layer cache), RTCP sender
// and receiver reports, and transport-wide congestion control: feedback to
// publishers, sequence numbers on what salon sends (see twccExtension).
//
// Video formats come with RTX (RFC 4588); Opus is offered with in-band FEC
// and DTX, which salon passes through untouched, and RED (RFC 2198) for
// browsers that send redundant audio.
func newMediaEngine(lf pionLoggerFactory, bwe *bweRegistry) (*webrtc.MediaEngine, *interceptor.Registry, error) {
	me := &webrtc.MediaEngine{}
	videoFB := []webrtc.RTCPFeedback{
		{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"}, {Type: "nack"}, {Type: "nack", Parameter: "pli"},
		{Type: webrtc.TypeRTCPFBTransportCC},
	}
	audioFB := []webrtc.RTCPFeedback{{Type: webrtc.TypeRTCPFBTransportCC}}
	type codec struct {
		kind webrtc.RTPCodecType
		c    webrtc.RTPCodecParameters
	}
	video := func(pt webrtc.PayloadType, mime, fmtp string) []codec {
		return []codec{
			{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecParameters{PayloadType: pt, RTPCodecCapability: webrtc.RTPCodecCapability{
				MimeType: mime, ClockRate: 90000, SDPFmtpLine: fmtp, RTCPFeedback: videoFB}}},
			{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecParameters{PayloadType: pt + 1, RTPCodecCapability: webrtc.RTPCodecCapability{
				MimeType: webrtc.MimeTypeRTX, ClockRate: 90000, SDPFmtpLine: fmt.Sprintf("apt=%d", pt)}}},
		}
	}
	codecs := []codec{
		{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecParameters{PayloadType: 111, RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1;usedtx=1",
			RTCPFeedback: audioFB}}},
		{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecParameters{PayloadType: 63, RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: mimeTypeRED, ClockRate: 48000, Channels: 2, SDPFmtpLine: "111/111", RTCPFeedback: audioFB}}},
	}
	codecs = append(codecs, video(96, webrtc.MimeTypeVP8, "")...)
	codecs = append(codecs, video(98, webrtc.MimeTypeVP9, "profile-id=0")...)
	codecs = append(codecs, video(102, webrtc.MimeTypeH264, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f")...)
	codecs = append(codecs, video(104, webrtc.MimeTypeH264, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f")...)
	for _, c := range codecs {
		if err := me.RegisterCodec(c.c, c.kind); err != nil {
			return nil, nil, fmt.Errorf("register codec %s: %w", c.c.MimeType, err)
		}
	}
	// Simulcast needs the mid and RID extensions to tell layers apart;
	// speaker detection reads the audio level.
	exts := []struct {
		uri  string
		kind webrtc.RTPCodecType
	}{
		{sdp.SDESMidURI, webrtc.RTPCodecTypeVideo},
		{sdp.SDESRTPStreamIDURI, webrtc.RTPCodecTypeVideo},
		{sdp.SDESRepairRTPStreamIDURI, webrtc.RTPCodecTypeVideo},
		{sdp.SDESMidURI, webrtc.RTPCodecTypeAudio},
		{audioLevelURI, webrtc.RTPCodecTypeAudio},
	}
	for _, e := range exts {
		if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: e.uri}, e.kind); err != nil {
			return nil, nil, fmt.Errorf("register header extension %s: %w", e.uri, err)
		}
	}

	// pion's NACK generator, transport-cc feedback and RTCP reports each
	// run a ticker per connection from the moment it exists (10 or 1 per
	// second). Most of salon's connections need none of them: a subscribe
	// connection receives no media, a publish connection sends none, and a
	// listener's publish connection carries nothing at all. lazyLoop starts
	// each one with the first stream it has work for (measured in load
	// scenario 1: about 1,800 timer wake-ups a second fewer, half the
	// context switches, 14.3 → 13.0 µs of CPU per forwarded packet).
	ir := &interceptor.Registry{}
	// A lost packet is asked for a few times, not every 100 ms until it
	// leaves the window: the repair may itself be lost, but a publisher
	// must not be flooded.
	gen, err := nack.NewGeneratorInterceptor(nack.WithGeneratorLoggerFactory(lf), nack.GeneratorMaxNacksPerPacket(3))
	if err != nil {
		return nil, nil, err
	}
	ir.Add(lazyLoop(gen, false))
	rr, err := report.NewReceiverInterceptor(report.WithReceiverLoggerFactory(lf))
	if err != nil {
		return nil, nil, err
	}
	ir.Add(lazyLoop(rr, false))
	sr, err := report.NewSenderInterceptor(report.WithSenderLoggerFactory(lf))
	if err != nil {
		return nil, nil, err
	}
	ir.Add(lazyLoop(sr, true))
	fb, err := twcc.NewSenderInterceptor(twcc.WithLoggerFactory(lf))
	if err != nil {
		return nil, nil, err
	}
	ir.Add(lazyLoop(fb, false))
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		me.RegisterFeedback(webrtc.RTCPFeedback{Type: webrtc.TypeRTCPFBTransportCC}, kind)
		if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.TransportCCURI}, kind); err != nil {
			return nil, nil, err
		}
	}
	ir.Add(twccExtensionFactory{reg: bwe})
	return me, ir, nil
}

// mimeTypeRED is RFC 2198 redundant audio.
const mimeTypeRED = "audio/red"

// UDPPort is the media port in use (useful when Config.UDPPort was zero).
func (s *SFU) UDPPort() int { return s.udpPort }

// Room returns the room with the given id, creating it on first use.
func (s *SFU) Room(id string) (*Room, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	r, ok := s.rooms[id]
	if !ok {
		r = newRoom(s, id)
		s.rooms[id] = r
		s.metrics.rooms.Inc()
	}
	return r, nil
}

// removeRoomIfEmpty forgets a room once its last peer has left.
func (s *SFU) removeRoomIfEmpty(r *Room) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rooms[r.id] == r && r.empty() {
		r.stop()
		delete(s.rooms, r.id)
		s.metrics.rooms.Dec()
	}
}

// Close closes every peer and the media sockets.
func (s *SFU) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	rooms := make([]*Room, 0, len(s.rooms))
	for _, r := range s.rooms {
		rooms = append(rooms, r)
	}
	s.mu.Unlock()
	for _, r := range rooms {
		r.closeAll()
	}
	s.closeSockets()
	return nil
}

func (s *SFU) closeSockets() {
	if s.tcpMux != nil {
		_ = s.tcpMux.Close()
	}
	if s.tcpLis != nil {
		_ = s.tcpLis.Close()
	}
	_ = s.udpMux.Close()
}
