package rawwrite_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moviedice/moviedice/web/rawwrite"
)

// pair returns a connected client and server over network ("tcp" on
// 127.0.0.1 or "unix"), the server's side accepted through
// rawwrite.Listener.
func pair(t *testing.T, network string) (client net.Conn, server net.Conn) {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(t.TempDir(), "s")
	}
	l, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	l = rawwrite.Listener(l)
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			t.Error(err)
		}
		accepted <- c
	}()
	client, err = net.Dial(network, l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.FailNow()
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	if runtime.GOOS == "linux" {
		switch server.(type) {
		case *net.TCPConn, *net.UnixConn:
			t.Fatalf("accepted %T: not wrapped", server)
		}
	}
	return client, server
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}

func TestWrite(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network+": every byte arrives, in order, past full socket buffers", func(t *testing.T) {
			client, server := pair(t, network)
			sizes := []int{0, 1, 100 << 10, 8 << 20} // the last is many chunks and fills the socket
			var want []byte
			for i, n := range sizes {
				want = append(want, pattern(n, byte(i))...)
			}
			got := make(chan []byte)
			go func() {
				// A slow reader, so that writes find the socket full.
				var b []byte
				buf := make([]byte, 32<<10)
				for len(b) < len(want) {
					n, err := client.Read(buf)
					b = append(b, buf[:n]...)
					if err != nil {
						break
					}
					if len(b) < 1<<20 {
						time.Sleep(time.Millisecond)
					}
				}
				got <- b
			}()
			for i, n := range sizes {
				m, err := server.Write(pattern(n, byte(i)))
				if err != nil || m != n {
					t.Fatalf("write %d bytes: wrote %d, %v", n, m, err)
				}
			}
			if b := <-got; !bytes.Equal(b, want) {
				t.Fatalf("read %d bytes, not the %d written", len(b), len(want))
			}
		})

		t.Run(network+": concurrent writes stay whole", func(t *testing.T) {
			client, server := pair(t, network)
			const writers, each, size = 8, 10, 200 << 10 // each write more than a chunk
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					block := bytes.Repeat([]byte{byte('a' + w)}, size)
					for range each {
						if _, err := server.Write(block); err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			b := make([]byte, writers*each*size)
			if _, err := io.ReadFull(client, b); err != nil {
				t.Fatal(err)
			}
			wg.Wait()
			for i := 0; i < len(b); i += size {
				block := b[i : i+size]
				if bytes.Count(block, block[:1]) != size {
					t.Fatalf("block at %d mixes writers", i)
				}
			}
		})

		t.Run(network+": a write past its deadline stops with a timeout", func(t *testing.T) {
			_, server := pair(t, network) // nobody reads
			big := make([]byte, 64<<20)   // far more than the socket holds
			server.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
			n, err := server.Write(big)
			var op *net.OpError
			if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &op) || op.Op != "write" {
				t.Fatalf("err = %v, want a write *net.OpError for os.ErrDeadlineExceeded", err)
			}
			if strings.Contains(err.Error(), "raw-write") {
				t.Errorf("err = %q: wrapped twice, net's raw-write inside ours", err)
			}
			if n <= 0 || n >= len(big) {
				t.Fatalf("wrote %d of %d bytes before the deadline", n, len(big))
			}
		})

		t.Run(network+": writing to a closed peer fails with EPIPE or ECONNRESET", func(t *testing.T) {
			client, server := pair(t, network)
			client.Close()
			var err error
			for range 100 {
				if _, err = server.Write(make([]byte, 64<<10)); err != nil {
					break
				}
			}
			var op *net.OpError
			if !errors.As(err, &op) || op.Op != "write" || !(errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET)) {
				t.Fatalf("err = %v, want a write *net.OpError for EPIPE or ECONNRESET", err)
			}
		})
	}
}

func TestConnKeepsWhatCallersLookFor(t *testing.T) {
	_, server := pair(t, "tcp")
	if _, ok := server.(io.ReaderFrom); !ok {
		t.Error("TCP: no io.ReaderFrom: net/http would not use sendfile")
	}
	if _, ok := server.(syscall.Conn); !ok {
		t.Error("TCP: no syscall.Conn")
	}
	if _, ok := server.(interface{ CloseWrite() error }); !ok {
		t.Error("TCP: no CloseWrite")
	}
	_, server = pair(t, "unix")
	if _, ok := server.(syscall.Conn); !ok {
		t.Error("unix: no syscall.Conn")
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if rawwrite.Conn(a) != a {
		t.Error("a pipe, which has no descriptor, was wrapped")
	}
}

func TestListenerPassesErrorsThrough(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l = rawwrite.Listener(l)
	l.Close()
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept on a closed listener: %v, want net.ErrClosed", err)
	}
}

func TestSendTakesWhatFits(t *testing.T) {
	_, server := pair(t, "unix") // nobody reads
	raw, err := server.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var total int
	var last error
	raw.Write(func(fd uintptr) bool {
		for range 100_000 {
			n, err := rawwrite.Send(fd, make([]byte, 64<<10))
			total += n
			if last = err; err != nil {
				break
			}
		}
		return true
	})
	if last != syscall.EAGAIN || total == 0 {
		t.Fatalf("filled the socket with %d bytes, then %v; want syscall.EAGAIN", total, last)
	}
	raw.Write(func(fd uintptr) bool {
		n, err := rawwrite.Send(fd, nil)
		if n != 0 || err != nil {
			t.Errorf("Send(nil) = %d, %v", n, err)
		}
		return true
	})
}
