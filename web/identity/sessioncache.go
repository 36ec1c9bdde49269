package identity

import (
	"sync"
	"time"

	"github.com/google/uuid"
)

const (
	// sessionTTL is how long a loaded session is reused. It bounds how
	// stale a display name or recovery-code status changed through another
	// instance can look; sign-outs and merges drop entries at once.
	sessionTTL = 10 * time.Second
	// maxCachedSessions bounds the cache; when full it starts over.
	maxCachedSessions = 100_000
)

// sessionCache keeps sessions loaded in the last sessionTTL, so a device's
// requests in quick succession do not each query the database for it.
//
// A cached session must never outlive a sign-out or a merge: entries are
// dropped at once when this instance changes a device or user, and when
// the database announces a device deleted or moved (the moviedice_devices
// channel, which every instance's live hub listens to). Announcements
// arrive only while that LISTEN connection is up, so the cache is used only
// then: it starts off, and is emptied whenever the connection comes up
// again or goes down.
type sessionCache struct {
	mu      sync.Mutex
	on      bool
	entries map[uuid.UUID]cachedSession
	// gen moves on every forget: a session read from the database before
	// a forget may be stale, and is not stored after it.
	gen uint64
}

type cachedSession struct {
	sess  Session
	until time.Time
}

// get returns a copy of device's session if one is cached and fresh;
// otherwise the generation to pass to put with the session read instead.
func (c *sessionCache) get(device uuid.UUID, now time.Time) (*Session, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[device]
	if !ok || !c.on || now.After(e.until) {
		return nil, c.gen
	}
	s := e.sess // each request gets its own copy
	return &s, c.gen
}

// put caches s, read from the database at generation gen.
func (c *sessionCache) put(s *Session, now time.Time, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.on || gen != c.gen {
		return
	}
	if len(c.entries) >= maxCachedSessions {
		clear(c.entries)
	}
	c.entries[s.DeviceID] = cachedSession{sess: *s, until: now.Add(sessionTTL)}
}

func (c *sessionCache) forgetDevice(device uuid.UUID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.entries, device)
}

func (c *sessionCache) forgetUser(user uuid.UUID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for d, e := range c.entries {
		if e.sess.UserID == user {
			delete(c.entries, d)
		}
	}
}

func (c *sessionCache) enable(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.on = on
	clear(c.entries)
}

// CacheSessions turns the session cache on while announcements of device
// changes are being received (the live hub's LISTEN connection is up) and
// off when they may be missed; either way it starts empty.
func (s *Service) CacheSessions(on bool) { s.cached.enable(on) }

// ForgetDevice drops device's cached session: the database announced it
// deleted (signed out) or moved to another user (merged).
func (s *Service) ForgetDevice(device uuid.UUID) { s.cached.forgetDevice(device) }

// cookieCache remembers what cookie values decoded to in the last
// sessionTTL: a browser sends the same cookie with every request, and
// decrypting and authenticating it again costs more than a cached
// session's lookup. Only cookies that decoded under our keys are kept, so
// made-up ones cannot fill it; decoding depends on nothing that changes,
// so unlike sessions it needs no forgetting.
type cookieCache struct {
	mu      sync.Mutex
	entries map[string]cachedCookie
}

type cachedCookie struct {
	st    cookieState
	until time.Time
}

func (c *cookieCache) get(value string, now time.Time) (cookieState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[value]
	if !ok || now.After(e.until) {
		return cookieState{}, false
	}
	return e.st, true
}

func (c *cookieCache) put(value string, st cookieState, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxCachedSessions {
		clear(c.entries)
	}
	c.entries[value] = cachedCookie{st: st, until: now.Add(sessionTTL)}
}
