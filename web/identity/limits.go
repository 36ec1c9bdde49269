package identity

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limit is a token-bucket rate and burst.
type limit struct {
	every rate.Limit
	burst int
}

// perMinute is n events a minute (def when n is 0), with a burst of n.
func perMinute(n, def int) limit {
	if n <= 0 {
		n = def
	}
	return limit{every: rate.Limit(float64(n) / 60), burst: n}
}

// perSecond is n events a second (def when n is 0), with a burst of n.
func perSecond(n, def int) limit {
	if n <= 0 {
		n = def
	}
	return limit{every: rate.Limit(n), burst: n}
}

// maxKeys bounds the buckets a limiter keeps. Past it, new keys share one
// bucket, so a flood of fresh addresses is throttled together instead of
// growing memory.
const maxKeys = 100_000

// keyedLimiter keeps one token bucket per key (a client address), and
// forgets buckets idle long enough to be full again.
type keyedLimiter struct {
	limit limit
	mu    sync.Mutex
	seen  map[string]*bucket
	swept time.Time
}

type bucket struct {
	lim  *rate.Limiter
	last time.Time
}

func newKeyedLimiter(l limit) *keyedLimiter {
	return &keyedLimiter{limit: l, seen: map[string]*bucket{}, swept: time.Now()}
}

// allow takes a token from key's bucket, reporting whether there was one.
func (k *keyedLimiter) allow(key string) bool {
	now := time.Now()
	k.mu.Lock()
	defer k.mu.Unlock()
	if now.Sub(k.swept) > time.Minute {
		for key, b := range k.seen {
			if now.Sub(b.last) > 10*time.Minute {
				delete(k.seen, key)
			}
		}
		k.swept = now
	}
	b, ok := k.seen[key]
	if !ok && len(k.seen) >= maxKeys {
		key = "overflow"
		b, ok = k.seen[key]
	}
	if !ok {
		b = &bucket{lim: rate.NewLimiter(k.limit.every, k.limit.burst)}
		k.seen[key] = b
	}
	b.last = now
	return b.lim.AllowN(now, 1)
}
