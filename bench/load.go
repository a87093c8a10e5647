package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferryhq/ferry/app"
)

// The load generator's parts: users and their calls, parallel work, and
// timed load with its latencies.

// do makes one API call and decodes a JSON answer into out (if not nil).
func (u *user) do(method, path string, body io.Reader, ctype string, out any) error {
	req, err := http.NewRequest(method, u.b.base+path, body)
	if err != nil {
		return err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if u.token != "" {
		req.Header.Set("token", u.token)
	}
	resp, err := u.b.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK && out == nil {
		// Read it all, as a client would, without keeping it: growing a
		// buffer for a 4 MB listing cost the generator more than ferry
		// spent serving it, and that cost grows faster than the size.
		_, err := io.Copy(io.Discard, resp.Body)
		return err
	}
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, data)
	}
	return json.Unmarshal(data, out)
}

func (u *user) must(err error) {
	if err != nil {
		log.Fatalf("%s: %v", u.email, err)
	}
}

func (u *user) post(path string, form url.Values, out any) error {
	return u.do(http.MethodPost, path, strings.NewReader(form.Encode()), "application/x-www-form-urlencoded", out)
}

func (u *user) put(path string, content []byte) error {
	return u.do(http.MethodPut, "/files?"+url.Values{"path": {path}}.Encode(), bytes.NewReader(content), "application/octet-stream", nil)
}

// parallel runs f(0..n-1) on workers goroutines.
func parallel(n, workers int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				f(i)
			}
		}()
	}
	wg.Wait()
}

// load runs op on conns goroutines for the duration and returns the
// operations per second and their latencies.
func load(conns int, d time.Duration, op func(worker int) error) (float64, []time.Duration) {
	var mu sync.Mutex
	var lat []time.Duration
	var errs atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for ctx.Err() == nil {
				t := time.Now()
				if err := op(w); err != nil {
					if errs.Add(1) == 1 {
						log.Printf("load: %v", err)
					}
					continue
				}
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if n := errs.Load(); n > 0 {
		log.Printf("load: %d operations failed", n)
	}
	return float64(len(lat)) / time.Since(start).Seconds(), lat
}

// interleaved runs the reference and the figure's load in turn, rounds
// times each (each run -duration/rounds long), and returns the median rate
// of each: on a shared VM the machine's speed drifts by 15% over seconds,
// and alternating puts both under the same drift.
func interleaved(rounds int, ref, got func(d time.Duration) float64) (float64, float64) {
	d := *flagDuration / time.Duration(rounds)
	var refs, gots []float64
	for range rounds {
		refs = append(refs, ref(d))
		gots = append(gots, got(d))
	}
	slices.Sort(refs)
	slices.Sort(gots)
	return refs[rounds/2], gots[rounds/2]
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// user is a logged-in account.
type user struct {
	b     *bench
	email string
	token string
}

const benchPassword = "bench password"

// addUsers creates n users named prefix-i@bench.test, n/… at a time, and
// logs each in.
func (b *bench) addUsers(prefix string, n int) []*user {
	a := b.admin()
	users := make([]*user, n)
	parallel(n, 8, func(i int) {
		email := fmt.Sprintf("%s-%d@bench.test", prefix, i)
		_, err := a.AddUser(app.AddUserRequest{Email: email, Password: benchPassword})
		check(err)
		u := &user{b: b, email: email}
		var out struct{ Token string }
		u.must(u.do(http.MethodPost, "/auth/token", strings.NewReader(url.Values{"email": {email}, "password": {benchPassword}}.Encode()), "application/x-www-form-urlencoded", &out))
		u.token = out.Token
		users[i] = u
	})
	return users
}
