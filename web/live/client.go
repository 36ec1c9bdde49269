package live

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
)

// StatusCode is a websocket close code.
type StatusCode = websocket.StatusCode

// Close codes. htmx's ws extension reconnects (with jittered backoff) after
// 1012 and 1013, so those are used where the browser should come back;
// after the 4xxx codes it would be refused, so it stays away.
const (
	StatusSignedOut   StatusCode = 4001
	StatusRemoved     StatusCode = 4003
	StatusListDeleted StatusCode = 4004
	StatusTooSlow                = websocket.StatusTryAgainLater // 1013
	StatusTryLater               = websocket.StatusTryAgainLater
	StatusRestarting             = websocket.StatusServiceRestart // 1012
)

const (
	pingEvery    = 25 * time.Second
	writeTimeout = 10 * time.Second
	closeGrace   = time.Second
)

// Subscriber is who a live connection is for; web checks that User is a
// member of List before it calls Serve.
type Subscriber struct {
	List, Device, User uuid.UUID
}

// client is one websocket connection subscribed to one list.
type client struct {
	Subscriber
	send      chan []byte
	closed    chan struct{}
	closeOnce sync.Once
	code      StatusCode
	reason    string
	// cancel aborts a write in progress, closeGrace after the client is
	// closed: a client closed for being slow is usually stuck in one.
	cancel context.CancelFunc
}

// enqueue queues msg for sending. A client whose queue is full is too slow
// to keep up: it is closed (it reconnects and starts from the full state)
// rather than ever blocking the hub.
func (c *client) enqueue(msg []byte) {
	select {
	case c.send <- msg:
	default:
		c.close(StatusTooSlow, "too slow to keep up; reconnect")
	}
}

func (c *client) close(code StatusCode, reason string) {
	c.closeOnce.Do(func() {
		c.code, c.reason = code, reason
		close(c.closed)
		// A write in progress may finish, and the close frame with its
		// code follow; one stuck longer (a slow reader) is cut off.
		time.AfterFunc(closeGrace, c.cancel)
	})
}

// Admit reports whether the device may open another live connection here.
func (h *Hub) Admit(device uuid.UUID) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.conns < h.cfg.MaxConns && len(h.byDevice[device]) < h.cfg.MaxPerDevice
}

// Serve upgrades the request to a websocket that streams s.List's
// fragments: the full current state first, then every change, until the
// peer leaves, the connection is closed by an event (sign-out, removal,
// the list deleted), it falls behind, or the hub shuts down. originHosts
// are the hosts pages may connect from. It returns once the connection is
// set up; the streaming goes on in the background.
func (h *Hub) Serve(w http.ResponseWriter, r *http.Request, s Subscriber, originHosts []string) error {
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: originHosts})
	if err != nil {
		return err // Accept has answered
	}
	// The connection outlives the request: it is served from a goroutine
	// of its own, so the handler's goroutine, whose stack grew deep in the
	// middleware and the membership query, is not kept for hours.
	ctx, cancel := context.WithCancel(conn.CloseRead(context.WithoutCancel(r.Context()))) // CloseRead answers pings and notices the peer leaving
	c := &client{Subscriber: s, send: make(chan []byte, h.cfg.QueueLen), closed: make(chan struct{}), cancel: cancel}
	if err := h.register(c); err != nil {
		cancel()
		conn.Close(StatusTryLater, "too many live connections")
		return err
	}
	go h.pump(ctx, conn, c)
	return nil
}

// pump writes c's messages and pings to conn until the connection ends.
func (h *Hub) pump(ctx context.Context, conn *websocket.Conn, c *client) {
	defer c.cancel()
	defer h.unregister(c)
	ping := time.NewTicker(pingEvery)
	defer ping.Stop()
	for {
		select {
		case <-c.closed:
			conn.Close(c.code, c.reason)
			return
		case <-ctx.Done():
			select {
			case <-c.closed: // closing cancels ctx too: still say why
				conn.Close(c.code, c.reason)
			default:
				conn.CloseNow()
			}
			return
		case msg := <-c.send:
			wctx, cancel := context.WithTimeout(ctx, writeTimeout)
			err := conn.Write(wctx, websocket.MessageText, msg)
			cancel()
			if err != nil {
				conn.CloseNow()
				return
			}
		case <-ping.C:
			pctx, cancel := context.WithTimeout(ctx, writeTimeout)
			err := conn.Ping(pctx)
			cancel()
			if err != nil {
				conn.CloseNow() // a dead peer
				return
			}
		}
	}
}

// Shutdown closes every live connection (the browsers reconnect to
// another instance, or to this one once it is back).
func (h *Hub) Shutdown() {
	h.mu.Lock()
	var cs []*client
	for _, set := range h.byDevice {
		for c := range set {
			cs = append(cs, c)
		}
	}
	h.mu.Unlock()
	for _, c := range cs {
		c.close(StatusRestarting, "server restarting")
	}
}
