package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/paths"
)

// File requests (docs/api.md, "File requests"): the owner's calls.

// maxRequestLife bounds expires: about ten years.
const maxRequestLife = 10 * 365 * 24 * time.Hour

// handleCreateRequest is POST /requests: title, message, expires
// (seconds), max_files, max_size, password, folder (default
// Requests/<title>).
func (s *Server) handleCreateRequest(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	p, err := parseParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	nr := ferry.NewFileRequest{Title: p.String("title"), Message: p.String("message"), Password: p.String("password")}
	secs, err := strconv.ParseInt(p.String("expires"), 10, 64)
	if err != nil || secs <= 0 || secs > int64(maxRequestLife/time.Second) {
		s.writeError(w, r, ferry.Errorf(ferry.EBADREQUEST, "expires must be a number of seconds above 0, at most ten years."))
		return
	}
	nr.Expires = s.now().Add(time.Duration(secs) * time.Second)
	if nr.MaxFiles, err = limitParam[int](p, "max_files"); err == nil {
		nr.MaxSize, err = limitParam[int64](p, "max_size")
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	folder := p.String("folder")
	if folder == "" {
		folder = "Requests/" + p.String("title")
	}
	if nr.Folder, err = paths.Parse(folder); err != nil || len(nr.Folder) == 0 {
		s.writeError(w, r, ferry.Errorf(ferry.EBADREQUEST, "folder %q is not a folder's path: give one, or a title that makes a folder name.", folder))
		return
	}
	id, token, err := s.requests.CreateRequest(r.Context(), u.ID, nr)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "url": s.cfg.PublicURL + "/r/" + token})
}

// limitParam reads an optional limit: a whole number, 0 or absent for
// none.
func limitParam[N int | int64](p *params, name string) (N, error) {
	v := p.String(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || int64(N(n)) != n {
		return 0, ferry.Errorf(ferry.EBADREQUEST, "%s must be a number from 0 (no limit).", name)
	}
	return N(n), nil
}

// requestJSON is a request in GET /requests.
type requestJSON struct {
	ID       uint64 `json:"id"`
	Title    string `json:"title"`
	Folder   string `json:"folder"`
	Created  string `json:"created"`
	Expires  string `json:"expires"`
	Uploads  int    `json:"uploads"`
	MaxFiles int    `json:"max_files"`
	MaxSize  int64  `json:"max_size"`
	Password bool   `json:"password"`
}

// handleRequests is GET /requests: the user's requests, newest first.
func (s *Server) handleRequests(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	list, err := s.requests.Requests(r.Context(), u.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, eachJSON(list, func(q ferry.FileRequest) requestJSON {
		return requestJSON{ID: q.ID, Title: q.Title, Folder: q.Folder, Created: q.Created.Format(timeLayout), Expires: q.Expires.Format(timeLayout),
			Uploads: q.Uploads, MaxFiles: q.MaxFiles, MaxSize: q.MaxSize, Password: q.Password}
	}))
}

// handleRevokeRequest is POST /requests/revoke: id.
func (s *Server) handleRevokeRequest(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	s.revokeByID(w, r, "a request's", func(id uint64) error { return s.requests.RevokeRequest(r.Context(), u.ID, id) })
}

// handleOpenRequest is GET /r/{token}: the request as its outsider sees
// it, without an account. A password, when the request has one, comes as
// HTTP Basic auth's (any user name) or as the field password; without it
// the answer leaves the message out; a wrong one counts as a failed login.
func (s *Server) handleOpenRequest(w http.ResponseWriter, r *http.Request) {
	p, err := parseParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	password := requestPassword(r, p)
	var opened ferry.OpenedRequest
	_, err = s.underLoginLimit(w, r, "", func() (*ferry.User, error) {
		var err error
		opened, err = s.requests.OpenRequest(r.Context(), pathVar(r, "token"), password)
		return nil, err
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"title": opened.Title, "message": opened.Message, "owner": opened.Owner,
		"expires": opened.Expires.Format(timeLayout), "max_files": opened.MaxFiles, "max_size": opened.MaxSize, "password": opened.Password})
}

// requestPassword is the password an outsider gives a request: HTTP
// Basic auth's (any user name), or the field password.
func requestPassword(r *http.Request, p *params) string {
	if _, password, ok := r.BasicAuth(); ok && password != "" {
		return password
	}
	return p.String("password")
}

// outsiderCall runs call, an outsider's call with a request's password,
// under the failed-login limit: a wrong password counts.
func (s *Server) outsiderCall(w http.ResponseWriter, r *http.Request, call func() error) error {
	_, err := s.underLoginLimit(w, r, "", func() (*ferry.User, error) { return nil, call() })
	return err
}

// handleStartDelivery is POST /r/{token}/start: email and name, and the
// password when the request has one. It begins a delivery, under the
// limits of deliveries an hour per address and per request.
func (s *Server) handleStartDelivery(w http.ResponseWriter, r *http.Request) {
	p, err := parseParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	token := pathVar(r, "token")
	var key string
	err = s.cfg.Outsiders.Start(w, r, token, func() error {
		return s.outsiderCall(w, r, func() (err error) {
			key, err = s.requests.StartDelivery(r.Context(), token, requestPassword(r, p), p.String("name"), p.String("email"))
			return err
		})
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"delivery": key})
}

// delivery is the delivery a call names.
func delivery(r *http.Request, p *params) ferry.Delivery {
	return ferry.Delivery{Token: pathVar(r, "token"), Key: pathVar(r, "delivery"), Password: requestPassword(r, p)}
}

// handleDeliver is PUT /r/{token}/{delivery}?name=FILE: the file's bytes,
// streamed and counted against the bytes a day per address and per
// request while they arrive.
func (s *Server) handleDeliver(w http.ResponseWriter, r *http.Request) {
	p, err := parseParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	d := delivery(r, p)
	body := s.cfg.Outsiders.Body(w, r, d.Token, r.Body)
	var got ferry.Delivered
	err = s.outsiderCall(w, r, func() (err error) {
		got, err = s.requests.Deliver(r.Context(), d, p.String("name"), body, r.ContentLength)
		return err
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"file": got.Name, "size": got.Size, "sha256": got.SHA256})
}

// handleFinishDelivery is POST /r/{token}/{delivery}/finish: the delivery
// becomes a message in the requester's inbox, and they get a mail.
func (s *Server) handleFinishDelivery(w http.ResponseWriter, r *http.Request) {
	p, err := parseParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var files int
	var size int64
	err = s.outsiderCall(w, r, func() (err error) {
		files, size, err = s.requests.FinishDelivery(r.Context(), delivery(r, p), s.cfg.Mail.DeliveryNotice)
		return err
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"files": files, "size": size})
}
