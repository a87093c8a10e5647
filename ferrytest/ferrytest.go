// Package ferrytest runs the real ferry for the black-box tests (api_test,
// browser_test): app.New as cmd/ferry runs it, on the listen address of
// the config, and a check of the data it leaves when it stops.
package ferrytest

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/app"
	"github.com/ferryhq/ferry/store"
)

// Run starts ferry with cfg and opts and returns it (its PublicURL and
// Addr) and its stop. Stop (also run at the test's cleanup; once only) stops it, checks
// that it stopped cleanly within 30 s, and runs bbolt's consistency check
// and a full fsck (blob contents hashed) on the data it leaves; when the
// test failed it logs what logs holds.
func Run(t testing.TB, cfg app.Config, opts app.Options, logs *Logs) (_ *app.App, stop func()) {
	t.Helper()
	require.NoError(t, cfg.Validate())
	a, err := app.New(cfg, opts)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				require.NoError(t, err, "ferry stopped with an error")
			case <-time.After(30 * time.Second):
				t.Fatal("ferry did not stop within 30s")
			}
			db, err := store.Open(cfg.DataDir, store.Options{S3: cfg.StoreS3()})
			require.NoError(t, err)
			defer db.Close()
			require.NoError(t, db.Check(), "bbolt consistency check")
			problems, err := db.Fsck(false)
			require.NoError(t, err)
			require.Empty(t, problems, "fsck of the data the test leaves")
			if t.Failed() {
				t.Logf("server log:\n%s", logs.String())
			}
		})
	}
	t.Cleanup(stop)
	return a, stop
}

// Logs collects the server's log lines; safe for concurrent use.
type Logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
