package identity

import "github.com/prometheus/client_golang/prometheus"

// metrics are the identity service's Prometheus series.
type metrics struct {
	minted      prometheus.Counter
	claims      *prometheus.CounterVec
	rateLimited *prometheus.CounterVec
	merges      *prometheus.CounterVec
	reaped      prometheus.Counter
	reapRuns    *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		minted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "moviedice_users_minted_total", Help: "Users created at a first contribution.",
		}),
		claims: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "moviedice_claims_total", Help: "Recovery-code claims, by outcome.",
		}, []string{"outcome"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "moviedice_rate_limited_total", Help: "Requests refused by a rate limit, by limit.",
		}, []string{"limit"}),
		merges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "moviedice_merges_total", Help: "Guest merges attempted, by result (done, retry, failed).",
		}, []string{"result"}),
		reaped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "moviedice_reaper_deleted_users_total", Help: "Idle guest users the reaper deleted.",
		}),
		reapRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "moviedice_reaper_runs_total", Help: "Reaper runs, by result (done, skipped: another instance holds the lock, error).",
		}, []string{"result"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.minted, m.claims, m.rateLimited, m.merges, m.reaped, m.reapRuns} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
