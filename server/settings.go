package server

import (
	"net/http"

	"github.com/ferryhq/ferry"
)

// settings is the answer of GET /settings/list.
type settings struct {
	Email     string `json:"email"`
	FullName  string `json:"fullname"`
	Photo     string `json:"photo"`
	AcceptAll bool   `json:"accept_all"`
	// MailOnDecision says whether the user hears by mail what became of
	// their sends.
	MailOnDecision bool   `json:"mail_on_decision"`
	Package        string `json:"package"`
	// Storage is the storage quota in megabytes (10^6 bytes, rounded down);
	// 0 is unlimited.
	Storage int64 `json:"storage"`
	// TwoFactor says sign-in needs a code after the password.
	TwoFactor bool `json:"two_factor"`
	// MailOnDownload says whether the user hears by mail that a link of
	// theirs was downloaded.
	MailOnDownload bool `json:"mail_on_download"`
}

// handleSettingsList is GET /settings/list.
func (s *Server) handleSettingsList(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	q, err := s.users.Quota(r.Context(), u.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, settings{
		Email:          u.Email,
		FullName:       u.FullName,
		Photo:          s.photoURL(u.PhotoToken),
		AcceptAll:      u.AcceptAll,
		MailOnDecision: !u.NoDecisionMail,
		Package:        u.Package,
		Storage:        q.Storage / 1e6,
		TwoFactor:      u.TwoFactor,
		MailOnDownload: u.MailOnDownload,
	})
}

// handleSettingsUpdate is POST /settings/update: fullname, current_password
// with new_password, accept_all and mail_on_decision (0/1); each optional.
func (s *Server) handleSettingsUpdate(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	p, err := parseParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var ch ferry.SettingsChange
	if p.Has("fullname") {
		name := p.String("fullname")
		ch.FullName = &name
	}
	if p.Has("new_password") {
		pw := p.String("new_password")
		ch.NewPassword, ch.CurrentPassword = &pw, p.String("current_password")
	}
	if p.Has("accept_all") {
		on, err := p.Bool("accept_all")
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		ch.AcceptAll = &on
	}
	if p.Has("mail_on_decision") {
		on, err := p.Bool("mail_on_decision")
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		ch.MailOnDecision = &on
	}
	if p.Has("mail_on_download") {
		on, err := p.Bool("mail_on_download")
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		ch.MailOnDownload = &on
	}
	if err := s.users.ChangeSettings(r.Context(), u.ID, tokenOf(r), ch); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeOK(w)
}

// handleQuota is GET /account/quota.
func (s *Server) handleQuota(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	q, err := s.users.Quota(r.Context(), u.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, quotaInfo{
		Quota:          q.Storage,
		Normal:         q.Usage.Normal,
		ReceivingQuota: q.ReceivePerMonth,
		Received:       q.Received,
	})
}

// quotaInfo is the answer of GET /account/quota.
type quotaInfo struct {
	Quota          int64 `json:"quota"`
	Normal         int64 `json:"normal"`
	ReceivingQuota int64 `json:"receiving_quota"`
	Received       int64 `json:"received"`
}

// handleAccountDelete is POST /account/delete: current_password. The
// account and everything it owns go; its token stops working.
func (s *Server) handleAccountDelete(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	p, err := parseParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.users.DeleteAccount(r.Context(), u.ID, p.String("current_password")); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.log.InfoContext(r.Context(), "account deleted by its user", "user", u.ID)
	writeOK(w)
}
