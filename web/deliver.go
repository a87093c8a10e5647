package web

import (
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"strings"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/internal/words"
	"github.com/ferryhq/ferry/quota"
)

// The outsider's page of a file request, /r/{token}: who asks for what,
// and a form to upload with. app.js sends each file with the API's
// delivery calls (start, a PUT of the file itself, finish), with
// progress, and shows the receipt; without JavaScript the form posts to
// /r/{token}/upload, whose file parts are delivered as they arrive. The
// page sets no cookie: the token in its address is the authority, and a
// password, once given, travels with each call.

type deliverData struct {
	Gone     string // why the request does not work; "" when it does
	Ask      bool   // its password is wanted
	Wrong    bool   // and the one given was wrong
	URL      string // the page's own path
	Token    string
	Password string // given and right, for the page's calls
	Request  ferry.OpenedRequest
	Limits   string // the request's limits in words
	// After a form upload: what arrived, and what was refused.
	Receipt  []ferry.Delivered
	Refused  []string
	Error    string
	Finished bool
	Total    string // the receipt's files and size, in words
}

// requestGone is the page's word for a request that does not work.
const requestGone = "This file request has expired or was withdrawn, so it takes no more files. Ask whoever sent you the link for a new one."

// handleRequestPage is GET /r/{token}, and POST /r/{token} with the
// request's password.
func (a *App) handleRequestPage(w http.ResponseWriter, r *http.Request) {
	d := deliverData{URL: r.URL.Path, Token: r.PathValue("token")}
	password := ""
	if r.Method == http.MethodPost {
		password = r.PostFormValue("password")
	}
	opened, err := a.openRequest(w, r, d.Token, password)
	switch {
	case ferry.ErrorCode(err) == ferry.EAUTHFAILED:
		d.Ask, d.Wrong = true, true
		d.Request, _ = a.cfg.Requests.OpenRequest(r.Context(), d.Token, "") // its title, without the password
		a.render(w, r, http.StatusForbidden, "deliver", "A file request", d)
		return
	case err != nil:
		a.requestFailed(w, r, d, err)
		return
	}
	d.Request, d.Limits = opened, requestLimits(opened)
	if opened.Password && password == "" {
		d.Ask = true
	} else if opened.Full {
		d.Gone = opened.Owner + " cannot take more files right now: too many wait in their inbox. Try again later."
	}
	d.Password = password
	a.render(w, r, http.StatusOK, "deliver", opened.Title, d)
}

// openRequest opens the request under the failed-login limit: a wrong
// password counts.
func (a *App) openRequest(w http.ResponseWriter, r *http.Request, token, password string) (ferry.OpenedRequest, error) {
	var opened ferry.OpenedRequest
	_, err := a.cfg.Guard.Login(w, r, "", func() (*ferry.User, error) {
		var err error
		opened, err = a.cfg.Requests.OpenRequest(r.Context(), token, password)
		return nil, err
	})
	return opened, err
}

// requestFailed says why the request's page cannot be used.
func (a *App) requestFailed(w http.ResponseWriter, r *http.Request, d deliverData, err error) {
	status, fe := a.refusal(w, r, err)
	if fe == nil {
		return
	}
	d.Gone = fe.Message
	if fe.Code == ferry.ELINKEXPIRED {
		d.Gone = requestGone
	}
	a.render(w, r, status, "deliver", "A file request", d)
}

// requestLimits says a request's limits and its end in words.
func requestLimits(o ferry.OpenedRequest) string {
	var parts []string
	if o.MaxFiles > 0 {
		parts = append(parts, "up to "+words.Count(o.MaxFiles, "file"))
	}
	if o.MaxSize > 0 {
		parts = append(parts, "up to "+quota.FormatSize(o.MaxSize)+" in all")
	}
	s := "Open until " + o.Expires.UTC().Format("2 January 2006, 15:04 UTC") + "."
	if len(parts) > 0 {
		s = "You may send " + strings.Join(parts, " and ") + ". " + s
	}
	return s
}

// handleRequestUpload is POST /r/{token}/upload, the page's form without
// JavaScript: its fields (password, name, email) come first, then the
// files, each delivered as it arrives; a refused file is listed and the
// others go on. The delivery is finished when at least one arrived.
func (a *App) handleRequestUpload(w http.ResponseWriter, r *http.Request) {
	d := deliverData{URL: "/r/" + r.PathValue("token"), Token: r.PathValue("token")}
	mr, err := r.MultipartReader()
	if err != nil {
		a.renderError(w, r, http.StatusBadRequest, "Choose one or more files to send.")
		return
	}
	fields := map[string]string{}
	var part *multipart.Part
	for {
		if part, err = mr.NextPart(); err != nil {
			break
		}
		if part.FileName() != "" || part.FormName() == "file" {
			break
		}
		v, _ := io.ReadAll(io.LimitReader(part, 4096))
		fields[part.FormName()] = string(v)
	}
	d.Password = fields["password"]
	opened, err := a.openRequest(w, r, d.Token, d.Password)
	if err != nil || (opened.Password && d.Password == "") {
		if err == nil || ferry.ErrorCode(err) == ferry.EAUTHFAILED {
			d.Ask, d.Wrong = true, d.Password != ""
			a.render(w, r, http.StatusForbidden, "deliver", "A file request", d)
			return
		}
		a.requestFailed(w, r, d, err)
		return
	}
	d.Request, d.Limits = opened, requestLimits(opened)
	again := func(status int, msg string) {
		d.Error = msg
		a.render(w, r, status, "deliver", opened.Title, d)
	}
	var key string
	err = a.cfg.Outsiders.Start(w, r, d.Token, func() (err error) {
		key, err = a.cfg.Requests.StartDelivery(r.Context(), d.Token, d.Password, fields["name"], fields["email"])
		return err
	})
	if err != nil {
		if status, fe := a.refusal(w, r, err); fe != nil {
			again(status, fe.Message)
		}
		return
	}
	delivery := ferry.Delivery{Token: d.Token, Key: key, Password: d.Password}
	for files := 0; part != nil; files++ {
		if files == maxFormFiles {
			break
		}
		if name := part.FileName(); name != "" {
			if i := strings.LastIndexAny(name, `/\`); i >= 0 {
				name = name[i+1:]
			}
			got, err := a.cfg.Requests.Deliver(r.Context(), delivery, name, a.cfg.Outsiders.Body(w, r, d.Token, part), -1)
			var fe *ferry.Error
			switch {
			case err == nil:
				d.Receipt = append(d.Receipt, got)
			case errors.As(err, &fe) && fe.Code != ferry.EUNKNOWN && !errors.Is(err, ferry.ErrBodyRead):
				d.Refused = append(d.Refused, name+": "+fe.Message)
			default:
				a.fail(w, r, err)
				return
			}
		}
		if part, err = mr.NextPart(); err == io.EOF {
			break
		} else if err != nil {
			again(http.StatusBadRequest, "The upload was cut off; nothing was sent. Try again.")
			return
		}
	}
	if len(d.Receipt) == 0 {
		msg := "Choose one or more files to send."
		if len(d.Refused) > 0 {
			msg = "None of the files could be taken:"
		}
		again(http.StatusBadRequest, msg)
		return
	}
	if _, _, err := a.cfg.Requests.FinishDelivery(r.Context(), delivery, a.cfg.Mail.DeliveryNotice); err != nil {
		if status, fe := a.refusal(w, r, err); fe != nil {
			again(status, fe.Message)
		}
		return
	}
	d.Finished, d.Total = true, receiptSize(d.Receipt)
	a.render(w, r, http.StatusOK, "deliver", opened.Title, d)
}

// receiptSize is the total of a receipt, in words.
func receiptSize(list []ferry.Delivered) string {
	var n int64
	for _, f := range list {
		n += f.Size
	}
	return words.Count(len(list), "file") + ", " + quota.FormatSize(n)
}
