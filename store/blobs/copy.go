package blobs

import (
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/internal/fill"
)

// Content arrives from a request body and goes to a file (a spool, or a
// resumable upload's file) while it is hashed. Copy reads the body
// in pieces of pieceSize into a few aligned buffers; a goroutine hashes
// each piece and another writes it, so that the network, the hash and the
// disk all move at once, and each piece is read into memory once and never
// copied again in the process.
//
// The writer (FileWriter) uses direct I/O where it can: the bytes go from
// the buffer to the device, not through the page cache. Writing through
// the cache cost this service about a CPU second per GiB on top of the
// hash (copying into the cache, then writing the dirty pages out), and an
// upload then competes with everything else for the cache. A file's bytes
// that are not whole aligned blocks at aligned offsets (the head of a
// chunk that continues an odd-sized one, the tail of a file) go through
// the cache instead; the fsync that follows makes both durable.

// Pieces of 2 MiB cost 15% less CPU per GiB, but put ferry's peak RSS
// during the bench's big transfers at 32.3-32.4 MiB, over its 32 MiB
// target; 1 MiB pieces keep it at 27-28.
const (
	pieceSize = 1 << 20 // what one read fills and one write writes
	pieces    = 4       // the buffers in flight
	align     = 4096    // direct I/O's alignment of memory, offsets and lengths
)

// Writer is where Copy puts each piece, in order, at its offset.
type Writer interface {
	WritePiece(p []byte, off int64) error
}

// Copy copies r into dst from offset off on, and writes the same
// bytes to h. expect is how many bytes r should hold (-1: unknown); the
// buffers are no larger than that needs. It returns how many bytes it
// copied, the error of reading r (wrapped in ferry.ErrBodyRead), and the
// error of writing (a full disk): when both are nil it copied all of r.
// After a read error the bytes read before it are written and hashed;
// after a write error nothing the copy did should count.
func Copy(dst Writer, off int64, r io.Reader, h hash.Hash, expect int64) (n int64, readErr, writeErr error) {
	// Buffers are made as the pipeline needs them, up to pieces: a small
	// body takes one small buffer (and one more to meet its end), a large
	// one four pieces from the pool.
	size := pieceSize
	if expect >= 0 && expect < pieceSize {
		size = int(expect+align) &^ (align - 1) // room for one byte more than expected
	}
	free := make(chan []byte, pieces)
	made := 0
	defer func() {
		// Every buffer is back by now: the writer has returned them all.
		for range made {
			putPiece(<-free)
		}
	}()
	next := func() []byte {
		if made < pieces {
			select {
			case buf := <-free:
				return buf
			default:
				made++
				if size == pieceSize {
					return getPiece()
				}
				return alignedBuf(size)
			}
		}
		return <-free
	}
	type piece struct {
		buf []byte
		off int64
	}
	toHash, toWrite := make(chan piece, pieces), make(chan piece, pieces)
	failed := make(chan struct{}) // closed at the first write error
	written := make(chan error, 1)
	go func() {
		for p := range toHash {
			h.Write(p.buf)
			toWrite <- p
		}
		close(toWrite)
	}()
	go func() {
		var err error
		for p := range toWrite {
			if err == nil {
				if err = dst.WritePiece(p.buf, p.off); err != nil {
					close(failed)
				}
			}
			free <- p.buf[:cap(p.buf)]
		}
		written <- err
	}()
	for {
		var buf []byte
		select {
		case <-failed:
		default:
			buf = next()
		}
		if buf == nil {
			break
		}
		// The first piece ends where the file is aligned, so that every
		// later one starts aligned.
		if head := int(off % align); head != 0 {
			buf = buf[:align-head]
		}
		m, err := fill.Fill(r, buf)
		if m > 0 {
			toHash <- piece{buf[:m], off}
			off += int64(m)
			n += int64(m)
		} else {
			free <- buf[:cap(buf)]
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			readErr = bodyReadError(err)
			break
		}
	}
	close(toHash)
	if writeErr = <-written; writeErr != nil {
		readErr = nil
	}
	return n, readErr, writeErr
}

// piecePool keeps the buffers of copies that ended for the next ones: an
// upload's 4 MiB would otherwise be garbage that the collector (at
// GOGC=400) lets pile up in the process's memory.
var piecePool sync.Pool

func getPiece() []byte {
	if p, ok := piecePool.Get().(*[]byte); ok {
		return *p
	}
	return alignedBuf(pieceSize)
}

// putPiece keeps b for the next copy, if it is a whole piece.
func putPiece(b []byte) {
	if b = b[:cap(b)]; len(b) == pieceSize {
		piecePool.Put(&b)
	}
}

// alignedBuf returns n bytes of memory that start at a multiple of align.
func alignedBuf(n int) []byte {
	b := make([]byte, n+align)
	skip := (align - int(uintptr(unsafe.Pointer(&b[0]))%align)) % align
	return b[skip : skip+n : skip+n]
}

// FileWriter writes pieces to f: whole aligned blocks through direct, the
// same file opened for direct I/O, when it is set, and everything else
// through f. check, when set, must allow each piece first (the store's
// check of free space).
// With writeback set, each piece written through f has its writeback
// started at once (sync_file_range), so that the fsync at the end finds
// little left to write.
type FileWriter struct {
	f         *os.File
	direct    *os.File
	check     func(need int64) error
	writeback bool
}

// NewFileWriter returns a Writer to f that writes around the page cache
// where the file system allows it; Close closes what it opened (not f).
func NewFileWriter(f *os.File, check func(int64) error) *FileWriter {
	s := &FileWriter{f: f, check: check, writeback: true}
	if d, err := openDirect(f.Name()); err == nil {
		s.direct = d
	}
	return s
}

// Close closes the file opened for direct I/O.
func (s *FileWriter) Close() {
	if s.direct != nil {
		s.direct.Close()
		s.direct = nil
	}
}

// WritePiece writes p at off.
func (s *FileWriter) WritePiece(p []byte, off int64) error {
	if s.check != nil {
		if err := s.check(int64(len(p))); err != nil {
			return err
		}
	}
	if whole := len(p) &^ (align - 1); s.direct != nil && whole > 0 && off%align == 0 {
		_, err := s.direct.WriteAt(p[:whole], off)
		switch {
		case err == nil:
			p, off = p[whole:], off+int64(whole)
		case errors.Is(err, syscall.EINVAL):
			// The file system took the open but not the write: the
			// cache it is, from here on, for the whole piece again.
			s.Close()
		default:
			return err
		}
	}
	if len(p) == 0 {
		return nil
	}
	if _, err := s.f.WriteAt(p, off); err != nil {
		return err
	}
	if s.writeback {
		startWriteback(s.f, off, int64(len(p)))
	}
	return nil
}

// startWriteback starts writing out f's dirty pages in [off, off+n) without
// waiting for them (writeback_linux.go); a variable for tests.
var startWriteback = osStartWriteback

// bodyReadError wraps an error of reading a request body in
// ferry.ErrBodyRead, unless it is a ferry.Error already (a body that
// ended short of its size says so).
func bodyReadError(err error) error {
	var fe *ferry.Error
	if errors.As(err, &fe) {
		return err
	}
	return fmt.Errorf("%w: %w", ferry.ErrBodyRead, err)
}
