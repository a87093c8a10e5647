package web

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/ferryhq/ferry"
)

type inboxData struct {
	Pending     []pendingSend
	ExpireAfter time.Duration // a send expires this long after it was sent
	Quota       ferry.Quota
	Messages    []string        // what the last decisions came to, when some failed
	Decided     []ferry.Message // the latest sends decided on or expired, newest first
	Waiting     int             // all pending sends, on every page
	pager
}

// pendingSend is an inbox row: a folder's shows its first items.
type pendingSend struct {
	ferry.Message
	Contents []ferry.SentItem
}

const (
	inboxPage    = 100 // the pending sends an inbox page shows
	previewItems = 10  // the items an inbox row of a folder shows
	decidedShown = 20  // the decided sends the inbox lists
)

// handleInbox lists the sends waiting for the user's decision, with this
// month's receive quota.
func (a *App) handleInbox(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	a.renderInbox(w, r, u, http.StatusOK, nil)
}

func (a *App) renderInbox(w http.ResponseWriter, r *http.Request, u *ferry.User, status int, messages []string) {
	d := inboxData{Messages: messages, ExpireAfter: a.cfg.SendExpireAfter}
	pending, err := a.cfg.Messages.Inbox(r.Context(), u.ID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	// Oldest first, so the first to expire lead; a page at a time.
	d.Waiting, d.pager = len(pending), paginate(r, len(pending), inboxPage, pageLink("/inbox"))
	pending = pending[d.Page*inboxPage : min(len(pending), (d.Page+1)*inboxPage)]
	for _, m := range pending {
		row := pendingSend{Message: m}
		if m.Folder {
			if _, row.Contents, err = a.cfg.Messages.Contents(r.Context(), u.ID, m.ID, 0, previewItems); err != nil {
				a.fail(w, r, err)
				return
			}
		}
		d.Pending = append(d.Pending, row)
	}
	if d.Decided, err = a.cfg.Messages.Received(r.Context(), u.ID, decidedShown); err != nil {
		a.fail(w, r, err)
		return
	}
	if d.Quota, err = a.cfg.Users.Quota(r.Context(), u.ID); err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, r, status, "inbox", "Inbox", d)
}

// handleDecide accepts or declines the form's messages (id, repeated; or
// all pending ones with all=1): accept=1 copies each into the folder,
// under the storage and receive quotas; a refused one stays pending and
// the page says why.
func (a *App) handleDecide(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	if err := r.ParseForm(); err != nil {
		a.renderError(w, r, http.StatusBadRequest, "The request could not be read.")
		return
	}
	accept := r.PostFormValue("accept") == "1"
	var decisions []ferry.Decision
	if r.PostFormValue("all") == "1" {
		pending, err := a.cfg.Messages.Inbox(r.Context(), u.ID)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		for _, m := range pending {
			decisions = append(decisions, ferry.Decision{ID: m.ID, Accept: accept})
		}
	}
	for _, v := range r.PostForm["id"] {
		id, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			a.renderError(w, r, http.StatusBadRequest, "Choose a send to accept or decline.")
			return
		}
		decisions = append(decisions, ferry.Decision{ID: id, Accept: accept})
	}
	results, err := a.cfg.Messages.UpdateInbox(r.Context(), u.ID, decisions)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var refused []string
	status := http.StatusOK
	for _, err := range results {
		if err != nil {
			st, fe := a.refusal(w, r, err)
			if fe == nil {
				return
			}
			status = st
			refused = append(refused, fe.Message)
		}
	}
	if len(refused) > 0 {
		a.renderInbox(w, r, u, status, refused)
		return
	}
	http.Redirect(w, r, "/inbox", http.StatusSeeOther)
}

// outboxPage is how many sends an outbox page shows.
const outboxPage = 100

type outboxData struct {
	Sends []ferry.Message
	// Sent is how many items the send just made carried (from the
	// redirect after it), and Just its newest message, which says to
	// whom and how it went: in the inbox, accepted at once, or waiting
	// for an invited account until Until.
	Sent  int
	Just  *ferry.Message
	Until time.Time
	pager
}

// handleOutbox lists what the user has sent, newest first, with each
// one's status, a page at a time.
func (a *App) handleOutbox(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	all, err := a.cfg.Messages.Outbox(r.Context(), u.ID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	d := outboxData{pager: paginate(r, len(all), outboxPage, pageLink("/outbox"))}
	d.Sent, _ = strconv.Atoi(r.URL.Query().Get("sent"))
	// Newest first: the service lists oldest first.
	for i := len(all) - 1 - d.Page*outboxPage; i >= 0 && len(d.Sends) < outboxPage; i-- {
		d.Sends = append(d.Sends, all[i])
	}
	if d.Sent > 0 && d.Page == 0 && len(d.Sends) > 0 {
		d.Just = &d.Sends[0]
		d.Until = d.Just.Created.Add(a.cfg.SendExpireAfter)
	}
	a.render(w, r, http.StatusOK, "outbox", "Outbox", d)
}

// sendPage is how many of a send's items its page shows.
const sendPage = 200

type sendPageData struct {
	ferry.Message
	Contents    []ferry.SentItem
	Receiving   bool // the viewer is the receiver
	ExpireAfter time.Duration
	pager
}

// handleSendDetails shows one send, to its sender or receiver: who, when,
// its status and what it carries, a page of items at a time; the receiver
// of a pending one can accept or decline it here.
func (a *App) handleSendDetails(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil {
		a.renderError(w, r, http.StatusNotFound, "There is no such send.")
		return
	}
	asked, _ := strconv.Atoi(r.URL.Query().Get("page"))
	asked = min(max(asked, 0), math.MaxInt32/sendPage) // item offsets are 32 bits
	m, items, err := a.cfg.Messages.Contents(r.Context(), u.ID, id, asked*sendPage, sendPage)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	pg := paginate(r, m.Items, sendPage, pageLink("/sends/"+strconv.FormatUint(id, 10)))
	if pg.Page != asked { // past the last page: the last one
		if m, items, err = a.cfg.Messages.Contents(r.Context(), u.ID, id, pg.Page*sendPage, sendPage); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	d := sendPageData{Message: m, Contents: items, Receiving: m.To == u.Email, ExpireAfter: a.cfg.SendExpireAfter, pager: pg}
	a.render(w, r, http.StatusOK, "sent", m.Destination, d)
}
