package server

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/front"
)

// metricsAuth requires the configured bearer token: on the service's own
// address /metrics is never open (metrics_listen serves it without one).
func (s *Server) metricsAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		want := s.cfg.MetricsToken
		if want == "" {
			s.writeError(w, r, ferry.Errorf(ferry.ENOPERMISSION, "GET /metrics here needs metrics.token to be set; or serve it on metrics_listen."))
			return
		}
		if subtle.ConstantTimeCompare([]byte(tokenOf(r)), []byte(want)) != 1 {
			s.writeError(w, r, ferry.Errorf(ferry.ENOPERMISSION, "GET /metrics needs the metrics token."))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// nameRoute records the matched route's template for the log line.
func nameRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if route := mux.CurrentRoute(r); route != nil {
			if tpl, err := route.GetPathTemplate(); err == nil {
				front.SetRoute(r, tpl)
			}
		}
		next.ServeHTTP(w, r)
	})
}

// limitBody bounds every request body to cfg.MaxRequestBody: a declared
// length over it is refused at once, a longer body fails when read.
func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > s.cfg.MaxRequestBody {
			s.writeError(w, r, ferry.Errorf(ferry.ETOOLARGE, "The request body is over the limit of %d bytes.", s.cfg.MaxRequestBody))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxRequestBody)
		next.ServeHTTP(w, r)
	})
}

// userHandler is a handler for an authenticated request.
type userHandler func(w http.ResponseWriter, r *http.Request, u *ferry.User)

// authed authenticates the request's token (the `token` header, or
// `Authorization: Bearer`) before calling h. Under auth.require_2fa an
// account without two-factor sign-in is refused (TWO_FACTOR_REQUIRED).
func (s *Server) authed(h userHandler) http.Handler {
	return s.authedAs(h, true)
}

// authedToSetUp is authed for the calls an account needs to set up
// two-factor sign-in, which require_2fa lets through: its settings and
// account/2fa/*.
func (s *Server) authedToSetUp(h userHandler) http.Handler {
	return s.authedAs(h, false)
}

func (s *Server) authedAs(h userHandler, require2FA bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := s.users.Authenticate(r.Context(), tokenOf(r))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		front.SeenUser(r, u)
		if require2FA && front.NeedsTwoFactor(s.cfg.Require2FA, u) {
			s.writeError(w, r, front.ErrTwoFactorRequired())
			return
		}
		h(w, r, u)
	})
}

// tokenOf returns the request's token: the `token` header, or else the
// bearer token of the Authorization header.
func tokenOf(r *http.Request) string {
	if t := r.Header.Get("token"); t != "" {
		return t
	}
	scheme, t, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if ok && strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(t)
	}
	return ""
}
