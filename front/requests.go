package front

import (
	"context"

	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/ferryhq/ferry"
)

// Requests is what every request to ferry goes through, before the front
// end it is for: its id, a log line and a metric, the headers that keep
// an answer inert, and deadlines that let a body or an answer move slowly
// but never stop. app puts it around the API, WebDAV and the web app.
type Requests struct {
	Log *slog.Logger
	// Guard tells the client's address and which proxies to trust with a
	// request id.
	Guard *Guard
	// BodyIdleTimeout bounds the wait for the next bytes of a request body
	// or of an answer's reading (0: none).
	BodyIdleTimeout time.Duration
	// Observe, when set, is told of every request: its route, status,
	// duration and the bytes read and written.
	Observe func(route, method string, status int, d time.Duration, in, out int64)
}

// requestInfo is what the request log line needs from deeper handlers: the
// matched route and the authenticated user. Requests.Handler puts it in
// the context; each front end fills it in (SetRoute, SeenUser).
type requestInfo struct {
	route  string
	userID uint64
}

type ctxKey int

const infoKey ctxKey = 0

func infoOf(r *http.Request) *requestInfo {
	if info, ok := r.Context().Value(infoKey).(*requestInfo); ok {
		return info
	}
	return &requestInfo{}
}

// SeenUser records the user a request signed in as, for its log line and
// the audit log's actor.
func SeenUser(r *http.Request, u *ferry.User) {
	infoOf(r).userID = u.ID
	ferry.SignedIn(r.Context(), u)
}

// SetRoute names the route a request took (a pattern, never the path,
// which can hold names and tokens), for its log line and metrics.
func SetRoute(r *http.Request, route string) {
	infoOf(r).route = route
}

// Route is the route SetRoute named ("unmatched" before).
func Route(r *http.Request) string {
	return infoOf(r).route
}

// deadliner is the part of net/http's ResponseWriter that moves the
// connection's deadlines (what http.ResponseController reaches).
type deadliner interface {
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
}

// smallResponse is how much of a response may be written without a write
// deadline: it fits in the connection's buffers, so no client can stall it.
const smallResponse = 64 << 10

// statusRecorder remembers the status and counts the bytes of a response.
// When dl is set, each write past the first smallResponse bytes (and each
// writeChunk of a ReadFrom) moves the connection's write deadline idle
// ahead, so a client may take a response slowly but may not stop taking
// it. net/http clears the write deadline after each request.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	dl     deadliner
	idle   time.Duration
	// body is the request's body, to tell whether it was read whole
	// before the response starts.
	body *countingReader
}

// start is called once, before the response's header goes out. A request
// whose body was not read to its end is answered on a connection that
// then closes: net/http would otherwise read up to 256 KiB of the rest,
// with no deadline, before sending a byte of the answer.
func (rec *statusRecorder) start(status int) {
	if rec.status != 0 {
		return
	}
	rec.status = status
	if rec.body != nil && !rec.body.done() {
		rec.Header().Set("Connection", "close")
	}
}

func (rec *statusRecorder) WriteHeader(status int) {
	rec.start(status)
	rec.ResponseWriter.WriteHeader(status)
}

func (rec *statusRecorder) Write(b []byte) (int, error) {
	rec.start(http.StatusOK)
	if rec.dl != nil && rec.bytes+int64(len(b)) > smallResponse {
		_ = rec.dl.SetWriteDeadline(time.Now().Add(rec.idle))
	}
	n, err := rec.ResponseWriter.Write(b)
	rec.bytes += int64(n)
	return n, err
}

// writeChunk is how much of a ReadFrom goes out under one write deadline.
const writeChunk = 1 << 20

// ReadFrom keeps the connection's own ReadFrom (sendfile for a file) in
// reach of io.Copy, which ServeContent uses: each writeChunk goes out as
// one sendfile, with the deadline moved before it.
func (rec *statusRecorder) ReadFrom(r io.Reader) (int64, error) {
	rec.start(http.StatusOK)
	// sendfile looks through one *io.LimitedReader (io.CopyN's) to the
	// file, not through two: the chunks limit the file itself.
	outer, limited := r.(*io.LimitedReader)
	var total int64
	for {
		if rec.dl != nil {
			_ = rec.dl.SetWriteDeadline(time.Now().Add(rec.idle))
		}
		chunk := &io.LimitedReader{R: r, N: writeChunk}
		if limited {
			chunk.R, chunk.N = outer.R, min(writeChunk, outer.N)
		}
		n, err := io.Copy(rec.ResponseWriter, chunk)
		total += n
		rec.bytes += n
		if limited {
			outer.N -= n
		}
		if err != nil || chunk.N > 0 || (limited && outer.N <= 0) {
			return total, err
		}
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (rec *statusRecorder) Unwrap() http.ResponseWriter {
	return rec.ResponseWriter
}

// countingReader counts the bytes read from a request body. When dl is
// set, each read first moves the connection's read deadline idle ahead, so
// a body may arrive slowly but may not stop.
type countingReader struct {
	io.ReadCloser
	n    int64
	dl   deadliner
	idle time.Duration
	// declared is the request's Content-Length (-1: unknown); eof is set
	// once a read met the body's end.
	declared int64
	eof      bool
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.dl != nil {
		_ = c.dl.SetReadDeadline(time.Now().Add(c.idle))
	}
	n, err := c.ReadCloser.Read(p)
	c.n += int64(n)
	if err == io.EOF {
		c.eof = true
	}
	return n, err
}

// done reports whether nothing of the body is left to read.
func (c *countingReader) done() bool {
	return c.eof || c.declared == 0 || (c.declared > 0 && c.n >= c.declared)
}

// exchange is what Requests.Handler keeps of one request, in one allocation.
type exchange struct {
	info requestInfo
	rec  statusRecorder
	body countingReader
}

// Handler logs one line per request: method, route (never the path or
// query, which can hold tokens and passwords), status, bytes, duration and
// user id.
func (s Requests) Handler(next http.Handler) http.Handler {
	log := WithRequestIDs(s.Log)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		x := &exchange{
			info: requestInfo{route: "unmatched"},
			rec:  statusRecorder{ResponseWriter: w},
			body: countingReader{ReadCloser: r.Body, declared: r.ContentLength},
		}
		x.rec.body = &x.body
		dl, hasDeadlines := w.(deadliner)
		if hasDeadlines && s.BodyIdleTimeout > 0 {
			x.rec.dl, x.rec.idle = dl, s.BodyIdleTimeout
			x.body.dl, x.body.idle = dl, s.BodyIdleTimeout
		}
		secureHeaders(w.Header())
		id := s.requestID(r)
		w.Header().Set("X-Request-Id", id)
		// The handlers get a copy: net/http keeps r, and reads what is
		// left of r.Body after the handler; it must find its own body
		// there, not the counting wrapper.
		ctx := withRequestID(context.WithValue(r.Context(), infoKey, &x.info), id)
		remote := s.Guard.ClientIP(r) // for the audit log's actor and the log line
		ctx = ferry.WithActor(ctx, ferry.Actor{IP: remote})
		hr := r.WithContext(ctx)
		hr.Body = &x.body
		next.ServeHTTP(&x.rec, hr)
		if hasDeadlines && s.BodyIdleTimeout > 0 {
			// Whatever net/http still reads of this request waits no
			// longer than any other read of it would.
			_ = dl.SetReadDeadline(time.Now().Add(s.BodyIdleTimeout))
		}
		if s.Observe != nil {
			s.Observe(x.info.route, r.Method, x.rec.status, time.Since(start), x.body.n, x.rec.bytes)
		}
		log.LogAttrs(ctx, slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("route", x.info.route),
			slog.Int("status", x.rec.status),
			slog.Int64("bytes", x.rec.bytes),
			slog.Duration("duration", time.Since(start).Round(time.Microsecond)),
			slog.Uint64("user", x.info.userID),
			slog.String("remote", remote))
	})
}

// secureHeaders sets what every response carries unless its handler says
// otherwise: nothing ferry answers is a page of its origin that runs
// script or is framed, and no answer is sniffed into another type. File
// content, photos, WebDAV XML (which holds properties clients set) and
// JSON that echoes names all stay inert in a browser.
func secureHeaders(h http.Header) {
	h["X-Content-Type-Options"] = nosniff
	h["Content-Security-Policy"] = inertPolicy
	h["Referrer-Policy"] = noReferrer
}

// The values secureHeaders sets, made once: every request carries them. A
// handler that sets its own replaces the slice, never writes into it.
var (
	nosniff     = []string{"nosniff"}
	inertPolicy = []string{InertPolicy}
	noReferrer  = []string{"no-referrer"}
)

// Inert makes an answer inert again (the policy Requests.Handler sets on
// every answer) after a page's handler set the page policy: JSON for a
// script, a file's content.
func Inert(h http.Header) {
	h["Content-Security-Policy"] = inertPolicy
	h["Referrer-Policy"] = noReferrer
}
