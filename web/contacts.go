package web

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/ferryhq/ferry"
)

type contactsData struct {
	Contacts []ferry.Contact
	Requests []ferry.Notification // unread contact requests
	Message  string
	Added    string
	Invite   string // an email without an account, to invite
	Invited  string
}

// handleContacts lists the user's contacts, and the contact requests of
// people who added them, to accept (add them back) or dismiss.
func (a *App) handleContacts(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	q := r.URL.Query()
	a.renderContacts(w, r, u, http.StatusOK, contactsData{Added: q.Get("added"), Invited: q.Get("invited")})
}

func (a *App) renderContacts(w http.ResponseWriter, r *http.Request, u *ferry.User, status int, d contactsData) {
	var err error
	if d.Contacts, err = a.cfg.Social.Contacts(r.Context(), u.ID, ""); err != nil {
		a.fail(w, r, err)
		return
	}
	if d.Requests, err = a.contactRequests(r, u); err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, r, status, "contacts", "Contacts", d)
}

// contactRequests returns the user's unread contact requests.
func (a *App) contactRequests(r *http.Request, u *ferry.User) ([]ferry.Notification, error) {
	all, err := a.cfg.Social.Notifications(r.Context(), u.ID)
	return slices.DeleteFunc(all, func(n ferry.Notification) bool {
		return n.Read || n.Type != ferry.NotificationContactRequest
	}), err
}

// handleAddContact adds the form's email to the contacts; that person
// gets a contact request.
func (a *App) handleAddContact(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	email := strings.TrimSpace(r.PostFormValue("email"))
	if a.addContact(w, r, u, email) {
		http.Redirect(w, r, "/contacts?added="+url.QueryEscape(email), http.StatusSeeOther)
	}
}

// addContact adds email, or answers the page that says why not.
func (a *App) addContact(w http.ResponseWriter, r *http.Request, u *ferry.User, email string) bool {
	results, err := a.cfg.Social.AddContacts(r.Context(), u.ID, []string{email}, a.cfg.Mail.ContactNotice)
	if err == nil && ferry.ErrorCode(results[0]) != ferry.EALREADYCONTACT {
		err = results[0]
	}
	if err != nil {
		status, fe := a.refusal(w, r, err)
		if fe == nil {
			return false
		}
		d := contactsData{Message: fe.Message}
		if fe.Code == ferry.EUSERNOTFOUND && a.cfg.Signup != "closed" {
			d.Invite = email // no account yet: offer to invite them
		}
		a.renderContacts(w, r, u, status, d)
		return false
	}
	return true
}

// handleInvite sends the form's email an invitation to ferry, as POST
// /api/1/invite does (the daily limit, a signup code when signup is by
// invitation).
func (a *App) handleInvite(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	email := strings.TrimSpace(r.PostFormValue("email"))
	results, err := a.cfg.Social.Invite(r.Context(), u.ID, []string{email}, func(to, code string) ferry.Mail {
		return a.cfg.Mail.Invite(u, to, code)
	})
	if err == nil {
		err = results[0]
	}
	if err != nil {
		if status, fe := a.refusal(w, r, err); fe != nil {
			a.renderContacts(w, r, u, status, contactsData{Message: fe.Message})
		}
		return
	}
	// From the send page, back to it (with what was to go), where it says
	// who was invited.
	if back := r.PostFormValue("back"); strings.HasPrefix(back, "/send/") && !strings.ContainsAny(back, "\\#") {
		sep := "?"
		if strings.Contains(back, "?") {
			sep = "&"
		}
		http.Redirect(w, r, back+sep+"invited="+url.QueryEscape(email), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/contacts?invited="+url.QueryEscape(email), http.StatusSeeOther)
}

// handleRemoveContact removes the form's email from the contacts.
func (a *App) handleRemoveContact(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	if err := a.cfg.Social.RemoveContact(r.Context(), u.ID, r.PostFormValue("email")); err != nil {
		a.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/contacts", http.StatusSeeOther)
}

// handleRequest answers a contact request: accept=1 adds the person back;
// either way the request is read and goes from the list.
func (a *App) handleRequest(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil {
		a.renderError(w, r, http.StatusBadRequest, "Choose a contact request.")
		return
	}
	requests, err := a.contactRequests(r, u)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	i := slices.IndexFunc(requests, func(n ferry.Notification) bool { return n.ID == id })
	if i < 0 {
		a.renderContacts(w, r, u, http.StatusNotFound, contactsData{Message: "That contact request is answered already."})
		return
	}
	if r.PostFormValue("accept") == "1" && !a.addContact(w, r, u, requests[i].Email) {
		return
	}
	if _, err := a.cfg.Social.MarkNotificationsRead(r.Context(), u.ID, []uint64{id}); err != nil {
		a.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/contacts", http.StatusSeeOther)
}
