package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/front"
)

// handleCreateLink is POST /files/link: a download URL that needs no auth,
// for expires seconds (the configured default when absent).
func (s *Server) handleCreateLink(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	p, names, err := s.paramsAndPath(r, "path")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	life := s.cfg.LinkDefaultExpiry
	if v := p.String("expires"); v != "" {
		secs, err := strconv.ParseInt(v, 10, 64)
		maxSecs := int64(s.cfg.LinkMaxExpiry / time.Second)
		if err != nil || secs <= 0 || secs > maxSecs {
			s.writeError(w, r, ferry.Errorf(ferry.EBADREQUEST, "expires must be a number of seconds from 1 to %d.", maxSecs))
			return
		}
		life = time.Duration(secs) * time.Second
	}
	opts := ferry.LinkOptions{Password: p.String("password")}
	if v := p.String("max_downloads"); v != "" {
		if opts.MaxDownloads, err = strconv.ParseUint(v, 10, 64); err != nil {
			s.writeError(w, r, ferry.Errorf(ferry.EBADREQUEST, "max_downloads must be a whole number, 0 for no limit."))
			return
		}
	}
	if len(opts.Password) > ferry.MaxPasswordLen {
		s.writeError(w, r, ferry.Errorf(ferry.EBADREQUEST, "A link's password has at most %d bytes.", ferry.MaxPasswordLen))
		return
	}
	token, id, err := s.files.CreateLink(r.Context(), u.ID, names, s.now().Add(life), opts)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"url": s.cfg.PublicURL + "/d/" + token, "id": id})
}

// linkJSON is a link in GET /files/links.
type linkJSON struct {
	ID           uint64 `json:"id"`
	File         string `json:"file"`
	Created      string `json:"created"`
	Expires      string `json:"expires"`
	Downloads    uint64 `json:"downloads"`
	MaxDownloads uint64 `json:"max_downloads"`
	Password     bool   `json:"password"`
}

// handleLinks is GET /files/links: the user's links, newest first.
func (s *Server) handleLinks(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	links, err := s.files.Links(r.Context(), u.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]linkJSON, len(links))
	for i, l := range links {
		out[i] = linkJSON{ID: l.ID, File: l.File, Created: l.Created.Format(timeLayout), Expires: l.Expires.Format(timeLayout),
			Downloads: l.Downloads, MaxDownloads: l.MaxDownloads, Password: l.Password}
	}
	writeJSON(w, http.StatusOK, out)
}

// handleRevokeLink is POST /files/link/revoke: id stops working at once.
func (s *Server) handleRevokeLink(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	p, err := parseParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	id, err := strconv.ParseUint(p.String("id"), 10, 64)
	if err != nil {
		s.writeError(w, r, ferry.Errorf(ferry.EBADREQUEST, "id must be a link's id."))
		return
	}
	if err := s.files.RevokeLink(r.Context(), u.ID, id); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeOK(w)
}

// handleDownloadLink is GET, HEAD or POST /d/{token}: the linked file,
// without an account. A link's password comes as HTTP Basic auth's (any
// user name) or as the form field password of a POST; a wrong one counts
// against the failed-login limit. A browser (by its Accept header, and
// not asking ?download=1 or posting the password) gets a page instead.
func (s *Server) handleDownloadLink(w http.ResponseWriter, r *http.Request) {
	token := pathVar(r, "token")
	_, password, _ := r.BasicAuth()
	if r.Method == http.MethodPost {
		password = r.PostFormValue("password")
	}
	var opened ferry.OpenedLink
	open := func() (*ferry.User, error) {
		link, err := s.files.OpenLink(r.Context(), token, password)
		opened = link
		return nil, err
	}
	var err error
	if password != "" {
		_, err = s.underLoginLimit(w, r, "", open)
	} else {
		_, err = open()
	}
	if s.cfg.Pages != nil && front.WantsPage(r) && (r.Method != http.MethodPost || err != nil) {
		// A page with the file's name and a download button
		// (?download=1), a password field, or the news that the link is
		// gone; a right password posted from the page gets the file.
		s.cfg.Pages.LinkPage(w, r, opened, password != "", err)
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// A whole file is one download, counted before it is sent: the count
	// decides which download is a limited link's last. Conditions go, so
	// that a counted download is never answered 304; a range is not
	// counted.
	if r.Method != http.MethodHead && r.Header.Get("Range") == "" {
		if err := s.files.CountDownload(r.Context(), token); err != nil {
			s.writeError(w, r, err)
			return
		}
		for _, h := range []string{"If-Modified-Since", "If-None-Match", "If-Match", "If-Unmodified-Since"} {
			r.Header.Del(h)
		}
	}
	if s.cfg.BlobRedirect && r.Method != http.MethodHead {
		// Straight from the object store, by a URL that works for a few
		// minutes; a HEAD is answered here (the URL is for GET only).
		u, err := s.files.BlobURL(r.Context(), opened.File.SHA256, opened.File.Name, blobURLExpiry)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if u != "" {
			w.Header().Set("Cache-Control", "no-store")
			code := http.StatusFound
			if r.Method == http.MethodPost {
				code = http.StatusSeeOther
			}
			http.Redirect(w, r, u, code)
			return
		}
	}
	s.serveFile(w, r, opened.File)
}

// blobURLExpiry is how long a download link's redirect to the object
// store works: time to start the download, not to finish it.
const blobURLExpiry = 5 * time.Minute
