package signaling

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	sockets      prometheus.Gauge
	participants prometheus.Gauge
	resumes      prometheus.Counter
	errors       *prometheus.CounterVec
	joinDuration prometheus.Histogram
	relayed      prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		sockets: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "salon", Subsystem: "signaling",
			Name: "sockets", Help: "Open signalling WebSockets."}),
		participants: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "salon",
			Name: "participants", Help: "Participants in rooms, including those reconnecting."}),
		resumes: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "salon", Subsystem: "signaling",
			Name: "resumes_total", Help: "Participants who took back their place after a dropped socket."}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "salon", Subsystem: "signaling",
			Name: "refused_messages_total", Help: "Client messages refused, by error code."}, []string{"code"}),
		joinDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "salon",
			Name:    "join_duration_seconds",
			Help:    "Time from a join message to the participant's first connected media connection.",
			Buckets: []float64{0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30}}),
		relayed: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "salon", Subsystem: "signaling",
			Name: "relayed_sockets", Help: "WebSockets held by this node and relayed to the node that hosts their room."}),
	}
	if reg != nil {
		reg.MustRegister(m.sockets, m.participants, m.resumes, m.errors, m.joinDuration, m.relayed)
	}
	return m
}
