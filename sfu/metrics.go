package sfu

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	rooms        prometheus.Gauge
	peers        prometheus.Gauge
	tracks       *prometheus.GaugeVec
	fwdPackets   prometheus.Counter
	fwdBytes     prometheus.Counter
	nackRepaired prometheus.Counter
	nackMissed   prometheus.Counter
	keyframeReqs prometheus.Counter
	probePackets prometheus.Counter
	switches     prometheus.Counter
	estimate     prometheus.Histogram
	speakerFlips prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		rooms: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "salon", Subsystem: "sfu", Name: "rooms", Help: "Rooms with at least one media peer."}),
		peers: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "salon", Subsystem: "sfu", Name: "participants", Help: "Participants with media connections."}),
		tracks: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "salon", Subsystem: "sfu", Name: "published_tracks", Help: "Tracks being published, by kind."},
			[]string{"kind"}),
		fwdPackets: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "salon", Subsystem: "sfu", Name: "forwarded_packets_total",
			Help: "RTP packets written to subscribers."}),
		fwdBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "salon", Subsystem: "sfu", Name: "forwarded_bytes_total",
			Help: "RTP bytes (header and payload) written to subscribers."}),
		nackRepaired: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "salon", Subsystem: "sfu", Name: "retransmitted_packets_total",
			Help: "Packets resent to a subscriber from the packet cache after a NACK."}),
		nackMissed: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "salon", Subsystem: "sfu", Name: "nack_cache_misses_total",
			Help: "NACKed packets no longer in the packet cache."}),
		keyframeReqs: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "salon", Subsystem: "sfu", Name: "keyframe_requests_total",
			Help: "PLIs sent to publishers (after rate limiting)."}),
		probePackets: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "salon", Subsystem: "sfu", Name: "probe_packets_total",
			Help: "Packets resent to subscribers on purpose to probe their bandwidth."}),
		switches: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "salon", Subsystem: "sfu", Name: "layer_switches_total",
			Help: "Times a subscriber moved to another simulcast layer, or was paused or resumed."}),
		estimate: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "salon", Subsystem: "sfu", Name: "subscriber_bandwidth_bits",
			Help:    "Subscribers' bandwidth estimates, sampled at each allocation (bits per second).",
			Buckets: prometheus.ExponentialBuckets(125_000, 2, 9)}),
		speakerFlips: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "salon", Subsystem: "sfu", Name: "speaker_changes_total",
			Help: "Changes of the active speakers of a room sent to its participants."}),
	}
	for _, kind := range []string{"audio", "video"} {
		m.tracks.WithLabelValues(kind) // export zeros before the first track
	}
	if reg != nil {
		reg.MustRegister(m.rooms, m.peers, m.tracks, m.fwdPackets, m.fwdBytes, m.nackRepaired, m.nackMissed, m.keyframeReqs,
			m.probePackets, m.switches, m.estimate, m.speakerFlips)
	}
	return m
}
