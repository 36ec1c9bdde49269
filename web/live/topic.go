package live

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"
)

// topic is one list's subscribers and the goroutine that renders for them.
// Events only wake it; each wake renders the list once, whatever number of
// events came in meanwhile (a burst coalesces), and sends the same bytes
// to every subscriber that needs them, in version order.
type topic struct {
	hub  *Hub
	list uuid.UUID

	mu      sync.Mutex
	clients map[*client]struct{}
	fresh   map[*client]struct{} // joined since the last render: get the full state
	full    bool                 // everyone gets the next render (after a reconnect)
	sent    int64                // the version last broadcast

	wake chan struct{}
	done chan struct{}
}

func newTopic(h *Hub, list uuid.UUID) *topic {
	return &topic{hub: h, list: list, clients: map[*client]struct{}{}, fresh: map[*client]struct{}{},
		wake: make(chan struct{}, 1), done: make(chan struct{})}
}

func (t *topic) poke() {
	select {
	case t.wake <- struct{}{}:
	default: // a render is already due; it will see this change too
	}
}

// mark notes a change at version; the next render sends it.
func (t *topic) mark(int64) { t.poke() }

// resync sends everyone the full state at the next render.
func (t *topic) resync() {
	t.mu.Lock()
	t.full = true
	t.mu.Unlock()
	t.poke()
}

// add subscribes c; it gets the full state at the next render.
func (t *topic) add(c *client) {
	t.mu.Lock()
	t.clients[c] = struct{}{}
	t.fresh[c] = struct{}{}
	t.mu.Unlock()
	t.poke()
}

// remove unsubscribes c and reports whether the topic is now empty.
func (t *topic) remove(c *client) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.clients, c)
	delete(t.fresh, c)
	return len(t.clients) == 0
}

func (t *topic) stop() { close(t.done) }

func (t *topic) run() {
	for {
		select {
		case <-t.done:
			return
		case <-t.wake:
			t.render()
		}
	}
}

// render loads and renders the list once, as one of its subscribers (so
// row-level security applies as for any member; the fragment is the same
// for all of them), and sends it where it is due.
func (t *topic) render() {
	t.mu.Lock()
	fresh, full := t.fresh, t.full
	t.fresh, t.full = map[*client]struct{}{}, false
	var users []uuid.UUID
	for c := range t.clients {
		users = append(users, c.User)
	}
	t.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var html []byte
	var version int64
	var err error
	found := false
	for _, u := range users {
		if html, version, found, err = t.hub.cfg.Render(ctx, t.list, u); err != nil || found {
			break
		}
	}
	if err != nil {
		t.hub.log.Error("live: render", "list", t.list, "err", err)
		t.mu.Lock()
		for c := range fresh {
			t.fresh[c] = struct{}{}
		}
		t.full = t.full || full
		t.mu.Unlock()
		time.AfterFunc(time.Second, t.poke)
		return
	}
	if !found {
		if len(users) > 0 {
			t.closeAll(StatusListDeleted, "this list is gone")
		}
		return
	}

	t.mu.Lock()
	newer := version > t.sent
	if newer {
		t.sent = version
	}
	var targets []*client
	for c := range t.clients {
		if _, isFresh := fresh[c]; newer || full || isFresh {
			targets = append(targets, c)
		}
	}
	t.mu.Unlock()
	for _, c := range targets {
		c.enqueue(html)
	}
}

func (t *topic) closeAll(code StatusCode, reason string) {
	t.closeWhere(func(*client) bool { return true }, code, reason)
}

func (t *topic) closeUser(user uuid.UUID, code StatusCode, reason string) {
	t.closeWhere(func(c *client) bool { return c.User == user }, code, reason)
}

func (t *topic) closeWhere(match func(*client) bool, code StatusCode, reason string) {
	t.mu.Lock()
	var cs []*client
	for c := range t.clients {
		if match(c) {
			cs = append(cs, c)
		}
	}
	t.mu.Unlock()
	for _, c := range cs {
		c.close(code, reason)
	}
}
