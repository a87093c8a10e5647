package server

import (
	"net/http"
	"strings"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/front"
	"github.com/ferryhq/ferry/paths"
)

// timeLayout is the seed's timestamp format.
const timeLayout = "2006-01-02 15:04:05.000000-07"

// sourceEntry is one element of /ops/send's source, as the seed writes it.
type sourceEntry struct {
	Path   string   `json:"path"`
	Files  []string `json:"files"`
	Folder bool     `json:"folder"`
}

// handleSend is POST /ops/send: to and source.
func (s *Server) handleSend(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	p, err := parseParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var entries []sourceEntry
	if err := p.JSON("source", &entries); err != nil {
		s.writeError(w, r, err)
		return
	}
	sources, err := s.parseSources(entries)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	to := strings.TrimSpace(p.String("to"))
	if to == "" {
		s.writeError(w, r, ferry.Errorf(ferry.EBADREQUEST, "to (the receiver's email) is required."))
		return
	}
	invite := false
	if p.Has("invite") {
		if invite, err = p.Bool("invite"); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	ids, err := front.Send(r.Context(), s.messages, s.cfg.Mail, s.cfg.Signup, u, to, sources, invite)
	if ferry.ErrorCode(err) == ferry.ETOOMANYREQUESTS {
		s.retryTomorrow(w)
	}
	if err != nil {
		s.writeRefusal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string][]uint64{"messages": ids})
}

// parseSources checks a source array and parses its paths.
func (s *Server) parseSources(entries []sourceEntry) ([]ferry.SendSource, error) {
	if len(entries) == 0 {
		return nil, ferry.Errorf(ferry.EBADREQUEST, "source must list at least one entry.")
	}
	if max := s.cfg.SendMaxEntries; max > 0 && len(entries) > max {
		return nil, ferry.Errorf(ferry.EBADREQUEST, "A send may have at most %d source entries.", max)
	}
	listed := 0
	for _, e := range entries {
		listed += len(e.Files)
	}
	if err := checkItems("source's files", max(listed, 1)); err != nil {
		return nil, err
	}
	sources := make([]ferry.SendSource, len(entries))
	for i, e := range entries {
		dir, err := paths.Parse(e.Path)
		if err != nil {
			return nil, err
		}
		src := ferry.SendSource{Path: dir, Folder: e.Folder}
		for _, f := range e.Files {
			names, err := paths.Parse(f)
			if err != nil {
				return nil, err
			}
			if len(names) == 0 {
				return nil, ferry.Errorf(ferry.EBADREQUEST, "A listed file must not be empty.")
			}
			src.Files = append(src.Files, names)
		}
		sources[i] = src
	}
	return sources, nil
}
