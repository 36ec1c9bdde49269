package live

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/coder/websocket"
	"github.com/google/uuid"
)

// BenchmarkFanOut measures one change's delivery to n loopback subscribers
// of one list, from the event to the last receipt. The clients run in the
// same process, sharing its cores and scheduler, so this compares the
// hub's versions; cmd/livebench measures against separate clients.
func BenchmarkFanOut(b *testing.B) {
	for _, n := range []int{1000, 5000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			list := uuid.New()
			payload := []byte(strings.Repeat("x", 800))
			h := New(Config{
				Render: func(context.Context, uuid.UUID, uuid.UUID, Update) ([]byte, int64, bool, error) {
					return payload, 1, true, nil
				},
				Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
				MaxConns: n, MaxPerDevice: n,
			})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				h.Serve(w, r, Subscriber{List: list, Device: uuid.New(), User: uuid.New()}, allow, nil)
			}))
			defer srv.Close()
			defer h.Shutdown()
			var got atomic.Int64
			var wg sync.WaitGroup
			url := "ws" + strings.TrimPrefix(srv.URL, "http")
			conns := make([]*websocket.Conn, n)
			for i := range n {
				c, _, err := websocket.Dial(context.Background(), url, nil)
				if err != nil {
					b.Fatal(err)
				}
				conns[i] = c
				c.Read(context.Background()) // the full state
			}
			done := make(chan struct{}, 1)
			for _, c := range conns {
				wg.Go(func() {
					for {
						_, r, err := c.Reader(context.Background())
						if err != nil {
							return
						}
						io.Copy(io.Discard, r)
						if got.Add(1) == int64(n) {
							done <- struct{}{}
						}
					}
				})
			}
			b.ResetTimer()
			for i := range b.N {
				got.Store(0)
				h.dispatch(Event{List: list, Kind: "lists.update", Version: int64(i + 2)})
				<-done
			}
			b.StopTimer()
			for _, c := range conns {
				c.CloseNow()
			}
			wg.Wait()
		})
	}
}
