//go:build linux

// Command refserver is the reference side of go run ./bench: plain Go
// handlers, run as a process of their own (as ferry is), so that neither
// side of a row shares a Go runtime with the load generator. It listens on
// a free loopback port and prints "listening on ADDR" when it serves.
//
//	PUT /put     the body to a temporary file with io.Copy, then fsync
//	PUT /direct  the body to a temporary file with O_DIRECT, double-buffered,
//	             then fdatasync: what the disk takes durably
//	GET /get     http.ServeFile of -file
//	GET /hello   "hello"
//
// With -spin it serves nothing and runs a busy loop instead: the CPU-bound
// neighbour of the bench's row 1n.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

var (
	flagDir  = flag.String("dir", os.TempDir(), "where uploads go (each is removed after)")
	flagFile = flag.String("file", "", "the file GET /get serves")
	flagSpin = flag.Bool("spin", false, "run a busy loop, serve nothing")
	flagCPU  = flag.Int("cpu", -1, "with -spin: the one CPU to run on")
)

func main() {
	flag.Parse()
	if *flagSpin {
		if *flagCPU >= 0 {
			runtime.LockOSThread() // affinity is a thread's: spin on this one
			var set unix.CPUSet
			set.Set(*flagCPU)
			if err := unix.SchedSetaffinity(0, &set); err != nil {
				log.Fatal(err)
			}
		}
		spin()
	}
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /put", copyFsync)
	mux.HandleFunc("PUT /direct", direct)
	mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, *flagFile) })
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	log.Fatal(http.Serve(ln, mux))
}

// spin keeps one CPU busy (GOMAXPROCS does not matter: one goroutine).
func spin() {
	var n atomic.Uint64
	for {
		n.Add(1)
	}
}

// copyFsync is the plain handler a Go programmer would write: io.Copy to
// a file, then fsync.
func copyFsync(w http.ResponseWriter, r *http.Request) {
	f, err := os.CreateTemp(*flagDir, "put-")
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := io.Copy(f, r.Body); err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	if err := f.Sync(); err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	io.WriteString(w, "{}")
}

const (
	align   = 4096    // O_DIRECT's alignment of buffers, offsets and lengths
	bufSize = 8 << 20 // each of the two buffers
)

var directN atomic.Int64 // names the files of concurrent direct PUTs apart

// direct writes the body with O_DIRECT (past the page cache, straight to
// the device) from two aligned buffers in turn: one fills from the socket
// while the other is written. The last piece is padded to the alignment
// and the file cut back to the body's length; fdatasync then makes the
// length and the device's cache durable.
func direct(w http.ResponseWriter, r *http.Request) {
	name := fmt.Sprintf("%s/direct-%d-%d", *flagDir, os.Getpid(), directN.Add(1))
	fd, err := unix.Open(name, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_DIRECT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	defer os.Remove(name)
	defer unix.Close(fd)
	type piece struct {
		buf []byte
		n   int
	}
	full := make(chan piece, 1)
	free := make(chan []byte, 2)
	free <- alignedBuf(bufSize)
	free <- alignedBuf(bufSize)
	written := make(chan error, 1)
	go func() {
		var werr error
		for p := range full {
			if werr == nil {
				n := (p.n + align - 1) &^ (align - 1)
				clear(p.buf[p.n:n])
				_, werr = unix.Write(fd, p.buf[:n])
			}
			free <- p.buf
		}
		written <- werr
	}()
	var total int64
	var rerr error
	for rerr == nil {
		buf := <-free
		n, err := io.ReadFull(r.Body, buf)
		total += int64(n)
		if n > 0 {
			full <- piece{buf, n}
		} else {
			free <- buf
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				rerr = err
			}
			break
		}
	}
	close(full)
	err = errors.Join(rerr, <-written)
	if err == nil {
		err = unix.Ftruncate(fd, total)
	}
	if err == nil {
		err = unix.Fdatasync(fd)
	}
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	io.WriteString(w, "{}")
}

// alignedBuf returns n bytes starting at a multiple of align.
func alignedBuf(n int) []byte {
	b := make([]byte, n+align)
	off := align - int(uintptr(unsafe.Pointer(&b[0]))&(align-1))
	if off == align {
		off = 0
	}
	return b[off : off+n : off+n]
}
