package web

import (
	"errors"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics counts what the join endpoint does. A nil *metrics counts nothing.
type metrics struct {
	joins *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, log *slog.Logger) *metrics {
	if reg == nil {
		return nil
	}
	joins := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "salon_web_join_requests_total",
		Help: "Join token requests, by result: ok, or the API error code that refused them.",
	}, []string{"result"})
	if err := reg.Register(joins); err != nil {
		// A second Server on the same registry shares the first one's counter.
		are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err)
		existing, same := are.ExistingCollector.(*prometheus.CounterVec)
		if !ok || !same {
			log.Error("web metrics not registered", "err", err)
			return nil
		}
		joins = existing
	}
	return &metrics{joins: joins}
}

func (m *metrics) joinIssued() {
	if m != nil {
		m.joins.WithLabelValues("ok").Inc()
	}
}

func (m *metrics) joinRefused(err error) {
	if m == nil {
		return
	}
	m.joins.WithLabelValues(asAPIError(err).Code).Inc()
}
