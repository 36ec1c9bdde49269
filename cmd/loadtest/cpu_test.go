package main

import (
	"os"
	"strconv"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	// A command name with spaces and parentheses, as a process may set.
	line := "4242 (postgres: x) (y) S 17 4242 4242 0 -1 4194560 100 0 0 0 250 130 7 3 20 0 1 0 100 1000 10\n"
	got, err := parseStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	want := procTimes{ppid: 17, own: 3800 * time.Millisecond, children: 100 * time.Millisecond}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	for _, bad := range []string{"", "4242 no name S 1", "4242 (short) S 1 2 3"} {
		if _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestProcStatSeesThisProcessWork(t *testing.T) {
	self := strconv.Itoa(os.Getpid())
	before, err := procStat(self)
	if err != nil {
		t.Fatal(err)
	}
	if before.ppid != os.Getppid() {
		t.Errorf("ppid %d, want %d", before.ppid, os.Getppid())
	}
	// Spin until the ticks show it: a busy machine may give this test
	// little of its time, but not none for ten seconds.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for start := time.Now(); time.Since(start) < 20*time.Millisecond; {
		}
		after, err := procStat(self)
		if err != nil {
			t.Fatal(err)
		}
		if after.own-before.own >= 50*time.Millisecond {
			return
		}
	}
	t.Error("10 s of spinning did not show in /proc/self/stat")
}
