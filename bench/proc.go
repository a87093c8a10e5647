package main

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"log"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// refProc is a reference server (bench/refserver) in a process of its own.
type refProc struct {
	cmd *exec.Cmd
	url string
}

// startRef runs the reference server with args and waits for its address.
func (b *bench) startRef(args ...string) *refProc {
	cmd := exec.Command(b.refBin, args...)
	out, err := cmd.StdoutPipe()
	check(err)
	cmd.Stderr = os.Stderr
	check(cmd.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	check(err)
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if !ok {
		log.Fatalf("refserver said %q", line)
	}
	return &refProc{cmd: cmd, url: "http://" + addr}
}

func (p *refProc) stop() {
	p.cmd.Process.Kill()
	p.cmd.Wait()
}

// spinner starts the CPU-bound neighbour: a busy loop pinned to the last
// CPU. The caller stops it.
func (b *bench) spinner() *refProc {
	cmd := exec.Command(b.refBin, "-spin", "-cpu", strconv.Itoa(runtime.NumCPU()-1))
	check(cmd.Start())
	return &refProc{cmd: cmd}
}

// cpuSeconds is the user plus system CPU time a process has used, from
// /proc/PID/stat (in clock ticks, 100 a second on Linux).
func cpuSeconds(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	check(err)
	_, ticks := parseStat(data)
	return float64(ticks) / 100
}

// parseStat reads a process's parent and its user plus system CPU ticks
// from the text of its /proc/PID/stat.
func parseStat(data []byte) (ppid int, ticks int64) {
	// The command name (field 2) may hold spaces; count from after it:
	// state (3), ppid (4), ... utime (14), stime (15).
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	ppid, _ = strconv.Atoi(f[1])
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return ppid, utime + stime
}

// transfer is one timed run of a transfer: its rate in MiB/s and the
// server's CPU seconds per GiB for it.
type transfer struct{ rate, cpu float64 }

// measure runs f once against the server process pid.
func (b *bench) measure(pid int, f func() error) transfer {
	before := cpuSeconds(pid)
	d := timed(f)
	cpu := cpuSeconds(pid) - before
	gib := float64(b.size) / (1 << 30)
	return transfer{rate: float64(b.size) / d.Seconds() / (1 << 20), cpu: cpu / gib}
}

// best keeps the highest rate and the lowest CPU per GiB seen.
func (t *transfer) best(o transfer) {
	t.rate = max(t.rate, o.rate)
	if t.cpu == 0 || o.cpu < t.cpu {
		t.cpu = o.cpu
	}
}

// sha256Cost is the CPU seconds per GiB that SHA-256 costs on this machine
// now: one thread hashing the bytes of the test file (already in memory),
// measured by the thread's own CPU clock. Best of three.
func (b *bench) sha256Cost(src string) float64 {
	f, err := os.Open(src)
	check(err)
	defer f.Close()
	buf := make([]byte, 64<<20)
	n, err := f.Read(buf)
	check(err)
	buf = buf[:n]
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cost := 0.0
	for range 3 {
		h := sha256.New()
		var before, after unix.Rusage
		check(unix.Getrusage(unix.RUSAGE_THREAD, &before))
		for done := int64(0); done < b.size; done += int64(len(buf)) {
			h.Write(buf[:min(int64(len(buf)), b.size-done)])
		}
		check(unix.Getrusage(unix.RUSAGE_THREAD, &after))
		s := tvSeconds(after.Utime) + tvSeconds(after.Stime) - tvSeconds(before.Utime) - tvSeconds(before.Stime)
		s /= float64(b.size) / (1 << 30)
		if cost == 0 || s < cost {
			cost = s
		}
	}
	return cost
}

func tvSeconds(tv unix.Timeval) float64 {
	return float64(tv.Sec) + float64(tv.Usec)/1e6
}
