package server

import (
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

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
		return s.users.CheckPassword(r.Context(), email, p.String("password"))
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.answerToken(w, r, u)
}

// underLoginLimit runs check, a login of email, under the failed-login
// limit (per client address, and per email when there is one): past the
// limit it answers TOO_MANY_REQUESTS with Retry-After (set on w) without
// calling check, and an error of check with the code AUTH_FAILED, or one
// of failures when given, counts as a failure.
func (s *Server) underLoginLimit(w http.ResponseWriter, r *http.Request, email string, check func() (*ferry.User, error), failures ...string) (*ferry.User, error) {
	ip, now := s.clientIP(r), s.now()
	if wait := max(s.ipFailures.wait(ip, now), s.emailFailures.wait(email, now)); wait > 0 {
		setRetryAfter(w, wait)
		return nil, ferry.Errorf(ferry.ETOOMANYREQUESTS, "Too many failed logins; try again later.")
	}
	if len(failures) == 0 {
		failures = []string{ferry.EAUTHFAILED}
	}
	u, err := check()
	if slices.Contains(failures, ferry.ErrorCode(err)) {
		s.ipFailures.fail(ip, now)
		if email != "" {
			s.emailFailures.fail(email, now)
		}
		if s.cfg.FailedLogin != nil {
			s.cfg.FailedLogin()
		}
	}
	return u, err
}

// answerToken makes a new token for u and answers {"token": ...}.
func (s *Server) answerToken(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	token, err := s.users.CreateToken(r.Context(), u.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	infoOf(r).userID = u.ID
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

// ResetLife is how long a password reset link works (app gives it to the
// mail texts, Config.Mail).
const ResetLife = time.Hour

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

// forgotPassword asks for a reset mail to email's account, under limits
// per email and per client address that every request counts toward:
// past either it answers TOO_MANY_REQUESTS with Retry-After (set on w).
// Nothing it answers tells whether the account exists.
func (s *Server) forgotPassword(w http.ResponseWriter, r *http.Request, email string) error {
	email = strings.ToLower(strings.TrimSpace(email))
	if email == "" {
		return ferry.Errorf(ferry.EBADREQUEST, "email is required.")
	}
	ip, now := s.clientIP(r), s.now()
	if wait := max(s.resetIP.wait(ip, now), s.resetEmail.wait(email, now)); wait > 0 {
		setRetryAfter(w, wait)
		return ferry.Errorf(ferry.ETOOMANYREQUESTS, "Too many reset requests; try again later.")
	}
	s.resetIP.fail(ip, now)
	s.resetEmail.fail(email, now)
	return s.users.ForgotPassword(r.Context(), email, ResetLife, s.cfg.Mail.Reset)
}

// handleResetPassword is POST /auth/password/reset: code and password. It
// answers a new token; every other token and the app password end.
func (s *Server) handleResetPassword(w http.ResponseWriter, r *http.Request) {
	p, err := parseParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	u, err := s.users.ResetPassword(r.Context(), p.String("code"), p.String("password"))
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

// setRetryAfter tells a refused client to come back in wait, in whole
// seconds rounded up.
func setRetryAfter(w http.ResponseWriter, wait time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
}
