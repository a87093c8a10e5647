package main

import (
	"fmt"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ferryhq/ferry/ferrytest"
)

// clusterRows runs rows 16-22 on ferry in cluster mode: three etcd
// members, OpenStack Swift, and two nodes on loopback (a and b), each a
// `ferry serve` of its own.
//
//   - 16: a same-slice request makes no call to another node: the
//     forwards counted (ferry_cluster_forwarded_total) over a load of
//     lists at the owner.
//   - 17: a cross-slice send's time to the receiver's inbox, median and
//     p99, each send made at the sender's node and its arrival polled at
//     the receiver's.
//   - 18: the outbox's throughput: sends made while the receiver's node
//     is down, then the time it takes the backlog to drain once it is
//     up.
//   - 19: cluster mode's cost on row 4's list at the owner, against the
//     single node's (b), interleaved.
//   - 20: forwarding's cost on an upload: PUT /files of -size bytes
//     through the node that does not own the user, against the same PUT
//     at its owner (both to S3), best of three each, alternating.
//   - 21: row 7's send + accept pairs between two users of one node in
//     cluster mode, against one node alone with its blobs in the same S3
//     (an accept asks the blob store whether it holds each blob: with
//     local blobs the reference would measure S3 against a disk).
//   - 22: row 1's upload, PUT /files of -size bytes at the owner in
//     cluster mode, against one node alone on the same S3, best of three
//     each, alternating.
func (b *bench) clusterRows() []result {
	etcd, err := ferrytest.LaunchEtcd(filepath.Join(b.dir, "etcd"), 3)
	check(err)
	defer etcd.Close()
	swiftDir := filepath.Join(b.dir, "cswift")
	check(os.MkdirAll(swiftDir, 0o700))
	s3, err := ferrytest.StartSwift(swiftDir)
	check(err)
	defer s3.Close()
	quoted := make([]string, 0, 3)
	for _, e := range etcd.Endpoints() {
		quoted = append(quoted, fmt.Sprintf("%q", e))
	}
	node := func(id string) *bench {
		nb := &bench{dir: filepath.Join(b.dir, "node-"+id), size: b.size, bin: b.bin}
		check(os.MkdirAll(nb.dir, 0o700))
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		check(err)
		addr := ln.Addr().String()
		check(ln.Close())
		nb.start(s3.TOML() + fmt.Sprintf("[cluster]\nnode = %q\naddr = %q\netcd = [%s]\nsecret = \"bench\"\n", id, addr, strings.Join(quoted, ", ")))
		return nb
	}
	na, nb := node("a"), node("b")
	defer na.stop()
	defer func() { nb.stop() }()
	sender, receiver := na.addUsers("alice", 1)[0], nb.addUsers("bob", 1)[0]
	sender.must(sender.put("doc.txt", []byte("a document, sent across nodes")))
	var results []result

	// Row 16.
	for i := range 10 {
		sender.must(sender.put(fmt.Sprintf("ten/file-%d.txt", i), []byte("entry")))
	}
	before := na.forwards()
	client := newClient(32)
	list := func(int) error {
		req, _ := http.NewRequest(http.MethodGet, na.base+"/ops/list?path=ten", nil)
		req.Header.Set("token", sender.token)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s", resp.Status)
		}
		return nil
	}
	rate, _ := load(32, *flagDuration, list)
	forwards := na.forwards() - before
	results = append(results, result{Row: 16, Figure: fmt.Sprintf("calls to another node during %.0f same-slice lists", rate*flagDuration.Seconds()),
		Value: forwards, Unit: "calls", Target: "= 0", Pass: forwards == 0})

	// Row 17.
	send := func() uint64 {
		var sent struct{ Messages []uint64 }
		sender.must(sender.post("/ops/send", url.Values{"to": {receiver.email}, "source": {`[{"path":"","files":["doc.txt"]}]`}}, &sent))
		return sent.Messages[0]
	}
	waiting := func() int {
		var in []struct{ ID uint64 }
		receiver.must(receiver.do(http.MethodGet, "/inbox/list", nil, "", &in))
		return len(in)
	}
	var lat []time.Duration
	log.Printf("row 17: 200 sends across nodes, one at a time")
	for range 200 {
		n := waiting()
		start := time.Now()
		send()
		for waiting() == n {
			time.Sleep(200 * time.Microsecond)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
	results = append(results,
		result{Row: 17, Figure: "a cross-slice send's time to the receiver's inbox, median", Value: ms(p50), Unit: "ms", Target: "<= 100 ms", Pass: p50 <= 100*time.Millisecond},
		result{Row: 17, Sub: "b", Figure: "a cross-slice send's time to the receiver's inbox, p99", Value: ms(p99), Unit: "ms", Target: "<= 500 ms", Pass: p99 <= 500*time.Millisecond})

	// Row 18.
	const backlog = 2000
	nb.stop()
	log.Printf("row 18: %d sends while the receiver's node is down", backlog)
	parallel(backlog, 8, func(int) { send() })
	nb.restart()
	startAt := time.Now() // the node answers: its backlog drains
	for waiting() < backlog+200 {
		time.Sleep(20 * time.Millisecond)
	}
	drain := time.Since(startAt)
	results = append(results, result{Row: 18, Figure: fmt.Sprintf("the outbox's throughput: %d sends' backlog drained after the receiver's node restarts", backlog),
		Value: backlog / drain.Seconds(), Unit: "sends/s", Target: ">= 200", Pass: backlog/drain.Seconds() >= 200})

	// Row 19.
	single := b.addUsers("single", 1)[0]
	for i := range 10 {
		single.must(single.put(fmt.Sprintf("ten/file-%d.txt", i), []byte("entry")))
	}
	singleList := func(int) error {
		req, _ := http.NewRequest(http.MethodGet, b.base+"/ops/list?path=ten", nil)
		req.Header.Set("token", single.token)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
	log.Printf("row 19: %v each, in 5 alternating rounds", *flagDuration)
	ref, got := interleaved(5,
		func(d time.Duration) float64 { r, _ := load(32, d, singleList); return r },
		func(d time.Duration) float64 { r, _ := load(32, d, list); return r })
	results = append(results, result{Row: 19, Figure: "GET /ops/list at the owner in cluster mode, against one node alone (row 4)", Value: got, Reference: ref,
		Unit: "req/s", Ratio: got / ref, Target: ">= 0.90", Pass: got/ref >= 0.90})

	// Row 20.
	src := filepath.Join(b.dir, "csrc.bin")
	log.Printf("row 20: writing %d bytes of test data", b.size)
	randomFile(src, b.size)
	defer os.Remove(src)
	var owner, forwarded transfer
	for i := range 3 {
		// A new name and content each time: neither side dedups.
		owner.best(na.measure(na.cmd.Process.Pid, na.putFile(src, na.base+fmt.Sprintf("/files?path=own-%d.bin", i), sender.token)))
		forwarded.best(na.measure(nb.cmd.Process.Pid, nb.putFile(src, nb.base+fmt.Sprintf("/files?path=fwd-%d.bin", i), sender.token)))
		randomFile(src, b.size)
	}
	results = append(results, result{Row: 20, Figure: "PUT /files of " + *flagSize + " through a node that does not own the user, against at its owner (S3)",
		Value: forwarded.rate, Reference: owner.rate, Unit: "MiB/s", Ratio: forwarded.rate / owner.rate, Target: ">= 0.80", Pass: forwarded.rate/owner.rate >= 0.80,
		CPU: forwarded.cpu})

	// Row 21.
	pairsOn := func(on *bench, prefix string) func(int) error {
		senders, receivers := on.addUsers(prefix+"-s", 32), on.addUsers(prefix+"-r", 32)
		for _, s := range senders {
			s.must(s.put("out/doc.txt", []byte("a document of some length, sent again and again")))
		}
		return func(w int) error {
			s, r := senders[w], receivers[w]
			var sent struct{ Messages []uint64 }
			if err := s.post("/ops/send", url.Values{"to": {r.email}, "source": {`[{"path":"out","files":["doc.txt"]}]`}}, &sent); err != nil {
				return err
			}
			return r.post("/inbox/update", url.Values{"messages": {fmt.Sprintf(`[{"id":%d,"accept":"YES"}]`, sent.Messages[0])}}, nil)
		}
	}
	alone := &bench{dir: filepath.Join(b.dir, "alone-s3"), size: b.size, bin: b.bin}
	check(os.MkdirAll(alone.dir, 0o700))
	alone.start(s3.TOML())
	defer alone.stop()
	onNode, onSingle := pairsOn(na, "pair"), pairsOn(alone, "pair")
	log.Printf("row 21: %v each, in 5 alternating rounds", *flagDuration)
	ref, got = interleaved(5,
		func(d time.Duration) float64 { r, _ := load(32, d, onSingle); return r },
		func(d time.Duration) float64 { r, _ := load(32, d, onNode); return r })
	results = append(results, result{Row: 21, Figure: "send + accept pairs of one node's users in cluster mode, against one node alone, both on S3 (row 7)", Value: got, Reference: ref,
		Unit: "pairs/s", Ratio: got / ref, Target: ">= 0.80", Pass: got/ref >= 0.80})

	// Row 22.
	solo := alone.addUsers("solo", 1)[0]
	var clustered, soloPut transfer
	log.Printf("row 22: PUT of %s, best of three each, alternating", *flagSize)
	for i := range 3 {
		randomFile(src, b.size) // (a new content each time: neither side dedups)
		soloPut.best(alone.measure(alone.cmd.Process.Pid, alone.putFile(src, alone.base+fmt.Sprintf("/files?path=solo-%d.bin", i), solo.token)))
		randomFile(src, b.size)
		clustered.best(na.measure(na.cmd.Process.Pid, na.putFile(src, na.base+fmt.Sprintf("/files?path=at-%d.bin", i), sender.token)))
	}
	results = append(results, result{Row: 22, Figure: "PUT /files of " + *flagSize + " at the owner in cluster mode, against one node alone, both on S3 (row 1)",
		Value: clustered.rate, Reference: soloPut.rate, Unit: "MiB/s", Ratio: clustered.rate / soloPut.rate, Target: ">= 0.90", Pass: clustered.rate/soloPut.rate >= 0.90,
		CPU: clustered.cpu})
	return results
}

// restart starts the node again on its config, after stop.
func (b *bench) restart() {
	logFile, err := os.OpenFile(filepath.Join(b.dir, "ferry.log"), os.O_APPEND|os.O_WRONLY, 0o600)
	check(err)
	b.cmd = exec.Command(b.bin, "serve", "--config", b.config)
	b.cmd.Stdout, b.cmd.Stderr = logFile, logFile
	check(b.cmd.Start())
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := b.client.Get(b.root + "/healthz"); err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	log.Fatal("ferry did not start again; see ", logFile.Name())
}

// forwards sums ferry_cluster_forwarded_total over the nodes forwarded
// to (none yet: 0).
func (b *bench) forwards() float64 {
	total := 0.0
	for _, line := range b.metricLines() {
		if strings.HasPrefix(line, "ferry_cluster_forwarded_total{") {
			v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			check(err)
			total += v
		}
	}
	return total
}
