package server

import (
	"net/http"
	"strconv"

	"github.com/ferryhq/ferry"
)

// The audit log's calls (docs/api.md, "Activity and audit log").

// maxActivityPage bounds a page of events.
const maxActivityPage = 1000

// eventJSON is an event in /account/activity and /admin/audit.
type eventJSON struct {
	ID     uint64         `json:"id"`
	Time   string         `json:"time"`
	Action string         `json:"action"`
	Actor  string         `json:"actor"`
	IP     string         `json:"ip"`
	Target string         `json:"target"`
	Detail map[string]any `json:"detail"`
}

func eventsOf(list []ferry.Event) []eventJSON {
	return eachJSON(list, func(e ferry.Event) eventJSON {
		d := e.Detail
		if d == nil {
			d = map[string]any{}
		}
		return eventJSON{ID: e.ID, Time: e.Time.Format(timeLayout), Action: e.Action, Actor: e.Actor, IP: e.IP, Target: e.Target, Detail: d}
	})
}

// activityFilter reads before and limit (default 100, at most 1000).
func activityFilter(p *params) (ferry.AuditFilter, error) {
	f := ferry.AuditFilter{Limit: 100}
	if v := p.String("before"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return f, ferry.Errorf(ferry.EBADREQUEST, "before must be an event's id.")
		}
		f.Before = n
	}
	if v := p.String("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxActivityPage {
			return f, ferry.Errorf(ferry.EBADREQUEST, "limit must be from 1 to %d.", maxActivityPage)
		}
		f.Limit = n
	}
	return f, nil
}

// handleActivity is GET /account/activity: the caller's own events.
func (s *Server) handleActivity(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	s.answerEvents(w, r, func(_ *params, f *ferry.AuditFilter) error {
		f.User = u.ID
		return nil
	})
}

// handleAdminAudit is GET /admin/audit: as /account/activity, of every
// account, with user (an email) and action.
func (s *Server) handleAdminAudit(w http.ResponseWriter, r *http.Request, _ *ferry.User) {
	s.answerEvents(w, r, func(p *params, f *ferry.AuditFilter) error {
		f.Action = p.String("action")
		if email := p.String("user"); email != "" {
			u, err := s.admin.User(r.Context(), email)
			if err != nil {
				return err
			}
			if u.Node != "" {
				return ferry.Errorf(ferry.EBADREQUEST, "The account %s is kept by node %s: its events are in that node's audit log.", u.Email, u.Node)
			}
			f.User = u.ID
		}
		return nil
	})
}

// answerEvents answers a page of events: before and limit, and what
// narrow adds to the filter.
func (s *Server) answerEvents(w http.ResponseWriter, r *http.Request, narrow func(*params, *ferry.AuditFilter) error) {
	p, err := parseParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	f, err := activityFilter(p)
	if err == nil {
		err = narrow(p, &f)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	list, err := s.users.Activity(r.Context(), f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, eventsOf(list))
}
