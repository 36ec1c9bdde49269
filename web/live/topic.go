package live

import (
	"context"
	"maps"
	"runtime"
	"slices"
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
	held    map[*client]struct{}   // registered, not yet checked again: closes reach them, nothing else does
	ended   map[*client]struct{}   // announced gone (see suspend): held until closed, never subscribed
	users   map[uuid.UUID]int      // connections per viewer
	fresh   map[*client]struct{}   // joined since the last render: get the full state
	full    bool                   // everyone gets the next render (after a reconnect)
	recheck bool                   // everyone is checked again before it (after a reconnect)
	listDue Parts                  // the parts of the list that changed
	films   map[uuid.UUID]struct{} // the films that changed
	failed  int                    // renders of the list that failed in a row
	whoDue  bool                   // who is here changed: send it to everyone
	whoNew  map[*client]struct{}   // joined since who is here was last sent: send it to them
	whoSent time.Time              // when who is here was last sent

	wake chan struct{}
	done chan struct{}
}

func newTopic(h *Hub, list uuid.UUID) *topic {
	return &topic{hub: h, list: list, clients: map[*client]struct{}{}, held: map[*client]struct{}{}, ended: map[*client]struct{}{},
		users: map[uuid.UUID]int{}, fresh: map[*client]struct{}{},
		films: map[uuid.UUID]struct{}{}, whoNew: map[*client]struct{}{}, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

func (t *topic) poke() {
	select {
	case t.wake <- struct{}{}:
	default: // a render is already due; it will see this change too
	}
}

// mark notes that parts of the list, and a film unless it is uuid.Nil,
// changed; the next render sends them.
func (t *topic) mark(parts Parts, film uuid.UUID) {
	t.mu.Lock()
	t.listDue |= parts
	if film != uuid.Nil {
		t.films[film] = struct{}{}
	}
	t.mu.Unlock()
	t.poke()
}

// resync has the next render check everyone again, closing those who may
// no longer follow the list, and send the others the full state.
func (t *topic) resync() {
	t.mu.Lock()
	t.recheck, t.full, t.listDue, t.whoDue = true, true, AllParts, true
	t.mu.Unlock()
	t.poke()
}

// presenceDue has the next render send "who is here" to everyone.
func (t *topic) presenceDue() {
	t.mu.Lock()
	t.whoDue = true
	t.mu.Unlock()
	t.poke()
}

// hold keeps c, registered, where closes reach it and nothing else does,
// until its check passes and add subscribes it.
func (t *topic) hold(c *client) {
	t.mu.Lock()
	t.held[c] = struct{}{}
	t.mu.Unlock()
}

// add subscribes c, unless an announcement ended it while its check ran
// (a check that read the database just before the change): it stays held
// for the announcement's own check to close. Subscribed, it gets the full
// state, and who is here, at the next render. Who is here goes to
// everyone too when c is its user's first tab here (the user may be new to
// it, or have a new name); another tab of a user already here changes
// nothing for the others, and a list with many viewers would otherwise
// resend it to all of them for every tab.
func (t *topic) add(c *client) {
	t.mu.Lock()
	if _, ended := t.ended[c]; ended {
		t.mu.Unlock()
		return
	}
	delete(t.held, c)
	t.clients[c] = struct{}{}
	t.fresh[c] = struct{}{}
	t.whoNew[c] = struct{}{}
	t.users[c.User]++
	firstTab := t.users[c.User] == 1
	t.whoDue = t.whoDue || firstTab
	t.mu.Unlock()
	if firstTab {
		t.hub.presence.changed(t.list)
	}
	t.poke()
}

// suspend holds c again, if subscribed, until its close: closes reach it,
// nothing else does (see Hub.endChecked). A c still held, its check under
// way, is never subscribed.
func (t *topic) suspend(c *client) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.suspendLocked(c)
}

func (t *topic) suspendLocked(c *client) {
	t.ended[c] = struct{}{}
	if _, ok := t.clients[c]; ok {
		t.unsubscribeLocked(c)
		t.held[c] = struct{}{}
	}
}

// remove unsubscribes c and reports whether the topic is now empty.
func (t *topic) remove(c *client) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.held, c)
	delete(t.ended, c)
	if _, ok := t.clients[c]; ok {
		t.unsubscribeLocked(c)
	}
	return len(t.clients) == 0 && len(t.held) == 0
}

// unsubscribeLocked takes subscribed c out of what is sent.
func (t *topic) unsubscribeLocked(c *client) {
	delete(t.clients, c)
	delete(t.fresh, c)
	delete(t.whoNew, c)
	if t.users[c.User]--; t.users[c.User] == 0 {
		delete(t.users, c.User)
		t.hub.presence.changed(t.list)
	}
}

// viewers is who has this list open on this instance.
func (t *topic) viewers() []uuid.UUID {
	t.mu.Lock()
	defer t.mu.Unlock()
	users := make([]uuid.UUID, 0, len(t.users))
	for u := range t.users {
		users = append(users, u)
	}
	return users
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
	recheck := t.recheck
	t.recheck = false
	listDue, whoDue := t.listDue, t.whoDue
	// Who is here goes out at most every presencePace: when hundreds join
	// at once, everyone gets a few updates, not one per joiner.
	if wait := presencePace - time.Since(t.whoSent); whoDue && wait > 0 {
		whoDue = false
		time.AfterFunc(wait, t.poke)
	}
	due := Update{Parts: listDue}
	if len(t.films) > maxFilmUpdates || listDue&PartMovies != 0 {
		due.Parts |= PartMovies
	} else {
		for f := range t.films {
			due.Films = append(due.Films, f)
		}
	}
	needList := listDue != 0 || len(t.films) > 0 || len(t.fresh) > 0 || t.full
	t.listDue = 0
	clear(t.films)
	if whoDue {
		t.whoDue, t.whoSent = false, time.Now()
	}
	whoNew := len(t.whoNew) > 0
	t.mu.Unlock()
	if recheck {
		t.checkAll()
	}
	if needList {
		t.renderList(due)
	}
	if whoDue || whoNew {
		t.renderPresence(whoDue)
	}
}

// renderPresence sends the list's viewers across all instances to
// everyone, or (all false) to those who joined since it was last sent.
func (t *topic) renderPresence(all bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	html, err := t.hub.cfg.RenderPresence(ctx, t.list, t.hub.presence.viewers(t.list, time.Now()))
	if err != nil {
		// Tried again in a second: nothing else would send it before who
		// is here changes again, and until then someone gone stays shown.
		t.hub.log.Error("live: render presence", "list", t.list, "err", err)
		if all {
			t.mu.Lock()
			t.whoDue = true
			t.mu.Unlock()
		}
		time.AfterFunc(time.Second, t.poke)
		return
	}
	if html == nil {
		return
	}
	frame := textFrame(html)
	t.mu.Lock()
	to := t.whoNew
	if all {
		to = t.clients
	}
	sends := make([]send, 0, len(to))
	for c := range to {
		sends = append(sends, send{c: c, frame: frame})
	}
	clear(t.whoNew)
	t.mu.Unlock()
	deliver(sends)
}

// checkWorkers is how many checks one topic runs at once.
const checkWorkers = 8

// checkAll asks again whether each subscriber may still follow the list,
// and closes those who may not, before anything more is sent: while the
// feed was down, their removal or sign-out may have gone unannounced.
// Those registered later are checked as they join. A device's tabs share
// one check.
func (t *topic) checkAll() {
	tabs := map[uuid.UUID][]*client{}
	t.mu.Lock()
	for _, set := range []map[*client]struct{}{t.clients, t.held} {
		for c := range set {
			tabs[c.Device] = append(tabs[c.Device], c)
		}
	}
	t.mu.Unlock()
	devices := slices.Collect(maps.Values(tabs))
	ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
	defer cancel()
	inParallel(len(devices), checkWorkers, func(i int) {
		c := devices[i][0]
		if err := c.check(ctx, c.Subscriber); err != nil {
			code, reason := t.hub.closeFor(err)
			for _, c := range devices[i] {
				c.close(code, reason)
			}
		}
	})
}

// send is a frame for a client, and maybe a second one to follow it.
type send struct {
	c           *client
	frame, then []byte
}

// deliver hands each frame to its client, on as many goroutines as there
// are cores when there are many: most of a send's cost is the kernel's,
// one write on a socket with room (see client.enqueue), and ten thousand
// of those take one core 100 ms or more. A client's frames are in one
// send, so one goroutine hands them over, in order; deliver returns when
// all are handed over, so the next render's frames follow them.
func deliver(sends []send) {
	workers := runtime.GOMAXPROCS(0)
	if len(sends) < 256 {
		workers = 1
	}
	inParallel(len(sends), workers, func(i int) {
		s := sends[i]
		s.c.enqueue(s.frame)
		if s.then != nil {
			s.c.enqueue(s.then)
		}
	})
}

// inParallel calls fn for each index below n on up to workers goroutines,
// each taking every workers-th index, and returns when all are done.
func inParallel(n, workers int, fn func(i int)) {
	var wg sync.WaitGroup
	for w := range min(workers, n) {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				fn(i)
			}
		})
	}
	wg.Wait()
}

// renderList sends what changed to every subscriber, and the whole list
// to those who joined since (or everyone, after a reconnect).
func (t *topic) renderList(changed Update) {
	t.mu.Lock()
	fresh, full := t.fresh, t.full
	t.fresh, t.full = map[*client]struct{}{}, false
	var users []uuid.UUID
	rendered := slices.Collect(maps.Keys(t.clients))
	for _, c := range rendered {
		users = append(users, c.User)
	}
	t.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A user the renderer finds cannot see the list (a removal this hub
	// never heard of) is gone: held, sent nothing more, and closed.
	var gone map[uuid.UUID]bool
	render := func(what Update) (html []byte, version int64, found bool, err error) {
		for _, u := range users {
			if gone[u] {
				continue
			}
			if html, version, found, err = t.hub.cfg.Render(ctx, t.list, u, what); err != nil || found {
				break
			}
			if gone == nil {
				gone = map[uuid.UUID]bool{}
			}
			gone[u] = true
		}
		return html, version, found, err
	}
	var whole, part []byte
	var version, wholeVersion int64
	found := true
	var err error
	if full || len(fresh) > 0 {
		whole, wholeVersion, found, err = render(Update{Parts: AllParts})
		version = wholeVersion
	}
	if err == nil && found && (changed.Parts != 0 || len(changed.Films) > 0) && !full {
		part, version, found, err = render(changed)
	}
	if err == nil && !found { // none of those it was rendered for can see it
		// Connections held, or subscribed since, their checks passed or
		// under way, are left to them: a member opening the list just now
		// is not told it is gone.
		for _, c := range rendered {
			c.close(StatusListDeleted, "this list is gone")
		}
		return
	}
	for u := range gone {
		t.endUser(u)
	}
	if err != nil {
		t.hub.log.Error("live: render", "list", t.list, "err", err)
		// Try the update again, once; after that as the whole list, to
		// everyone: the render every connection starts with, and so the
		// one most likely to work if the failure is particular to the
		// update (a bug, data a query trips up), rather than one retried
		// for as long as it fails. A failure of the database itself fails
		// either way.
		t.mu.Lock()
		t.failed++
		for c := range fresh {
			t.fresh[c] = struct{}{}
		}
		t.full = t.full || full || t.failed > 1
		t.listDue |= changed.Parts
		for _, f := range changed.Films {
			t.films[f] = struct{}{}
		}
		t.mu.Unlock()
		time.AfterFunc(time.Second, t.poke)
		return
	}

	if whole != nil {
		whole = textFrame(whole)
	}
	if part != nil {
		part = textFrame(part)
	}
	t.mu.Lock()
	t.failed = 0
	// The changed parts go to everyone but those who just got the whole
	// list at the same version, even when an earlier render already showed
	// this version: it showed only its own parts of it (a render for one
	// event can see the next event's commit before its announcement
	// arrives). Every render shows the current state, and the page applies
	// each the same however often it comes, so a repeat is harmless.
	var sends []send
	for c := range t.clients {
		_, isFresh := fresh[c]
		switch {
		case gone[c.User]: // held above, and closing
		case full || isFresh:
			s := send{c: c, frame: whole}
			if part != nil && version > wholeVersion { // a change landed between the two renders
				s.then = part
			}
			sends = append(sends, s)
		case part != nil:
			sends = append(sends, send{c: c, frame: part})
		}
	}
	t.mu.Unlock()
	deliver(sends)
}

func (t *topic) closeAll(code StatusCode, reason string) {
	t.closeWhere(func(*client) bool { return true }, code, reason)
}

// endUser ends user's subscriptions to the list, which the user can no
// longer see: taken off it, or merged into another account (see
// Hub.endChecked).
func (t *topic) endUser(user uuid.UUID) {
	t.mu.Lock()
	var cs []*client
	for _, set := range []map[*client]struct{}{t.clients, t.held} {
		for c := range set {
			if c.User == user {
				cs = append(cs, c)
			}
		}
	}
	for _, c := range cs {
		t.suspendLocked(c)
	}
	t.mu.Unlock()
	t.hub.endChecked(cs, StatusRemoved, ErrRemoved)
}

// closeWhere closes the subscribers that match, held ones too.
func (t *topic) closeWhere(match func(*client) bool, code StatusCode, reason string) {
	t.mu.Lock()
	var cs []*client
	for _, set := range []map[*client]struct{}{t.clients, t.held} {
		for c := range set {
			if match(c) {
				cs = append(cs, c)
			}
		}
	}
	t.mu.Unlock()
	for _, c := range cs {
		c.close(code, reason)
	}
}
