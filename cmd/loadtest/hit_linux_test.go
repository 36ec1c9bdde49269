package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// page is a response about the size of a list page.
var page = bytes.Repeat([]byte("<li>film</li>\n"), 3000)

func TestHitCountsWholeResponses(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Cookie") != "md_session=abc" || r.URL.RequestURI() != "/l/1?x=y" {
			http.Error(w, "wrong request", http.StatusBadRequest)
			return
		}
		served.Add(1)
		w.Header().Set("Content-Length", strconv.Itoa(len(page)))
		w.Write(page)
	}))
	defer srv.Close()
	start := time.Now()
	res, err := hit(srv.URL+"/l/1?x=y", "md_session=abc", 5, 2, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 300*time.Millisecond || took > 600*time.Millisecond {
		t.Errorf("a 300 ms run took %v", took)
	}
	if res.errors != 0 || res.count < 10 {
		t.Fatalf("%d answered, %d errors", res.count, res.errors)
	}
	// A request is counted when its response is in, before the deadline;
	// the server may have answered a few more (one per connection at most).
	if n := served.Load(); int64(res.count) > n || n > int64(res.count)+5 {
		t.Errorf("counted %d, server answered %d", res.count, n)
	}
	if res.p50 <= 0 || res.p99 < res.p50 || res.p99 > 300*time.Millisecond {
		t.Errorf("p50 %v, p99 %v", res.p50, res.p99)
	}
	back, err := parseHitLine(res.line())
	if err != nil || back != res {
		t.Errorf("%q read back as %+v, %v", res.line(), back, err)
	}
}

func TestHitRefusesBadResponses(t *testing.T) {
	for name, handler := range map[string]http.HandlerFunc{
		"error status": func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusInternalServerError) },
		"redirect":     func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/elsewhere", http.StatusSeeOther) },
		"no length": func(w http.ResponseWriter, r *http.Request) {
			w.Write(page) // chunked: net/http sets no Content-Length on a body this large
		},
		"closed": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			w.Header().Set("Content-Length", "10")
			w.Write([]byte("0123456789"))
		},
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(handler)
			defer srv.Close()
			res, err := hit(srv.URL+"/", "", 2, 1, 200*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			if res.errors == 0 {
				t.Errorf("no errors; %d counted", res.count)
			}
			if name != "closed" && res.count != 0 {
				t.Errorf("%d responses counted", res.count)
			}
		})
	}
}

// rawServer answers every request read on a connection by calling
// respond with it, from a bare TCP server: for what net/http would not
// send, or would send in one piece.
func rawServer(t *testing.T, respond func(c net.Conn)) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
					respond(c)
				}
			}()
		}
	}()
	return "http://" + l.Addr().String() + "/"
}

func TestHitRefusesMalformedResponses(t *testing.T) {
	for name, response := range map[string]string{
		"longer than its length": "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabcdef",
		"header over 8 KiB":      "HTTP/1.1 200 OK\r\nX-Pad: " + strings.Repeat("x", 9000) + "\r\nContent-Length: 0\r\n\r\n",
		"not HTTP":               "SSH-2.0-OpenSSH_9.6\r\n\r\n",
		"header cut off":         "HTTP/1.1 200 OK\r\nContent-Len", // and the connection closes
		"body cut off":           "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234",
	} {
		t.Run(name, func(t *testing.T) {
			target := rawServer(t, func(c net.Conn) {
				io.WriteString(c, response)
				if strings.Contains(name, "cut off") {
					c.Close()
				}
			})
			res, err := hit(target, "", 2, 1, 200*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			if res.errors != 2 || res.count != 0 {
				t.Errorf("%d errors, %d counted; want 2 errors (one per connection), none counted", res.errors, res.count)
			}
		})
	}
}

// A response comes in pieces, split inside the header's end and inside
// the body.
func TestHitReadsResponsesInPieces(t *testing.T) {
	response := "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nhello, world"
	cut := strings.Index(response, "\r\n\r\n") + 2
	target := rawServer(t, func(c net.Conn) {
		for _, piece := range []string{response[:cut], response[cut : cut+5], response[cut+5:]} {
			io.WriteString(c, piece)
			time.Sleep(2 * time.Millisecond)
		}
	})
	res, err := hit(target, "", 2, 1, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if res.errors != 0 || res.count < 10 || res.p50 < 4*time.Millisecond {
		t.Errorf("%d counted, %d errors, p50 %v; want at least 10, none, and 4 ms or more", res.count, res.errors, res.p50)
	}
}

func TestHitStaysOnLoopback(t *testing.T) {
	for _, target := range []string{"http://192.0.2.1:80/", "https://127.0.0.1:443/", "http://[::1]:80/"} {
		if _, err := hit(target, "", 1, 1, 100*time.Millisecond); err == nil {
			t.Errorf("%s: no error", target)
		}
	}
}

func TestParseHead(t *testing.T) {
	for head, want := range map[string]int{
		"HTTP/1.1 200 OK\r\nContent-Length: 42\r\n":                           42,
		"HTTP/1.1 200 OK\r\nDate: x\r\ncontent-length:7\r\nX-A: b\r\n":        7,
		"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n":                            0,
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n":                   -1,
		"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n":                     -1,
		"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n":                            -1,
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n":       -1,
		"HTTP/1.1 200 OK\r\nContent-Length: -3\r\n":                           -1,
		"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n":                  -1,
		"HTTP/1.1 200 OK\r\nContent-Length: \r\n":                             -1,
		"HTTP/1.1 200 OK\r\nContent-Length-Extra: 3\r\nContent-Length: 5\r\n": 5,
	} {
		got, ok := parseHead([]byte(head))
		if !ok {
			got = -1
		}
		if got != want {
			t.Errorf("%q: got %d, want %d", head, got, want)
		}
	}
}

func TestPercentile(t *testing.T) {
	hist := make([]uint32, histSize)
	hist[100] = 50 // 50 answers in 100 µs
	hist[200] = 49
	slow := []time.Duration{3 * time.Second} // and one beyond the histogram
	if got := percentile(hist, slow, 100, 50); got != 100*time.Microsecond {
		t.Errorf("p50 %v", got)
	}
	if got := percentile(hist, slow, 100, 99); got != 200*time.Microsecond {
		t.Errorf("p99 %v", got)
	}
	if got := percentile(hist, slow, 100, 100); got != 3*time.Second {
		t.Errorf("p100 %v", got)
	}
	if got := percentile(hist, nil, 0, 99); got != 0 {
		t.Errorf("no answers: %v", got)
	}
}
