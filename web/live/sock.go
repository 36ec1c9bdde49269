package live

import (
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"syscall"

	"github.com/moviedice/moviedice/web/rawwrite"
)

// textFrame is payload as one websocket text frame (RFC 6455 5.2). A
// server's frames are not masked, so a message is framed once and the
// same bytes go to every subscriber.
func textFrame(payload []byte) []byte {
	f := make([]byte, 0, 10+len(payload))
	f = append(f, 0x81) // FIN, text
	switch n := len(payload); {
	case n < 126:
		f = append(f, byte(n))
	case n <= 0xffff:
		f = binary.BigEndian.AppendUint16(append(f, 126), uint16(n))
	default:
		f = binary.BigEndian.AppendUint64(append(f, 127), uint64(n))
	}
	return append(f, payload...)
}

// sock is a live connection's socket, written by two hands. The client
// writes its messages' frames itself: framed once for all subscribers,
// and, when the socket has room, written there and then by the goroutine
// fanning the message out, with no goroutine woken and nothing queued.
// coder/websocket writes the control frames (pings, pongs, close)
// through its write buffer, which hands each over whole in one Write: it
// flushes after every control frame, and the largest (127 bytes) fits
// the buffer. The mutex keeps frames whole on the wire, and nothing
// follows a close frame, whichever side began the close.
type sock struct {
	conn net.Conn
	raw  syscall.RawConn // nil if conn is not a plain socket: then every message is queued

	mu     sync.Mutex
	rest   []byte // the tail of a frame tryWrite began: it goes before anything else
	closed bool   // a close frame went out
}

// errCloseSent refuses a message after the close frame.
var errCloseSent = errors.New("live: close frame sent")

// errNotWritten is tryWrite's answer for a socket it could not reach.
var errNotWritten = errors.New("live: socket not written")

func newSock(conn net.Conn) *sock {
	s := &sock{conn: conn}
	if sc, ok := conn.(syscall.Conn); ok {
		s.raw, _ = sc.SyscallConn()
	}
	return s
}

// Write writes one of coder/websocket's frames, waiting for room.
func (s *sock) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.flushLocked(); err != nil {
		return 0, err
	}
	if len(p) > 0 && p[0]&0x0f == 0x8 {
		s.closed = true
	}
	return s.conn.Write(p)
}

// write writes the message frame f, waiting for room.
func (s *sock) write(f []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errCloseSent
	}
	if err := s.flushLocked(); err != nil {
		return err
	}
	_, err := s.conn.Write(f)
	return err
}

// flush writes the rest of a frame tryWrite began, waiting for room.
func (s *sock) flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.flushLocked()
}

func (s *sock) flushLocked() error {
	if s.rest == nil {
		return nil
	}
	_, err := s.conn.Write(s.rest)
	s.rest = nil
	return err
}

// tryWrite writes the frame f only if that needs no waiting: no other
// write under way and room in the socket. It reports whether f was taken,
// and whether part of it is left, which the next write or flush sends
// first. A socket that cannot take f now is left to a blocking write,
// which also finds out about a broken connection.
func (s *sock) tryWrite(f []byte) (taken, unfinished bool) {
	if s.raw == nil || !s.mu.TryLock() {
		return false, false
	}
	defer s.mu.Unlock()
	if s.rest != nil || s.closed {
		return false, false
	}
	n, err := 0, errNotWritten
	s.raw.Write(func(fd uintptr) bool {
		n, err = rawwrite.Send(fd, f)
		return true // never wait for room: that is the writer goroutine's job
	})
	switch {
	case err != nil || n <= 0:
		return false, false
	case n < len(f):
		s.rest = f[n:]
		return true, true
	}
	return true, false
}
