package front

import (
	"net/http"
	"time"

	"github.com/ferryhq/ferry"
)

// Links answers a download link, /d/{token}, for the API (the file) and
// the web app (its page, and the file once a password posted from it is
// right).
type Links struct {
	Files ferry.FileService
	Guard *Guard
	// BlobRedirect sends the client to the object store, when blobs are
	// there, instead of sending the bytes itself.
	BlobRedirect bool
	// Fail answers an error in the API's error model.
	Fail func(w http.ResponseWriter, r *http.Request, err error)
}

// Open opens the link token. Its password comes as HTTP Basic auth's (any
// user name) or as the form field password of a POST; a wrong one counts
// against the failed-login limit. tried says a password was given.
func (l Links) Open(w http.ResponseWriter, r *http.Request, token string) (link ferry.OpenedLink, tried bool, err error) {
	_, password, _ := r.BasicAuth()
	if r.Method == http.MethodPost {
		password = r.PostFormValue("password")
	}
	open := func() (*ferry.User, error) {
		opened, err := l.Files.OpenLink(r.Context(), token, password)
		link = opened
		return nil, err
	}
	if password != "" {
		_, err = l.Guard.Login(w, r, "", open)
	} else {
		_, err = open()
	}
	return link, password != "", err
}

// blobURLExpiry is how long a download link's redirect to the object
// store works: time to start the download, not to finish it.
const blobURLExpiry = 5 * time.Minute

// Serve answers the file of link, opened from token. A whole file is one
// download, counted before it is sent: the count decides which download
// is a limited link's last. A range is not counted.
func (l Links) Serve(w http.ResponseWriter, r *http.Request, token string, link ferry.OpenedLink) {
	if r.Method != http.MethodHead && r.Header.Get("Range") == "" {
		if err := l.Files.CountDownload(r.Context(), token); err != nil {
			l.Fail(w, r, err)
			return
		}
		// Conditions go, so that a counted download is never answered 304.
		for _, h := range []string{"If-Modified-Since", "If-None-Match", "If-Match", "If-Unmodified-Since"} {
			r.Header.Del(h)
		}
	}
	if l.BlobRedirect && r.Method != http.MethodHead {
		// Straight from the object store, by a URL that works for a few
		// minutes; a HEAD is answered here (the URL is for GET only).
		u, err := l.Files.BlobURL(r.Context(), link.File.SHA256, link.File.Name, blobURLExpiry)
		if err != nil {
			l.Fail(w, r, err)
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
	ServeFile(w, r, l.Files.OpenBlob, link.File, func(err error) { l.Fail(w, r, err) })
}
