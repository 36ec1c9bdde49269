package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"time"
)

// loadThreads is how many threads the HTTP load generator runs, built in
// or wrk.
const loadThreads = 2

// hitResult is what the built-in generator reports.
type hitResult struct {
	count, errors int     // responses answered before the deadline; failures
	seconds       float64 // the time the count is over
	p50, p99      time.Duration
}

// line is r as the generator prints it, for parseHitLine.
func (r hitResult) line() string {
	return fmt.Sprintf("count=%d seconds=%g p50_us=%d p99_us=%d errors=%d\n",
		r.count, r.seconds, r.p50.Microseconds(), r.p99.Microseconds(), r.errors)
}

func parseHitLine(s string) (hitResult, error) {
	var r hitResult
	var p50, p99 int64
	if _, err := fmt.Sscanf(s, "count=%d seconds=%g p50_us=%d p99_us=%d errors=%d\n",
		&r.count, &r.seconds, &p50, &p99, &r.errors); err != nil {
		return r, fmt.Errorf("unexpected output %q: %w", s, err)
	}
	if r.seconds <= 0 {
		return r, fmt.Errorf("unexpected output %q: no time", s)
	}
	r.p50, r.p99 = time.Duration(p50)*time.Microsecond, time.Duration(p99)*time.Microsecond
	return r, nil
}

// builtin runs the built-in load generator (hitCommand), this program
// again as a child process, against page with cookie for d.
func builtin(page string, cookie *http.Cookie, conns int, d time.Duration) result {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		return result{errors: 1}
	}
	ctx, cancel := context.WithTimeout(context.Background(), d+time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, self, "hit", "-conns", fmt.Sprint(conns), "-threads", fmt.Sprint(loadThreads),
		"-duration", d.String(), "-cookie", cookie.Name+"="+cookie.Value, page)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	var r hitResult
	if err == nil {
		r, err = parseHitLine(string(out))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest hit:", err)
		return result{errors: 1}
	}
	return result{rps: float64(r.count) / r.seconds, count: r.count, p50: r.p50, p99: r.p99, errors: r.errors}
}
