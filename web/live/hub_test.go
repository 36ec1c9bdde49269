package live

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
)

// A client that stops reading must be dropped without delaying anyone else.
func TestSlowReaderIsDroppedFastReaderIsNot(t *testing.T) {
	list := uuid.New()
	var version atomic.Int64
	pad := bytes.Repeat([]byte("x"), 256<<10) // big fragments fill socket buffers fast
	render := func(_ context.Context, l, _ uuid.UUID, _ Parts) ([]byte, int64, bool, error) {
		v := version.Load()
		return append([]byte(fmt.Sprintf("<div id=\"v\">version %d</div>", v)), pad...), v, true, nil
	}
	h := New(Config{Render: render, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), QueueLen: 4})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.Serve(w, r, Subscriber{List: list, Device: uuid.New(), User: uuid.New()}, nil)
	}))
	defer srv.Close()
	defer h.Shutdown()
	dial := func() *websocket.Conn {
		c, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
		if err != nil {
			t.Fatal(err)
		}
		c.SetReadLimit(1 << 20)
		t.Cleanup(func() { c.CloseNow() })
		return c
	}
	fast, slow := dial(), dial()
	read := func(c *websocket.Conn, want int64) time.Duration {
		t.Helper()
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		for {
			_, msg, err := c.Read(ctx)
			if err != nil {
				t.Fatalf("fast reader: waiting for version %d: %v", want, err)
			}
			if bytes.HasPrefix(msg, []byte(fmt.Sprintf("<div id=\"v\">version %d<", want))) {
				return time.Since(start)
			}
		}
	}
	read(fast, 0) // the full state on joining
	var worst time.Duration
	for v := int64(1); v <= 60; v++ {
		version.Store(v)
		h.dispatch(Event{List: list, Version: v})
		worst = max(worst, read(fast, v))
	}
	if worst > 500*time.Millisecond {
		t.Errorf("the fast reader waited up to %v for an update", worst)
	}
	deadline := time.Now().Add(5 * time.Second)
	for h.Conns() != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := h.Conns(); n != 1 {
		t.Fatalf("%d connections left, want only the fast reader", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		if _, _, err := slow.Read(ctx); err != nil {
			if code := websocket.CloseStatus(err); code != StatusTooSlow && code != -1 {
				t.Errorf("slow reader closed with %d", code)
			}
			break
		}
	}
}

// A burst of changes to one list is rendered far fewer times than it has
// events: the hub never falls behind.
func TestBurstsCoalesce(t *testing.T) {
	list := uuid.New()
	var renders atomic.Int64
	release := make(chan struct{})
	render := func(context.Context, uuid.UUID, uuid.UUID, Parts) ([]byte, int64, bool, error) {
		if renders.Add(1) == 2 {
			<-release // the first update's render is slow; events pile up meanwhile
		}
		return []byte("<p id=x>ok</p>"), renders.Load(), true, nil
	}
	h := New(Config{Render: render, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.Serve(w, r, Subscriber{List: list, Device: uuid.New(), User: uuid.New()}, nil)
	}))
	defer srv.Close()
	defer h.Shutdown()
	c, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.Read(context.Background())
	for v := range 1000 {
		h.dispatch(Event{List: list, Version: int64(v + 1)})
	}
	close(release)
	time.Sleep(200 * time.Millisecond)
	if n := renders.Load(); n > 4 {
		t.Errorf("%d renders for a burst of 1000 events", n)
	}
}

func TestPresenceFadesWhenAnInstanceDies(t *testing.T) {
	p := newPresence()
	list, u1, u2 := uuid.New(), uuid.New(), uuid.New()
	t0 := time.Now()
	if !p.record(presenceMsg{Instance: "a", List: list, Users: []uuid.UUID{u1}}, t0) {
		t.Error("first viewer is no change")
	}
	p.record(presenceMsg{Instance: "b", List: list, Users: []uuid.UUID{u1, u2}}, t0)
	if got := p.viewers(list, t0); len(got) != 2 {
		t.Errorf("viewers %v: each user once", got)
	}
	// Instance a keeps announcing; b died after t0.
	p.record(presenceMsg{Instance: "a", List: list, Users: []uuid.UUID{u1}}, t0.Add(presenceTTL-time.Second))
	changed := p.expire(t0.Add(presenceTTL + time.Second))
	if len(changed) != 1 || changed[0] != list {
		t.Errorf("expired lists %v", changed)
	}
	if got := p.viewers(list, t0.Add(presenceTTL+time.Second)); len(got) != 1 || got[0] != u1 {
		t.Errorf("after b died: %v", got)
	}
	if p.record(presenceMsg{Instance: "a", List: list, Users: []uuid.UUID{u1}}, t0.Add(presenceTTL+2*time.Second)) {
		t.Error("a heartbeat with the same viewers is no change")
	}
	payload, _ := json.Marshal(presenceMsg{Instance: uuid.NewString(), List: list, Users: make([]uuid.UUID, maxPresenceIDs)})
	if len(payload) > 7000 {
		t.Errorf("a full announcement is %d bytes, too close to NOTIFY's 8000", len(payload))
	}
}

// A change committed before a new tab's full render, but announced after
// it, must still reach the tabs that were already there.
func TestChangeAnnouncedAfterAJoinersRenderReachesEveryone(t *testing.T) {
	list := uuid.New()
	var version atomic.Int64
	version.Store(1)
	render := func(_ context.Context, _, _ uuid.UUID, parts Parts) ([]byte, int64, bool, error) {
		return []byte(fmt.Sprintf("parts %d version %d", parts, version.Load())), version.Load(), true, nil
	}
	h := New(Config{Render: render, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	newClient := func() *client {
		c := &client{Subscriber: Subscriber{List: list, Device: uuid.New(), User: uuid.New()},
			send: make(chan []byte, 16), closed: make(chan struct{}), cancel: func() {}}
		if err := h.register(c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	next := func(c *client) string {
		t.Helper()
		select {
		case m := <-c.send:
			return string(m)
		case <-time.After(2 * time.Second):
			t.Fatal("nothing sent")
			return ""
		}
	}
	old := newClient()
	if got := next(old); got != fmt.Sprintf("parts %d version 1", AllParts) {
		t.Fatalf("first message %q", got)
	}
	version.Store(2) // a film is added and committed...
	joiner := newClient()
	if got := next(joiner); got != fmt.Sprintf("parts %d version 2", AllParts) {
		t.Fatalf("joiner got %q", got)
	}
	h.dispatch(Event{List: list, Kind: "movies.insert", Version: 2}) // ...and announced only now
	if got := next(old); got != fmt.Sprintf("parts %d version 2", PartRoll|PartMovies) {
		t.Errorf("the tab already there got %q, want the films at version 2", got)
	}
}
