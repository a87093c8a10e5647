package server

import (
	"net/http"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/front"
)

// Two-factor sign-in (docs/api.md, "Two-factor sign-in"). Each call that
// changes it ends every other login token of the account; the calling
// token goes on.

// handleTwoFactorSetup is POST /account/2fa/setup: current_password.
func (s *Server) handleTwoFactorSetup(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	p, err := parseParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	secret, otpauth, err := s.users.SetupTwoFactor(r.Context(), u.ID, p.String("current_password"), front.Issuer(s.cfg.PublicURL))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"secret": secret, "otpauth_url": otpauth})
}

// handleTwoFactorEnable is POST /account/2fa/enable: code.
func (s *Server) handleTwoFactorEnable(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	p, err := parseParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	codes, err := s.users.EnableTwoFactor(r.Context(), u.ID, tokenOf(r), p.String("code"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string][]string{"recovery_codes": codes})
}

// handleTwoFactorRecovery is POST /account/2fa/recovery: current_password,
// code (TOTP only).
func (s *Server) handleTwoFactorRecovery(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	p, err := parseParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	codes, err := s.users.RenewRecoveryCodes(r.Context(), u.ID, tokenOf(r), p.String("current_password"), p.String("code"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string][]string{"recovery_codes": codes})
}

// handleTwoFactorDisable is POST /account/2fa/disable: current_password,
// code (TOTP or recovery).
func (s *Server) handleTwoFactorDisable(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	p, err := parseParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.users.DisableTwoFactor(r.Context(), u.ID, tokenOf(r), p.String("current_password"), p.String("code")); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeOK(w)
}
