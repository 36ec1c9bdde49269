package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// runClients is a client process: it opens LIVEBENCH_COUNT websocket
// connections to LIVEBENCH_TARGET from LIVEBENCH_SOURCE, says "ready",
// then for each "watch <text>" line reports when each connection received
// a message containing text (or gives up after 10 s).
//
// The connections are plain sockets read by one epoll loop: no goroutine,
// buffer or websocket library per connection. The clients share the two
// cores with the server they measure, so the less each receipt costs
// them, the more of what is measured is the server's. The loop parses the
// server's frames (never masked, never fragmented by either server here)
// and answers pings, as a browser would.
func runClients() error {
	n, _ := strconv.Atoi(os.Getenv("LIVEBENCH_COUNT"))
	var cookies []string
	if b, err := os.ReadFile(os.Getenv("LIVEBENCH_COOKIES")); err == nil {
		cookies = strings.Split(string(b), "\n")
	}
	target, err := url.Parse(os.Getenv("LIVEBENCH_TARGET"))
	if err != nil {
		return err
	}
	dst, err := sockaddr(target.Host)
	if err != nil {
		return err
	}
	src, err := sockaddr(os.Getenv("LIVEBENCH_SOURCE") + ":0")
	if err != nil {
		return err
	}
	conns := make([]*rawConn, n)
	var wg sync.WaitGroup
	var next atomic.Int64
	errs := make(chan error, 64)
	for range 64 {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				req := "GET " + target.RequestURI() + " HTTP/1.1\r\nHost: " + target.Host +
					"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
					"Sec-WebSocket-Key: bGl2ZWJlbmNoIGNsaWVudA==\r\nOrigin: " + os.Getenv("LIVEBENCH_ORIGIN") + "\r\n"
				if i < len(cookies) && cookies[i] != "" {
					req += "Cookie: " + cookies[i] + "\r\n"
				}
				c, err := dialRaw(src, dst, req+"\r\n")
				if err != nil {
					errs <- fmt.Errorf("dial %d: %w", i, err)
					return
				}
				conns[i] = c
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}

	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	for i, c := range conns {
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(i)}
		if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, c.fd, &ev); err != nil {
			return err
		}
	}
	var watch atomic.Pointer[[]byte]
	recv := make([]atomic.Int64, n)
	size := new(atomic.Int64)
	for _, c := range conns { // what came with the upgrade's answer
		c.take(nil, time.Now().UnixNano(), func([]byte, int64) {})
	}
	go readLoop(epfd, conns, func(i int, msg []byte, at int64) {
		if w := watch.Load(); w != nil && recv[i].Load() == 0 && bytes.Contains(msg, *w) {
			recv[i].Store(at)
			size.Store(int64(len(msg)))
		}
	})

	fmt.Println("ready")
	lines := bufio.NewScanner(os.Stdin)
	for lines.Scan() {
		text, ok := strings.CutPrefix(lines.Text(), "watch ")
		if !ok {
			continue
		}
		w := []byte(text)
		watch.Store(&w) // first: a late message for the last text is not counted
		for i := range recv {
			recv[i].Store(0)
		}
		var got []int64
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			got = got[:0]
			for i := range recv {
				if r := recv[i].Load(); r != 0 {
					got = append(got, r)
				}
			}
			if len(got) == n || time.Now().After(deadline) {
				break
			}
		}
		out, _ := json.Marshal(map[string]any{"recv": got, "size": size.Load()})
		fmt.Println(string(out))
	}
	return nil
}

// rawConn is one client connection: its socket and the start of a frame
// not yet whole.
type rawConn struct {
	fd      int
	pending []byte
}

func sockaddr(hostport string) (*syscall.SockaddrInet4, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, err
	}
	ip := net.ParseIP(host).To4()
	p, err := strconv.Atoi(port)
	if ip == nil || err != nil {
		return nil, fmt.Errorf("not an IPv4 address and port: %q", hostport)
	}
	sa := &syscall.SockaddrInet4{Port: p}
	copy(sa.Addr[:], ip)
	return sa, nil
}

// ipBindAddressNoPort (IP_BIND_ADDRESS_NO_PORT) lets the port be chosen at
// connect, per destination: back-to-back runs do not run out of ports
// held by the last run's closing connections.
const ipBindAddressNoPort = 24

// dialRaw connects from src to dst, sends the upgrade request and reads
// the answer's headers; what follows them is kept as the first frames.
func dialRaw(src, dst *syscall.SockaddrInet4, request string) (*rawConn, error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	c := &rawConn{fd: fd}
	err = errors.Join(
		syscall.SetsockoptInt(fd, syscall.IPPROTO_IP, ipBindAddressNoPort, 1),
		syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1))
	if err == nil {
		err = syscall.Bind(fd, src)
	}
	if err == nil {
		err = syscall.Connect(fd, dst)
	}
	if err == nil {
		_, err = syscall.Write(fd, []byte(request))
	}
	var answer []byte
	buf := make([]byte, 4096)
	for err == nil && !bytes.Contains(answer, []byte("\r\n\r\n")) {
		var m int
		if m, err = syscall.Read(fd, buf); m <= 0 && err == nil {
			err = errors.New("connection closed during the upgrade")
		}
		answer = append(answer, buf[:max(m, 0)]...)
	}
	if err == nil && !bytes.HasPrefix(answer, []byte("HTTP/1.1 101 ")) {
		status, _, _ := bytes.Cut(answer, []byte("\r\n"))
		err = fmt.Errorf("upgrade refused: %s", status)
	}
	if err == nil {
		err = syscall.SetNonblock(fd, true)
	}
	if err != nil {
		syscall.Close(fd)
		return nil, err
	}
	_, c.pending, _ = bytes.Cut(answer, []byte("\r\n\r\n"))
	return c, nil
}

// readLoop reads every connection as data comes, and hands each whole
// message to got with the time it was read.
func readLoop(epfd int, conns []*rawConn, got func(i int, msg []byte, at int64)) {
	runtime.LockOSThread()
	events := make([]syscall.EpollEvent, 512)
	buf := make([]byte, 256<<10)
	for {
		k, err := syscall.EpollWait(epfd, events, -1)
		if err != nil {
			continue // EINTR
		}
		for _, ev := range events[:k] {
			i := int(ev.Fd)
			c := conns[i]
			m, err := syscall.Read(c.fd, buf)
			if m <= 0 {
				if err != syscall.EAGAIN {
					syscall.EpollCtl(epfd, syscall.EPOLL_CTL_DEL, c.fd, nil)
					syscall.Close(c.fd)
				}
				continue
			}
			c.take(buf[:m], time.Now().UnixNano(), func(msg []byte, at int64) { got(i, msg, at) })
		}
	}
}

// take parses the frames data completes: messages go to got, pings are
// answered, and the start of a frame not yet whole is kept.
func (c *rawConn) take(data []byte, at int64, got func([]byte, int64)) {
	if len(c.pending) > 0 {
		data = append(c.pending, data...)
	}
	for len(data) >= 2 {
		header, length := 2, int(data[1]&0x7f)
		switch length {
		case 126:
			header = 4
		case 127:
			header = 10
		}
		if len(data) < header {
			break
		}
		switch length {
		case 126:
			length = int(binary.BigEndian.Uint16(data[2:4]))
		case 127:
			length = int(binary.BigEndian.Uint64(data[2:10]))
		}
		if len(data) < header+length {
			break
		}
		payload := data[header : header+length]
		switch data[0] & 0x0f {
		case 1, 2: // text, binary
			got(payload, at)
		case 9: // ping: a pong with the same payload, masked with a zero key
			pong := append([]byte{0x8a, 0x80 | byte(len(payload)), 0, 0, 0, 0}, payload...)
			syscall.Write(c.fd, pong)
		}
		data = data[header+length:]
	}
	c.pending = append(c.pending[:0], data...)
}
