package live

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
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
// after the 4xxx codes it stays away: it would be refused, or (4002) its
// page is another account's.
const (
	StatusSignedOut   StatusCode = 4001
	StatusSwitched    StatusCode = 4002 // signed in as another account: a claim replaced or merged the device
	StatusRemoved     StatusCode = 4003
	StatusListDeleted StatusCode = 4004
	StatusTooSlow                = websocket.StatusTryAgainLater  // 1013
	StatusRestarting             = websocket.StatusServiceRestart // 1012
	// StatusUncheckable: a subscriber could not be checked again; the
	// browser comes back, and is checked at the door.
	StatusUncheckable = websocket.StatusTryAgainLater // 1013
)

const (
	pongWait   = 10 * time.Second
	closeGrace = time.Second
	// The buffers a live connection keeps for its whole life. Browsers
	// send nothing but pongs and close frames (at most 131 bytes each),
	// and coder/websocket writes nothing else either (see sock): messages
	// do not go through its buffer.
	readBufferSize  = 256
	writeBufferSize = 512
)

// Subscriber is who a live connection is for; web checks that User is a
// member of List before it calls Serve.
type Subscriber struct {
	List, Device, User uuid.UUID
}

// Check tells whether s may still follow its list: nil if its device is
// still signed in, as its user, and the user is on the list; ErrSignedOut,
// ErrSwitched or ErrRemoved if not; any other error if it cannot tell. The
// hub asks it whenever it may have missed the announcement that ends a
// subscription: once the connection is registered, and after the feed was
// down; and when its device is announced deleted or moved, to tell which.
type Check func(ctx context.Context, s Subscriber) error

// What a Check answers for a subscriber that may no longer follow its
// list; the texts are the close reasons.
var (
	ErrSignedOut = errors.New("this device was signed out")
	ErrSwitched  = errors.New("this browser now uses another account")
	ErrRemoved   = errors.New("you are no longer on this list")
)

// wsConn is the part of *websocket.Conn a client uses: its control frames.
type wsConn interface {
	Ping(ctx context.Context) error
	Close(code StatusCode, reason string) error
	CloseNow() error
}

// frameWriter puts a client's messages, as frames, on its connection (a
// *sock).
type frameWriter interface {
	tryWrite(frame []byte) (taken, unfinished bool)
	write(frame []byte) error
	flush() error
}

// client is one websocket connection subscribed to one list.
//
// An idle client has one goroutine: its reader (Hub.read). A writer
// goroutine runs only while messages are queued, and pings come from the
// hub's pinger, so ten thousand idle connections do not keep ten thousand
// parked writers, tickers and their stacks.
type client struct {
	Subscriber
	check    Check
	conn     wsConn
	out      frameWriter
	queueLen int

	mu      sync.Mutex
	queue   [][]byte // unsent frames, in order; empty unless writing
	writing bool     // a writer goroutine is sending the queue: enqueue only adds to it
	closing bool
	code    StatusCode
	reason  string
}

// enqueue sends frame (see textFrame): at once if the socket has room and
// nothing is queued before it, which is the usual case and costs one
// write; otherwise it is queued for a writer goroutine. A client whose
// queue is full is too slow to keep up: it is closed (it reconnects and
// starts from the full state) rather than ever blocking the hub.
func (c *client) enqueue(frame []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	if !c.writing {
		taken, unfinished := c.out.tryWrite(frame)
		if unfinished {
			c.startWriterLocked() // to send the rest
		}
		if taken {
			return
		}
	}
	if len(c.queue) >= c.queueLen {
		c.closeLocked(StatusTooSlow, "too slow to keep up; reconnect")
		return
	}
	c.queue = append(c.queue, frame)
	c.startWriterLocked()
}

func (c *client) close(code StatusCode, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeLocked(code, reason)
}

func (c *client) closeLocked(code StatusCode, reason string) {
	if c.closing {
		return
	}
	c.closing, c.code, c.reason, c.queue = true, code, reason, nil
	// A write in progress may finish, and the close frame with its code
	// follow; one stuck longer (a slow reader) is cut off.
	time.AfterFunc(closeGrace, func() { c.conn.CloseNow() })
	c.startWriterLocked()
}

func (c *client) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing
}

func (c *client) startWriterLocked() {
	if !c.writing {
		c.writing = true
		go c.write()
	}
}

// write sends what is left of a frame begun by enqueue, then the queued
// frames in order, and returns when the queue is empty; once the client
// is closing it sends the close frame instead.
// A write stuck on a peer that stopped reading (its socket full) is cut
// off by the next message that overflows the queue or, on a quiet list,
// by the hub's next ping, which cannot get its turn to write: no timer
// per write, which ten thousand connections would each arm for every
// message.
func (c *client) write() {
	if err := c.out.flush(); err != nil {
		c.conn.CloseNow()
		return // writing stays set
	}
	for {
		c.mu.Lock()
		if c.closing {
			code, reason := c.code, c.reason
			c.mu.Unlock()
			c.conn.Close(code, reason) // writing stays set: nothing writes after this
			return
		}
		frames := c.queue
		c.queue = nil
		if len(frames) == 0 {
			c.writing = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		for _, f := range frames {
			if c.isClosing() {
				break // the close frame, with its code, goes next
			}
			if err := c.out.write(f); err != nil {
				c.conn.CloseNow()
				return // writing stays set
			}
		}
	}
}

// ping checks that the peer answers within wait; one that does not is
// cut off.
func (c *client) ping(wait time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := c.conn.Ping(ctx); err != nil {
		c.conn.CloseNow()
	}
}

// Serve upgrades the request to a websocket that streams s.List's
// fragments: the full current state first, then every change, until the
// peer leaves, the connection is closed by an event (sign-out, removal,
// the list deleted), it falls behind, or the hub shuts down. check is
// asked again once the connection is registered and after the feed was
// down (see Check): a connection that fails it is closed, and sent
// nothing more. originHosts are the hosts pages may connect from. It
// returns once the connection is set up; the streaming goes on in the
// background.
//
// If s.Device, or the instance, already has as many live connections as
// allowed, counting those still being upgraded, Serve returns ErrTooMany
// and has written nothing: the caller answers. Any other error has been
// answered.
func (h *Hub) Serve(w http.ResponseWriter, r *http.Request, s Subscriber, check Check, originHosts []string) error {
	if err := h.admit(s.Device); err != nil {
		return err
	}
	hj := &smallBuffers{ResponseWriter: w}
	conn, err := websocket.Accept(hj, r, &websocket.AcceptOptions{OriginPatterns: originHosts})
	if err != nil {
		h.unadmit(s.Device)
		return err // Accept has answered
	}
	// The connection outlives the request and keeps nothing of it: not
	// its context, nor the handler's goroutine, whose stack grew deep in
	// the middleware and the membership query.
	c := &client{Subscriber: s, check: check, conn: conn, out: hj.sock, queueLen: h.cfg.QueueLen}
	h.join(r.Context(), c)
	go h.read(conn, c)
	return nil
}

// read is the connection's one long-lived goroutine: reading answers the
// peer's pings, takes in the pongs to the hub's, and notices the peer
// leaving (or the connection being closed), which unsubscribes it.
// Browsers send no messages; one that does is closed, as CloseRead would.
func (h *Hub) read(conn *websocket.Conn, c *client) {
	defer h.unregister(c)
	// No deadline: a context that can be done would cost a timer for the
	// connection's whole life. Pings find dead peers.
	if _, _, err := conn.Reader(context.Background()); err == nil {
		c.close(websocket.StatusPolicyViolation, "this connection only sends")
		return
	}
	conn.CloseNow()
}

// smallBuffers hands coder/websocket the hijacked connection with
// buffers sized for a live connection (see readBufferSize), instead of
// net/http's 4 KiB each, which it would keep for the connection's life,
// and its writes going through the connection's sock.
type smallBuffers struct {
	http.ResponseWriter
	sock *sock
}

func (w *smallBuffers) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	br := bufio.NewReaderSize(conn, readBufferSize)
	if n := brw.Reader.Buffered(); n > 0 {
		// Bytes the client sent right after its request: they must be in
		// the new buffer, where Accept looks for them.
		early, _ := brw.Reader.Peek(n)
		br = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(bytes.Clone(early)), conn), max(readBufferSize, n))
		br.Peek(n)
	}
	w.sock = newSock(conn)
	return conn, bufio.NewReadWriter(br, bufio.NewWriterSize(w.sock, writeBufferSize)), nil
}

// pingLoop pings every connection every PingEvery, a batch at a time so
// that ten thousand pings (each a goroutine waiting for its pong) do not
// start at once.
func (h *Hub) pingLoop(ctx context.Context) {
	const batch = 200
	wait := min(pongWait, h.cfg.PingEvery)
	tick := time.NewTicker(h.cfg.PingEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		h.mu.Lock()
		cs := make([]*client, 0, h.conns)
		for _, set := range h.byDevice {
			for c := range set {
				cs = append(cs, c)
			}
		}
		h.mu.Unlock()
		for i, c := range cs {
			go c.ping(wait)
			if i%batch == batch-1 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(10 * time.Millisecond):
				}
			}
		}
	}
}

// Shutdown closes every live connection (the browsers reconnect to
// another instance, or to this one once it is back), and those still
// being opened as they register; no new one is admitted (ErrClosed).
// Drained reports when they are gone.
func (h *Hub) Shutdown() {
	h.mu.Lock()
	h.closed = true
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

// Drained waits, after Shutdown, until every connection has finished
// closing (its close frame written, its peer gone), or ctx is done.
func (h *Hub) Drained(ctx context.Context) error {
	for h.Conns() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}
