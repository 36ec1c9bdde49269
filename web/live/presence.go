package live

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Presence: who is looking at a list now, across every instance. Each
// instance announces, per list it has viewers of, the ids of those viewers
// on the presence channel: at once when they change, and again every
// presenceEvery as a heartbeat. Every instance (itself included) keeps the
// latest announcement per instance and list until presenceTTL has passed
// without a heartbeat, so the viewers of an instance that died fade out.
const (
	presenceChannel = "moviedice_presence"
	presenceEvery   = 10 * time.Second
	presenceTTL     = 3 * presenceEvery
	// maxPresenceIDs keeps one announcement far below NOTIFY's 8000 bytes.
	maxPresenceIDs = 150
	// presencePace is the least time between two "who is here" updates of
	// one list.
	presencePace = 500 * time.Millisecond
)

type presenceMsg struct {
	Instance string      `json:"i"`
	List     uuid.UUID   `json:"l"`
	Users    []uuid.UUID `json:"u"`
	// Renamed, in a message of its own, is a user whose display name
	// changed: the lists they look at show it anew.
	Renamed uuid.UUID `json:"r,omitzero"`
}

type presenceEntry struct {
	users   []uuid.UUID
	expires time.Time
}

// presence is the hub's view of everyone's viewers.
type presence struct {
	mu    sync.Mutex
	seen  map[uuid.UUID]map[string]presenceEntry // list -> instance -> viewers
	dirty map[uuid.UUID]struct{}                 // lists whose local viewers changed
	wake  chan struct{}
}

func newPresence() *presence {
	return &presence{seen: map[uuid.UUID]map[string]presenceEntry{}, dirty: map[uuid.UUID]struct{}{}, wake: make(chan struct{}, 1)}
}

// changed notes that list's local viewers changed; the announcer sends it.
func (p *presence) changed(list uuid.UUID) {
	p.mu.Lock()
	p.dirty[list] = struct{}{}
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// record stores an announcement and reports whether the list's viewers,
// across instances, changed.
func (p *presence) record(m presenceMsg, now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	before := p.viewersLocked(m.List, now)
	if p.seen[m.List] == nil {
		p.seen[m.List] = map[string]presenceEntry{}
	}
	if len(m.Users) == 0 {
		delete(p.seen[m.List], m.Instance)
	} else {
		p.seen[m.List][m.Instance] = presenceEntry{users: m.Users, expires: now.Add(presenceTTL)}
	}
	return !slices.Equal(before, p.viewersLocked(m.List, now))
}

// watching is the lists user is looking at now, on any instance.
func (p *presence) watching(user uuid.UUID, now time.Time) []uuid.UUID {
	p.mu.Lock()
	defer p.mu.Unlock()
	var lists []uuid.UUID
	for list := range p.seen {
		if slices.Contains(p.viewersLocked(list, now), user) {
			lists = append(lists, list)
		}
	}
	return lists
}

// viewers is everyone looking at list now, each user once, sorted.
func (p *presence) viewers(list uuid.UUID, now time.Time) []uuid.UUID {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.viewersLocked(list, now)
}

func (p *presence) viewersLocked(list uuid.UUID, now time.Time) []uuid.UUID {
	var all []uuid.UUID
	for _, e := range p.seen[list] {
		if now.Before(e.expires) {
			all = append(all, e.users...)
		}
	}
	slices.SortFunc(all, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	return slices.Compact(all)
}

// expire drops entries past their time and returns the lists that changed.
func (p *presence) expire(now time.Time) []uuid.UUID {
	p.mu.Lock()
	defer p.mu.Unlock()
	var changed []uuid.UUID
	for list, byInstance := range p.seen {
		for inst, e := range byInstance {
			if !now.Before(e.expires) {
				delete(byInstance, inst)
				changed = append(changed, list)
			}
		}
		if len(byInstance) == 0 {
			delete(p.seen, list)
		}
	}
	return changed
}

// announceLoop sends this instance's viewers: changed lists at once, all
// lists every presenceEvery; and expires stale entries.
func (h *Hub) announceLoop(ctx context.Context) {
	tick := time.NewTicker(presenceEvery)
	defer tick.Stop()
	for {
		var lists []uuid.UUID
		select {
		case <-ctx.Done():
			return
		case <-h.presence.wake:
			h.presence.mu.Lock()
			for l := range h.presence.dirty {
				lists = append(lists, l)
			}
			clear(h.presence.dirty)
			h.presence.mu.Unlock()
		case now := <-tick.C:
			for _, l := range h.presence.expire(now) {
				h.presenceChanged(l)
			}
			h.mu.Lock()
			for l := range h.topics {
				lists = append(lists, l)
			}
			h.mu.Unlock()
		}
		for _, l := range lists {
			h.announce(ctx, l)
		}
	}
}

func (h *Hub) announce(ctx context.Context, list uuid.UUID) {
	var users []uuid.UUID
	h.mu.Lock()
	if t := h.topics[list]; t != nil {
		users = t.viewers()
	}
	h.mu.Unlock()
	if len(users) > maxPresenceIDs {
		users = users[:maxPresenceIDs]
	}
	b, _ := json.Marshal(presenceMsg{Instance: h.instance, List: list, Users: users})
	if err := h.cfg.Notify(ctx, presenceChannel, string(b)); err != nil && ctx.Err() == nil {
		h.log.Warn("live: announce presence", "err", err)
	}
}

// onPresence applies another (or this) instance's announcement.
func (h *Hub) onPresence(payload string) {
	var m presenceMsg
	if err := json.Unmarshal([]byte(payload), &m); err != nil {
		h.log.Warn("live: bad presence payload", "err", err)
		return
	}
	if m.Renamed != uuid.Nil {
		for _, list := range h.presence.watching(m.Renamed, time.Now()) {
			h.presenceChanged(list)
		}
		return
	}
	if h.presence.record(m, time.Now()) {
		h.presenceChanged(m.List)
	}
}

// Renamed tells every instance that user's display name changed, so that
// the lists they are looking at show it anew.
func (h *Hub) Renamed(ctx context.Context, user uuid.UUID) error {
	b, _ := json.Marshal(presenceMsg{Instance: h.instance, Renamed: user})
	return h.cfg.Notify(ctx, presenceChannel, string(b))
}

// presenceChanged has the list's topic render and send "who is here".
func (h *Hub) presenceChanged(list uuid.UUID) {
	h.mu.Lock()
	t := h.topics[list]
	h.mu.Unlock()
	if t != nil {
		t.presenceDue()
	}
}
