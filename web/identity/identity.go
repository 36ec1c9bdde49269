// Package identity is who you are in MovieDice: users minted silently at a
// browser's first contribution, device sessions in an encrypted cookie,
// recovery codes as the only credential, claiming an account on another
// device (merging a guest into it), signing devices out, and the reaper
// that removes abandoned guests. It never imports web.
package identity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"
	"github.com/gorilla/sessions"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/moviedice/moviedice/queries"
)

// Config is what the identity service needs.
type Config struct {
	Pool *pgxpool.Pool
	Log  *slog.Logger
	// CookieKeys, newest first, each 32+ bytes.
	CookieKeys [][]byte
	// Pepper keys the HMAC of recovery-code selectors.
	Pepper []byte
	// SecureCookies sets the cookie's Secure flag (https base URL).
	SecureCookies bool
	// MintsPerMinute and ClaimsPerMinute limit each client address;
	// ClaimsPerSecond limits claims from everyone together.
	MintsPerMinute  int
	ClaimsPerMinute int
	ClaimsPerSecond int
	// CodesPerMinute limits how often one user may make a new recovery code.
	CodesPerMinute int
	// Registerer receives the service's metrics.
	Registerer prometheus.Registerer
}

// Service is the identity side of the app.
type Service struct {
	pool   *pgxpool.Pool
	q      *queries.Queries
	log    *slog.Logger
	store  *sessions.CookieStore
	cookie string // the session cookie's name
	pepper []byte
	argon  argonParams
	// argonSlots bounds concurrent argon2id runs to the cores: each takes
	// 19 MiB and a core for tens of milliseconds.
	argonSlots chan struct{}
	// dummyVerifier is verified against when a selector matches nothing,
	// so a miss costs what a hit does.
	dummyVerifier string
	mints         *keyedLimiter
	claims        *keyedLimiter
	claimsGlobal  *keyedLimiter
	newCodes      *keyedLimiter // per user: each new code costs an argon2id run
	cached        sessionCache  // recently loaded sessions
	cookies       cookieCache   // recently decoded cookies
	metrics       *metrics
	// mergeStepHook, when set (by tests), runs before each merge step and
	// can fail the merge there.
	mergeStepHook func(step string) error
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if len(cfg.CookieKeys) == 0 || len(cfg.Pepper) < 32 {
		return nil, errors.New("identity: cookie keys and a 32-byte pepper are required")
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	s := &Service{
		pool:         cfg.Pool,
		q:            queries.New(cfg.Pool),
		log:          cfg.Log,
		store:        newCookieStore(cfg.CookieKeys, cfg.SecureCookies),
		cookie:       cookieName,
		pepper:       cfg.Pepper,
		argon:        defaultArgon,
		argonSlots:   make(chan struct{}, runtime.GOMAXPROCS(0)),
		mints:        newKeyedLimiter(perMinute(cfg.MintsPerMinute, 20)),
		claims:       newKeyedLimiter(perMinute(cfg.ClaimsPerMinute, 10)),
		claimsGlobal: newKeyedLimiter(perSecond(cfg.ClaimsPerSecond, 50)),
		newCodes:     newKeyedLimiter(perMinute(cfg.CodesPerMinute, 3)),
		cached:       sessionCache{entries: map[uuid.UUID]cachedSession{}},
		cookies:      cookieCache{entries: map[string]cachedCookie{}},
		metrics:      m,
	}
	if cfg.SecureCookies {
		s.cookie = secureCookieName
	}
	s.dummyVerifier = s.argon.hash(NewCode())
	return s, nil
}

// clientAddr is the address rate limits are kept by: the peer's IP, or
// for IPv6 its /64, since one host commonly holds a whole /64.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	if ip = ip.Unmap(); ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// errTooManyMints is returned when an address creates identities too fast.
var errTooManyMints = &queries.Error{Code: queries.ETOOMANY,
	Message: "Too many new visitors from your network just now. Please wait a minute and try again."}

// ContributeFunc does a contribution's writes as userID, inside the
// contribution's transaction.
type ContributeFunc func(ctx context.Context, q *queries.Queries, userID uuid.UUID) error

// errSignedOut: the request's device was signed out while it ran.
var errSignedOut = queries.Errorf(queries.ENOTFOUND, "Not found.")

// Contribute runs fn in one transaction as the request's user. A visitor
// (or a browser signed out meanwhile) gets a user and a device minted in
// that same transaction, rate-limited per address, and the session cookie
// once it commits; if fn fails, nothing is minted. It returns the user fn
// ran as.
func (s *Service) Contribute(w http.ResponseWriter, r *http.Request, fn ContributeFunc) (uuid.UUID, error) {
	if FromContext(r.Context()) == nil {
		return s.mint(w, r, fn)
	}
	userID, err := s.ActAs(r, fn)
	if err == errSignedOut {
		return s.mint(w, r, fn)
	}
	return userID, err
}

// ActAs runs a signed-in request's writes: fn in one transaction as the
// user the request's device belongs to now, with row-level security set
// for that user. A visitor gets ENOTFOUND.
//
// The transaction acts for the device's user from its start, then
// key-share locks that user, the order a merge locks in (users first),
// and checks the device is still that user's once it holds the lock.
// So a write racing a merge of its user either commits first, and its
// rows move with the merge, or waits, finds its user gone, and runs again
// as the merged account the device now belongs to; a write that hit the
// merge mid-flight (a foreign key to the deleted user) runs again too.
func (s *Service) ActAs(r *http.Request, fn ContributeFunc) (uuid.UUID, error) {
	ctx := r.Context()
	sess := FromContext(ctx)
	if sess == nil {
		return uuid.Nil, queries.Errorf(queries.ENOTFOUND, "Not found.")
	}
	var err error
	for range 3 {
		var userID uuid.UUID
		err = queries.InTxAsUserOfDevice(ctx, s.pool, sess.DeviceID, func(q *queries.Queries) error {
			var err error
			if userID, err = q.LockUserOfDevice(ctx, sess.DeviceID); err != nil {
				return queries.Translate(err)
			}
			still, err := q.DeviceStillOfUser(ctx, queries.DeviceStillOfUserParams{DeviceID: sess.DeviceID, UserID: userID})
			if err != nil {
				return err
			}
			if !still { // retired or moved while the lock waited: again
				userID = uuid.Nil
				return queries.Errorf(queries.ENOTFOUND, "Not found.")
			}
			return fn(ctx, q, userID)
		})
		lockFailed := userID == uuid.Nil && queries.ErrorCode(err) == queries.ENOTFOUND
		if err == nil || !(lockFailed || queries.IsForeignKeyViolation(err) || queries.IsTransient(err)) {
			return userID, err
		}
	}
	switch {
	case queries.ErrorCode(err) == queries.ENOTFOUND && s.replacedLately(ctx, sess.DeviceID):
		return uuid.Nil, ErrReplaced // not signed out: signed in anew, with a new cookie
	case queries.ErrorCode(err) == queries.ENOTFOUND:
		return uuid.Nil, errSignedOut
	case queries.IsTransient(err):
		return uuid.Nil, err
	}
	// Still a foreign key violation after the retries: what the write
	// refers to is gone (a list deleted meanwhile, say).
	return uuid.Nil, queries.Errorf(queries.ENOTFOUND, "Not found.")
}

func (s *Service) mint(w http.ResponseWriter, r *http.Request, fn ContributeFunc) (uuid.UUID, error) {
	ctx := r.Context()
	if !s.mints.allow(clientAddr(r)) {
		s.metrics.rateLimited.WithLabelValues("mint").Inc()
		return uuid.Nil, errTooManyMints
	}
	// The new user's id is drawn here, so that the transaction acts as it
	// from the start: row-level security lets the app create no one else.
	userID, deviceID := uuid.New(), uuid.Nil
	err := queries.InTxAsUser(ctx, s.pool, userID, func(q *queries.Queries) error {
		if err := q.CreateUser(ctx, queries.CreateUserParams{ID: userID, DisplayName: NewDisplayName()}); err != nil {
			return fmt.Errorf("mint: user: %w", err)
		}
		var err error
		if deviceID, err = q.CreateDevice(ctx, queries.CreateDeviceParams{UserID: userID, UserAgent: userAgent(r)}); err != nil {
			return fmt.Errorf("mint: device: %w", err)
		}
		return fn(ctx, q, userID)
	})
	if err != nil {
		return uuid.Nil, err
	}
	s.metrics.minted.Inc()
	if err := s.setCookie(w, r, deviceID); err != nil {
		return uuid.Nil, fmt.Errorf("mint: cookie: %w", err)
	}
	return userID, nil
}

// userAgent is the request's User-Agent as valid text without control
// characters, cut to what the devices table keeps.
func userAgent(r *http.Request) string {
	ua := []rune(strings.ToValidUTF8(r.UserAgent(), ""))
	ua = slices.DeleteFunc(ua, unicode.IsControl)
	return string(ua[:min(len(ua), 512)])
}

// Rename changes the display name of the request's user, after cleaning
// it, as a write (ActAs): of the user the device belongs to when it
// commits, whom it returns.
func (s *Service) Rename(r *http.Request, input string) (uuid.UUID, error) {
	name, err := CleanDisplayName(input)
	if err != nil {
		return uuid.Nil, err
	}
	userID, err := s.ActAs(r, func(ctx context.Context, q *queries.Queries, userID uuid.UUID) error {
		n, err := q.RenameUser(ctx, queries.RenameUserParams{ID: userID, DisplayName: name})
		if err == nil && n == 0 {
			err = queries.Errorf(queries.ENOTFOUND, "Not found.")
		}
		return err
	})
	if err != nil {
		return uuid.Nil, err
	}
	s.cached.forgetUser(userID)
	return userID, nil
}

// RunEvery calls fn every interval until ctx is done, logging failures.
func RunEvery(ctx context.Context, log *slog.Logger, name string, interval time.Duration, fn func(context.Context) error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := fn(ctx); err != nil && ctx.Err() == nil {
				log.Error(name, "err", err)
			}
		}
	}
}
