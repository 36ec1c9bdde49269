package identity

import (
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestSessionCache(t *testing.T) {
	now := time.Now()
	newCache := func() *sessionCache {
		c := &sessionCache{entries: map[uuid.UUID]cachedSession{}}
		c.enable(true)
		return c
	}
	load := func(c *sessionCache, s *Session) { // what loadSession does on a miss
		_, gen := c.get(s.DeviceID, now)
		c.put(s, now, gen)
	}
	s := &Session{DeviceID: uuid.New(), UserID: uuid.New(), DisplayName: "Quiet Otter"}

	t.Run("a loaded session is reused until it is too old", func(t *testing.T) {
		c := newCache()
		load(c, s)
		if got, _ := c.get(s.DeviceID, now.Add(sessionTTL-time.Millisecond)); got == nil || *got != *s {
			t.Errorf("got %v", got)
		}
		if got, _ := c.get(s.DeviceID, now.Add(sessionTTL+time.Millisecond)); got != nil {
			t.Error("an expired session was reused")
		}
	})
	t.Run("each request gets its own copy", func(t *testing.T) {
		c := newCache()
		load(c, s)
		got, _ := c.get(s.DeviceID, now)
		got.DisplayName = "Changed by a handler"
		if again, _ := c.get(s.DeviceID, now); again.DisplayName != s.DisplayName {
			t.Error("a change to one request's session reached the cache")
		}
	})
	t.Run("nothing is cached while announcements could be missed", func(t *testing.T) {
		c := newCache()
		load(c, s)
		c.enable(false)
		if got, _ := c.get(s.DeviceID, now); got != nil {
			t.Error("turning the cache off kept what it had")
		}
		load(c, s)
		if got, _ := c.get(s.DeviceID, now); got != nil {
			t.Error("a session was cached while the cache was off")
		}
		c.enable(true)
		if got, _ := c.get(s.DeviceID, now); got != nil {
			t.Error("turning the cache on again brought old sessions back")
		}
	})
	t.Run("forgetting a device or a user drops their sessions", func(t *testing.T) {
		c := newCache()
		other := &Session{DeviceID: uuid.New(), UserID: s.UserID}
		stranger := &Session{DeviceID: uuid.New(), UserID: uuid.New()}
		for _, x := range []*Session{s, other, stranger} {
			load(c, x)
		}
		c.forgetDevice(s.DeviceID)
		if got, _ := c.get(s.DeviceID, now); got != nil {
			t.Error("a forgotten device is still cached")
		}
		c.forgetUser(s.UserID)
		if got, _ := c.get(other.DeviceID, now); got != nil {
			t.Error("a forgotten user's other device is still cached")
		}
		if got, _ := c.get(stranger.DeviceID, now); got == nil {
			t.Error("forgetting one user dropped another's session")
		}
	})
	t.Run("a session read before a forget is not stored after it", func(t *testing.T) {
		c := newCache()
		_, gen := c.get(s.DeviceID, now) // a request misses and reads the database...
		c.forgetDevice(s.DeviceID)       // ...meanwhile the device is signed out...
		c.put(s, now, gen)               // ...and what it read arrives late
		if got, _ := c.get(s.DeviceID, now); got != nil {
			t.Error("a stale read was cached after the forget")
		}
	})
}

func TestCookieCache(t *testing.T) {
	now := time.Now()
	c := &cookieCache{entries: map[string]cachedCookie{}}
	st := cookieState{deviceID: uuid.New(), present: true, valid: true}
	c.put("value", st, now)
	if got, ok := c.get("value", now.Add(sessionTTL-time.Millisecond)); !ok || got != st {
		t.Errorf("got %+v, %v", got, ok)
	}
	if _, ok := c.get("value", now.Add(sessionTTL+time.Millisecond)); ok {
		t.Error("an expired entry was used")
	}
	if _, ok := c.get("other", now); ok {
		t.Error("a value never put was found")
	}
	for i := range maxCachedSessions + 1 {
		c.put(strconv.Itoa(i), st, now)
	}
	if n := len(c.entries); n > maxCachedSessions {
		t.Errorf("%d entries, bound %d", n, maxCachedSessions)
	}
}
