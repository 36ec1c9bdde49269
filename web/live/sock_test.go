package live

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
)

// A frame the socket takes only in part is finished before anything else
// is written: coder/websocket's control frames never land inside it.
func TestFramesStayWholeOnTheWire(t *testing.T) {
	conn, peer := tcpPair(t)
	conn.(*net.TCPConn).SetWriteBuffer(4096)
	s := newSock(conn)

	big := textFrame(bytes.Repeat([]byte("b"), 4<<20))
	small := textFrame([]byte("after the big one"))
	ping := []byte{0x89, 0}
	if taken, unfinished := s.tryWrite(big); !taken || !unfinished {
		t.Fatalf("4 MiB into a small socket buffer: taken %v, unfinished %v; want its head taken", taken, unfinished)
	}
	if taken, _ := s.tryWrite(small); taken {
		t.Fatal("a frame was taken while another was unfinished")
	}
	errs := make(chan error, 1)
	go func() {
		_, err := s.Write(ping) // a pinger's frame: it waits for the rest of big
		if err == nil {
			err = s.write(small)
		}
		conn.Close()
		errs <- err
	}()
	got, err := io.ReadAll(peer)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	want := append(append(bytes.Clone(big), ping...), small...)
	if !bytes.Equal(got, want) {
		t.Fatalf("got %d bytes, want %d: the big frame, the ping, the small frame, whole and in order", len(got), len(want))
	}
}

// tcpPair is both ends of a loopback TCP connection, closed with the test.
func tcpPair(t *testing.T) (conn, peer net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if peer, err = net.Dial("tcp", l.Addr().String()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	if conn, err = l.Accept(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, peer
}

// Once a close frame is out (the browser began the close, and
// coder/websocket answered it), no message follows it.
func TestNothingFollowsTheCloseFrame(t *testing.T) {
	conn, peer := tcpPair(t)
	s := newSock(conn)
	closeFrame := []byte{0x88, 2, 0x03, 0xe8} // 1000, normal closure
	go func() {
		s.Write(closeFrame)
		if taken, _ := s.tryWrite(textFrame([]byte("late"))); taken {
			t.Error("a message was taken after the close frame")
		}
		if err := s.write(textFrame([]byte("late"))); err == nil {
			t.Error("a message was written after the close frame")
		}
		conn.Close()
	}()
	got, _ := io.ReadAll(peer)
	if !bytes.Equal(got, closeFrame) {
		t.Fatalf("the peer got %q, want only the close frame", got)
	}
}

// Messages of every frame-length encoding reach a real websocket client
// whole and in order while the hub pings it all along.
func TestMessagesArriveWholeAmidPings(t *testing.T) {
	list := uuid.New()
	sizes := []int{0, 1, 125, 126, 127, 1000, 65535, 65536, 70000, 1 << 20}
	var version atomic.Int64
	message := func(v int64) []byte {
		head := fmt.Sprintf("message %d;", v)
		return []byte(head + strings.Repeat("m", max(0, sizes[int(v)%len(sizes)]-len(head))))
	}
	render := func(context.Context, uuid.UUID, uuid.UUID, Update) ([]byte, int64, bool, error) {
		v := version.Load()
		return message(v), v, true, nil
	}
	h := New(Config{Render: render, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), PingEvery: 100 * time.Millisecond})
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go h.pingLoop(ctx)
	c := dialLive(t, serveLive(t, h, list))
	c.SetReadLimit(2 << 20)
	read := func() []byte { // which answers the pings too
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, msg, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	read() // the full state
	start := time.Now()
	for v := int64(1); v <= 3*int64(len(sizes)) || time.Since(start) < time.Second; v++ { // some ten pings
		if v > 10000 {
			t.Fatal("the pings never let up") // unreachable unless time stands still
		}
		version.Store(v)
		h.dispatch(Event{List: list, Kind: "lists.update", Version: v})
		if got, want := read(), message(v); !bytes.Equal(got, want) {
			t.Fatalf("message %d: got %d bytes starting %q, want %d", v, len(got), got[:min(len(got), 20)], len(want))
		}
	}
}
