package web

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/quota"
	"github.com/ferryhq/ferry/version"
)

// The admin console under /admin: the same page policy, cross-origin
// protection and look as every page, for administrators only. It changes
// accounts through ferry.AdminService, as the /admin/ calls and `ferry
// user set` do.

// peoplePage is how many accounts a page of /admin lists.
const peoplePage = 50

// adminOnly is authed for an administrator; anyone else gets a page that
// says the console is not theirs.
func (a *App) adminOnly(h func(w http.ResponseWriter, r *http.Request, u *ferry.User)) http.HandlerFunc {
	return a.authed(func(w http.ResponseWriter, r *http.Request, u *ferry.User) {
		if !u.Admin || a.cfg.Admin == nil {
			a.renderError(w, r, http.StatusForbidden, "The admin console is for administrators.")
			return
		}
		h(w, r, u)
	})
}

type adminHomeData struct {
	Overview       ferry.AdminOverview
	Version        string
	People         []ferry.AdminUser
	Query, Sort    string
	Total          int
	Page, Last     int
	Prev, Next     string
	Saved, Message string
}

// handleAdminHome is /admin?q=&sort=&page=: the overview, and the people.
func (a *App) handleAdminHome(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	q := r.URL.Query()
	d := adminHomeData{Query: q.Get("q"), Sort: q.Get("sort"), Version: version.Get().Version, Saved: q.Get("saved")}
	if d.Sort != "usage" && d.Sort != "login" {
		d.Sort = "email"
	}
	d.Page, _ = strconv.Atoi(q.Get("page"))
	d.Page = max(d.Page, 0)
	var err error
	if d.Overview, d.People, d.Total, err = a.cfg.Admin.Console(r.Context(), d.Query, d.Sort, d.Page*peoplePage, peoplePage); err != nil {
		a.fail(w, r, err)
		return
	}
	d.Last = max(0, (d.Total-1)/peoplePage)
	at := func(page int) string {
		v := url.Values{"page": {strconv.Itoa(page)}, "sort": {d.Sort}}
		if d.Query != "" {
			v.Set("q", d.Query)
		}
		return "/admin?" + v.Encode()
	}
	if d.Page > 0 {
		d.Prev = at(d.Page - 1)
	}
	if d.Page < d.Last {
		d.Next = at(d.Page + 1)
	}
	a.render(w, r, http.StatusOK, "admin", "Admin", d)
}

type adminPersonData struct {
	Person   ferry.AdminUser
	Packages []ferry.AdminPackage
	Events   []ferry.Event
	Self     bool
	Saved    string
	Message  string
}

// handleAdminPerson is /admin/people/{email}.
func (a *App) handleAdminPerson(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	a.renderPerson(w, r, u, http.StatusOK, r.PathValue("email"), r.URL.Query().Get("saved"), "")
}

func (a *App) renderPerson(w http.ResponseWriter, r *http.Request, u *ferry.User, status int, email, saved, message string) {
	person, err := a.cfg.Admin.User(r.Context(), email)
	if ferry.ErrorCode(err) == ferry.EUSERNOTFOUND {
		a.renderError(w, r, http.StatusNotFound, "There is no account "+email+".")
		return
	} else if err != nil {
		a.fail(w, r, err)
		return
	}
	d := adminPersonData{Person: person, Self: person.Node == "" && person.ID == u.ID, Saved: saved, Message: message}
	if d.Packages, err = a.cfg.Admin.Packages(r.Context()); err != nil {
		a.fail(w, r, err)
		return
	}
	if person.Node == "" { // (another node's account: its events are in that node's log)
		if d.Events, err = a.cfg.Users.Activity(r.Context(), ferry.AuditFilter{User: person.ID, Limit: 10}); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	a.render(w, r, status, "admin_person", person.Email, d)
}

// handleAdminChange is POST /admin/people/{email}: one change of the
// person's page (what, and its value).
func (a *App) handleAdminChange(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	email := r.PathValue("email")
	var ch ferry.AdminChange
	saved := ""
	yes := r.PostFormValue("value") == "1"
	switch r.PostFormValue("what") {
	case "limits":
		pkg := r.PostFormValue("package")
		ch.Package = &pkg
		for _, size := range []struct {
			field string
			to    **int64
		}{{"storage", &ch.Storage}, {"receive", &ch.Receive}} {
			n, err := quota.ParseSize(r.PostFormValue(size.field))
			if err != nil {
				a.renderPerson(w, r, u, http.StatusBadRequest, email, "", "Write sizes as 500MB, 5GB or 0 (unlimited).")
				return
			}
			*size.to = &n
		}
		saved = "limits"
	case "disabled":
		ch.Disabled, saved = &yes, "disabled"
	case "admin":
		ch.Admin, saved = &yes, "admin"
	case "reset_2fa":
		ch.ResetTwoFactor, saved = true, "2fa"
	case "reset_mail":
		err := a.cfg.Users.ForgotPassword(r.Context(), email, a.cfg.Mail.ResetLife, a.cfg.Mail.Reset)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		http.Redirect(w, r, "/admin/people/"+url.PathEscape(email)+"?saved=reset", http.StatusSeeOther)
		return
	default:
		a.renderPerson(w, r, u, http.StatusBadRequest, email, "", "That change is not one this page makes.")
		return
	}
	if _, err := a.cfg.Admin.UpdateUser(r.Context(), u, email, ch); err != nil {
		if status, fe := a.refusal(w, r, err); fe != nil {
			a.renderPerson(w, r, u, status, email, "", fe.Message)
		}
		return
	}
	http.Redirect(w, r, "/admin/people/"+url.PathEscape(email)+"?saved="+saved, http.StatusSeeOther)
}

// handleAdminDeletePage asks before deleting an account.
func (a *App) handleAdminDeletePage(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	person, err := a.cfg.Admin.User(r.Context(), r.PathValue("email"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, r, http.StatusOK, "admin_delete", "Delete "+person.Email, person)
}

// handleAdminDelete deletes the account, once confirmed.
func (a *App) handleAdminDelete(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	email := r.PathValue("email")
	if r.PostFormValue("confirm") != email {
		a.renderPerson(w, r, u, http.StatusBadRequest, email, "", "To delete the account, type its email in the box: nothing was deleted.")
		return
	}
	if err := a.cfg.Admin.DeleteUser(r.Context(), u, email); err != nil {
		if status, fe := a.refusal(w, r, err); fe != nil {
			a.renderPerson(w, r, u, status, email, "", fe.Message)
		}
		return
	}
	http.Redirect(w, r, "/admin?saved=deleted", http.StatusSeeOther)
}

// handleAdminPackages is /admin/packages.
func (a *App) handleAdminPackages(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	list, err := a.cfg.Admin.Packages(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, r, http.StatusOK, "admin_packages", "Packages", list)
}

type adminMailData struct {
	Status string
	Mail   []ferry.QueuedMail
	Saved  string
}

// handleAdminMail is /admin/mail?status=.
func (a *App) handleAdminMail(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	d := adminMailData{Status: r.URL.Query().Get("status"), Saved: r.URL.Query().Get("saved")}
	if d.Status != "queued" && d.Status != "sent" && d.Status != "failed" {
		d.Status = ""
	}
	var err error
	if d.Mail, err = a.cfg.Admin.Mail(r.Context(), d.Status); err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, r, http.StatusOK, "admin_mail", "Mail", d)
}

// handleAdminMailAction is POST /admin/mail/{id}: retry or delete.
func (a *App) handleAdminMailAction(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil {
		a.renderError(w, r, http.StatusNotFound, "There is no such mail.")
		return
	}
	saved := "retried"
	if r.PostFormValue("action") == "delete" {
		err, saved = a.cfg.Admin.DeleteMail(r.Context(), id), "deleted"
	} else {
		err = a.cfg.Admin.RetryMail(r.Context(), id)
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/admin/mail?saved="+saved, http.StatusSeeOther)
}

type adminAuditData struct {
	User, Action string
	Events       []ferry.Event
	Next         string
	Actions      []auditAction
	Message      string
}

// auditAction is an action of the audit log and what the pages call it.
type auditAction struct{ Code, Words string }

// auditActions are the audit log's actions in a person's words, in the
// order the log's filter offers them.
var auditActions = []auditAction{
	{ferry.ActionLogin, "Signed in"},
	{ferry.ActionLoginFailed, "Sign-in refused"},
	{ferry.ActionLogout, "Signed out"},
	{ferry.ActionPasswordChanged, "Password changed"},
	{ferry.ActionPasswordReset, "Password reset"},
	{ferry.Action2FAEnabled, "Two-factor sign-in turned on"},
	{ferry.Action2FADisabled, "Two-factor sign-in turned off"},
	{ferry.ActionTokenCreated, "Personal token made"},
	{ferry.ActionTokenRevoked, "Personal token revoked"},
	{ferry.ActionLinkCreated, "Download link made"},
	{ferry.ActionLinkDownloaded, "Downloaded by link"},
	{ferry.ActionLinkRevoked, "Download link withdrawn"},
	{ferry.ActionSend, "Sent"},
	{ferry.ActionAccept, "Accepted"},
	{ferry.ActionDecline, "Declined"},
	{ferry.ActionExpire, "Expired unanswered"},
	{ferry.ActionRequestCreated, "File request made"},
	{ferry.ActionRequestUpload, "Files arrived for a request"},
	{ferry.ActionScanInfected, "Malware found and refused"},
	{ferry.ActionAccountCreated, "Account created"},
	{ferry.ActionAccountDeleted, "Account deleted"},
	{ferry.ActionAdminUpdate, "Changed by an administrator"},
}

// actionWords is an action as the pages write it; an action they do not
// know stays as its code.
func actionWords(code string) string {
	for _, a := range auditActions {
		if a.Code == code {
			return a.Words
		}
	}
	return code
}

// handleAdminAudit is /admin/audit?user=&action=&before=.
func (a *App) handleAdminAudit(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	q := r.URL.Query()
	d := adminAuditData{User: q.Get("user"), Action: q.Get("action"), Actions: auditActions}
	f := ferry.AuditFilter{Action: d.Action, Limit: 100}
	f.Before, _ = strconv.ParseUint(q.Get("before"), 10, 64)
	status := http.StatusOK
	if d.User != "" {
		person, err := a.cfg.Admin.User(r.Context(), d.User)
		switch {
		case err != nil:
			status, d.Message = http.StatusNotFound, "There is no account "+d.User+"."
		case person.Node != "":
			status, d.Message = http.StatusNotFound, "The account "+d.User+" is kept by node "+person.Node+": its events are in that node's audit log (ferry audit export there)."
		}
		f.User = person.ID
	}
	if d.Message == "" {
		var err error
		if d.Events, err = a.cfg.Users.Activity(r.Context(), f); err != nil {
			a.fail(w, r, err)
			return
		}
		if len(d.Events) == f.Limit {
			v := url.Values{"before": {strconv.FormatUint(d.Events[len(d.Events)-1].ID, 10)}}
			if d.User != "" {
				v.Set("user", d.User)
			}
			if d.Action != "" {
				v.Set("action", d.Action)
			}
			d.Next = "/admin/audit?" + v.Encode()
		}
	}
	a.render(w, r, status, "admin_audit", "Audit log", d)
}
