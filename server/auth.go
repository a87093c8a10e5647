package server

import (
	"net/http"
	"strings"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/front"
)

// handleLogin is GET or POST /auth/token: email and password for a new token.
// Failed attempts are counted per address and per email; past the limit
// every attempt, right or wrong, gets 429 with Retry-After.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	p, err := parseParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	email := strings.ToLower(strings.TrimSpace(p.String("email")))
	u, err := s.underLoginLimit(w, r, email, func() (*ferry.User, error) {
		return front.SignIn(r.Context(), s.users, email, p.String("password"), p.String("otp"))
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.answerToken(w, r, u)
}

// underLoginLimit runs check, a login of email, under the failed-login
// limit that every front end shares (front.Guard.Login).
func (s *Server) underLoginLimit(w http.ResponseWriter, r *http.Request, email string, check func() (*ferry.User, error), failures ...string) (*ferry.User, error) {
	return s.guard.Login(w, r, email, check, failures...)
}

// answerToken makes a new token for u and answers {"token": ...}.
func (s *Server) answerToken(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	front.SeenUser(r, u) // the sign-in's actor, in its event
	token, err := s.users.CreateToken(r.Context(), u.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"token": token})
}

// handleLogout is DELETE /auth/token: the request's token stops working.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request, _ *ferry.User) {
	if err := s.users.RevokeToken(r.Context(), tokenOf(r)); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeOK(w)
}

// handleRegister is POST /auth/register, as ferry.Register says. A refusal
// is 403 NO_PERMISSION, as docs/api.md's auth table says.
func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request) {
	p, err := parseParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	nu := ferry.NewUser{
		Email:    p.String("email"),
		Password: p.String("password"),
		FullName: p.String("fullname"),
	}
	// A refused signup counts as a failed login of the client's address:
	// what the answers tell (which emails have accounts, which codes are
	// good) cannot be asked faster than passwords can be guessed.
	u, err := s.underLoginLimit(w, r, "", func() (*ferry.User, error) {
		return ferry.Register(r.Context(), s.users, s.cfg.Signup, nu, strings.TrimSpace(p.String("invite")))
	}, ferry.ENOPERMISSION, ferry.EEMAILEXISTS)
	if err != nil {
		s.writeRefusal(w, r, err)
		return
	}
	s.answerToken(w, r, u)
}

// handleForgotPassword is POST /auth/password/forgot: email. The answer is
// {} whether or not the email has an account; an account gets a mail
// with a reset link.
func (s *Server) handleForgotPassword(w http.ResponseWriter, r *http.Request) {
	p, err := parseParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.forgotPassword(w, r, p.String("email")); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeOK(w)
}

// forgotPassword asks for a reset mail to email's account, under the
// reset requests' limit (front.Guard.Forgot). Nothing it answers tells
// whether the account exists.
func (s *Server) forgotPassword(w http.ResponseWriter, r *http.Request, email string) error {
	return s.guard.Forgot(w, r, email, func(email string) error {
		return s.users.ForgotPassword(r.Context(), email, s.cfg.Mail.ResetLife, s.cfg.Mail.Reset)
	})
}

// handleResetPassword is POST /auth/password/reset: code and password,
// and otp for an account with two-factor sign-in (a wrong one counts as a
// failed login). It answers a new token; every other token and the app
// password end.
func (s *Server) handleResetPassword(w http.ResponseWriter, r *http.Request) {
	p, err := parseParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	u, err := s.underLoginLimit(w, r, "", func() (*ferry.User, error) {
		return s.users.ResetPassword(r.Context(), p.String("code"), p.String("password"), p.String("otp"))
	})
	if err != nil {
		s.writeRefusal(w, r, err)
		return
	}
	s.answerToken(w, r, u)
}

// writeRefusal answers err as writeError does, but NO_PERMISSION as 403:
// a code (of an invitation, of a reset) that is refused is no missing
// login, so docs/api.md's calls answer it 403 rather than the table's 401.
func (s *Server) writeRefusal(w http.ResponseWriter, r *http.Request, err error) {
	if ferry.ErrorCode(err) == ferry.ENOPERMISSION {
		writeJSON(w, http.StatusForbidden, front.ErrorBody{Error: ferry.ENOPERMISSION, Message: ferry.ErrorMessage(err)})
		return
	}
	s.writeError(w, r, err)
}
