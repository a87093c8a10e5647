package scan_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/ferrytest"
	"github.com/ferryhq/ferry/scan"
)

// A real clamd with the EICAR signature only: it finds EICAR, even in the
// middle of a stream of many chunks, passes clean content, refuses
// content over its stream limit (never "clean"), and is unavailable when
// it is down.
func TestClamd_Scans(t *testing.T) {
	d := ferrytest.StartClamd(t, 1<<20)
	c := scan.Clamd{Network: "unix", Address: d.Socket, Timeout: 10 * time.Second}
	ctx := context.Background()
	require.NoError(t, c.Ping(ctx))

	v, err := c.Scan(ctx, strings.NewReader(ferrytest.EICAR))
	require.NoError(t, err)
	assert.True(t, v.Infected)
	assert.Equal(t, "Eicar-Test-Signature.UNOFFICIAL", v.Signature)

	v, err = c.Scan(ctx, strings.NewReader("the quarterly report, nothing else"))
	require.NoError(t, err)
	assert.False(t, v.Infected)

	v, err = c.Scan(ctx, bytes.NewReader(make([]byte, 300<<10)))
	require.NoError(t, err)
	assert.False(t, v.Infected, "many chunks, clean")

	_, err = c.Scan(ctx, io.LimitReader(zeros{}, 3<<20))
	assert.ErrorIs(t, err, scan.ErrTooLarge, "over StreamMaxLength: never clean")

	d.Stop()
	_, err = c.Scan(ctx, strings.NewReader("anything"))
	assert.ErrorIs(t, err, scan.ErrUnavailable)
	assert.True(t, errors.Is(c.Ping(ctx), scan.ErrUnavailable))
	d.Start()
	v, err = c.Scan(ctx, strings.NewReader(ferrytest.EICAR))
	require.NoError(t, err)
	assert.True(t, v.Infected, "back")
}

func TestParse(t *testing.T) {
	c, err := scan.Parse("unix:/run/clamav/clamd.ctl")
	require.NoError(t, err)
	assert.Equal(t, scan.Clamd{Network: "unix", Address: "/run/clamav/clamd.ctl"}, c)
	c, err = scan.Parse("tcp:127.0.0.1:3310")
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:3310", c.Address)
	for _, bad := range []string{"", "clamd", "udp:1.2.3.4:5", "unix:"} {
		_, err := scan.Parse(bad)
		assert.Error(t, err, bad)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// A clamd that takes the stream and never answers (hung, overloaded) is
// ErrUnavailable within the timeout, never a verdict: every wait is
// bounded.
func TestClamd_SilentDaemonIsBounded(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "silent.sock")
	ln, err := net.Listen("unix", sock)
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(io.Discard, conn) }() // reads all, says nothing
		}
	}()
	c := scan.Clamd{Network: "unix", Address: sock, Timeout: 300 * time.Millisecond}
	start := time.Now()
	_, err = c.Scan(context.Background(), strings.NewReader("content that never gets a verdict"))
	assert.ErrorIs(t, err, scan.ErrUnavailable)
	assert.Less(t, time.Since(start), 3*time.Second, "bounded by the timeout")
}
