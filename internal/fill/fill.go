// Package fill reads into whole buffers.
package fill

import "io"

// Fill reads r into buf until buf is full (err nil), r ends (io.EOF) or
// r fails. Unlike io.ReadFull it passes r's own errors on as they are: an
// HTTP body or an object store's answer cut short says
// io.ErrUnexpectedEOF, which must fail a copy, not end it.
func Fill(r io.Reader, buf []byte) (n int, err error) {
	for n < len(buf) && err == nil {
		var m int
		m, err = r.Read(buf[n:])
		n += m
	}
	if n == len(buf) && err == io.EOF {
		err = nil // the next read says so again
	}
	return n, err
}
