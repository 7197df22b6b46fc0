package server

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/apphub/apphub-infra/queue"
)

// metrics are the service's Prometheus series. Counters and histograms
// count what this replica did; the gauges read the shared queue (and the
// backend) at scrape time, so every replica reports the same totals.
type metrics struct {
	reg       *prometheus.Registry
	finished  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	expiries  prometheus.Counter
	callbacks *prometheus.CounterVec
}

func newMetrics(s *Server) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.finished = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "apphub_operations_total", Help: "Operations this replica finished, by kind and final status.",
	}, []string{"kind", "status"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "apphub_operation_duration_seconds", Help: "Wall time of finished operations, from the start of their last attempt.",
		Buckets: []float64{0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120, 300, 600, 900},
	}, []string{"kind", "status"})
	m.expiries = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "apphub_preview_expiries_total", Help: "Destroys of expired previews and of builds past their retention this replica queued.",
	})
	m.callbacks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "apphub_callback_deliveries_total", Help: "Callback delivery attempts by result (delivered, failed).",
	}, []string{"result"})
	m.reg.MustRegister(m.finished, m.duration, m.expiries, m.callbacks,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&queueCollector{s: s, previews: &liveCache{ttl: 15 * time.Second}})
	return m
}

// observe records a final status.
func (m *metrics) observe(op *queue.Operation) {
	if !op.Done() {
		return
	}
	m.finished.WithLabelValues(op.Kind, op.Status).Inc()
	if op.StartedAt != nil && op.FinishedAt != nil {
		m.duration.WithLabelValues(op.Kind, op.Status).Observe(op.FinishedAt.Sub(*op.StartedAt).Seconds())
	}
}

var (
	depthDesc    = prometheus.NewDesc("apphub_queue_depth", "Operations queued and not yet running, all replicas.", nil, nil)
	inFlightDesc = prometheus.NewDesc("apphub_operations_in_flight", "Operations running now, all replicas.", nil, nil)
	previewsDesc = prometheus.NewDesc("apphub_previews_live", "Preview stacks in the backend (read at most every 15 s).", nil, nil)
	upDesc       = prometheus.NewDesc("apphub_queue_up", "1 when the queue's database answered this scrape.", nil, nil)
)

// queueCollector reads the shared figures when Prometheus scrapes.
type queueCollector struct {
	s        *Server
	previews *liveCache
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- depthDesc
	ch <- inFlightDesc
	ch <- previewsDesc
	ch <- upDesc
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := c.s.q.Counts(ctx)
	up := 1.0
	if err != nil {
		up = 0
	} else {
		ch <- prometheus.MustNewConstMetric(depthDesc, prometheus.GaugeValue, float64(counts[queue.StatusQueued]))
		ch <- prometheus.MustNewConstMetric(inFlightDesc, prometheus.GaugeValue, float64(counts[queue.StatusRunning]))
	}
	ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, up)
	if n, ok := c.previews.get(ctx, c.s); ok {
		ch <- prometheus.MustNewConstMetric(previewsDesc, prometheus.GaugeValue, float64(n))
	}
}

// liveCache keeps the preview count between scrapes: listing stacks may
// cost a CLI call on backends other than file://.
type liveCache struct {
	ttl  time.Duration
	mu   sync.Mutex
	at   time.Time
	n    int
	have bool
}

func (l *liveCache) get(ctx context.Context, s *Server) (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.have && time.Since(l.at) < l.ttl {
		return l.n, true
	}
	items, err := s.b.PreviewList(ctx)
	if err != nil {
		return l.n, l.have
	}
	l.n, l.at, l.have = len(items), time.Now(), true
	return l.n, true
}

func (m *metrics) handler() http.HandlerFunc {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}).ServeHTTP
}
