package front

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sync"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/internal/fill"
)

// ServeFile answers a stored file's content, opened with open, as an
// attachment (under the inert policy the front ends set on everything but
// their pages), with ranges, ETag and Last-Modified; a file of the data
// directory goes with sendfile. An error before the first byte is given
// to fail, which answers it.
func ServeFile(w http.ResponseWriter, r *http.Request, open func(ctx context.Context, sha256 string, size int64) (ferry.Blob, error), info ferry.FileInfo, fail func(error)) {
	f, err := open(r.Context(), info.SHA256, info.Size)
	if err != nil {
		fail(fmt.Errorf("open blob of %q: %w", info.Name, err))
		return
	}
	defer f.Close()
	h := w.Header()
	h.Set("ETag", `"`+info.SHA256+`"`)
	// The content is the user's: never run it as a page of this origin
	// (the front end has made it inert; it is also a download).
	h.Set("Content-Disposition", "attachment; filename*=UTF-8''"+url.PathEscape(info.Name))
	if _, local := f.(*os.File); local {
		http.ServeContent(w, r, info.Name, info.Modified, f) // sendfile
		return
	}
	// An object's first read can fail (its store does not answer): the
	// status waits for the first byte, so that such a failure is an error
	// answer, not a 200 that breaks off. One that fails later breaks the
	// transfer off short of its Content-Length, which every client sees.
	held := &heldHeader{ResponseWriter: w}
	blob := &firstReadError{Blob: f}
	http.ServeContent(held, r, info.Name, info.Modified, blob)
	if !held.sent {
		if blob.err != nil {
			for _, k := range []string{"Content-Length", "Content-Range", "Content-Type", "Content-Disposition", "Accept-Ranges", "ETag", "Last-Modified"} {
				h.Del(k)
			}
			fail(blob.err)
			return
		}
		held.send()
	}
}

// heldHeader holds a response's status until its first byte of body.
type heldHeader struct {
	http.ResponseWriter
	code int
	sent bool
}

func (h *heldHeader) WriteHeader(code int) {
	if h.code == 0 {
		h.code = code
	}
}

func (h *heldHeader) send() {
	if !h.sent {
		h.sent = true
		h.ResponseWriter.WriteHeader(cmp.Or(h.code, http.StatusOK))
	}
}

func (h *heldHeader) Write(p []byte) (int, error) {
	h.send()
	return h.ResponseWriter.Write(p)
}

// ReadFrom copies in whole MiB, not in what each read of the object's
// answer happens to bring (io.Copy's way): a write to the client, and the
// deadline moved before it, per MiB.
func (h *heldHeader) ReadFrom(r io.Reader) (int64, error) {
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	return copyWhole(h, r, *buf)
}

// copyBuffers are ReadFrom's MiB, kept between downloads.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

// copyWhole copies r to w through buf, a full buf per write. An answer
// cut short (io.ErrUnexpectedEOF from the object store) is an error, not
// the end.
func copyWhole(w io.Writer, r io.Reader, buf []byte) (int64, error) {
	var total int64
	for {
		n, err := fill.Fill(r, buf)
		if n > 0 {
			m, werr := w.Write(buf[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
		}
		if err == io.EOF {
			return total, nil
		} else if err != nil {
			return total, err
		}
	}
}

// firstReadError remembers the error of a read that returned nothing.
type firstReadError struct {
	ferry.Blob
	err error
}

func (b *firstReadError) Read(p []byte) (int, error) {
	n, err := b.Blob.Read(p)
	if n == 0 && err != nil && !errors.Is(err, io.EOF) {
		b.err = err
	}
	return n, err
}
