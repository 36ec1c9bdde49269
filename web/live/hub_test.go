package live

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
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
	render := func(_ context.Context, l, _ uuid.UUID, _ Update) ([]byte, int64, bool, error) {
		v := version.Load()
		return append([]byte(fmt.Sprintf("<div id=\"v\">version %d</div>", v)), pad...), v, true, nil
	}
	h := New(Config{Render: render, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), QueueLen: 4})
	srv := serveLive(t, h, list)
	dial := func() *websocket.Conn {
		c := dialLive(t, srv)
		c.SetReadLimit(1 << 20)
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
	render := func(context.Context, uuid.UUID, uuid.UUID, Update) ([]byte, int64, bool, error) {
		if renders.Add(1) == 2 {
			<-release // the first update's render is slow; events pile up meanwhile
		}
		return []byte("<p id=x>ok</p>"), renders.Load(), true, nil
	}
	h := New(Config{Render: render, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv := serveLive(t, h, list)
	c := dialLive(t, srv)
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
	// An instance that stopped announcing is out of the list from the
	// moment its last announcement expires, before expire() runs.
	p.record(presenceMsg{Instance: "c", List: list, Users: []uuid.UUID{u2}}, t0.Add(presenceTTL+2*time.Second))
	if got := p.viewers(list, t0.Add(2*presenceTTL+2*time.Second)); slices.Contains(got, u2) {
		t.Errorf("an expired announcement still lists its viewer: %v", got)
	}
}

// A list with more viewers than one announcement may name announces the
// first maxPresenceIDs of them, in a payload NOTIFY takes (under 8000
// bytes).
func TestPresenceAnnouncementFitsANotify(t *testing.T) {
	list := uuid.New()
	var payloads []string
	h := New(Config{
		Render: renderList,
		Notify: func(_ context.Context, _, payload string) error {
			payloads = append(payloads, payload)
			return nil
		},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	for range maxPresenceIDs + 100 {
		subscribe(t, h, list, uuid.New())
	}
	h.announce(context.Background(), list)
	if len(payloads) != 1 {
		t.Fatalf("%d announcements, want 1", len(payloads))
	}
	var m presenceMsg
	if err := json.Unmarshal([]byte(payloads[0]), &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Users) != maxPresenceIDs || len(payloads[0]) >= 8000 || m.List != list {
		t.Errorf("announced %d viewers of list %s in %d bytes; want %d of %s, under 8000 bytes",
			len(m.Users), m.List, len(payloads[0]), maxPresenceIDs, list)
	}
}

// A change committed before a new tab's full render, but announced after
// it, must still reach the tabs that were already there.
func TestChangeAnnouncedAfterAJoinersRenderReachesEveryone(t *testing.T) {
	list := uuid.New()
	var version atomic.Int64
	version.Store(1)
	render := func(_ context.Context, _, _ uuid.UUID, u Update) ([]byte, int64, bool, error) {
		return []byte(fmt.Sprintf("parts %d films %v version %d", u.Parts, u.Films, version.Load())), version.Load(), true, nil
	}
	h := New(Config{Render: render, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	old := subscribe(t, h, list, uuid.New())
	if got := old.next(t); got != fmt.Sprintf("parts %d films [] version 1", AllParts) {
		t.Fatalf("first message %q", got)
	}
	version.Store(2) // a film is added and committed...
	joiner := subscribe(t, h, list, uuid.New())
	if got := joiner.next(t); got != fmt.Sprintf("parts %d films [] version 2", AllParts) {
		t.Fatalf("joiner got %q", got)
	}
	film := uuid.New()
	h.dispatch(Event{List: list, Kind: "movies.insert", Row: film.String(), Version: 2}) // ...and announced only now
	if got := old.next(t); got != fmt.Sprintf("parts %d films [%s] version 2", PartCount, film) {
		t.Errorf("the tab already there got %q, want the film at version 2", got)
	}
}

// When a change lands while joiners' full state is rendered, each of them
// gets the full state and then the change, in that order, however many
// goroutines hand the frames over.
func TestJoinersGetTheirFullStateBeforeTheChange(t *testing.T) {
	list := uuid.New()
	var version atomic.Int64
	held, release := make(chan struct{}), make(chan struct{})
	render := func(_ context.Context, _, _ uuid.UUID, u Update) ([]byte, int64, bool, error) {
		v := version.Add(1)
		if v == 1 {
			close(held)
			<-release // the first joiner's render holds the topic while the rest join
		}
		return []byte(fmt.Sprintf("parts %d version %d", u.Parts, v)), v, true, nil
	}
	h := New(Config{Render: render, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	first := subscribe(t, h, list, uuid.New())
	<-held
	joiners := make([]*recorder, 300) // enough for deliver to use every core
	for i := range joiners {
		joiners[i] = subscribe(t, h, list, uuid.New())
	}
	h.dispatch(Event{List: list, Kind: "rolls.insert"})
	close(release)
	if got := first.next(t); got != fmt.Sprintf("parts %d version 1", AllParts) {
		t.Fatalf("first joiner got %q", got)
	}
	want := fmt.Sprintf("parts %d version 2 then parts %d version 3", AllParts, PartRoll|PartEarlierRolls)
	for i, j := range joiners {
		if got := j.next(t) + " then " + j.next(t); got != want {
			t.Fatalf("joiner %d got %q, want %q", i, got, want)
		}
	}
}

// A render for one event may already see the next event's commit, and so
// its version; the second event's parts must still go out when it comes.
func TestChangeSeenByAnEarlierRenderStillGoesOut(t *testing.T) {
	list := uuid.New()
	render := func(_ context.Context, _, _ uuid.UUID, u Update) ([]byte, int64, bool, error) {
		return []byte(fmt.Sprintf("parts %d films %v", u.Parts, u.Films)), 7, true, nil // both commits are in
	}
	h := New(Config{Render: render, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	conn := subscribe(t, h, list, uuid.New())
	conn.next(t) // the whole list
	h.dispatch(Event{List: list, Kind: "list_members.insert", Row: uuid.NewString(), Version: 6})
	if got, want := conn.next(t), fmt.Sprintf("parts %d films []", PartMembers); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	film := uuid.New()
	h.dispatch(Event{List: list, Kind: "movies.insert", Row: film.String(), Version: 7})
	if got, want := conn.next(t), fmt.Sprintf("parts %d films [%s]", PartCount, film); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// A subscriber the renderer finds can no longer see the list (a removal
// this hub never heard of) is closed as removed, and gets nothing rendered
// as someone else from then on; the others keep getting every change. The
// hub tries its subscribers in no set order, so changes come until it has
// tried the removed one.
func TestSubscriberTheRendererCannotFindIsClosed(t *testing.T) {
	list, removed, stays := uuid.New(), uuid.New(), uuid.New()
	var version atomic.Int64
	var gone, triedGone atomic.Bool
	render := func(_ context.Context, _, as uuid.UUID, _ Update) ([]byte, int64, bool, error) {
		if as == removed && gone.Load() {
			triedGone.Store(true)
			return nil, 0, false, nil
		}
		return []byte(fmt.Sprintf("version %d", version.Load())), version.Load(), true, nil
	}
	h := New(Config{Render: render, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	left := subscribe(t, h, list, removed)
	left.next(t)
	other := subscribe(t, h, list, stays)
	other.next(t)
	gone.Store(true)
	change := func() string {
		t.Helper()
		v := version.Add(1)
		h.dispatch(Event{List: list, Kind: "rolls.insert", Version: v})
		want := fmt.Sprintf("version %d", v)
		if got := other.next(t); got != want {
			t.Fatalf("the member left got %q, want %q", got, want)
		}
		return want
	}
	var discovered string // what was rendered when the removal was found out
	for range 100 {
		if discovered = change(); triedGone.Load() {
			break
		}
	}
	if !triedGone.Load() {
		t.Fatal("never rendered as the removed user")
	}
	code, before := left.closedWith(t)
	if code != StatusRemoved {
		t.Errorf("closed with %d, want %d", code, StatusRemoved)
	}
	if slices.Contains(before, discovered) {
		t.Errorf("the removed user got %q, rendered once they were found gone", discovered)
	}
	change()
	if len(left.sent) > 0 {
		t.Errorf("the removed user got %q after its close", <-left.sent)
	}
}

// A new connection is checked again once registered: one whose user was
// removed, or whose device was signed out, since the check before its
// upgrade is closed as such, and one that cannot be checked is told to
// reconnect; none of them is sent anything of the list. The others are
// not disturbed.
func TestJoinerIsCheckedAgainOnceRegistered(t *testing.T) {
	list := uuid.New()
	h := New(Config{
		Render:         renderList,
		RenderPresence: func(context.Context, uuid.UUID, []uuid.UUID) ([]byte, error) { return []byte("who"), nil },
		Log:            slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	member := subscribe(t, h, list, uuid.New())
	if got := member.next(t) + ", " + member.next(t); got != "list, who" {
		t.Fatalf("a member got %q", got)
	}
	for _, tc := range []struct {
		name  string
		check error
		want  StatusCode
	}{
		{"removed since", ErrRemoved, StatusRemoved},
		{"signed out since", ErrSignedOut, StatusSignedOut},
		{"cannot be checked", errors.New("database unreachable"), StatusUncheckable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			joiner := subscribeChecked(t, h, Subscriber{List: list, Device: uuid.New(), User: uuid.New()},
				func(context.Context, Subscriber) error { return tc.check })
			code, before := joiner.closedWith(t)
			if code != tc.want || len(before) > 0 {
				t.Errorf("closed with %d after %q, want %d after nothing", code, before, tc.want)
			}
		})
	}
	h.dispatch(Event{List: list, Kind: "rolls.insert"})
	if got := member.next(t); got != "list" {
		t.Errorf("the member got %q", got)
	}
}

// A device the database announces deleted or moved, and a member it
// announces gone from the list, are closed as a check says: signed out,
// removed, or now another account's (a claim replaced the device, or
// merged the user into an account); a check that adds nothing, or cannot
// tell, leaves the announcement's own code. Nothing is sent while the
// check runs.
func TestEndingAnnouncementsAreCheckedForTheCloseCode(t *testing.T) {
	list := uuid.New()
	h := listHub()
	other := subscribe(t, h, list, uuid.New())
	other.next(t)
	announcements := map[string]func(s Subscriber){
		"device":  func(s Subscriber) { h.deviceChanged(s.Device) },
		"removal": func(s Subscriber) { h.dispatch(Event{List: list, Kind: "list_members.delete", Row: s.User.String()}) },
	}
	for _, tc := range []struct {
		announced string
		verdict   error
		want      StatusCode
	}{
		{"device", ErrSignedOut, StatusSignedOut},
		{"device", ErrSwitched, StatusSwitched},
		{"device", nil, StatusSignedOut},
		{"device", errors.New("database unreachable"), StatusSignedOut},
		{"removal", ErrRemoved, StatusRemoved},
		{"removal", ErrSwitched, StatusSwitched},
		{"removal", nil, StatusRemoved},
	} {
		t.Run(fmt.Sprintf("%s, checked: %v", tc.announced, tc.verdict), func(t *testing.T) {
			var announced atomic.Bool
			verdict := make(chan error)
			check := func(context.Context, Subscriber) error {
				if !announced.Load() {
					return nil
				}
				return <-verdict
			}
			s := Subscriber{List: list, Device: uuid.New(), User: uuid.New()}
			tab := subscribeChecked(t, h, s, check)
			tab.next(t)
			announced.Store(true)
			announcements[tc.announced](s)
			h.dispatch(Event{List: list, Kind: "rolls.insert"})
			if got := other.next(t); got != "list" { // the change went out
				t.Fatalf("the other member got %q", got)
			}
			select {
			case verdict <- tc.verdict:
			case <-time.After(2 * time.Second):
				t.Fatal("the announcement was not checked")
			}
			if code, before := tab.closedWith(t); code != tc.want || len(before) > 0 {
				t.Errorf("closed with %d after %q, want %d after nothing", code, before, tc.want)
			}
		})
	}
}

// A removal announced while a new connection's check is under way closes
// it, though it is not subscribed yet; it is sent nothing.
func TestRemovalDuringTheJoinersCheckClosesIt(t *testing.T) {
	list, user := uuid.New(), uuid.New()
	h := listHub()
	release, joined := joinHeld(t, h, list, user, nil) // its check read the membership before the removal
	h.dispatch(Event{List: list, Kind: "list_members.delete", Row: user.String()})
	close(release)
	code, before := (<-joined).closedWith(t)
	if code != StatusRemoved || len(before) > 0 {
		t.Errorf("closed with %d after %q, want %d after nothing", code, before, StatusRemoved)
	}
}

// A joiner whose check read the membership just before a removal, and
// passes after the removal was announced, is not subscribed: it is sent
// nothing, however long the announcement's own check takes, and then
// closed.
func TestRemovalAnnouncedDuringTheJoinersCheckSendsItNothing(t *testing.T) {
	list, user := uuid.New(), uuid.New()
	h := listHub()
	witness := subscribe(t, h, list, uuid.New())
	witness.next(t)
	announced := make(chan struct{})
	// The join's check read the membership before the removal; the
	// announcement's is slow.
	release, joined := joinHeld(t, h, list, user, func(context.Context, Subscriber) error { <-announced; return nil })
	h.dispatch(Event{List: list, Kind: "list_members.delete", Row: user.String()})
	close(release)
	gone := <-joined // its check passed
	if slices.ContainsFunc(topicClients(h, list, false), func(c *client) bool { return c.User == user }) {
		t.Fatal("the joiner was subscribed though its removal was announced during its check")
	}
	h.dispatch(Event{List: list, Kind: "movies.insert", Row: uuid.NewString()})
	witness.next(t) // the change went out
	close(announced)
	if code, before := gone.closedWith(t); code != StatusRemoved || len(before) > 0 {
		t.Errorf("closed with %d after %q, want %d after nothing", code, before, StatusRemoved)
	}
}

// A list's last tab leaving while another tab's check is under way does
// not stop the list's topic: the joiner, once checked, gets the list and
// its changes, not a connection nothing ever reaches.
func TestJoinerKeepsTheListWhenTheLastTabLeaves(t *testing.T) {
	list := uuid.New()
	h := listHub()
	srv := serveLive(t, h, list)
	last := dialLive(t, srv)
	if _, m, err := last.Read(context.Background()); err != nil || string(m) != "list" {
		t.Fatalf("first tab: %q %v", m, err)
	}
	release, joined := joinHeld(t, h, list, uuid.New(), nil)
	last.Close(websocket.StatusNormalClosure, "")
	waitForConns(t, h, 1) // only the joiner, still being checked
	close(release)
	joiner := <-joined
	if got := joiner.next(t); got != "list" {
		t.Fatalf("the joiner got %q, want the list", got)
	}
	h.dispatch(Event{List: list, Kind: "movies.insert", Row: uuid.NewString()})
	if got := joiner.next(t); got != "list" {
		t.Fatalf("the joiner got %q after a change, want the list", got)
	}
}

// Browsers send nothing on a live connection; one that does is closed as
// a policy violation and no longer counted, so it cannot keep a place
// without a reader.
func TestPeerThatSendsIsClosed(t *testing.T) {
	list := uuid.New()
	h := listHub()
	c := dialLive(t, serveLive(t, h, list))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, _, err := c.Read(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Write(ctx, websocket.MessageText, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	for {
		if _, _, err := c.Read(ctx); err != nil {
			if code := websocket.CloseStatus(err); code != websocket.StatusPolicyViolation {
				t.Errorf("closed with %d (%v), want %d", code, err, websocket.StatusPolicyViolation)
			}
			break
		}
	}
	waitForConns(t, h, 0)
}

// A joiner whose check read the membership before a removal made while
// the feed was down (so never announced) is checked again by the resync
// that follows the feed's return, though it is not subscribed yet, and
// closed as removed; it is sent nothing.
func TestResyncChecksAJoinerStillBeingChecked(t *testing.T) {
	list, user := uuid.New(), uuid.New()
	h := listHub()
	witness := subscribe(t, h, list, uuid.New())
	witness.next(t)
	// The join's check read the membership before the removal; the
	// resync's finds it gone.
	release, joined := joinHeld(t, h, list, user, func(context.Context, Subscriber) error { return ErrRemoved })
	h.resyncAll()
	// The resync's check has closed the joiner before the join's passes.
	deadline := time.Now().Add(2 * time.Second)
	for !slices.ContainsFunc(topicClients(h, list, true), func(c *client) bool { return c.User == user && c.isClosing() }) {
		if time.Now().After(deadline) {
			t.Fatal("the resync did not close the joiner")
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	if code, before := (<-joined).closedWith(t); code != StatusRemoved || len(before) > 0 {
		t.Errorf("closed with %d after %q, want %d after nothing", code, before, StatusRemoved)
	}
	if witness.next(t) != "list" { // the resync's full state
		t.Error("the member still on the list got no resync")
	}
}

// joinHeld starts joining a recorded connection of user to list on h, and
// returns once the join's check has begun. That check passes when release
// is closed; later checks (an announcement's, a resync's) answer with
// later, or if it is nil pass too once release is closed. The connection
// comes on joined when the join returns.
func joinHeld(t *testing.T, h *Hub, list, user uuid.UUID, later Check) (release chan struct{}, joined chan *recorder) {
	checking := make(chan struct{})
	release, joined = make(chan struct{}), make(chan *recorder, 1)
	var calls atomic.Int32
	go func() {
		joined <- subscribeChecked(t, h, Subscriber{List: list, Device: uuid.New(), User: user}, func(ctx context.Context, s Subscriber) error {
			if calls.Add(1) == 1 {
				close(checking)
			} else if later != nil {
				return later(ctx, s)
			}
			<-release
			return nil
		})
	}()
	<-checking
	return release, joined
}

// topicClients is who list's topic on h subscribes, or holds.
func topicClients(h *Hub, list uuid.UUID, held bool) []*client {
	h.mu.Lock()
	tp := h.topics[list]
	h.mu.Unlock()
	if tp == nil {
		return nil
	}
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if held {
		return slices.Collect(maps.Keys(tp.held))
	}
	return slices.Collect(maps.Keys(tp.clients))
}

// A render that finds the list gone for every subscriber (their removal
// not announced yet) closes them as for a deleted list, but not a member
// whose join is being checked meanwhile: that check decides.
func TestJoinerNotClosedWhenEverySubscriberIsGone(t *testing.T) {
	list, removed, member := uuid.New(), uuid.New(), uuid.New()
	h := New(Config{
		Render: func(_ context.Context, _ uuid.UUID, as uuid.UUID, _ Update) ([]byte, int64, bool, error) {
			return []byte("list"), 1, as != removed, nil
		},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	first := subscribeChecked(t, h, Subscriber{List: list, Device: uuid.New(), User: removed}, allow)
	release, joined := joinHeld(t, h, list, member, nil)
	h.dispatch(Event{List: list, Kind: "movies.insert", Row: uuid.NewString()})
	if code, _ := first.closedWith(t); code != StatusListDeleted {
		t.Errorf("the only subscriber, who cannot see the list, closed with %d", code)
	}
	close(release)
	if got := (<-joined).next(t); got != "list" {
		t.Errorf("the member joining got %q, want the list", got)
	}
}

// After the feed was down, every subscriber is checked again, one check
// per device, before the full state goes out: a device signed out or a
// user removed meanwhile is closed without it; the others get it.
func TestResyncChecksEveryoneAgainFirst(t *testing.T) {
	list := uuid.New()
	var version atomic.Int64
	h := New(Config{
		Render: func(context.Context, uuid.UUID, uuid.UUID, Update) ([]byte, int64, bool, error) {
			return []byte(fmt.Sprintf("version %d", version.Load())), version.Load(), true, nil
		},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	var mu sync.Mutex
	verdict, checks := map[uuid.UUID]error{}, map[uuid.UUID]int{}
	check := func(_ context.Context, s Subscriber) error {
		mu.Lock()
		defer mu.Unlock()
		checks[s.Device]++
		return verdict[s.Device]
	}
	join := func(s Subscriber) *recorder {
		r := subscribeChecked(t, h, s, check)
		if got := r.next(t); got != "version 0" {
			t.Fatalf("joined and got %q", got)
		}
		return r
	}
	signedOut := Subscriber{List: list, Device: uuid.New(), User: uuid.New()}
	removed := Subscriber{List: list, Device: uuid.New(), User: uuid.New()}
	stays := Subscriber{List: list, Device: uuid.New(), User: uuid.New()}
	tabs := []*recorder{join(signedOut), join(signedOut)}
	gone := join(removed)
	left := join(stays)
	mu.Lock()
	verdict[signedOut.Device], verdict[removed.Device] = ErrSignedOut, ErrRemoved
	clear(checks)
	mu.Unlock()
	version.Store(1)
	h.resyncAll()
	if got := left.next(t); got != "version 1" {
		t.Errorf("the member left got %q, want the full state", got)
	}
	for _, tab := range tabs {
		if code, before := tab.closedWith(t); code != StatusSignedOut || len(before) > 0 {
			t.Errorf("a signed-out tab: closed with %d after %q, want %d after nothing", code, before, StatusSignedOut)
		}
	}
	if code, before := gone.closedWith(t); code != StatusRemoved || len(before) > 0 {
		t.Errorf("the removed user: closed with %d after %q, want %d after nothing", code, before, StatusRemoved)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := map[uuid.UUID]int{signedOut.Device: 1, removed.Device: 1, stays.Device: 1}; !maps.Equal(checks, want) {
		t.Errorf("checks per device %v, want one each", checks)
	}
}

// Changed films go out one by one, as long as they are few; many at once
// (a merge) or a film the event does not name send the whole film list.
func TestChangedFilmsAreSentAloneWhenFew(t *testing.T) {
	list := uuid.New()
	var version atomic.Int64
	got := make(chan Update, 16)
	release := make(chan struct{})
	render := func(_ context.Context, _, _ uuid.UUID, u Update) ([]byte, int64, bool, error) {
		v := version.Add(1)
		if u.Parts != AllParts {
			got <- u
			<-release
		}
		return []byte("x"), v, true, nil
	}
	h := New(Config{Render: render, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	subscribe(t, h, list, uuid.New())
	next := func() Update {
		t.Helper()
		select {
		case u := <-got:
			return u
		case <-time.After(2 * time.Second):
			t.Fatal("nothing rendered")
			return Update{}
		}
	}
	busy := uuid.New() // its render holds the topic while the others arrive
	h.dispatch(Event{List: list, Kind: "movies.update", Row: busy.String()})
	if u := next(); u.Parts != PartCount || len(u.Films) != 1 || u.Films[0] != busy {
		t.Fatalf("one film changed: rendered %+v", u)
	}
	a, b := uuid.New(), uuid.New()
	for _, f := range []uuid.UUID{a, b, a} {
		h.dispatch(Event{List: list, Kind: "movies.insert", Row: f.String()})
	}
	release <- struct{}{}
	if u := next(); u.Parts != PartCount || len(u.Films) != 2 || !slices.Contains(u.Films, a) || !slices.Contains(u.Films, b) {
		t.Fatalf("two films changed (one twice): rendered %+v", u)
	}
	for range maxFilmUpdates + 1 {
		h.dispatch(Event{List: list, Kind: "movies.delete", Row: uuid.NewString()})
	}
	release <- struct{}{}
	if u := next(); u.Parts != PartCount|PartMovies || len(u.Films) != 0 {
		t.Fatalf("%d films changed: rendered %+v, want the whole film list", maxFilmUpdates+1, u)
	}
	h.dispatch(Event{List: list, Kind: "movies.update", Row: "not a film id"})
	release <- struct{}{}
	if u := next(); u.Parts != PartCount|PartMovies || len(u.Films) != 0 {
		t.Fatalf("an event without a film id: rendered %+v, want the whole film list", u)
	}
	close(release)
}

// listHub is a hub whose every render is the message "list".
func listHub() *Hub {
	return New(Config{Render: renderList, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

func renderList(context.Context, uuid.UUID, uuid.UUID, Update) ([]byte, int64, bool, error) {
	return []byte("list"), 1, true, nil
}

// recorder is a connection that keeps what is written to it, and the code
// it is closed with.
type recorder struct {
	sent   chan []byte
	closed chan StatusCode
}

// subscribe joins a recorded connection of user, on a device of its own,
// to list on h.
func subscribe(t *testing.T, h *Hub, list, user uuid.UUID) *recorder {
	t.Helper()
	return subscribeChecked(t, h, Subscriber{List: list, Device: uuid.New(), User: user}, allow)
}

// subscribeChecked joins a recorded connection of s to h, checked with check.
func subscribeChecked(t *testing.T, h *Hub, s Subscriber, check Check) *recorder {
	t.Helper()
	conn := &recorder{sent: make(chan []byte, 64), closed: make(chan StatusCode, 1)}
	if err := h.admit(s.Device); err != nil {
		t.Fatal(err)
	}
	h.join(context.Background(), &client{Subscriber: s, check: check, conn: conn, out: conn, queueLen: 64})
	return conn
}

// allow is a Check that lets everyone follow.
func allow(context.Context, Subscriber) error { return nil }

// next returns the next message written to r, failing after 2 s.
func (r *recorder) next(t *testing.T) string {
	t.Helper()
	select {
	case m := <-r.sent:
		return string(m)
	case <-time.After(2 * time.Second):
		t.Fatal("nothing sent")
		return ""
	}
}

// write keeps the frame's payload.
func (r *recorder) write(f []byte) error {
	header := map[byte]int{126: 4, 127: 10}[f[1]&0x7f]
	r.sent <- f[max(2, header):]
	return nil
}
func (r *recorder) tryWrite([]byte) (bool, bool) { return false, false }
func (r *recorder) flush() error                 { return nil }
func (r *recorder) Ping(context.Context) error   { return nil }
func (r *recorder) CloseNow() error              { return nil }

// Close keeps the code.
func (r *recorder) Close(code StatusCode, _ string) error {
	select {
	case r.closed <- code:
	default:
	}
	return nil
}

// closedWith returns the code r is closed with, failing after 2 s, and
// the messages written to it before.
func (r *recorder) closedWith(t *testing.T) (StatusCode, []string) {
	t.Helper()
	select {
	case code := <-r.closed:
		var before []string
		for len(r.sent) > 0 {
			before = append(before, string(<-r.sent))
		}
		return code, before
	case <-time.After(2 * time.Second):
		t.Fatal("not closed")
		return 0, nil
	}
}

// Pings keep answering connections open and cut off a peer that has gone
// silent (a dead machine, a dropped network) without saying goodbye.
func TestSilentPeerIsCutOff(t *testing.T) {
	list := uuid.New()
	render := func(context.Context, uuid.UUID, uuid.UUID, Update) ([]byte, int64, bool, error) {
		return []byte("<p id=x>ok</p>"), 1, true, nil
	}
	h := New(Config{Render: render, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), PingEvery: 100 * time.Millisecond})
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go h.pingLoop(ctx)
	srv := serveLive(t, h, list)

	alive := dialLive(t, srv) // a browser: it reads what comes, and its reader answers pings
	aliveGone := make(chan struct{})
	go func() {
		defer close(aliveGone)
		for {
			if _, _, err := alive.Read(context.Background()); err != nil {
				return
			}
		}
	}()

	dialSilent(t, srv)
	waitFor := func(want int) { t.Helper(); waitForConns(t, h, want) }
	waitFor(2)
	// The silent one is cut off after a ping goes unanswered; the browser
	// stays through a few more rounds of pings.
	waitFor(1)
	time.Sleep(300 * time.Millisecond)
	select {
	case <-aliveGone:
		t.Error("the answering browser was cut off too")
	default:
	}
}

// serveLive serves live connections to list from h on a test server, each
// as a new device and user; the hub and the server stop with the test.
func serveLive(t *testing.T, h *Hub, list uuid.UUID) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.Serve(w, r, Subscriber{List: list, Device: uuid.New(), User: uuid.New()}, allow, nil)
	}))
	t.Cleanup(func() {
		h.Shutdown()
		srv.Close()
	})
	return srv
}

// dialLive opens a websocket to srv, closed with the test.
func dialLive(t *testing.T, srv *httptest.Server) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// dialSilent opens a live connection to srv that goes silent once the
// upgrade is done: it never reads again, so no pong comes back and, once
// its socket is full, no write goes through.
func dialSilent(t *testing.T, srv *httptest.Server) {
	t.Helper()
	raw, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	fmt.Fprintf(raw, "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", raw.RemoteAddr())
	status := make([]byte, 12)
	if _, err := io.ReadFull(raw, status); err != nil || string(status) != "HTTP/1.1 101" {
		t.Fatalf("upgrade: %q %v", status, err)
	}
}

// waitForConns waits up to 3 s for h to hold want connections.
func waitForConns(t *testing.T, h *Hub, want int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for h.Conns() != want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := h.Conns(); n != want {
		t.Fatalf("%d connections, want %d", n, want)
	}
}

// A write stuck on a peer that stopped reading, on a list where nothing
// more happens (so no message overflows its queue), is cut off by the
// next ping, which cannot get its turn to write.
func TestStuckWriteIsCutOffByThePinger(t *testing.T) {
	list := uuid.New()
	big := bytes.Repeat([]byte("x"), 32<<20) // far more than loopback socket buffers hold
	render := func(context.Context, uuid.UUID, uuid.UUID, Update) ([]byte, int64, bool, error) {
		return big, 1, true, nil
	}
	h := New(Config{Render: render, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), PingEvery: 100 * time.Millisecond})
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go h.pingLoop(ctx)
	srv := serveLive(t, h, list)
	dialSilent(t, srv)
	waitForConns(t, h, 1) // pings start 100 ms in, and wait 100 ms for their turn
	waitForConns(t, h, 0)
}

// A "who is here" that fails to render is tried again: nothing else would
// send it before the viewers change again, and until then the page shows
// who was here before.
func TestFailedWhoIsHereIsRetried(t *testing.T) {
	list, elsewhere := uuid.New(), uuid.New()
	var failing atomic.Bool
	var tries atomic.Int32
	h := New(Config{
		Render: renderList,
		RenderPresence: func(_ context.Context, _ uuid.UUID, viewers []uuid.UUID) ([]byte, error) {
			tries.Add(1)
			if failing.Load() {
				return nil, errors.New("injected")
			}
			if slices.Contains(viewers, elsewhere) {
				return []byte("who, with the viewer elsewhere"), nil
			}
			return []byte("who"), nil
		},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	here := subscribe(t, h, list, uuid.New())
	if got := here.next(t); got != "list" {
		t.Fatalf("joined and got %q", got)
	}
	failing.Store(true)
	before := tries.Load()
	payload, _ := json.Marshal(presenceMsg{Instance: "elsewhere", List: list, Users: []uuid.UUID{elsewhere}})
	h.onPresence(string(payload))
	for tries.Load() == before {
		time.Sleep(5 * time.Millisecond)
	}
	failing.Store(false)
	for deadline := time.After(3 * time.Second); ; {
		select {
		case m := <-here.sent:
			if string(m) == "who, with the viewer elsewhere" {
				return
			}
		case <-deadline:
			t.Fatal("the viewer elsewhere was never shown: the failed render was not tried again")
		}
	}
}

// Who is here goes to a tab that opens, and to everyone only when a user
// opens their first tab or the viewers change: a list with many viewers
// does not resend it to all of them for every tab that opens.
func TestWhoIsHereIsNotResentToEveryoneForEveryTab(t *testing.T) {
	list := uuid.New()
	var who atomic.Int64
	h := New(Config{
		Render: renderList,
		RenderPresence: func(context.Context, uuid.UUID, []uuid.UUID) ([]byte, error) {
			return []byte(fmt.Sprintf("who %d", who.Add(1))), nil
		},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	join := func(user uuid.UUID) *recorder { return subscribe(t, h, list, user) }
	quiet := func(c *recorder) {
		t.Helper()
		select {
		case m := <-c.sent:
			t.Errorf("sent %q", m)
		case <-time.After(presencePace + 200*time.Millisecond):
		}
	}
	user := uuid.New()
	first := join(user)
	if got := first.next(t) + ", " + first.next(t); got != "list, who 1" {
		t.Fatalf("first tab got %q", got)
	}
	second := join(user) // the same viewers: nothing new for the first tab
	if got := second.next(t) + ", " + second.next(t); got != "list, who 2" {
		t.Fatalf("second tab got %q", got)
	}
	quiet(first)
	other := join(uuid.New()) // a new user: everyone hears
	if got := other.next(t) + ", " + other.next(t); got != "list, who 3" {
		t.Fatalf("another user's tab got %q", got)
	}
	for _, c := range []*recorder{first, second} {
		if got := c.next(t); got != "who 3" {
			t.Errorf("after another user's first tab: got %q", got)
		}
	}
	elsewhere := uuid.New()
	payload, _ := json.Marshal(presenceMsg{Instance: "elsewhere", List: list, Users: []uuid.UUID{elsewhere}})
	h.onPresence(string(payload)) // a viewer on another instance
	for _, c := range []*recorder{first, second, other} {
		if got := c.next(t); got != "who 4" {
			t.Errorf("after a viewer elsewhere: got %q", got)
		}
	}
	payload, _ = json.Marshal(presenceMsg{Instance: "elsewhere", Renamed: uuid.New()})
	h.onPresence(string(payload)) // someone not looking at this list renamed
	quiet(first)
	payload, _ = json.Marshal(presenceMsg{Instance: "elsewhere", Renamed: elsewhere})
	h.onPresence(string(payload)) // a viewer renamed
	for _, c := range []*recorder{first, second, other} {
		if got := c.next(t); got != "who 5" {
			t.Errorf("after a viewer's new name: got %q", got)
		}
	}
}

// gatedHijack holds a live connection's upgrade until gate closes.
type gatedHijack struct {
	http.ResponseWriter
	gate <-chan struct{}
}

func (g gatedHijack) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	<-g.gate
	return http.NewResponseController(g.ResponseWriter).Hijack()
}

// Connections still being upgraded count against the limits: tabs that
// open at the same moment cannot pass them together, and the one too many
// is refused before its upgrade (here with the 429 the app sends), not
// upgraded and then closed.
func TestLimitsCountConnectionsBeingOpened(t *testing.T) {
	h := New(Config{
		Render: func(context.Context, uuid.UUID, uuid.UUID, Update) ([]byte, int64, bool, error) {
			return []byte("<div id=movies></div>"), 1, true, nil
		},
		Log:          slog.New(slog.NewTextHandler(io.Discard, nil)),
		MaxPerDevice: 2, MaxConns: 3,
	})
	list, device := uuid.New(), uuid.New()
	gate := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dev := device
		if r.URL.Query().Has("other") {
			dev = uuid.New()
		}
		err := h.Serve(gatedHijack{w, gate}, r, Subscriber{List: list, Device: dev, User: uuid.New()}, allow, nil)
		if errors.Is(err, ErrTooMany) {
			http.Error(w, "too many", http.StatusTooManyRequests)
		}
	}))
	t.Cleanup(func() {
		h.Shutdown()
		srv.Close()
	})
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	dial := func(query string) (*websocket.Conn, *http.Response, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return websocket.Dial(ctx, url+query, nil)
	}
	opened := make(chan error, 3)
	openHeld := func(query string) {
		go func() {
			c, _, err := dial(query)
			if err == nil {
				t.Cleanup(func() { c.CloseNow() })
				_, _, err = c.Read(context.Background()) // the full state
			}
			opened <- err
		}()
	}
	refused := func(query, why string) {
		t.Helper()
		if _, res, err := dial(query); err == nil || res == nil || res.StatusCode != http.StatusTooManyRequests {
			t.Errorf("%s: err %v, response %v; want a 429", why, err, res)
		}
	}

	openHeld("")
	openHeld("")
	waitForConns(t, h, 2) // both admitted, both held before their upgrades
	refused("", "a third of the device's while two are being opened")
	openHeld("?other")
	waitForConns(t, h, 3)
	refused("?other", "another device's with the instance full")
	close(gate)
	for range 3 {
		if err := <-opened; err != nil {
			t.Errorf("an admitted connection did not open: %v", err)
		}
	}
	if n := h.Conns(); n != 3 {
		t.Errorf("%d connections counted once open, want 3", n)
	}
}

// An update whose render fails is tried again a second later, then as the
// whole list, which every connection's first message already renders: a
// failure particular to one kind of update (a bug, a query the data trips
// up) must not stop the list's updates until its pages reconnect.
func TestFailingUpdateIsRetriedAsTheWholeList(t *testing.T) {
	list := uuid.New()
	var version atomic.Int64
	var tries atomic.Int32
	render := func(_ context.Context, _, _ uuid.UUID, u Update) ([]byte, int64, bool, error) {
		if u.Parts != AllParts {
			tries.Add(1)
			return nil, 0, false, errors.New("this update cannot be rendered")
		}
		return []byte("whole"), version.Add(1), true, nil
	}
	h := New(Config{Render: render, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	conn := subscribe(t, h, list, uuid.New())
	if got := conn.next(t); got != "whole" {
		t.Fatalf("first message %q", got)
	}
	h.dispatch(Event{List: list, Kind: "rolls.insert", Row: uuid.NewString(), Version: 5})
	select {
	case m := <-conn.sent:
		if string(m) != "whole" {
			t.Fatalf("after the failure: %q", m)
		}
	case <-time.After(4 * time.Second):
		t.Fatal("nothing sent after the failed render")
	}
	if n := tries.Load(); n != 2 {
		t.Errorf("the update was tried %d times before the whole list, want 2", n)
	}
}

// Shutdown closes every connection with 1012, those still being opened
// as they register too, admits no new one, and Drained returns once the
// real ones are gone, their close frames out.
func TestShutdownClosesEveryoneAndAdmitsNoOne(t *testing.T) {
	list := uuid.New()
	h := listHub()
	srv := serveLive(t, h, list)
	browser := dialLive(t, srv)
	if _, m, err := browser.Read(context.Background()); err != nil || string(m) != "list" {
		t.Fatalf("joined and got %q, %v", m, err)
	}
	late := Subscriber{List: list, Device: uuid.New(), User: uuid.New()}
	if err := h.admit(late.Device); err != nil { // its upgrade under way
		t.Fatal(err)
	}
	h.Shutdown()
	if _, _, err := browser.Read(context.Background()); websocket.CloseStatus(err) != StatusRestarting {
		t.Errorf("the open connection: %v, want closed with %d", err, StatusRestarting)
	}
	conn := &recorder{sent: make(chan []byte, 64), closed: make(chan StatusCode, 1)}
	lateClient := &client{Subscriber: late, check: allow, conn: conn, out: conn, queueLen: 64}
	h.join(context.Background(), lateClient)
	if code, before := conn.closedWith(t); code != StatusRestarting || len(before) > 0 {
		t.Errorf("the one registering after Shutdown: closed with %d after %q, want %d after nothing", code, before, StatusRestarting)
	}
	if err := h.admit(uuid.New()); err != ErrClosed {
		t.Errorf("admitted after Shutdown: %v", err)
	}
	h.unregister(lateClient) // what its reader does once closed
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.Drained(ctx); err != nil {
		t.Errorf("not drained: %d connections left", h.Conns())
	}
}
