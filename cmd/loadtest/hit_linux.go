package main

import (
	"bytes"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/moviedice/moviedice/web/rawwrite"
)

// hitSupported says whether this platform has the built-in generator.
const hitSupported = true

// hitCommand is the built-in HTTP load generator, run as a child process
// ("loadtest hit ...") so that its CPU time is counted as the load tool's,
// as wrk's is. Like wrk, it keeps conns keep-alive connections busy from
// a few threads, each with its own epoll set. Unlike wrk, it spends about
// four system calls on a list page instead of fourteen: one write for the
// request, one or two reads of up to 256 KiB for the response, and a share
// of an epoll_wait (wrk reads 8 KiB at a time, asks the kernel how much is
// left after each read, and changes each connection's epoll registration
// twice per request). On the list page it used about 5 µs less CPU per
// page than wrk (31–34 µs against 36–38, in runs taking turns). Every
// response must be a complete HTTP/1.1 200 with a Content-Length;
// anything else is an error. It prints one line:
//
//	count=N seconds=S p50_us=N p99_us=N errors=N
func hitCommand(args []string) int {
	fs := flag.NewFlagSet("loadtest hit", flag.ContinueOnError)
	conns := fs.Int("conns", 32, "connections")
	threads := fs.Int("threads", 2, "threads, each with its share of the connections")
	duration := fs.Duration("duration", 5*time.Second, "how long to send requests")
	cookie := fs.String("cookie", "", "Cookie header to send")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: loadtest hit [-conns N] [-threads N] [-duration D] [-cookie C] http://127.0.0.1:port/path")
		return 2
	}
	if *conns < 1 || *conns > 1000 || *threads < 1 || *threads > 64 || *duration <= 0 || *duration > 5*time.Minute {
		fmt.Fprintln(os.Stderr, "loadtest hit: keep it bounded: 1 to 1000 connections, 1 to 64 threads, at most 5m")
		return 2
	}
	runtime.GOMAXPROCS(min(*threads, *conns) + 1) // a processor to spare: a thread waiting in epoll_wait keeps its own
	res, err := hit(fs.Arg(0), *cookie, *conns, *threads, *duration)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest hit:", err)
		return 1
	}
	fmt.Print(res.line())
	return 0
}

// hit runs the load against target, a loopback http:// URL.
func hit(target, cookie string, conns, threads int, d time.Duration) (hitResult, error) {
	u, err := url.Parse(target)
	if err != nil || u.Scheme != "http" {
		return hitResult{}, fmt.Errorf("not an http URL: %q", target)
	}
	addr, err := net.ResolveTCPAddr("tcp4", u.Host)
	if err != nil {
		return hitResult{}, err
	}
	if !addr.IP.IsLoopback() {
		return hitResult{}, fmt.Errorf("%s is not a loopback address: load stays on this machine", addr.IP)
	}
	var req bytes.Buffer
	fmt.Fprintf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\n", u.RequestURI(), u.Host)
	if cookie != "" {
		fmt.Fprintf(&req, "Cookie: %s\r\n", cookie)
	}
	req.WriteString("\r\n")

	threads = min(threads, conns)
	workers := make([]*hitWorker, threads)
	defer func() {
		for _, w := range workers {
			if w != nil {
				for _, c := range w.conns {
					w.drop(c)
				}
				syscall.Close(w.epfd)
			}
		}
	}()
	for i := range workers {
		epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			return hitResult{}, err
		}
		workers[i] = &hitWorker{epfd: epfd, req: req.Bytes(), buf: make([]byte, 256<<10), hist: make([]uint32, histSize)}
	}
	for i := range conns {
		w := workers[i%threads]
		c, err := dialRaw(addr)
		if err != nil {
			return hitResult{}, err
		}
		w.conns = append(w.conns, c)
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(len(w.conns) - 1)} // Fd: the index in w.conns
		if err := syscall.EpollCtl(w.epfd, syscall.EPOLL_CTL_ADD, c.fd, &ev); err != nil {
			return hitResult{}, err
		}
	}
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() { w.run(deadline) })
	}
	wg.Wait()
	res := hitResult{seconds: d.Seconds()} // requests count only when answered before the deadline
	hist := make([]uint32, histSize)
	var slow []time.Duration
	for _, w := range workers {
		res.count += w.count
		res.errors += w.errors
		for i, n := range w.hist {
			if n != 0 {
				hist[i] += n
			}
		}
		slow = append(slow, w.slow...)
		if w.err != nil {
			return res, w.err
		}
	}
	slices.Sort(slow)
	res.p50, res.p99 = percentile(hist, slow, res.count, 50), percentile(hist, slow, res.count, 99)
	return res, nil
}

// histSize is the latency histogram's size: one bucket per microsecond up
// to about a second; slower responses are kept one by one.
const histSize = 1 << 20

// percentile returns the p'th percentile of count latencies.
func percentile(hist []uint32, slow []time.Duration, count, p int) time.Duration {
	if count == 0 {
		return 0
	}
	rank := (count*p + 99) / 100 // the rank'th fastest, 1-based
	seen := 0
	for us, n := range hist {
		if seen += int(n); seen >= rank {
			return time.Duration(us) * time.Microsecond
		}
	}
	return slow[rank-seen-1]
}

type hitConn struct {
	fd   int
	sent time.Time // when the request in flight went out
	got  int       // bytes of its response so far
	want int       // the response's whole size, once its header is in; 0 before
	head []byte    // the response's first bytes, until the header's end is among them
}

type hitWorker struct {
	epfd   int
	conns  []*hitConn
	req    []byte
	buf    []byte
	hist   []uint32
	slow   []time.Duration
	count  int
	errors int
	err    error
}

// dialRaw connects to addr and returns the connection's non-blocking socket.
func dialRaw(addr *net.TCPAddr) (*hitConn, error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	sa := &syscall.SockaddrInet4{Port: addr.Port}
	copy(sa.Addr[:], addr.IP.To4())
	if err := syscall.Connect(fd, sa); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("connect %v: %w", addr, err)
	}
	if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	return &hitConn{fd: fd, head: make([]byte, 0, 8<<10)}, nil
}

// run sends requests on the worker's connections, each as soon as the
// last one's response is in, until deadline. It allocates nothing per
// request.
func (w *hitWorker) run(deadline time.Time) {
	runtime.LockOSThread()
	open := len(w.conns)
	for _, c := range w.conns {
		if !w.send(c) {
			open--
		}
	}
	events := make([]syscall.EpollEvent, 64)
	for open > 0 && w.err == nil {
		n, err := epollWait(w.epfd, events, 100)
		if err != nil {
			if err == syscall.EINTR {
				continue
			}
			w.err = fmt.Errorf("epoll_wait: %w", err)
			return
		}
		for _, ev := range events[:n] {
			c := w.conns[ev.Fd]
			if c.fd < 0 {
				continue
			}
			done, ok := w.receive(c)
			if !ok {
				w.errors++
				w.drop(c)
				open--
				continue
			}
			if !done {
				continue
			}
			now := time.Now()
			if now.After(deadline) {
				w.drop(c)
				open--
				continue
			}
			w.count++
			if us := now.Sub(c.sent).Microseconds(); us < histSize {
				w.hist[us]++
			} else {
				w.slow = append(w.slow, now.Sub(c.sent))
			}
			if !w.send(c) {
				open--
			}
		}
		if time.Now().After(deadline) {
			return // what is still in flight was not answered in time
		}
	}
}

// send writes the request on c; false if it could not.
func (w *hitWorker) send(c *hitConn) bool {
	c.got, c.want, c.head = 0, 0, c.head[:0]
	c.sent = time.Now()
	n, err := rawwrite.Send(uintptr(c.fd), w.req)
	if err != nil || n != len(w.req) {
		w.errors++
		w.drop(c)
		return false
	}
	return true
}

// receive reads what has come for c's response: done once it is whole;
// not ok on a closed connection, a malformed response, or a status
// other than 200.
func (w *hitWorker) receive(c *hitConn) (done, ok bool) {
	n, err := rawRead(c.fd, w.buf)
	if err == syscall.EAGAIN || err == syscall.EINTR {
		return false, true
	}
	if err != nil || n <= 0 {
		return false, false
	}
	c.got += n
	if c.want == 0 {
		// The header has not ended yet: look for its end in what has come.
		c.head = append(c.head, w.buf[:min(n, cap(c.head)-len(c.head))]...)
		end := bytes.Index(c.head, []byte("\r\n\r\n"))
		if end < 0 {
			return false, len(c.head) < cap(c.head)
		}
		length, ok := parseHead(c.head[:end+2])
		if !ok {
			return false, false
		}
		c.want = end + 4 + length
	}
	switch {
	case c.got < c.want:
		return false, true
	case c.got == c.want:
		return true, true
	default:
		return false, false // more than the response: nothing else was asked for
	}
}

// parseHead checks a response header (status line and fields, each line
// ending in CRLF) for a 200 and returns its Content-Length.
func parseHead(head []byte) (contentLength int, ok bool) {
	if !bytes.HasPrefix(head, []byte("HTTP/1.1 200 ")) {
		return 0, false
	}
	contentLength = -1
	for line := range bytes.Lines(head) {
		name, value, found := bytes.Cut(line, []byte(":"))
		if !found || !bytes.EqualFold(name, []byte("Content-Length")) {
			continue
		}
		digits := bytes.TrimSpace(value)
		if len(digits) == 0 || len(digits) > 9 || contentLength >= 0 {
			return 0, false
		}
		contentLength = 0
		for _, d := range digits {
			if d < '0' || d > '9' {
				return 0, false
			}
			contentLength = 10*contentLength + int(d-'0')
		}
	}
	return contentLength, contentLength >= 0
}

// epollWait and rawRead, like rawwrite.Send for the requests, are raw
// system calls, which keep the thread's processor: as ordinary ones, a
// wait that outlasted the runtime monitor's tick had the processor handed
// over, waking other threads, and the generator spent more per response
// than wrk. The worker's thread is its own (LockOSThread). A garbage collection
// that must stop the world signals the thread, which ends the wait with
// EINTR, and the next call of epollWait (not inlined, so its entry is a
// point where the goroutine can stop) lets it; without asynchronous
// preemption, at most msec later.
//
//go:noinline
func epollWait(epfd int, events []syscall.EpollEvent, msec int) (int, error) {
	n, _, errno := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])),
		uintptr(len(events)), uintptr(msec), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

func rawRead(fd int, p []byte) (int, error) {
	n, _, errno := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// drop closes c.
func (w *hitWorker) drop(c *hitConn) {
	if c.fd >= 0 {
		syscall.Close(c.fd)
		c.fd = -1
	}
}
