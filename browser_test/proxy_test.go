package browser_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// proxy stands in front of ferry as a reverse proxy would: it can refuse
// request bodies over a limit with 413 (as nginx's client_max_body_size
// does: before reading the body, then reading and dropping it so that the
// browser sees the answer), pace the bodies it passes on, and it notes the
// Content-Range of every upload request that reaches ferry.
type proxy struct {
	URL     string
	limit   int64 // bodies over it are refused; 0: none
	rate    int64 // bytes a second of a body passed on; 0: unpaced
	mu      sync.Mutex
	ranges  []string // Content-Range of each PUT passed on
	refused int      // PUTs refused for their size
	target  atomic.Pointer[url.URL]
}

// retarget points the proxy at another ferry (one started again).
func (p *proxy) retarget(t *testing.T, target string) {
	u, err := url.Parse(target)
	require.NoError(t, err)
	p.target.Store(u)
}

func startProxy(t *testing.T, target string, limit, rate int64) *proxy {
	t.Helper()
	p := &proxy{limit: limit, rate: rate}
	p.retarget(t, target)
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(p.target.Load())
		pr.Out.Host = pr.In.Host // as a proxy in front of a site does
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.limit > 0 && r.ContentLength > p.limit {
			p.mu.Lock()
			p.refused++
			p.mu.Unlock()
			_ = http.NewResponseController(w).EnableFullDuplex()
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			_, _ = io.WriteString(w, "<html><body><h1>413 Request Entity Too Large</h1></body></html>")
			_ = http.NewResponseController(w).Flush()
			_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<30))
			return
		}
		if r.Method == http.MethodPut {
			p.mu.Lock()
			p.ranges = append(p.ranges, r.Header.Get("Content-Range"))
			p.mu.Unlock()
			if p.rate > 0 {
				r.Body = &pacedBody{ReadCloser: r.Body, rate: p.rate, start: time.Now()}
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// puts returns the Content-Range of each upload request passed on, and
// how many were refused.
func (p *proxy) puts() ([]string, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.ranges...), p.refused
}

// pacedBody reads no faster than rate bytes a second.
type pacedBody struct {
	io.ReadCloser
	rate  int64
	start time.Time
	n     int64
}

func (b *pacedBody) Read(p []byte) (int, error) {
	p = p[:min(len(p), 256<<10)]
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	if ahead := time.Duration(b.n*int64(time.Second)/b.rate) - time.Since(b.start); ahead > 0 {
		time.Sleep(ahead)
	}
	return n, err
}
