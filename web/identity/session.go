package identity

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"

	"github.com/moviedice/moviedice/queries"
)

const (
	// cookieName is the session cookie's name; over https it carries the
	// __Host- prefix, so no subdomain can plant one.
	cookieName       = "md_session"
	secureCookieName = "__Host-md_session"
	// cookieMaxAge is the longest lifetime browsers honour (400 days).
	cookieMaxAge = 400 * 24 * time.Hour
	// refreshEvery is how often a used cookie is re-issued (sliding expiry).
	refreshEvery = 24 * time.Hour
	// touchEvery is how often a device's last_seen_at is written.
	touchEvery = time.Minute

	keyDevice = "d" // device id, the only identity in the cookie
	keyIssued = "t" // unix seconds the cookie was issued, for the refresh rule
)

// Session is the signed-in device and its user, loaded once per request.
type Session struct {
	DeviceID      uuid.UUID
	UserID        uuid.UUID
	DisplayName   string
	UserCreatedAt time.Time
	// SecuredAt is when the user's recovery code was made; nil if none.
	SecuredAt *time.Time
}

type sessionKey struct{}

// FromContext returns the request's session, or nil for a visitor.
func FromContext(ctx context.Context) *Session {
	s, _ := ctx.Value(sessionKey{}).(*Session)
	return s
}

func withSession(ctx context.Context, s *Session) context.Context {
	return context.WithValue(ctx, sessionKey{}, s)
}

type replacedKey struct{}

// Replaced reports whether the request came with the cookie of a device a
// claim has just replaced (the browser signed in to an account, with a
// new cookie, while this request was on its way). It is a visitor's
// request, but must not change anything: ErrReplaced says why.
func Replaced(ctx context.Context) bool {
	replaced, _ := ctx.Value(replacedKey{}).(bool)
	return replaced
}

type endedKey struct{}

// Ended reports whether the request's cookie named a session that is gone
// (its device signed out, or a cookie no key opens any more): the
// middleware cleared it, and the request is a visitor's. An error page can
// then say the browser was signed out rather than that nothing is there;
// it depends on the cookie alone.
func Ended(ctx context.Context) bool {
	ended, _ := ctx.Value(endedKey{}).(bool)
	return ended
}

func withEnded(r *http.Request) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), endedKey{}, true))
}

// ErrReplaced answers a write sent with a device's cookie just before a
// claim replaced that device.
var ErrReplaced = &queries.Error{Code: queries.ECONFLICT,
	Message: "This browser has just signed in to another account, so that was not saved. Please try again."}

// replacedLately reports whether a claim replaced deviceID in the last
// few minutes; an error counts as no.
func (s *Service) replacedLately(ctx context.Context, deviceID uuid.UUID) bool {
	replaced, err := s.q.WasDeviceReplaced(ctx, deviceID)
	if err != nil {
		s.log.WarnContext(ctx, "replaced device lookup", "err", err)
	}
	return replaced
}

// newCookieStore derives an (HMAC, AES-256) key pair from each configured
// key, newest first: cookies are written with the newest and read with any.
func newCookieStore(keys [][]byte, secure bool) *sessions.CookieStore {
	var pairs [][]byte
	for _, k := range keys {
		pairs = append(pairs, derive(k, "moviedice cookie hmac"), derive(k, "moviedice cookie aes"))
	}
	store := sessions.NewCookieStore(pairs...)
	for _, c := range store.Codecs {
		c.(*securecookie.SecureCookie).SetSerializer(compactSerializer{})
	}
	store.Options = &sessions.Options{
		Path:     "/",
		MaxAge:   int(cookieMaxAge.Seconds()),
		Secure:   secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
	store.MaxAge(store.Options.MaxAge)
	return store
}

func derive(key []byte, purpose string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// cookieState is what a request's cookie said.
type cookieState struct {
	deviceID uuid.UUID
	present  bool // a session cookie was sent
	valid    bool // and it decoded under one of our keys
	stale    bool // and it should be re-issued (old key, or older than a day)
}

func (s *Service) readCookie(r *http.Request) cookieState {
	c, err := r.Cookie(s.cookie)
	if err != nil {
		return cookieState{}
	}
	now := time.Now()
	if st, ok := s.cookies.get(c.Value, now); ok {
		return st
	}
	st := s.decodeCookie(c.Value, now)
	if st.valid {
		s.cookies.put(c.Value, st, now)
	}
	return st
}

// decodeCookie opens a session cookie's value.
func (s *Service) decodeCookie(value string, now time.Time) cookieState {
	st := cookieState{present: true}
	// The store's codecs, newest key first, decoded once: a cookie only an
	// older key opens is valid but due for re-issue under the newest.
	var values map[any]any
	newestKey := securecookie.DecodeMulti(s.cookie, value, &values, s.store.Codecs[0]) == nil
	if !newestKey && securecookie.DecodeMulti(s.cookie, value, &values, s.store.Codecs[1:]...) != nil {
		return st
	}
	id, _ := values[keyDevice].(string)
	issued, _ := values[keyIssued].(int64)
	var err error
	if st.deviceID, err = uuid.Parse(id); err != nil {
		return st
	}
	st.valid = true
	st.stale = !newestKey || now.Sub(time.Unix(issued, 0)) > refreshEvery
	return st
}

// setCookie issues a fresh session cookie for deviceID.
func (s *Service) setCookie(w http.ResponseWriter, r *http.Request, deviceID uuid.UUID) error {
	sess := sessions.NewSession(s.store, s.cookie)
	opts := *s.store.Options
	sess.Options = &opts
	sess.Values[keyDevice] = deviceID.String()
	sess.Values[keyIssued] = time.Now().Unix()
	return s.store.Save(r, w, sess)
}

// clearCookie tells the browser to forget its session cookie.
func (s *Service) clearCookie(w http.ResponseWriter) {
	opts := *s.store.Options
	opts.MaxAge = -1
	http.SetCookie(w, sessions.NewCookie(s.cookie, "", &opts))
}

// Middleware loads the session named by the request's cookie into the
// request context. A cookie that does not decode, or names a device that
// no longer exists, makes the request a visitor's and is cleared (Ended);
// unless
// a claim replaced that device moments ago (Replaced): then the browser
// already holds its new cookie, which clearing would delete. A GET
// without a cookie touches nothing. A session that cannot be read (the
// database unreachable) goes to unavailable instead of next: the request
// is neither served as a visitor's nor its cookie cleared.
func (s *Service) Middleware(next, unavailable http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := s.readCookie(r)
		if !st.present {
			next.ServeHTTP(w, r)
			return
		}
		if !st.valid {
			s.clearCookie(w)
			next.ServeHTTP(w, withEnded(r))
			return
		}
		sess, err := s.loadSession(r.Context(), st.deviceID)
		if err != nil {
			if queries.ErrorCode(err) != queries.ENOTFOUND {
				s.log.ErrorContext(r.Context(), "load session", "err", err)
				unavailable.ServeHTTP(w, r)
				return
			}
			if s.replacedLately(r.Context(), st.deviceID) {
				next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), replacedKey{}, true)))
				return
			}
			s.clearCookie(w)
			next.ServeHTTP(w, withEnded(r))
			return
		}
		if st.stale {
			if err := s.setCookie(w, r, sess.DeviceID); err != nil {
				s.log.ErrorContext(r.Context(), "refresh session cookie", "err", err)
			}
		}
		next.ServeHTTP(w, r.WithContext(withSession(r.Context(), sess)))
	})
}

// loadSession reads device + user in one indexed query, unless it was read
// in the last sessionTTL (see sessionCache), and records activity at most
// once a minute, acting as the user it found.
func (s *Service) loadSession(ctx context.Context, deviceID uuid.UUID) (*Session, error) {
	now := time.Now()
	sess, gen := s.cached.get(deviceID, now)
	if sess != nil {
		return sess, nil
	}
	row, err := s.q.GetSessionForDevice(ctx, deviceID)
	if err != nil {
		return nil, queries.Translate(err)
	}
	if time.Since(row.DeviceSeenAt) > touchEvery {
		err := queries.ReadAsUser(ctx, s.pool, row.UserID, func(q *queries.Queries) error { return q.TouchDevice(ctx, deviceID) })
		if err != nil && !errors.Is(err, context.Canceled) {
			s.log.WarnContext(ctx, "touch device", "err", err)
		}
	}
	sess = &Session{
		DeviceID:      row.DeviceID,
		UserID:        row.UserID,
		DisplayName:   row.DisplayName,
		UserCreatedAt: row.UserCreatedAt,
		SecuredAt:     row.SecuredAt,
	}
	s.cached.put(sess, now, gen)
	return sess, nil
}

// compactSerializer writes a session's two values as "device-id|issued"
// (gob, securecookie's default, costs more to decode than the rest of a
// request's cookie handling together); anything else, such as a claim
// token, as JSON.
type compactSerializer struct{}

func (compactSerializer) Serialize(src any) ([]byte, error) {
	if v, ok := src.(map[any]any); ok {
		id, _ := v[keyDevice].(string)
		issued, _ := v[keyIssued].(int64)
		return []byte(id + "|" + strconv.FormatInt(issued, 10)), nil
	}
	return json.Marshal(src)
}

func (compactSerializer) Deserialize(src []byte, dst any) error {
	v, ok := dst.(*map[any]any)
	if !ok {
		return json.Unmarshal(src, dst)
	}
	id, issued, found := strings.Cut(string(src), "|")
	n, err := strconv.ParseInt(issued, 10, 64)
	if !found || err != nil {
		// A cookie from before this format (gob, securecookie's default)
		// still reads; it is rewritten at its next refresh.
		return securecookie.GobEncoder{}.Deserialize(src, dst)
	}
	*v = map[any]any{keyDevice: id, keyIssued: n}
	return nil
}
