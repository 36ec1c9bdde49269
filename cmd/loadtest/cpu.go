package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"
)

// cpuTimes is the CPU time (user and system) the parts of a run have used
// so far. Differences of two samples, divided by the pages served in
// between, say what a page costs each part: a steadier figure than
// requests per second on a machine whose speed drifts.
type cpuTimes struct {
	server   time.Duration // this process: the server
	tools    time.Duration // finished child processes: the load generator (built in or wrk), pgbench
	postgres time.Duration // the postmaster, its live children, and its finished ones
}

func (a cpuTimes) sub(b cpuTimes) cpuTimes {
	return cpuTimes{server: a.server - b.server, tools: a.tools - b.tools, postgres: a.postgres - b.postgres}
}

// sampleCPU reads the times now. A backend that has ended (pgbench's, or
// a pooled connection closed when its request was cancelled) counts once
// the postmaster has reaped it, so sample a moment after the load stops.
func sampleCPU(postmaster int) (cpuTimes, error) {
	var t cpuTimes
	var self, children syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &self); err != nil {
		return t, err
	}
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children); err != nil {
		return t, err
	}
	t.server = time.Duration(self.Utime.Nano() + self.Stime.Nano())
	t.tools = time.Duration(children.Utime.Nano() + children.Stime.Nano())
	pm, err := procStat(strconv.Itoa(postmaster))
	if err != nil {
		return t, err
	}
	t.postgres = pm.own + pm.children
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range procs {
		s, err := procStat(filepath.Base(filepath.Dir(p)))
		if err == nil && s.ppid == postmaster {
			t.postgres += s.own
		}
	}
	return t, nil
}

type procTimes struct {
	ppid     int
	own      time.Duration // utime + stime
	children time.Duration // cutime + cstime: finished children it has waited for
}

// procStat reads /proc/pid/stat.
func procStat(pid string) (procTimes, error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return procTimes{}, err
	}
	t, err := parseStat(b)
	if err != nil {
		return t, fmt.Errorf("/proc/%s/stat: %w", pid, err)
	}
	return t, nil
}

// parseStat reads a /proc/pid/stat line. Times there are in clock ticks,
// 100 a second on Linux (USER_HZ).
func parseStat(b []byte) (procTimes, error) {
	// The command name, in parentheses, may hold spaces and parentheses;
	// the fields after its last ")" start with the state (field 3).
	end := bytes.LastIndexByte(b, ')')
	if end < 0 {
		return procTimes{}, errors.New("no command name")
	}
	f := bytes.Fields(b[end+1:])
	if len(f) < 15 {
		return procTimes{}, fmt.Errorf("%d fields after the command name", len(f))
	}
	n := func(i int) int64 { v, _ := strconv.ParseInt(string(f[i-3]), 10, 64); return v }
	const tick = 10 * time.Millisecond
	return procTimes{
		ppid:     int(n(4)),
		own:      time.Duration(n(14)+n(15)) * tick,
		children: time.Duration(n(16)+n(17)) * tick,
	}, nil
}

// settle is how long a sample waits for the postmaster to reap backends
// that ended with the load before it: an exited backend not yet reaped
// shows no time at all.
const settle = 200 * time.Millisecond

// measureCPU samples the times around run, and returns run's result and
// the CPU it cost per page (run returns how many pages it served).
func measureCPU[T any](postmaster int, run func() (T, int, error)) (T, perPage, error) {
	var res T
	time.Sleep(settle)
	before, err := sampleCPU(postmaster)
	if err != nil {
		return res, perPage{}, err
	}
	start := time.Now()
	res, pages, err := run()
	wall := time.Since(start)
	if err != nil {
		return res, perPage{}, err
	}
	time.Sleep(settle)
	after, err := sampleCPU(postmaster)
	if err != nil || pages == 0 {
		return res, perPage{}, err
	}
	d := after.sub(before)
	us := func(t time.Duration) float64 { return float64(t.Microseconds()) / float64(pages) }
	p := perPage{server: us(d.server), postgres: us(d.postgres), tools: us(d.tools),
		total: us(time.Duration(runtime.NumCPU()) * wall)}
	p.idle = p.total - p.server - p.postgres - p.tools
	return res, p, nil
}

// perPage is a side's CPU per page in µs: each part's, the cores' time no
// part used (or other processes used), and the cores' whole time.
type perPage struct{ server, postgres, tools, idle, total float64 }
