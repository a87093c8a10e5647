// Package scan asks ClamAV's daemon whether content carries a known
// signature: INSTREAM over its socket ("zINSTREAM\0", then chunks each
// after its length as 4 bytes big-endian, then a zero length), with every
// wait bounded. It is ferry's own small client: the command is a few
// lines, and no maintained Go client streams from a reader.
package scan

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// Clamd is a clamd to ask.
type Clamd struct {
	// Network and Address: "unix" and a socket's path, or "tcp" and
	// host:port.
	Network, Address string
	// Timeout bounds each wait on clamd: the connection, each write, and
	// the answer once the content is sent. 30 s when zero.
	Timeout time.Duration
}

// chunkSize is how much content one INSTREAM chunk carries.
const chunkSize = 64 << 10

// Parse reads the configuration's form of an address: "unix:/path" or
// "tcp:host:port".
func Parse(addr string) (Clamd, error) {
	network, address, ok := strings.Cut(addr, ":")
	if !ok || address == "" || (network != "unix" && network != "tcp") {
		return Clamd{}, fmt.Errorf("%q is not unix:/path/to/clamd.ctl or tcp:host:port", addr)
	}
	return Clamd{Network: network, Address: address}, nil
}

// Verdict is what clamd said of some content.
type Verdict struct {
	Infected  bool
	Signature string // the signature found, when Infected
}

// ErrUnavailable is clamd not answering (stopped, or too slow): the
// content is neither clean nor infected.
var ErrUnavailable = errors.New("the virus scanner is not available")

// ErrTooLarge is content over clamd's StreamMaxLength, which clamd
// refuses to scan: it is never taken as clean.
var ErrTooLarge = errors.New("the content is over what the virus scanner takes")

// Scan streams r to clamd and returns its verdict. It fails with
// ErrUnavailable (wrapped) when clamd cannot be reached or answers too
// late, and ErrTooLarge when the content is over clamd's limit.
func (c Clamd) Scan(ctx context.Context, r io.Reader) (Verdict, error) {
	timeout := c.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, c.Network, c.Address)
	if err != nil {
		return Verdict{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	fail := func(err error) (Verdict, error) {
		if ctx.Err() != nil {
			return Verdict{}, ctx.Err()
		}
		return Verdict{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	w := bufio.NewWriterSize(conn, chunkSize+4)
	if _, err := w.WriteString("zINSTREAM\x00"); err != nil {
		return fail(err)
	}
	buf := make([]byte, chunkSize)
	var size [4]byte
	tooLarge := false
	for {
		n, rerr := io.ReadFull(r, buf)
		if n > 0 {
			binary.BigEndian.PutUint32(size[:], uint32(n))
			conn.SetWriteDeadline(time.Now().Add(timeout))
			_, werr := w.Write(size[:])
			if werr == nil {
				_, werr = w.Write(buf[:n])
			}
			if werr == nil {
				werr = w.Flush()
			}
			if werr != nil {
				// clamd closes the stream past StreamMaxLength, after it
				// said so: read what it said.
				tooLarge = true
				break
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return Verdict{}, fmt.Errorf("reading the content to scan: %w", rerr)
		}
	}
	if !tooLarge {
		conn.SetWriteDeadline(time.Now().Add(timeout))
		_, werr := w.Write([]byte{0, 0, 0, 0})
		if werr == nil {
			werr = w.Flush()
		}
		if werr != nil {
			tooLarge = true
		}
	}
	conn.SetReadDeadline(time.Now().Add(timeout))
	answer, err := bufio.NewReader(conn).ReadString(0)
	if err != nil && answer == "" {
		if tooLarge {
			return Verdict{}, ErrTooLarge
		}
		return fail(err)
	}
	return verdict(strings.TrimRight(answer, "\x00\n"))
}

// verdict reads clamd's answer to INSTREAM: "stream: OK", "stream: NAME
// FOUND", "INSTREAM size limit exceeded. ERROR", or another error.
func verdict(answer string) (Verdict, error) {
	switch {
	case answer == "stream: OK":
		return Verdict{}, nil
	case strings.HasSuffix(answer, " FOUND"):
		return Verdict{Infected: true, Signature: strings.TrimSuffix(strings.TrimPrefix(answer, "stream: "), " FOUND")}, nil
	case strings.Contains(answer, "size limit exceeded"):
		return Verdict{}, ErrTooLarge
	default:
		return Verdict{}, fmt.Errorf("%w: clamd answered %q", ErrUnavailable, answer)
	}
}

// Ping reports whether clamd answers PING with PONG.
func (c Clamd) Ping(ctx context.Context) error {
	timeout := c.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, c.Network, c.Address)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(timeout))
	if _, err := conn.Write([]byte("zPING\x00")); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	answer, err := bufio.NewReader(conn).ReadString(0)
	if strings.TrimRight(answer, "\x00") != "PONG" {
		return fmt.Errorf("%w: clamd answered %q (%v)", ErrUnavailable, answer, err)
	}
	return nil
}
