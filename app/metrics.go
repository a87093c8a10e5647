package app

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ferryhq/ferry/mailer"
	"github.com/ferryhq/ferry/store"
	"github.com/ferryhq/ferry/version"
)

// metrics are what GET /metrics serves: the Go runtime and the process,
// every request by route and status, and the store's and mailer's figures.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	bytesIn  *prometheus.CounterVec
	bytesOut *prometheus.CounterVec
}

func newMetrics(db *store.DB, mail *mailer.Mailer) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_http_requests_total", Help: "HTTP requests by route template and status.",
		}, []string{"route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ferry_http_request_duration_seconds", Help: "HTTP request latency by route template.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10), // 0.5 ms to 2 min
		}, []string{"route"}),
		bytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_http_request_bytes_total", Help: "Request body bytes read, by route template.",
		}, []string{"route"}),
		bytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_http_response_bytes_total", Help: "Response bytes written, by route template.",
		}, []string{"route"}),
	}
	build := version.Get()
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "ferry_build_info", Help: "Always 1; the labels say which ferry this is.",
		ConstLabels: prometheus.Labels{"version": build.Version, "commit": build.Commit, "goversion": build.Go},
	})
	info.Set(1)
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.latency, m.bytesIn, m.bytesOut, &storeCollector{db: db, mail: mail}, info)
	return m
}

// observe records one request (server.Config.Observe).
func (m *metrics) observe(route string, status int, d time.Duration, in, out int64) {
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
	m.bytesIn.WithLabelValues(route).Add(float64(in))
	m.bytesOut.WithLabelValues(route).Add(float64(out))
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// storeCollector reads the store's and the mailer's figures at each scrape.
type storeCollector struct {
	db   *store.DB
	mail *mailer.Mailer
}

var (
	descQueued  = prometheus.NewDesc("ferry_mail_queued", "Mails waiting to be delivered.", nil, nil)
	descSent    = prometheus.NewDesc("ferry_mail_sent_total", "Mails delivered since start.", nil, nil)
	descRetried = prometheus.NewDesc("ferry_mail_retries_total", "Delivery attempts that failed and will be retried, since start.", nil, nil)
	descFailed  = prometheus.NewDesc("ferry_mail_failed_total", "Mails failed for good since start.", nil, nil)
	descPending = prometheus.NewDesc("ferry_messages_pending", "Sends waiting to be accepted or declined.", nil, nil)
	descBlobs   = prometheus.NewDesc("ferry_store_blobs", "Distinct file contents stored.", nil, nil)
	descBlobB   = prometheus.NewDesc("ferry_store_blob_bytes", "Total size of the stored file contents.", nil, nil)
	descDBB     = prometheus.NewDesc("ferry_store_db_bytes", "Size of ferry.db.", nil, nil)
)

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descQueued, descSent, descRetried, descFailed, descPending, descBlobs, descBlobB, descDBB} {
		ch <- d
	}
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	sent, retried, failed := c.mail.Counts()
	ch <- prometheus.MustNewConstMetric(descSent, prometheus.CounterValue, float64(sent))
	ch <- prometheus.MustNewConstMetric(descRetried, prometheus.CounterValue, float64(retried))
	ch <- prometheus.MustNewConstMetric(descFailed, prometheus.CounterValue, float64(failed))
	s, err := c.db.Stats()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descQueued, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(descQueued, prometheus.GaugeValue, float64(s.QueuedMail))
	ch <- prometheus.MustNewConstMetric(descPending, prometheus.GaugeValue, float64(s.PendingMessages))
	ch <- prometheus.MustNewConstMetric(descBlobs, prometheus.GaugeValue, float64(s.Blobs))
	ch <- prometheus.MustNewConstMetric(descBlobB, prometheus.GaugeValue, float64(s.BlobBytes))
	ch <- prometheus.MustNewConstMetric(descDBB, prometheus.GaugeValue, float64(s.DBBytes))
}
