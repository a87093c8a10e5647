package main

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"
)

// pageRows runs rows 12 and 13: the web app's inbox page with 1,000
// pending sends (each a folder of 12 files, whose rows show their first
// ten) and its outbox page with 10,000 sends, each the median
// time of 20 loads over loopback (the page's server time, and the few
// tens of microseconds a request costs on loopback).
func (b *bench) pageRows(rows map[int]bool) []result {
	users := b.addUsers("pages", 2)
	sender, receiver := users[0], users[1]
	for i := range 12 {
		sender.must(sender.put(fmt.Sprintf("out/doc%02d.txt", i), []byte("a page's worth")))
	}
	send := func(n int, to *user) {
		parallel(n, 8, func(int) {
			sender.must(sender.post("/ops/send", url.Values{"to": {to.email}, "source": {`[{"path":"out","folder":true}]`}}, nil))
		})
	}
	var results []result
	if rows[12] {
		log.Printf("row 12: 1,000 pending sends")
		send(1000, receiver)
		d := b.pageTime(receiver, "/inbox", "Accept all")
		results = append(results, result{Row: 12, Figure: "web inbox page, 1,000 pending sends, median of 20", Value: ms(d), Unit: "ms",
			Target: "<= 50 ms", Pass: d <= 50*time.Millisecond})
	}
	if rows[13] {
		log.Printf("row 13: 10,000 sends in the outbox")
		others := b.addUsers("pages-to", 10)
		parallel(10, 10, func(i int) { send(1000, others[i]) })
		d := b.pageTime(sender, "/outbox", "Page 1 of")
		results = append(results, result{Row: 13, Figure: "web outbox page, 10,000 sends, median of 20", Value: ms(d), Unit: "ms",
			Target: "<= 50 ms", Pass: d <= 50*time.Millisecond})
	}
	return results
}

// pageTime signs u in to the web app and returns the median time of 20
// loads of path, each checked for want.
func (b *bench) pageTime(u *user, path, want string) time.Duration {
	jar, err := cookiejar.New(nil)
	check(err)
	client := &http.Client{Jar: jar, Transport: b.client.Transport}
	req, err := http.NewRequest(http.MethodPost, b.root+"/login", strings.NewReader(url.Values{"email": {u.email}, "password": {benchPassword}}.Encode()))
	check(err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.root)
	resp, err := client.Do(req)
	check(err)
	resp.Body.Close()
	var times []time.Duration
	for range 20 {
		start := time.Now()
		resp, err := client.Get(b.root + path)
		check(err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		check(err)
		times = append(times, time.Since(start))
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			log.Fatalf("GET %s: %s, %d bytes without %q", path, resp.Status, len(body), want)
		}
	}
	return median(times)
}
