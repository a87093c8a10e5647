package server

import (
	"bytes"
	_ "image/jpeg" // register the decoders INVALID_PHOTO checks with
	_ "image/png"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/front"
	"github.com/ferryhq/ferry/photo"
)

// emailFailure is one failed item of contacts/add and invite.
type emailFailure struct {
	Email string `json:"email"`
	Error string `json:"error"`
}

// handleContactsAdd is POST /contacts/add: email[].
func (s *Server) handleContactsAdd(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	s.emailBatch(w, r, func(emails []string) ([]error, error) {
		return s.social.AddContacts(r.Context(), u.ID, emails, s.cfg.Mail.ContactNotice)
	})
}

// emailBatch answers a batch call over email[] (contacts/add, invite):
// every address goes to do, which returns one error per address.
func (s *Server) emailBatch(w http.ResponseWriter, r *http.Request, do func(emails []string) ([]error, error)) {
	p, err := parseParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	emails, err := p.List("email")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	results, err := do(emails)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	b := newBatch(len(emails))
	for i := range emails {
		b.pass(i)
	}
	b.results(results)
	answerBatch(w, b, func(i int, code string) emailFailure { return emailFailure{Email: emails[i], Error: code} })
}

// contact is one row of /contacts/list.
type contact struct {
	FullName string `json:"fullname"`
	Email    string `json:"email"`
	Photo    string `json:"photo"`
}

// handleContactsList is GET /contacts/list: filter (optional).
func (s *Server) handleContactsList(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	p, err := parseParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	list, err := s.social.Contacts(r.Context(), u.ID, strings.TrimSpace(p.String("filter")))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]contact, len(list))
	for i, c := range list {
		out[i] = contact{FullName: c.FullName, Email: c.Email, Photo: s.photoURL(c.PhotoToken)}
	}
	writeJSON(w, http.StatusOK, out)
}

// handleContactsRemove is POST /contacts/remove: email.
func (s *Server) handleContactsRemove(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	p, err := parseParams(r)
	if err == nil {
		err = s.social.RemoveContact(r.Context(), u.ID, p.String("email"))
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeOK(w)
}

// notification is one row of /notifications/list.
type notification struct {
	ID        uint64 `json:"id"`
	Type      string `json:"type"`
	Email     string `json:"email"`
	Timestamp string `json:"timestamp"`
	Read      bool   `json:"read"`
}

// handleNotificationsList is GET /notifications/list, oldest first.
func (s *Server) handleNotificationsList(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	list, err := s.social.Notifications(r.Context(), u.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]notification, len(list))
	for i, n := range list {
		out[i] = notification{ID: n.ID, Type: n.Type, Email: n.Email, Timestamp: n.Created.Format(timeLayout), Read: n.Read}
	}
	writeJSON(w, http.StatusOK, out)
}

// idFailure is one failed item of notifications/update.
type idFailure struct {
	ID    any    `json:"id"`
	Error string `json:"error"`
}

// handleNotificationsUpdate is POST /notifications/update: id[] to mark read.
func (s *Server) handleNotificationsUpdate(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	p, err := parseParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	given, err := p.List("id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	b := newBatch(len(given))
	var ids []uint64
	for i, g := range given {
		id, err := strconv.ParseUint(strings.TrimSpace(g), 10, 64)
		if err != nil || id == 0 {
			b.refuse(i, ferry.Errorf(ferry.ENOTIFICATIONNOTFOUND, "No such notification."))
			continue
		}
		ids = append(ids, id)
		b.pass(i)
	}
	results, err := s.social.MarkNotificationsRead(r.Context(), u.ID, ids)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	b.results(results)
	answerBatch(w, b, func(i int, code string) idFailure {
		if id, err := strconv.ParseUint(strings.TrimSpace(given[i]), 10, 64); err == nil {
			return idFailure{ID: id, Error: code}
		}
		return idFailure{ID: given[i], Error: code}
	})
}

// handlePhotoUpdate is POST /user-photo/update: a multipart file "photo",
// checked by decoding it.
func (s *Server) handlePhotoUpdate(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	p, err := parseParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	data, err := p.File("photo")
	if err != nil {
		s.writeError(w, r, photo.Invalid(`send it as the multipart file "photo"`))
		return
	}
	ph, err := photo.Check(data)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if _, err := s.users.SetPhoto(r.Context(), u.ID, ph); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeOK(w)
}

// handlePhotoRemove is POST /user-photo/remove.
func (s *Server) handlePhotoRemove(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	if err := s.users.RemovePhoto(r.Context(), u.ID); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeOK(w)
}

// handlePhoto is GET /photos/{token}: a user's photo, without auth (the
// token is unguessable and changes with every new photo).
func (s *Server) handlePhoto(w http.ResponseWriter, r *http.Request) {
	photo, err := s.users.PhotoByToken(r.Context(), pathVar(r, "token"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", photo.ContentType)
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(photo.Data))
}

// photoURL is where a photo token is served; "" for no photo.
func (s *Server) photoURL(token string) string {
	if token == "" {
		return ""
	}
	return s.cfg.PublicURL + "/photos/" + token
}

// handleInvite is POST /invite: email[] each get an invitation mail; past
// the daily limit, 429 with Retry-After until midnight UTC.
func (s *Server) handleInvite(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	s.emailBatch(w, r, func(emails []string) ([]error, error) {
		results, err := s.social.Invite(r.Context(), u.ID, emails, func(email, code string) ferry.Mail {
			return s.cfg.Mail.Invite(u, email, code)
		})
		if ferry.ErrorCode(err) == ferry.ETOOMANYREQUESTS {
			s.retryTomorrow(w)
		}
		return results, err
	})
}

// retryTomorrow sets Retry-After to midnight UTC, when the daily
// invitation limit starts again.
func (s *Server) retryTomorrow(w http.ResponseWriter) {
	now := s.now().UTC()
	midnight := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, time.UTC)
	front.SetRetryAfter(w, midnight.Sub(now))
}
