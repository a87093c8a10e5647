package server

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/ferryhq/ferry"
)

// apiPrefix is the base of every API route (API.md: version 1).
const apiPrefix = "/api/1"

// routes builds the router. This is the one file that knows gorilla/mux.
func (s *Server) routes() http.Handler {
	r := mux.NewRouter()
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, ferry.Errorf(ferry.ENOTFOUND, "No such route: %s.", r.URL.Path))
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, ferry.Errorf(ferry.EMETHODNOTALLOWED, "%s is not allowed here.", r.Method))
	})
	r.Use(nameRoute)

	r.HandleFunc("/healthz", s.handleHealthz).Methods(http.MethodGet, http.MethodHead)

	api := func(path string, h http.Handler, methods ...string) {
		r.Handle(apiPrefix+path, h).Methods(methods...)
	}
	api("/auth/token", http.HandlerFunc(s.handleLogin), http.MethodGet, http.MethodPost)
	api("/auth/token", s.authed(s.handleLogout), http.MethodDelete)
	api("/auth/register", http.HandlerFunc(s.handleRegister), http.MethodPost)
	api("/settings/list", s.authed(s.handleSettingsList), http.MethodGet)

	return s.logRequests(s.limitBody(r))
}
