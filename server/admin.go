package server

import (
	"net/http"
	"strconv"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/quota"
)

// The administrators' calls (docs/api.md, "Administration"): every other
// account is refused with 403 ADMIN_ONLY.

// maxAdminPage bounds a page of /admin/users.
const maxAdminPage = 1000

// adminOnly is authed for an administrator.
func (s *Server) adminOnly(h userHandler) http.Handler {
	return s.authed(func(w http.ResponseWriter, r *http.Request, u *ferry.User) {
		if !u.Admin || s.admin == nil {
			s.writeError(w, r, ferry.Errorf(ferry.EADMINONLY, "Only an administrator may do this."))
			return
		}
		h(w, r, u)
	})
}

// adminUserJSON is an account in the /admin/ answers.
type adminUserJSON struct {
	ID             uint64 `json:"id"`
	Email          string `json:"email"`
	FullName       string `json:"fullname"`
	Package        string `json:"package"`
	Storage        int64  `json:"storage"`
	Normal         int64  `json:"normal"`
	ReceivingQuota int64  `json:"receiving_quota"`
	Received       int64  `json:"received"`
	Disabled       bool   `json:"disabled"`
	Admin          bool   `json:"admin"`
	TwoFactor      bool   `json:"two_factor"`
	Created        string `json:"created"`
	LastLogin      string `json:"last_login"`
}

func adminUserOf(u ferry.AdminUser) adminUserJSON {
	return adminUserJSON{ID: u.ID, Email: u.Email, FullName: u.FullName, Package: u.Package,
		Storage: u.Storage, Normal: u.Normal, ReceivingQuota: u.ReceivingQuota, Received: u.Received,
		Disabled: u.Disabled, Admin: u.Admin, TwoFactor: u.TwoFactor,
		Created: u.Created.Format(timeLayout), LastLogin: formatOptional(u.LastLogin)}
}

// pageParams reads offset and limit (default 100, at most max).
func pageParams(p *params, max int) (offset, limit int, err error) {
	limit = 100
	if v := p.String("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > max {
			return 0, 0, ferry.Errorf(ferry.EBADREQUEST, "limit must be from 1 to %d.", max)
		}
	}
	if v := p.String("offset"); v != "" {
		if offset, err = strconv.Atoi(v); err != nil || offset < 0 {
			return 0, 0, ferry.Errorf(ferry.EBADREQUEST, "offset must be a number from 0.")
		}
	}
	return offset, limit, nil
}

// handleAdminUsers is GET /admin/users: query, offset, limit.
func (s *Server) handleAdminUsers(w http.ResponseWriter, r *http.Request, _ *ferry.User) {
	p, err := parseParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	offset, limit, err := pageParams(p, maxAdminPage)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	users, _, err := s.admin.Users(r.Context(), p.String("query"), "email", offset, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, eachJSON(users, adminUserOf))
}

// handleAdminUpdate is POST /admin/users/update: email, and any of
// package, storage, receive (sizes as the CLI takes them), disabled,
// admin, reset_2fa (0/1).
func (s *Server) handleAdminUpdate(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	p, err := parseParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var ch ferry.AdminChange
	if p.Has("package") {
		pkg := p.String("package")
		ch.Package = &pkg
	}
	for _, size := range []struct {
		name string
		to   **int64
	}{{"storage", &ch.Storage}, {"receive", &ch.Receive}} {
		if !p.Has(size.name) {
			continue
		}
		n, err := quota.ParseSize(p.String(size.name))
		if err != nil {
			s.writeError(w, r, ferry.Errorf(ferry.EBADREQUEST, "%s: %v", size.name, err))
			return
		}
		*size.to = &n
	}
	for _, flag := range []struct {
		name string
		to   **bool
	}{{"disabled", &ch.Disabled}, {"admin", &ch.Admin}} {
		if !p.Has(flag.name) {
			continue
		}
		b, err := p.Bool(flag.name)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		*flag.to = &b
	}
	if ch.ResetTwoFactor, err = p.Bool("reset_2fa"); err != nil {
		s.writeError(w, r, err)
		return
	}
	changed, err := s.admin.UpdateUser(r.Context(), u, p.String("email"), ch)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, adminUserOf(changed))
}

// handleAdminDelete is POST /admin/users/delete: email.
func (s *Server) handleAdminDelete(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	p, err := parseParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.admin.DeleteUser(r.Context(), u, p.String("email")); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeOK(w)
}

// mailJSON is a mail of the outbox in GET /admin/mail.
type mailJSON struct {
	ID        uint64 `json:"id"`
	To        string `json:"to"`
	Subject   string `json:"subject"`
	Status    string `json:"status"`
	Attempts  int    `json:"attempts"`
	Created   string `json:"created"`
	LastError string `json:"last_error"`
}

// handleAdminMail is GET /admin/mail: status (queued, sent, failed).
func (s *Server) handleAdminMail(w http.ResponseWriter, r *http.Request, _ *ferry.User) {
	p, err := parseParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	status := p.String("status")
	if status != "" && status != "queued" && status != "sent" && status != "failed" {
		s.writeError(w, r, ferry.Errorf(ferry.EBADREQUEST, "status must be queued, sent or failed."))
		return
	}
	list, err := s.admin.Mail(r.Context(), status)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, eachJSON(list, func(m ferry.QueuedMail) mailJSON {
		return mailJSON{ID: m.ID, To: m.To, Subject: m.Subject, Status: m.Status, Attempts: m.Attempts,
			Created: m.Created.Format(timeLayout), LastError: m.LastError}
	}))
}
