package live

import (
	"encoding/binary"
	"io"
	"sync"
)

// maxJoinedFrame is the largest websocket frame frameJoiner gathers into
// one write; the rest of a bigger one is passed straight through.
const maxJoinedFrame = 64 << 10

// frameJoiner sits between coder/websocket's write buffer and the
// connection, and writes each frame in one piece. A live connection keeps
// a small write buffer (writeBufferSize) for its whole life, so a message
// bigger than that reaches the connection in two writes (the full buffer,
// then the rest): two TCP segments, and two wake-ups for the browser.
// frameJoiner reads each frame's length from its header and gathers its
// pieces in a buffer borrowed only until the frame is complete.
type frameJoiner struct {
	w       io.Writer
	pending *[]byte // a frame's first pieces; nil between frames
	through int     // bytes of a big frame still to pass straight through
}

var frameBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

func (f *frameJoiner) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if f.through > 0 {
			k := min(f.through, len(p))
			if _, err := f.w.Write(p[:k]); err != nil {
				return 0, err
			}
			f.through -= k
			p = p[k:]
			continue
		}
		if f.pending == nil {
			if size, ok := frameSize(p); ok && size == len(p) {
				if _, err := f.w.Write(p); err != nil { // one whole frame: nothing to join
					return 0, err
				}
				return n, nil
			}
			f.pending = frameBuffers.Get().(*[]byte)
		}
		// Take the rest of the header, then the rest of the frame, and
		// never a byte of the next one.
		buf := *f.pending
		need := frameHeaderLen(buf) - len(buf)
		if size, ok := frameSize(buf); ok {
			need = size - len(buf)
		}
		take := min(need, len(p))
		buf = append(buf, p[:take]...)
		p = p[take:]
		*f.pending = buf
		size, ok := frameSize(buf)
		if !ok {
			continue
		}
		if len(buf) < size {
			if size <= maxJoinedFrame {
				continue
			}
			f.through = size - len(buf) // too big to gather: what there is goes now
		}
		_, err := f.w.Write(buf)
		f.release()
		if err != nil {
			return 0, err
		}
	}
	return n, nil
}

func (f *frameJoiner) release() {
	if cap(*f.pending) <= maxJoinedFrame {
		*f.pending = (*f.pending)[:0]
		frameBuffers.Put(f.pending)
	}
	f.pending = nil
}

// frameHeaderLen is the length of the header of the frame b starts with
// (RFC 6455 5.2), as far as b tells: at least two bytes.
func frameHeaderLen(b []byte) int {
	if len(b) < 2 {
		return 2
	}
	n := 2
	switch b[1] & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b[1]&0x80 != 0 { // masked (a client's frame)
		n += 4
	}
	return n
}

// frameSize is the length of the frame b starts with, header included, or
// false if b does not hold the whole header yet.
func frameSize(b []byte) (int, bool) {
	header := frameHeaderLen(b)
	if len(b) < header {
		return 0, false
	}
	var length uint64
	switch length = uint64(b[1] & 0x7f); length {
	case 126:
		length = uint64(binary.BigEndian.Uint16(b[2:4]))
	case 127:
		length = binary.BigEndian.Uint64(b[2:10])
	}
	if length > 1<<40 {
		length = 1 << 40 // no such frame is sent; keeps the sum in range
	}
	return header + int(length), true
}
