// Package live fans the database's change feed out to browsers: one LISTEN
// connection per instance, subscriptions per list, each change loaded and
// rendered once and the same bytes sent to every subscriber over its
// websocket. It never imports web; web hands it a Renderer.
package live

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// The feed's channels (see migrations/00003_change_feed.sql).
const (
	changesChannel = "moviedice_changes"
	devicesChannel = "moviedice_devices"
)

// feedIdle is how long the feed connection may be quiet before the hub
// checks that it is alive, and how long that check may take.
const feedIdle = 2 * time.Second

// ListenerName is the application_name of the hub's LISTEN connection, so
// operators (and tests) can find it in pg_stat_activity.
const ListenerName = "moviedice-live"

// Event is one change announced on the feed: ids only.
type Event struct {
	List    uuid.UUID `json:"list"`
	Kind    string    `json:"kind"` // table.op, e.g. "movies.insert"
	Row     string    `json:"row"`  // the row's id; a member's user id for list_members
	Version int64     `json:"version"`
}

// Parts are the pieces of a list page a live fragment can carry.
type Parts uint8

// The parts of a list page, and which a change touches.
const (
	PartRoll Parts = 1 << iota
	PartMovies
	PartEarlierRolls
	PartMembers
	// PartCount is the roll section's count of unwatched films alone (the
	// roll section carries it too).
	PartCount
	// PartName is the list's name, its page's heading.
	PartName
	AllParts = PartRoll | PartMovies | PartEarlierRolls | PartMembers | PartName
)

// partsOf is what an event of kind changes on the page. A changed film
// itself is sent on its own (Update.Films), not as a part. A change of the
// list itself (its name, owner or invitation) sends every part.
func partsOf(kind string) Parts {
	switch table, _, _ := strings.Cut(kind, "."); table {
	case "movies":
		return PartCount
	case "rolls":
		return PartRoll | PartEarlierRolls
	case "list_members":
		return PartMembers
	}
	return AllParts
}

// maxFilmUpdates is how many changed films a render sends one by one;
// with more (a merge, a burst) it sends the whole film list instead.
const maxFilmUpdates = 16

// Update is what a render carries: whole parts of the list page, and
// single films (added, changed or removed) for the page's script to put
// in place, which for a list of any length is a few hundred bytes instead
// of the whole film list.
type Update struct {
	Parts Parts
	Films []uuid.UUID
}

// Renderer loads a list's current state, acting as asUser (one of its
// subscribers), and renders the update as a live fragment, the same for
// every member. found is false when asUser cannot see the list (any more).
type Renderer func(ctx context.Context, list, asUser uuid.UUID, u Update) (html []byte, version int64, found bool, err error)

// Config is what a hub needs.
type Config struct {
	// DatabaseURL is for the hub's own LISTEN connection, outside the pool.
	DatabaseURL string
	Render      Renderer
	Log         *slog.Logger
	// RenderPresence renders "who is here" for a list from viewers' ids.
	RenderPresence func(ctx context.Context, list uuid.UUID, users []uuid.UUID) ([]byte, error)
	// Notify sends a notification to every instance (pg_notify through the
	// pool: the hub's own connection is busy listening).
	Notify func(ctx context.Context, channel, payload string) error
	// MaxPerDevice and MaxConns bound live connections per device and per
	// instance; QueueLen bounds each connection's unsent messages.
	MaxPerDevice int
	MaxConns     int
	QueueLen     int
	// DeviceChanged, if set, hears of every device the database announces
	// deleted or moved to another user; FeedUp, if set, hears when the
	// feed connection comes up (true) or is lost (false), since
	// announcements made meanwhile are missed.
	DeviceChanged func(device uuid.UUID)
	FeedUp        func(up bool)
	// PingEvery is how often each connection is pinged (default 25 s); a
	// peer that has not answered within pongWait (or PingEvery, if
	// shorter) is cut off.
	PingEvery time.Duration
}

// Hub keeps the live connections of one instance.
type Hub struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	topics   map[uuid.UUID]*topic
	byDevice map[uuid.UUID]map[*client]struct{}
	// upgrading counts, per device, the connections admitted and not yet
	// registered; conns counts both.
	upgrading map[uuid.UUID]int
	conns     int
	closed    bool // shut down: admits no one, closes who registers

	listening chan struct{} // closed once the first LISTEN is up
	onceUp    sync.Once

	instance string // this hub's id in presence announcements
	presence *presence
}

// New returns a hub; Run starts it listening.
func New(cfg Config) *Hub {
	if cfg.MaxPerDevice <= 0 {
		cfg.MaxPerDevice = 8
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 15000
	}
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = 16
	}
	if cfg.PingEvery <= 0 {
		cfg.PingEvery = 25 * time.Second
	}
	if cfg.RenderPresence == nil { // no presence: nothing to render
		cfg.RenderPresence = func(context.Context, uuid.UUID, []uuid.UUID) ([]byte, error) { return nil, nil }
	}
	if cfg.Notify == nil {
		cfg.Notify = func(context.Context, string, string) error { return nil }
	}
	if cfg.DeviceChanged == nil {
		cfg.DeviceChanged = func(uuid.UUID) {}
	}
	if cfg.FeedUp == nil {
		cfg.FeedUp = func(bool) {}
	}
	return &Hub{cfg: cfg, log: cfg.Log, topics: map[uuid.UUID]*topic{}, byDevice: map[uuid.UUID]map[*client]struct{}{},
		upgrading: map[uuid.UUID]int{}, listening: make(chan struct{}), instance: uuid.NewString(), presence: newPresence()}
}

// Listening is closed once the hub first listens to the feed.
func (h *Hub) Listening() <-chan struct{} { return h.listening }

// Run listens to the feed until ctx is done, reconnecting with backoff and
// jitter when the connection drops. After every (re)connect all
// subscribers are checked again and those still allowed sent their list's
// full current state, since events (a removal, a sign-out) may have been
// missed meanwhile.
func (h *Hub) Run(ctx context.Context) {
	go h.announceLoop(ctx)
	go h.pingLoop(ctx)
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		started := time.Now()
		err := h.listen(ctx)
		h.cfg.FeedUp(false)
		if ctx.Err() != nil {
			return
		}
		if time.Since(started) > time.Minute {
			backoff = 100 * time.Millisecond
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		h.log.Warn("live: feed connection lost; reconnecting", "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

func (h *Hub) listen(ctx context.Context) error {
	cfg, err := pgx.ParseConfig(h.cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("database url: %w", err)
	}
	cfg.RuntimeParams["application_name"] = ListenerName
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+changesChannel+"; LISTEN "+devicesChannel+"; LISTEN "+presenceChannel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	h.cfg.FeedUp(true)
	h.resyncAll()
	h.onceUp.Do(func() { close(h.listening) })
	for {
		wait, cancel := context.WithTimeout(ctx, feedIdle)
		n, err := conn.WaitForNotification(wait)
		cancel()
		if err != nil && ctx.Err() == nil && wait.Err() != nil {
			// Quiet for a while: make sure the connection is still there,
			// since a dead one (a half-open TCP connection) would
			// otherwise go unnoticed for minutes while announcements are
			// missed. A timed-out wait leaves a pgx connection usable.
			ping, cancel := context.WithTimeout(ctx, feedIdle)
			err = conn.Ping(ping)
			cancel()
			if err == nil {
				continue
			}
		}
		if err != nil {
			return err
		}
		switch n.Channel {
		case presenceChannel:
			h.onPresence(n.Payload)
		case devicesChannel:
			if id, err := uuid.Parse(n.Payload); err == nil {
				h.cfg.DeviceChanged(id)
				h.deviceChanged(id)
			}
		case changesChannel:
			var e Event
			if err := json.Unmarshal([]byte(n.Payload), &e); err != nil {
				h.log.Warn("live: bad payload", "payload", n.Payload, "err", err)
				continue
			}
			h.dispatch(e)
		}
	}
}

// dispatch applies an event: closes connections it ends, and marks the
// list's topic for a re-render.
func (h *Hub) dispatch(e Event) {
	h.mu.Lock()
	t := h.topics[e.List]
	h.mu.Unlock()
	if t == nil {
		return
	}
	switch e.Kind {
	case "lists.delete":
		t.closeAll(StatusListDeleted, "the list was deleted")
		return
	case "list_members.delete":
		if user, err := uuid.Parse(e.Row); err == nil {
			t.endUser(user)
		}
	}
	parts, film := partsOf(e.Kind), uuid.Nil
	if strings.HasPrefix(e.Kind, "movies.") {
		var err error
		if film, err = uuid.Parse(e.Row); err != nil {
			parts |= PartMovies // which film is unknown: send them all
		}
	}
	t.mark(parts, film)
}

// resyncAll has every topic check its subscribers again and send the full
// state to those left.
func (h *Hub) resyncAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, t := range h.topics {
		t.resync()
	}
}

// deviceChanged ends the connections of a device the database announced
// deleted or moved to another user (see endChecked).
func (h *Hub) deviceChanged(device uuid.UUID) {
	h.mu.Lock()
	var cs []*client
	for c := range h.byDevice[device] {
		if t := h.topics[c.List]; t != nil {
			t.suspend(c)
		}
		cs = append(cs, c)
	}
	h.mu.Unlock()
	h.endChecked(cs, StatusSignedOut, ErrSignedOut)
}

// endChecked closes cs, whose subscriptions an announcement ended, with
// code and why's text, unless a check says more. The announcements do not
// say everything the browser should hear: a device deleted may have been
// signed out or replaced by a claim, a member gone from a list may have
// been removed or merged into another account, and a browser that claimed
// an account is signed in, as that account (StatusSwitched). So cs, held
// already (sent nothing more), are closed once one check per tab's device
// and list says which; an answer that adds nothing (nil, or cannot tell)
// leaves the announcement's own.
func (h *Hub) endChecked(cs []*client, code StatusCode, why error) {
	if len(cs) == 0 {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
		defer cancel()
		checked := map[Subscriber]error{}
		for _, c := range cs {
			err, ok := checked[c.Subscriber]
			if !ok {
				err = c.check(ctx, c.Subscriber)
				checked[c.Subscriber] = err
			}
			switch {
			case errors.Is(err, ErrSignedOut), errors.Is(err, ErrSwitched), errors.Is(err, ErrRemoved):
				c.close(h.closeFor(err))
			default:
				if err != nil {
					h.log.Warn("live: check subscriber", "err", err)
				}
				c.close(code, why.Error())
			}
		}
	}()
}

// checkTimeout bounds one join's check, or one topic's checks after the
// feed was down.
const checkTimeout = 10 * time.Second

// closeFor is how to close a connection whose Check answered err.
func (h *Hub) closeFor(err error) (StatusCode, string) {
	switch {
	case errors.Is(err, ErrSignedOut):
		return StatusSignedOut, ErrSignedOut.Error()
	case errors.Is(err, ErrSwitched):
		return StatusSwitched, ErrSwitched.Error()
	case errors.Is(err, ErrRemoved):
		return StatusRemoved, ErrRemoved.Error()
	}
	h.log.Warn("live: check subscriber", "err", err)
	return StatusUncheckable, "could not check this connection; reconnect"
}

// ErrTooMany is returned when a device or the instance has as many live
// connections as allowed.
var ErrTooMany = errors.New("live: too many connections")

// ErrClosed is returned for a connection asked for after Shutdown.
var ErrClosed = errors.New("live: shutting down")

// admit counts a connection of device against the limits before its
// upgrade, so that upgrades at the same moment cannot pass a limit
// together. register, or unadmit if the upgrade fails, must follow.
func (h *Hub) admit(device uuid.UUID) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return ErrClosed
	}
	if h.conns >= h.cfg.MaxConns || len(h.byDevice[device])+h.upgrading[device] >= h.cfg.MaxPerDevice {
		return ErrTooMany
	}
	h.conns++
	h.upgrading[device]++
	return nil
}

// unadmit gives back what admit counted.
func (h *Hub) unadmit(device uuid.UUID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.conns--
	h.doneUpgrading(device)
}

func (h *Hub) doneUpgrading(device uuid.UUID) {
	if h.upgrading[device]--; h.upgrading[device] <= 0 {
		delete(h.upgrading, device)
	}
}

// join registers c, asks its check again, and subscribes it, or closes
// it if the check fails. The caller checked before the upgrade, but a
// removal or sign-out announced between then and register found no
// connection to close: the check sees it. One announced later closes c
// itself. Until the check passes, c is sent nothing of the list.
func (h *Hub) join(ctx context.Context, c *client) {
	t, closed := h.register(c)
	if closed { // admitted before Shutdown, registered after it
		c.close(StatusRestarting, "server restarting")
		return
	}
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	if err := c.check(ctx, c.Subscriber); err != nil {
		c.close(h.closeFor(err))
		return
	}
	t.add(c)
}

// register adds c, admitted, to its device's connections and, held, to
// its list's topic, starting the topic if needed: from then on closes
// reach it, and nothing else does until the topic adds it. It reports
// whether the hub has shut down meanwhile.
func (h *Hub) register(c *client) (*topic, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.doneUpgrading(c.Device)
	t := h.topics[c.List]
	if t == nil {
		t = newTopic(h, c.List)
		h.topics[c.List] = t
		go t.run()
	}
	t.hold(c)
	if h.byDevice[c.Device] == nil {
		h.byDevice[c.Device] = map[*client]struct{}{}
	}
	h.byDevice[c.Device][c] = struct{}{}
	return t, h.closed
}

// unregister removes c; a topic with no subscribers left stops.
func (h *Hub) unregister(c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if t := h.topics[c.List]; t != nil && t.remove(c) {
		delete(h.topics, c.List)
		t.stop()
	}
	if set := h.byDevice[c.Device]; set != nil {
		if _, ok := set[c]; ok {
			delete(set, c)
			h.conns--
		}
		if len(set) == 0 {
			delete(h.byDevice, c.Device)
		}
	}
}

// Conns reports how many live connections this instance holds, counting
// those being opened.
func (h *Hub) Conns() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.conns
}
