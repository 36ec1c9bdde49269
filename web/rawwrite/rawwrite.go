// Package rawwrite writes to sockets without the Go scheduler's system
// call hand-over.
//
// A goroutine in an ordinary system call gives up its processor (P) for
// the call's duration. If the call outlasts a tick of the runtime's
// monitor (20 µs), the monitor hands the P to another thread, waking one,
// and the returning thread must find a P again or go back to sleep; while
// it keeps doing that, the monitor keeps waking every 20 µs. A write to a
// socket, though it never blocks (the runtime's sockets are non-blocking),
// can take that long: on loopback the kernel delivers the data, and wakes
// the reader, inside the call. A server sending 40 KB pages and talking to
// PostgreSQL over a socket spent about a tenth of its CPU on those
// hand-overs and wake-ups. Made as raw system calls, which the scheduler
// does not see, the writes keep their P, and the monitor goes back to
// sleeping up to 10 ms.
//
// A raw write holds its P for as long as the kernel takes, so each is
// bounded (maxChunk); a full socket still waits in the network poller,
// with deadlines honoured, as a net.Conn's Write does. Reads, which return
// quickly, are left as they are.
package rawwrite

import (
	"errors"
	"net"
	"os"
	"syscall"
)

// maxChunk bounds one raw write: copying it into the socket and, on
// loopback, handing it to the reader takes tens of microseconds.
const maxChunk = 64 << 10

// Listener returns l with each connection it accepts wrapped by Conn.
func Listener(l net.Listener) net.Listener { return listener{l} }

type listener struct{ net.Listener }

func (l listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return Conn(c), nil
}

// Conn returns c with its writes made as raw system calls, if c is a TCP
// or Unix socket and the platform has them (Linux); otherwise c itself.
// The result keeps c's other methods that callers look for: the system
// call access (syscall.Conn), half-closing, and for TCP sendfile
// (io.ReaderFrom, whose writes stay ordinary ones).
func Conn(c net.Conn) net.Conn {
	if !supported {
		return c
	}
	switch c := c.(type) {
	case *net.TCPConn:
		if raw, err := c.SyscallConn(); err == nil {
			return &tcpConn{TCPConn: c, w: writer{raw: raw, conn: c}}
		}
	case *net.UnixConn:
		if raw, err := c.SyscallConn(); err == nil {
			return &unixConn{UnixConn: c, w: writer{raw: raw, conn: c}}
		}
	}
	return c
}

type tcpConn struct {
	*net.TCPConn
	w writer
}

func (c *tcpConn) Write(p []byte) (int, error) { return c.w.write(p) }

type unixConn struct {
	*net.UnixConn
	w writer
}

func (c *unixConn) Write(p []byte) (int, error) { return c.w.write(p) }

type writer struct {
	raw  syscall.RawConn
	conn net.Conn // for the addresses in errors
}

// write writes all of p, waiting in the network poller while the socket
// is full. Like net.Conn's Write, it keeps concurrent writes whole (the
// descriptor's write lock) and reports errors as *net.OpError.
func (w writer) write(p []byte) (int, error) {
	written := 0
	var errno error
	err := w.raw.Write(func(fd uintptr) bool {
		for written < len(p) {
			n, err := Send(fd, p[written:min(len(p), written+maxChunk)])
			written += n
			switch err {
			case nil:
			case syscall.EAGAIN:
				return false // wait until the socket has room
			default:
				errno = os.NewSyscallError("write", err)
				return true
			}
		}
		return true
	})
	var op *net.OpError
	if errors.As(err, &op) {
		err = op.Err // the raw-write error net wraps; it gets its write one below
	} else if err == nil {
		err = errno
	}
	if err != nil {
		err = &net.OpError{Op: "write", Net: w.conn.LocalAddr().Network(), Source: w.conn.LocalAddr(), Addr: w.conn.RemoteAddr(), Err: err}
	}
	return written, err
}
