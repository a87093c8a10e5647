package front

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net"
	"net/http"
)

// Every request has an id: the one a trusted proxy sent in X-Request-Id
// (up to 64 letters, digits, '-', '_' and '.'), or 16 random hex digits.
// It is answered in X-Request-Id and carried by every log line written
// with the request's context (requestIDHandler).

type requestIDKey struct{}

// requestID returns the id of the request r: the trusted proxy's, or a new
// one.
func (s Requests) requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); id != "" && validRequestID(id) && len(s.Guard.TrustedProxies) > 0 {
		if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil && s.Guard.Trusts(host) {
			return id
		}
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func validRequestID(id string) bool {
	if len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// withRequestID returns ctx carrying the request id.
func withRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// WithRequestIDs returns log with request_id on every line logged with a
// request's context (Requests.Handler numbers every request).
func WithRequestIDs(log *slog.Logger) *slog.Logger {
	return slog.New(requestIDHandler{log.Handler()})
}

// requestIDHandler adds request_id to every record logged with a
// request's context.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, rec slog.Record) error {
	if id, ok := ctx.Value(requestIDKey{}).(string); ok {
		rec.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, rec)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
