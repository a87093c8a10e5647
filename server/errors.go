package server

import (
	"net/http"

	"github.com/ferryhq/ferry/front"
)

// writeError answers err as docs/api.md's error model (front.WriteError),
// logging with the request's route.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	front.WriteError(w, r, s.log, front.Route(r), err)
}

// writeJSON answers v as JSON with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	front.WriteJSON(w, status, v)
}

// eachJSON is a list in its JSON shape, item by item.
func eachJSON[T, J any](list []T, to func(T) J) []J {
	out := make([]J, len(list))
	for i, v := range list {
		out[i] = to(v)
	}
	return out
}

// writeOK answers a call that has nothing to return: 200 {}.
func writeOK(w http.ResponseWriter) {
	writeJSON(w, http.StatusOK, struct{}{})
}
