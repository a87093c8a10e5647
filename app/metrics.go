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

// metrics are what GET /metrics serves: the Go runtime and the process;
// every request by route, method and status class, its latency and bytes;
// failed logins; the commit loop's groups and latency; the store's and
// the mailer's figures; and which build this is.
type metrics struct {
	reg          *prometheus.Registry
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	bytesIn      *prometheus.CounterVec
	bytesOut     *prometheus.CounterVec
	failedLogins prometheus.Counter
	commitSize   prometheus.Histogram
	commitTime   prometheus.Histogram
	scans        *prometheus.CounterVec
	forwarded    *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_http_requests_total", Help: "HTTP requests by route template, method and status class (2xx, 4xx, ...).",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ferry_http_request_duration_seconds", Help: "HTTP request latency by route template and method.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10), // 0.5 ms to 2 min
		}, []string{"route", "method"}),
		bytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_http_request_bytes_total", Help: "Request body bytes read (uploads), by route template.",
		}, []string{"route"}),
		bytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_http_response_bytes_total", Help: "Response bytes written (downloads), by route template.",
		}, []string{"route"}),
		failedLogins: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ferry_login_failures_total", Help: "Failed logins: wrong passwords, refused signups, wrong link passwords.",
		}),
		commitSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ferry_store_commit_calls", Help: "Writes grouped into one transaction by the commit loop.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 9), // 1 to 256
		}),
		commitTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ferry_store_commit_duration_seconds", Help: "Time of one write transaction, fsync included.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 3, 10), // 0.1 ms to 2 s
		}),
		scans: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_scans_total", Help: "Virus scans by result: clean, infected, too_large, unavailable, error.",
		}, []string{"result"}),
		forwarded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_cluster_forwarded_total", Help: "Requests this node forwarded to the node that owns their user, by that node.",
		}, []string{"node"}),
	}
	build := version.Get()
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "ferry_build_info", Help: "Always 1; the labels say which ferry this is.",
		ConstLabels: prometheus.Labels{"version": build.Version, "commit": build.Commit, "goversion": build.Go},
	})
	info.Set(1)
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.latency, m.bytesIn, m.bytesOut, m.failedLogins, m.commitSize, m.commitTime, m.scans, m.forwarded, info)
	return m
}

// watch adds the store's and the mailer's figures, read at each scrape.
func (m *metrics) watch(db *store.DB, mail *mailer.Mailer) {
	m.reg.MustRegister(&storeCollector{db: db, mail: mail})
}

// observe records one request (server.Config.Observe).
func (m *metrics) observe(route, method string, status int, d time.Duration, in, out int64) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(status/100)+"xx").Inc()
	m.latency.WithLabelValues(route, method).Observe(d.Seconds())
	m.bytesIn.WithLabelValues(route).Add(float64(in))
	m.bytesOut.WithLabelValues(route).Add(float64(out))
}

// observeCommit records one write transaction (store.Options.ObserveCommit).
func (m *metrics) observeCommit(calls int, d time.Duration) {
	m.commitSize.Observe(float64(calls))
	m.commitTime.Observe(d.Seconds())
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
	descOutbox  = prometheus.NewDesc("ferry_mail_outbox", "Mails in the outbox by status (sent and failed ones are kept smtp.keep_sent).", []string{"status"}, nil)
	descSent    = prometheus.NewDesc("ferry_mail_sent_total", "Mails delivered since start.", nil, nil)
	descRetried = prometheus.NewDesc("ferry_mail_retries_total", "Delivery attempts that failed and will be retried, since start.", nil, nil)
	descFailed  = prometheus.NewDesc("ferry_mail_failed_total", "Mails failed for good since start.", nil, nil)
	descPending = prometheus.NewDesc("ferry_messages_pending", "Sends waiting to be accepted or declined.", nil, nil)
	descBlobs   = prometheus.NewDesc("ferry_store_blobs", "Distinct file contents stored.", nil, nil)
	descBlobB   = prometheus.NewDesc("ferry_store_blob_bytes", "Total size of the stored file contents.", nil, nil)
	descDBB     = prometheus.NewDesc("ferry_store_db_bytes", "Size of ferry.db.", nil, nil)
)

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descQueued, descOutbox, descSent, descRetried, descFailed, descPending, descBlobs, descBlobB, descDBB} {
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
	for status, n := range map[string]int{"queued": s.QueuedMail, "sent": s.SentMail, "failed": s.FailedMail} {
		ch <- prometheus.MustNewConstMetric(descOutbox, prometheus.GaugeValue, float64(n), status)
	}
	ch <- prometheus.MustNewConstMetric(descPending, prometheus.GaugeValue, float64(s.PendingMessages))
	ch <- prometheus.MustNewConstMetric(descBlobs, prometheus.GaugeValue, float64(s.Blobs))
	ch <- prometheus.MustNewConstMetric(descBlobB, prometheus.GaugeValue, float64(s.BlobBytes))
	ch <- prometheus.MustNewConstMetric(descDBB, prometheus.GaugeValue, float64(s.DBBytes))
}
