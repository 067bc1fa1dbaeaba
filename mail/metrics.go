package mail

import (
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// outboxMetrics are the outbox's Prometheus metrics. The queue gauges are
// read from the database by the worker when it goes idle, so that they
// count the messages of every node sharing it.
type outboxMetrics struct {
	queued   *prometheus.CounterVec
	sent     prometheus.Counter
	failed   prometheus.Counter
	retries  prometheus.Counter
	depth    prometheus.Gauge
	duration prometheus.Histogram
	// oldest is when the oldest queued message was queued, in unix
	// microseconds; 0 when none is.
	oldest atomic.Int64
}

func newOutboxMetrics(reg prometheus.Registerer, now func() time.Time) *outboxMetrics {
	m := &outboxMetrics{
		queued: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "salon", Subsystem: "mail",
			Name: "queued_total",
			Help: "Messages handed to the outbox, by iTIP method; those kept in the local mailbox too, and those whose transaction then rolled back."},
			[]string{"method"}),
		sent: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "salon", Subsystem: "mail",
			Name: "sent_total", Help: "Messages the relay accepted."}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "salon", Subsystem: "mail",
			Name: "failed_total", Help: "Messages refused by the relay for good, or given up on after too many attempts."}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "salon", Subsystem: "mail",
			Name: "temporary_failures_total", Help: "Delivery attempts that failed for now (4xx, network error, timeout)."}),
		depth: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "salon", Subsystem: "mail",
			Name: "queue_depth", Help: "Messages waiting for delivery, as of the worker's last idle moment."}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "salon", Subsystem: "mail",
			Name:    "send_duration_seconds",
			Help:    "Time to submit one message on an open relay session, from MAIL FROM to the reply to its data.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}}),
	}
	oldestAge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "salon", Subsystem: "mail",
		Name: "oldest_queued_age_seconds", Help: "Age of the oldest message waiting for delivery; 0 when none is."},
		func() float64 {
			us := m.oldest.Load()
			if us == 0 {
				return 0
			}
			return max(0, now().Sub(time.UnixMicro(us)).Seconds())
		})
	if reg != nil {
		reg.MustRegister(m.queued, m.sent, m.failed, m.retries, m.depth, m.duration, oldestAge)
	}
	return m
}

// itipMethods are the methods of RFC 5546 §1.4; anything else is counted
// as "other" so that a bad message cannot mint label values.
var itipMethods = map[string]bool{
	"PUBLISH": true, "REQUEST": true, "REPLY": true, "ADD": true,
	"CANCEL": true, "REFRESH": true, "COUNTER": true, "DECLINECOUNTER": true,
}

func methodLabel(method string) string {
	m := strings.ToUpper(method)
	if itipMethods[m] {
		return m
	}
	return "other"
}

// Results of an inbound delivery, the values of the result label.
const (
	resultAccepted = "accepted"
	resultRejected = "rejected"
	resultTempfail = "tempfail"
)

type inboundMetrics struct {
	received *prometheus.CounterVec
}

func newInboundMetrics(reg prometheus.Registerer) *inboundMetrics {
	m := &inboundMetrics{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "salon", Subsystem: "mail",
			Name: "received_total",
			Help: "iMIP deliveries received by the inbound listener (one per message over SMTP, one per recipient over LMTP), by result."},
			[]string{"result"}),
	}
	for _, r := range []string{resultAccepted, resultRejected, resultTempfail} {
		m.received.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.received)
	}
	return m
}
