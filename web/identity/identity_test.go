package identity

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/securecookie"
	"golang.org/x/time/rate"

	"github.com/moviedice/moviedice/queries"
	"github.com/moviedice/moviedice/web/pgdev/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

var (
	testKey    = bytes.Repeat([]byte{1}, 32)
	testPepper = bytes.Repeat([]byte{2}, 32)
)

type fixture struct {
	svc *Service
	db  *pgtest.DB
}

func mustFixture(t testing.TB) *fixture {
	t.Helper()
	db := pgtest.New(t)
	return &fixture{svc: mustService(t, db, [][]byte{testKey}), db: db}
}

func mustService(t testing.TB, db *pgtest.DB, keys [][]byte) *Service {
	t.Helper()
	svc, err := New(Config{Pool: db.Pool(t), Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		CookieKeys: keys, Pepper: testPepper, MintsPerMinute: 100000, ClaimsPerMinute: 100000, ClaimsPerSecond: 100000})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// request returns a POST from 127.0.0.1 carrying sess (nil: a visitor).
func request(sess *Session) *http.Request {
	r := httptest.NewRequest("POST", "/", nil)
	if sess != nil {
		r = r.WithContext(withSession(r.Context(), sess))
	}
	return r
}

// addList is a contribution: a list owned by the user, who is its member.
func addList(name string) ContributeFunc {
	return func(ctx context.Context, q *queries.Queries, userID uuid.UUID) error {
		id, err := q.CreateList(ctx, queries.CreateListParams{OwnerID: userID, Name: name, InviteToken: uuid.NewString()})
		if err != nil {
			return err
		}
		return q.AddOwnerMembership(ctx, queries.AddOwnerMembershipParams{ListID: id, OwnerID: userID})
	}
}

// mustGuest mints a user by contributing a list, and returns its session.
func (f *fixture) mustGuest(t testing.TB, lists ...string) *Session {
	t.Helper()
	w := httptest.NewRecorder()
	userID, err := f.svc.Contribute(w, request(nil), addList("first"))
	if err != nil {
		t.Fatal(err)
	}
	sess := f.sessionFromCookie(t, w)
	if sess.UserID != userID {
		t.Fatalf("cookie names user %s, contribution ran as %s", sess.UserID, userID)
	}
	for _, name := range lists {
		if _, err := f.svc.Contribute(httptest.NewRecorder(), request(sess), addList(name)); err != nil {
			t.Fatal(err)
		}
	}
	return sess
}

// sessionFromCookie loads the session a response's cookie names.
func (f *fixture) sessionFromCookie(t testing.TB, w *httptest.ResponseRecorder) *Session {
	t.Helper()
	r := httptest.NewRequest("GET", "/", nil)
	for _, c := range w.Result().Cookies() {
		r.AddCookie(c)
	}
	var sess *Session
	f.svc.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { sess = FromContext(r.Context()) }), nil).
		ServeHTTP(httptest.NewRecorder(), r)
	if sess == nil {
		t.Fatal("response carries no usable session cookie")
	}
	return sess
}

// mustAccount makes a user with a list and a recovery code.
func (f *fixture) mustAccount(t testing.TB) (*Session, string) {
	t.Helper()
	sess := f.mustGuest(t)
	return sess, f.mustCode(t, sess)
}

// mustCode gives the user of sess a new recovery code, asked for from its
// device, and returns it.
func (f *fixture) mustCode(t testing.TB, sess *Session) string {
	t.Helper()
	code, err := f.svc.NewRecoveryCode(request(sess))
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// mustPreview claims code as sess and expects a merge preview.
func (f *fixture) mustPreview(t *testing.T, sess *Session, code string) *ClaimResult {
	t.Helper()
	res, err := f.svc.Claim(httptest.NewRecorder(), request(sess), code)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != NeedsConfirmation {
		t.Fatalf("outcome %v, want a preview", res.Outcome)
	}
	return res
}

// mustConfirmPending confirms the preview token as sess, with the merge
// failing at its first attempt: signed in, the guest's data still the
// guest's, the merge pending its retry.
func (f *fixture) mustConfirmPending(t *testing.T, sess *Session, token string) {
	t.Helper()
	failed := false
	f.svc.mergeStepHook = func(string) error {
		if !failed {
			failed = true
			return errors.New("injected")
		}
		return nil
	}
	if outcome, err := f.svc.ConfirmClaim(httptest.NewRecorder(), request(sess), token); err != nil || outcome != MergePending {
		t.Fatalf("confirm: %v %v, want the merge pending", outcome, err)
	}
	if !failed {
		t.Fatalf("the merge failed before its first step: %s", f.mergeError(t))
	}
}

// mergeError is the error the last failed run of a merge recorded.
func (f *fixture) mergeError(t *testing.T) string {
	t.Helper()
	var e string
	f.db.Super(t).QueryRow(context.Background(), "SELECT error FROM merges ORDER BY updated_at DESC LIMIT 1").Scan(&e)
	return e
}

func (f *fixture) count(t testing.TB, sql string, args ...any) int64 {
	t.Helper()
	return f.db.MustCount(t, sql, args...)
}

// ownedBy counts the rows user made or joined, across every table.
func (f *fixture) ownedBy(t *testing.T, user uuid.UUID) int64 {
	t.Helper()
	return f.count(t, `SELECT (SELECT count(*) FROM lists WHERE owner_id = $1) + (SELECT count(*) FROM list_members WHERE user_id = $1)
		+ (SELECT count(*) FROM movies WHERE added_by = $1) + (SELECT count(*) FROM rolls WHERE rolled_by = $1)`, user)
}

func TestMergeFaultInjection(t *testing.T) {
	f := mustFixture(t)
	ctx := context.Background()
	b, code := f.mustAccount(t)
	a := f.mustGuest(t, "second")
	f.db.MustExec(t, `INSERT INTO movies (list_id, added_by, title) SELECT id, owner_id, 'Alien' FROM lists WHERE owner_id = $1`, a.UserID)
	f.db.MustExec(t, `INSERT INTO rolls (list_id, movie_id, rolled_by, title) SELECT list_id, id, added_by, title FROM movies WHERE added_by = $1`, a.UserID)
	before := f.ownedBy(t, a.UserID)

	res := f.mustPreview(t, a, code)
	f.svc.mergeStepHook = func(step string) error {
		if step == "rolls" {
			return errors.New("injected failure")
		}
		return nil
	}
	w := httptest.NewRecorder()
	outcome, err := f.svc.ConfirmClaim(w, request(a), res.Token)
	if err != nil || outcome != MergePending {
		t.Fatalf("confirm: %v %v, want a pending merge", outcome, err)
	}

	t.Run("the sign-in stands while the merge waits", func(t *testing.T) {
		if got := f.sessionFromCookie(t, w); got.UserID != b.UserID {
			t.Errorf("signed in as %s, want %s", got.UserID, b.UserID)
		}
	})
	t.Run("the guest's rows are untouched and the failure recorded", func(t *testing.T) {
		if after := f.ownedBy(t, a.UserID); after != before {
			t.Errorf("guest owns %d rows, had %d", after, before)
		}
		var status, errText string
		var attempts int
		if err := f.db.Super(t).QueryRow(ctx, "SELECT status, error, attempts FROM merges WHERE from_user = $1", a.UserID).Scan(&status, &errText, &attempts); err != nil {
			t.Fatal(err)
		}
		if status != "pending" || attempts != 1 || !bytes.Contains([]byte(errText), []byte("injected failure")) {
			t.Errorf("merge row: %s, %d attempts, %q", status, attempts, errText)
		}
		if acct, err := f.svc.Account(ctx, b); err != nil || acct.PendingMerges != 1 || acct.FailedMerges != 0 {
			t.Errorf("account does not show one pending merge: %+v (%v)", acct, err)
		}
	})
	t.Run("a retry before it is due does nothing", func(t *testing.T) {
		f.svc.mergeStepHook = nil
		if n, err := f.svc.RetryMerges(ctx); err != nil || n != 0 {
			t.Errorf("retried %d early (%v)", n, err)
		}
	})
	t.Run("a merge that keeps failing is marked failed, and still tried hourly", func(t *testing.T) {
		f.svc.mergeStepHook = func(string) error { return errors.New("injected failure") }
		for range maxMergeAttempts + 2 {
			f.db.MustExec(t, "UPDATE merges SET next_attempt_at = now()")
			if n, err := f.svc.RetryMerges(ctx); err != nil || n != 0 {
				t.Fatalf("retried %d (%v)", n, err)
			}
		}
		if n := f.count(t, `SELECT count(*) FROM merges WHERE status = 'failed' AND attempts = $1
			AND next_attempt_at BETWEEN now() + interval '59 minutes' AND now() + interval '1 hour'`, maxMergeAttempts+3); n != 1 {
			t.Error("the merge is not marked failed, due again within the hour")
		}
		if acct, err := f.svc.Account(ctx, b); err != nil || acct.FailedMerges != 1 {
			t.Errorf("account does not show the failed merge: %+v (%v)", acct, err)
		}
		if after := f.ownedBy(t, a.UserID); after != before {
			t.Errorf("guest owns %d rows, had %d", after, before)
		}
		f.svc.mergeStepHook = nil
	})
	t.Run("the retry moves everything", func(t *testing.T) {
		f.db.MustExec(t, "UPDATE merges SET next_attempt_at = now()")
		if n, err := f.svc.RetryMerges(ctx); err != nil || n != 1 {
			t.Fatalf("retried %d (%v)", n, err)
		}
		if n := f.count(t, "SELECT count(*) FROM users WHERE id = $1", a.UserID); n != 0 {
			t.Errorf("guest still exists")
		}
		if got := f.ownedBy(t, b.UserID); got != before+2 { // b's own list and membership
			t.Errorf("account owns %d rows, want %d", got, before+2)
		}
		var moved Moved
		var raw []byte
		f.db.Super(t).QueryRow(ctx, "SELECT moved FROM merges WHERE from_user = $1 AND status = 'done'", a.UserID).Scan(&raw)
		if err := json.Unmarshal(raw, &moved); err != nil || moved.Lists != 2 || moved.Movies != 2 || moved.Rolls != 2 {
			t.Errorf("moved %s (%v)", raw, err)
		}
	})
}

func TestContributionsRacingMerge(t *testing.T) {
	for round := range 8 {
		t.Run(fmt.Sprint("round ", round), func(t *testing.T) {
			f := mustFixture(t)
			b, code := f.mustAccount(t)
			a := f.mustGuest(t)
			res := f.mustPreview(t, a, code)
			// The confirmed merge fails once, to be retried while other tabs
			// write: a write between the preview and the confirmation
			// would make the confirmation show a new preview instead.
			f.mustConfirmPending(t, a, res.Token)

			// Other tabs of the guest keep adding lists until the merge is over.
			const writers = 4
			var wg sync.WaitGroup
			var mu sync.Mutex
			merged := make(chan struct{})
			ranAs := map[uuid.UUID]int{}
			for i := range writers {
				other := &Session{DeviceID: f.otherDevice(t, a.UserID), UserID: a.UserID}
				wg.Go(func() {
					for n := 0; ; n++ {
						done := false
						select {
						case <-merged:
							done = true
						default:
						}
						user, err := f.svc.Contribute(httptest.NewRecorder(), request(other), addList(fmt.Sprint("tab ", i, " list ", n)))
						if err != nil {
							t.Errorf("a write failed instead of landing: %v", err)
							return
						}
						mu.Lock()
						ranAs[user]++
						mu.Unlock()
						if done {
							return
						}
					}
				})
			}
			for f.count(t, "SELECT count(*) FROM lists WHERE owner_id = $1", a.UserID) < 2+writers {
				time.Sleep(time.Millisecond) // until some writes have landed as the guest
			}
			var id int64
			if err := f.db.Super(t).QueryRow(context.Background(), "SELECT id FROM merges").Scan(&id); err != nil {
				t.Fatal(err)
			}
			if err := f.svc.runMerge(context.Background(), id); err != nil {
				t.Errorf("the retried merge: %v", err)
			}
			close(merged)
			wg.Wait()
			total := 0
			for user, n := range ranAs {
				if user != a.UserID && user != b.UserID {
					t.Errorf("a contribution ran as a third user %s", user)
				}
				total += n
			}
			t.Logf("%d writes landed as the guest (and moved), %d as the account", ranAs[a.UserID], ranAs[b.UserID])
			if n := f.count(t, "SELECT count(*) FROM users WHERE id = $1", a.UserID); n != 0 {
				t.Errorf("guest survived its merge")
			}
			if n := f.count(t, "SELECT count(*) FROM lists WHERE owner_id = $1", b.UserID); n != int64(2+total) {
				t.Errorf("account owns %d lists, want %d: a write was lost", n, 2+total)
			}
			if n := f.count(t, `SELECT count(*) FROM lists l WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = l.owner_id)`); n != 0 {
				t.Errorf("%d lists point at a deleted user", n)
			}
		})
	}
}

// otherDevice adds another signed-in device (a second tab's browser) to user.
func (f *fixture) otherDevice(t *testing.T, user uuid.UUID) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	err := queries.InTxAsUser(context.Background(), f.svc.pool, user, func(q *queries.Queries) (err error) {
		id, err = q.CreateDevice(context.Background(), queries.CreateDeviceParams{UserID: user, UserAgent: "test"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestConcurrentClaims(t *testing.T) {
	t.Run("two browsers claiming one code both get in, as separate devices", func(t *testing.T) {
		f := mustFixture(t)
		b, code := f.mustAccount(t)
		var wg sync.WaitGroup
		sessions := make(chan *Session, 2)
		for range 2 {
			wg.Go(func() {
				w := httptest.NewRecorder()
				res, err := f.svc.Claim(w, request(nil), code)
				if err != nil || res.Outcome != SignedIn {
					t.Errorf("claim: %v %v", res, err)
					return
				}
				sessions <- f.sessionFromCookie(t, w)
			})
		}
		wg.Wait()
		close(sessions)
		var devices []uuid.UUID
		for s := range sessions {
			if s.UserID != b.UserID {
				t.Errorf("signed in as %s", s.UserID)
			}
			devices = append(devices, s.DeviceID)
		}
		if len(devices) != 2 || devices[0] == devices[1] {
			t.Errorf("devices %v", devices)
		}
		if n := f.count(t, "SELECT count(*) FROM devices WHERE user_id = $1", b.UserID); n != 3 {
			t.Errorf("%d devices, want 3", n)
		}
	})

	t.Run("two guests merging into one account at once both land", func(t *testing.T) {
		f := mustFixture(t)
		b, code := f.mustAccount(t)
		a1, a2 := f.mustGuest(t, "a1 second"), f.mustGuest(t, "a2 second")
		// Both guests and the account share a list, to exercise duplicate memberships.
		f.db.MustExec(t, `INSERT INTO list_members (list_id, user_id)
			SELECT l.id, u FROM lists l, unnest($2::uuid[]) u WHERE l.owner_id = $1 AND l.name = 'first' ON CONFLICT DO NOTHING`,
			b.UserID, []uuid.UUID{a1.UserID, a2.UserID})
		r1, r2 := f.mustPreview(t, a1, code), f.mustPreview(t, a2, code)
		var wg sync.WaitGroup
		for _, c := range []struct {
			s   *Session
			tok string
		}{{a1, r1.Token}, {a2, r2.Token}} {
			wg.Go(func() {
				if outcome, err := f.svc.ConfirmClaim(httptest.NewRecorder(), request(c.s), c.tok); err != nil || outcome != Merged {
					t.Errorf("confirm: %v %v", outcome, err)
				}
			})
		}
		wg.Wait()
		if n := f.count(t, "SELECT count(*) FROM users"); n != 1 {
			t.Errorf("%d users left, want the account alone", n)
		}
		if n := f.count(t, "SELECT count(*) FROM lists WHERE owner_id = $1", b.UserID); n != 5 {
			t.Errorf("account owns %d lists, want 5", n)
		}
		if n := f.count(t, "SELECT count(*) FROM list_members WHERE user_id = $1", b.UserID); n != 5 {
			t.Errorf("account has %d memberships, want 5 (duplicates collapsed)", n)
		}
		if n := f.count(t, "SELECT count(*) FROM merges WHERE status = 'done'"); n != 2 {
			t.Errorf("%d merges done", n)
		}
	})
}

func TestReaper(t *testing.T) {
	f := mustFixture(t)
	ctx := context.Background()
	user := func(name, idleFor string) uuid.UUID {
		var id uuid.UUID
		err := f.db.Super(t).QueryRow(ctx, `INSERT INTO users (display_name, last_seen_at, created_at)
			VALUES ($1, now() - $2::interval, now() - interval '90 days') RETURNING id`, name, idleFor).Scan(&id)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	idle := func(name string) uuid.UUID { return user(name, "40 days") }
	recent := user("Recent Empty", "0 days") // old, but active lately
	empty := idle("Idle Empty")
	idleWithDevice := idle("Idle Device")
	f.otherDevice(t, idleWithDevice)
	withCode := idle("Idle Code")
	f.mustCode(t, &Session{DeviceID: f.otherDevice(t, withCode), UserID: withCode})
	owner := f.mustGuest(t)
	f.db.MustExec(t, "UPDATE users SET last_seen_at = now() - interval '40 days' WHERE id = $1", owner.UserID)
	member := idle("Idle Member")
	f.db.MustExec(t, "INSERT INTO list_members (list_id, user_id) SELECT id, $1 FROM lists WHERE owner_id = $2", member, owner.UserID)
	adder := idle("Idle Adder")
	f.db.MustExec(t, "INSERT INTO movies (list_id, added_by, title) SELECT id, $1, 'Heat' FROM lists WHERE owner_id = $2", adder, owner.UserID)
	f.db.MustExec(t, "DELETE FROM list_members WHERE user_id = $1", adder) // films alone keep a user

	t.Run("a dry run counts and deletes nothing", func(t *testing.T) {
		res, err := f.svc.Reap(ctx, 30*24*time.Hour, true)
		if err != nil || res.Deleted != 2 {
			t.Fatalf("dry run: %+v %v", res, err)
		}
		if n := f.count(t, "SELECT count(*) FROM users"); n != 7 {
			t.Errorf("%d users after a dry run, want 7", n)
		}
	})
	t.Run("deletes exactly the idle guests with nothing", func(t *testing.T) {
		res, err := f.svc.Reap(ctx, 30*24*time.Hour, false)
		if err != nil || res.Deleted != 2 {
			t.Fatalf("reap: %+v %v", res, err)
		}
		for _, gone := range []uuid.UUID{empty, idleWithDevice} {
			if n := f.count(t, "SELECT count(*) FROM users WHERE id = $1", gone); n != 0 {
				t.Errorf("user %s kept", gone)
			}
		}
		for _, kept := range []uuid.UUID{withCode, owner.UserID, member, adder, recent} {
			if n := f.count(t, "SELECT count(*) FROM users WHERE id = $1", kept); n != 1 {
				t.Errorf("user %s reaped", kept)
			}
		}
	})
	t.Run("only one instance reaps at a time", func(t *testing.T) {
		conn := f.db.Super(t)
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(reaperLock)); err != nil {
			t.Fatal(err)
		}
		res, err := f.svc.Reap(ctx, time.Hour, false)
		if err != nil || !res.Skipped {
			t.Errorf("reap while locked: %+v %v", res, err)
		}
	})
}

func TestCookies(t *testing.T) {
	f := mustFixture(t)
	sess := f.mustGuest(t)
	issue := func(svc *Service, values map[any]any) *http.Cookie {
		rec := httptest.NewRecorder()
		s := svc.store
		cs, _ := s.New(httptest.NewRequest("GET", "/", nil), cookieName)
		for k, v := range values {
			cs.Values[k] = v
		}
		if err := s.Save(httptest.NewRequest("GET", "/", nil), rec, cs); err != nil {
			t.Fatal(err)
		}
		return rec.Result().Cookies()[0]
	}
	good := map[any]any{keyDevice: sess.DeviceID.String(), keyIssued: time.Now().Unix()}
	// load runs the middleware on a request with c, returning the session
	// seen and the cookies set.
	load := func(svc *Service, c *http.Cookie) (*Session, []*http.Cookie) {
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(c)
		rec := httptest.NewRecorder()
		var seen *Session
		svc.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { seen = FromContext(r.Context()) }), nil).ServeHTTP(rec, r)
		return seen, rec.Result().Cookies()
	}
	cleared := func(cs []*http.Cookie) bool { return len(cs) == 1 && cs[0].Name == cookieName && cs[0].MaxAge < 0 }

	t.Run("a fresh cookie is read and not re-issued", func(t *testing.T) {
		got, set := load(f.svc, issue(f.svc, good))
		if got == nil || got.UserID != sess.UserID || len(set) != 0 {
			t.Errorf("session %+v, cookies set %v", got, set)
		}
	})
	t.Run("attributes", func(t *testing.T) {
		c := issue(f.svc, good)
		if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.MaxAge != 400*24*3600 || c.Secure {
			t.Errorf("cookie %+v", c)
		}
	})
	bad := []struct {
		name   string
		cookie func() *http.Cookie
	}{
		{"tampered", func() *http.Cookie { c := issue(f.svc, good); c.Value = c.Value[:20] + "A" + c.Value[21:]; return c }},
		{"garbage", func() *http.Cookie { return &http.Cookie{Name: cookieName, Value: "not-a-cookie"} }},
		{"sealed with a foreign key", func() *http.Cookie {
			other := mustService(t, f.db, [][]byte{bytes.Repeat([]byte{9}, 32)})
			return issue(other, good)
		}},
		{"naming a deleted device", func() *http.Cookie {
			return issue(f.svc, map[any]any{keyDevice: uuid.NewString(), keyIssued: time.Now().Unix()})
		}},
		{"holding no device id", func() *http.Cookie { return issue(f.svc, map[any]any{keyIssued: time.Now().Unix()}) }},
	}
	for _, tt := range bad {
		t.Run("a cookie "+tt.name+" is no session and is cleared", func(t *testing.T) {
			got, set := load(f.svc, tt.cookie())
			if got != nil || !cleared(set) {
				t.Errorf("session %+v, cookies set %v", got, set)
			}
		})
	}
	t.Run("a cookie is decoded once for a while; a tampered copy of it is still refused", func(t *testing.T) {
		c := issue(f.svc, good)
		if got, _ := load(f.svc, c); got == nil || got.UserID != sess.UserID {
			t.Fatalf("session %+v", got)
		}
		if _, ok := f.svc.cookies.get(c.Value, time.Now()); !ok {
			t.Error("a cookie that decoded is not remembered")
		}
		tampered := *c
		tampered.Value = c.Value[:20] + "A" + c.Value[21:]
		if got, set := load(f.svc, &tampered); got != nil || !cleared(set) {
			t.Errorf("tampered copy: session %+v, cookies set %v", got, set)
		}
		if _, ok := f.svc.cookies.get(tampered.Value, time.Now()); ok {
			t.Error("a cookie that did not decode is remembered")
		}
		if got, _ := load(f.svc, c); got == nil || got.UserID != sess.UserID {
			t.Errorf("the remembered cookie: session %+v", got)
		}
	})
	t.Run("an expired cookie is no session", func(t *testing.T) {
		short := mustService(t, f.db, [][]byte{testKey})
		short.store.MaxAge(1)
		c := issue(short, good)
		time.Sleep(2100 * time.Millisecond)
		if got, set := load(short, c); got != nil || !cleared(set) {
			t.Errorf("session %+v, cookies set %v", got, set)
		}
	})
	t.Run("a cookie in the earlier gob format still reads", func(t *testing.T) {
		old := securecookie.New(derive(testKey, "moviedice cookie hmac"), derive(testKey, "moviedice cookie aes"))
		old.MaxAge(400 * 24 * 3600)
		v, err := old.Encode(cookieName, map[any]any{keyDevice: sess.DeviceID.String(), keyIssued: time.Now().Unix()})
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := load(f.svc, &http.Cookie{Name: cookieName, Value: v}); got == nil || got.UserID != sess.UserID {
			t.Errorf("gob cookie not read: %+v", got)
		}
	})
	t.Run("over https the cookie is Secure and __Host- prefixed", func(t *testing.T) {
		svc, err := New(Config{Pool: f.db.Pool(t), Log: f.svc.log, CookieKeys: [][]byte{testKey}, Pepper: testPepper, SecureCookies: true})
		if err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		svc.setCookie(w, httptest.NewRequest("GET", "/", nil), sess.DeviceID)
		c := w.Result().Cookies()[0]
		if c.Name != "__Host-md_session" || !c.Secure || c.Path != "/" || c.Domain != "" {
			t.Errorf("cookie %+v", c)
		}
	})
	t.Run("a day-old cookie is re-issued", func(t *testing.T) {
		old := map[any]any{keyDevice: sess.DeviceID.String(), keyIssued: time.Now().Add(-25 * time.Hour).Unix()}
		got, set := load(f.svc, issue(f.svc, old))
		if got == nil || len(set) != 1 || set[0].MaxAge != 400*24*3600 {
			t.Errorf("session %+v, cookies set %v", got, set)
		}
	})
	t.Run("after a key rotation old cookies still read, and come back under the new key", func(t *testing.T) {
		newKey := bytes.Repeat([]byte{3}, 32)
		rotated := mustService(t, f.db, [][]byte{newKey, testKey})
		got, set := load(rotated, issue(f.svc, good))
		if got == nil || got.UserID != sess.UserID || len(set) != 1 {
			t.Fatalf("session %+v, cookies set %v", got, set)
		}
		onlyNew := mustService(t, f.db, [][]byte{newKey})
		if again, _ := load(onlyNew, set[0]); again == nil || again.UserID != sess.UserID {
			t.Errorf("re-issued cookie does not read under the new key alone")
		}
	})
	t.Run("activity is recorded at most once a minute", func(t *testing.T) {
		f.db.MustExec(t, "UPDATE devices SET last_seen_at = now() - interval '5 minutes' WHERE id = $1", sess.DeviceID)
		f.db.MustExec(t, "UPDATE users SET last_seen_at = now() - interval '5 minutes' WHERE id = $1", sess.UserID)
		load(f.svc, issue(f.svc, good))
		if n := f.count(t, "SELECT count(*) FROM users WHERE id = $1 AND last_seen_at > now() - interval '1 minute'", sess.UserID); n != 1 {
			t.Errorf("activity not recorded")
		}
		f.db.MustExec(t, "UPDATE devices SET last_seen_at = now() - interval '30 seconds' WHERE id = $1", sess.DeviceID)
		load(f.svc, issue(f.svc, good))
		if n := f.count(t, "SELECT count(*) FROM devices WHERE id = $1 AND last_seen_at < now() - interval '29 seconds'", sess.DeviceID); n != 1 {
			t.Errorf("activity written again within a minute")
		}
	})
}

func TestConfirmationsAreSingleUseAndCurrent(t *testing.T) {
	t.Run("confirming one preview twice moves once and adds one device", func(t *testing.T) {
		f := mustFixture(t)
		b, code := f.mustAccount(t)
		a := f.mustGuest(t)
		res := f.mustPreview(t, a, code)
		if _, err := f.svc.ConfirmClaim(httptest.NewRecorder(), request(a), res.Token); err != nil {
			t.Fatal(err)
		}
		// The same browser's second click (its old device, just replaced):
		// done already, not an error, and nothing more happens.
		if outcome, err := f.svc.ConfirmClaim(httptest.NewRecorder(), request(a), res.Token); outcome != AlreadyConfirmed || err != nil {
			t.Errorf("second confirmation: %v %v, want AlreadyConfirmed", outcome, err)
		}
		if n := f.count(t, "SELECT count(*) FROM merges"); n != 1 {
			t.Errorf("%d merges", n)
		}
		if n := f.count(t, "SELECT count(*) FROM devices WHERE user_id = $1", b.UserID); n != 2 {
			t.Errorf("%d devices, want the account's own and one new", n)
		}
	})
	t.Run("a preview confirms only from the device that saw it, and only until it expires", func(t *testing.T) {
		f := mustFixture(t)
		_, code := f.mustAccount(t)
		a := f.mustGuest(t)
		res := f.mustPreview(t, a, code)
		// The guest's user on another device (its code pasted there).
		other := *a
		f.db.Super(t).QueryRow(context.Background(), "INSERT INTO devices (user_id) VALUES ($1) RETURNING id", a.UserID).Scan(&other.DeviceID)
		// The same token sealed again with its expiry in the past, and
		// again unchanged: sealing it again is not what refuses it.
		reseal := func(expires time.Time) string {
			var tok claimToken
			if err := securecookie.DecodeMulti("claim", res.Token, &tok, f.svc.store.Codecs...); err != nil {
				t.Fatal(err)
			}
			tok.Expires = expires.Unix()
			s, err := securecookie.EncodeMulti("claim", tok, f.svc.store.Codecs...)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		before := f.ownedBy(t, a.UserID)
		for _, c := range []struct {
			name  string
			sess  *Session
			token string
		}{
			{"another device of the same user", &other, res.Token},
			{"an expired token", a, reseal(time.Now().Add(-time.Second))},
		} {
			if _, err := f.svc.ConfirmClaim(httptest.NewRecorder(), request(c.sess), c.token); err != errStaleToken {
				t.Errorf("%s: %v, want the token refused", c.name, err)
			}
		}
		if f.ownedBy(t, a.UserID) != before || f.count(t, "SELECT count(*) FROM merges") != 0 ||
			f.count(t, "SELECT count(*) FROM devices WHERE user_id = $1", a.UserID) != 2 {
			t.Fatal("a refused confirmation changed something")
		}
		if outcome, err := f.svc.ConfirmClaim(httptest.NewRecorder(), request(a), reseal(time.Now().Add(time.Minute))); outcome != Merged || err != nil {
			t.Errorf("the token, resealed unexpired, from its own device: %v %v, want merged", outcome, err)
		}
	})
	t.Run("a code replaced after the preview confirms nothing", func(t *testing.T) {
		f := mustFixture(t)
		b, code := f.mustAccount(t)
		a := f.mustGuest(t)
		res := f.mustPreview(t, a, code)
		f.mustCode(t, b)
		before := f.ownedBy(t, a.UserID)
		if _, err := f.svc.ConfirmClaim(httptest.NewRecorder(), request(a), res.Token); err != errStaleToken {
			t.Errorf("confirm after the code changed: %v", err)
		}
		if f.ownedBy(t, a.UserID) != before || f.count(t, "SELECT count(*) FROM merges") != 0 {
			t.Errorf("something moved")
		}
	})
	t.Run("guest data changed since the preview is shown again, not moved", func(t *testing.T) {
		f := mustFixture(t)
		b, code := f.mustAccount(t)
		a := f.mustGuest(t)
		res := f.mustPreview(t, a, code)
		// Another tab of the same browser adds two lists.
		for _, name := range []string{"tab two", "tab three"} {
			if _, err := f.svc.Contribute(httptest.NewRecorder(), request(a), addList(name)); err != nil {
				t.Fatal(err)
			}
		}
		before := f.ownedBy(t, a.UserID)
		_, err := f.svc.ConfirmClaim(httptest.NewRecorder(), request(a), res.Token)
		var changed *PreviewChanged
		if !errors.As(err, &changed) {
			t.Fatalf("confirm: %v, want the preview shown again", err)
		}
		if got := changed.Result.Preview; got.Lists != 3 || got.Memberships != 0 || got.IntoName == "" || got.Switch {
			t.Errorf("new preview %+v, want 3 lists into the account", got)
		}
		if f.ownedBy(t, a.UserID) != before || f.count(t, "SELECT count(*) FROM merges") != 0 ||
			f.count(t, "SELECT count(*) FROM devices WHERE id = $1", a.DeviceID) != 1 {
			t.Fatal("something changed")
		}
		// The new preview confirms, and moves what it said.
		if outcome, err := f.svc.ConfirmClaim(httptest.NewRecorder(), request(a), changed.Result.Token); err != nil || outcome != Merged {
			t.Fatalf("confirm the new preview: %v %v", outcome, err)
		}
		if n := f.count(t, "SELECT (moved->>'lists')::int FROM merges"); n != 3 {
			t.Errorf("moved %d lists, the preview said 3", n)
		}
		if n := f.count(t, "SELECT count(*) FROM lists WHERE owner_id = $1", b.UserID); n != 4 {
			t.Errorf("account owns %d lists, want 4", n)
		}
	})
	t.Run("a guest that has nothing left since the preview is signed in, not shown an empty preview", func(t *testing.T) {
		f := mustFixture(t)
		b, code := f.mustAccount(t)
		a := f.mustGuest(t)
		res := f.mustPreview(t, a, code)
		f.db.MustExec(t, "DELETE FROM lists WHERE owner_id = $1", a.UserID) // in another tab
		if outcome, err := f.svc.ConfirmClaim(httptest.NewRecorder(), request(a), res.Token); err != nil || outcome != Merged {
			t.Fatalf("confirm: %v %v, want merged", outcome, err)
		}
		if n := f.count(t, "SELECT count(*) FROM users WHERE id = $1", a.UserID); n != 0 {
			t.Error("the empty guest is left")
		}
		if n := f.count(t, "SELECT count(*) FROM devices WHERE user_id = $1", b.UserID); n != 2 {
			t.Errorf("the account has %d devices, want its own and this browser's", n)
		}
	})
	t.Run("a code asked for by the guest while its claim is confirmed is not made", func(t *testing.T) {
		f := mustFixture(t)
		_, code := f.mustAccount(t)
		a := f.mustGuest(t)
		res := f.mustPreview(t, a, code)
		f.mustConfirmPending(t, a, res.Token) // the guest stays for the retry
		// The guest's request for a code, sent from its tab before the
		// confirmation's answer came, finds its device replaced.
		if got, err := f.svc.NewRecoveryCode(request(a)); err != ErrReplaced {
			t.Fatalf("a code for the retired device: %q, %v; want ErrReplaced", got, err)
		}
		if n := f.count(t, "SELECT count(*) FROM recovery_codes WHERE user_id = $1", a.UserID); n != 0 {
			t.Fatalf("the guest got a code")
		}
		f.db.MustExec(t, "UPDATE merges SET next_attempt_at = now()")
		if n, err := f.svc.RetryMerges(context.Background()); n != 1 || err != nil {
			t.Errorf("retry: %d, %v", n, err)
		}
	})
	t.Run("a code asked for while the confirmation holds the guest is not made", func(t *testing.T) {
		f := mustFixture(t)
		b, code := f.mustAccount(t)
		a := f.mustGuest(t)
		res := f.mustPreview(t, a, code)
		ctx := context.Background()
		waiting := func(n int64) {
			t.Helper()
			for deadline := time.Now().Add(10 * time.Second); f.count(t, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'") < n; time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("fewer than %d transactions waiting on a lock", n)
				}
			}
		}
		// Hold the confirmation after it retired the guest's device and
		// locked the guest: a share lock on the account's code, which the
		// confirmation locks next.
		blocker, err := f.db.Super(t).Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer blocker.Rollback(ctx)
		if _, err := blocker.Exec(ctx, "SELECT 1 FROM recovery_codes WHERE user_id = $1 FOR SHARE", b.UserID); err != nil {
			t.Fatal(err)
		}
		confirmed := make(chan error, 1)
		go func() {
			_, err := f.svc.ConfirmClaim(httptest.NewRecorder(), request(a), res.Token)
			confirmed <- err
		}()
		waiting(1)
		// The guest's other tab asks for a code: it starts while its device
		// still shows, and waits for the guest's lock.
		type answer struct {
			code string
			err  error
		}
		asked := make(chan answer, 1)
		go func() {
			code, err := f.svc.NewRecoveryCode(request(a))
			asked <- answer{code, err}
		}()
		waiting(2)
		if err := blocker.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if err := <-confirmed; err != nil {
			t.Fatal(err)
		}
		if got := <-asked; got.err != ErrReplaced {
			t.Errorf("a code for the device retired meanwhile: %q, %v; want ErrReplaced", got.code, got.err)
		}
		if n := f.count(t, "SELECT count(*) FROM recovery_codes WHERE user_id = $1", a.UserID); n != 0 {
			t.Error("the guest got a code")
		}
		if n := f.count(t, "SELECT count(*) FROM merges WHERE status = 'done'"); n != 1 {
			t.Error("the merge did not finish")
		}
	})
	t.Run("a user with a code is never deleted, even by a merge", func(t *testing.T) {
		f := mustFixture(t)
		b, _ := f.mustAccount(t)
		a := f.mustGuest(t)
		f.mustCode(t, a) // as if it had slipped in after a confirmation
		var id int64
		if err := f.db.Super(t).QueryRow(context.Background(), `INSERT INTO merges (from_user, into_user, status)
			VALUES ($1, $2, 'pending') RETURNING id`, a.UserID, b.UserID).Scan(&id); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.runMerge(context.Background(), id); !queries.IsForeignKeyViolation(err) {
			t.Errorf("merging away a user with a code: %v, want a foreign key violation", err)
		}
		if n := f.count(t, "SELECT count(*) FROM recovery_codes WHERE user_id = $1", a.UserID); n != 1 {
			t.Error("the user's code was deleted")
		}
		if n := f.ownedBy(t, a.UserID); n != 2 {
			t.Errorf("the user has %d rows after the failed merge, want its list and membership", n)
		}
		if n := f.count(t, "SELECT count(*) FROM merges WHERE status = 'pending' AND attempts = 1 AND error <> ''"); n != 1 {
			t.Error("the failure is not recorded for a retry")
		}
	})
	t.Run("a guest that made its own code since the preview is not merged away", func(t *testing.T) {
		f := mustFixture(t)
		_, code := f.mustAccount(t)
		a := f.mustGuest(t)
		res := f.mustPreview(t, a, code) // a merge preview: a has no code yet
		f.mustCode(t, a)
		if _, err := f.svc.ConfirmClaim(httptest.NewRecorder(), request(a), res.Token); err != errStaleToken {
			t.Errorf("confirm: %v", err)
		}
		if n := f.count(t, "SELECT count(*) FROM users WHERE id = $1", a.UserID); n != 1 {
			t.Errorf("the guest with its own code was deleted")
		}
	})
}

func TestWriteAfterMergeRunsAsTheAccount(t *testing.T) {
	f := mustFixture(t)
	b, code := f.mustAccount(t)
	a := f.mustGuest(t)
	other := &Session{DeviceID: f.otherDevice(t, a.UserID), UserID: a.UserID} // loaded before the merge
	res := f.mustPreview(t, a, code)
	if _, err := f.svc.ConfirmClaim(httptest.NewRecorder(), request(a), res.Token); err != nil {
		t.Fatal(err)
	}
	user, err := f.svc.ActAs(request(other), addList("written late"))
	if err != nil || user != b.UserID {
		t.Fatalf("late write ran as %s (%v), want the account %s", user, err, b.UserID)
	}
	if n := f.count(t, "SELECT count(*) FROM lists WHERE name = 'written late' AND owner_id = $1", b.UserID); n != 1 {
		t.Errorf("late write not in the account")
	}
	if _, err := f.svc.ActAs(request(nil), addList("visitor")); queries.ErrorCode(err) != queries.ENOTFOUND {
		t.Errorf("a visitor's write: %v", err)
	}
}

func TestRecoveryCodesAreRateLimited(t *testing.T) {
	f := mustFixture(t)
	sess := f.mustGuest(t)
	f.svc.newCodes = newKeyedLimiter(perMinute(2, 2))
	for i := range 3 {
		_, err := f.svc.NewRecoveryCode(request(sess))
		if i < 2 && err != nil {
			t.Fatal(err)
		}
		if i == 2 && queries.ErrorCode(err) != queries.ETOOMANY {
			t.Errorf("third code in a minute: %v", err)
		}
	}
}

func TestClientAddr(t *testing.T) {
	for _, tt := range []struct{ remote, want string }{
		{"203.0.113.7:5555", "203.0.113.7"},
		{"[2001:db8:1:2:aaaa::1]:443", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff:ffff:ffff:ffff]:80", "2001:db8:1:2::/64"},
		{"[::ffff:203.0.113.7]:80", "203.0.113.7"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tt.remote
		if got := clientAddr(r); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.remote, got, tt.want)
		}
	}
	t.Run("past the key limit new addresses share one bucket", func(t *testing.T) {
		k := newKeyedLimiter(perMinute(1, 1))
		for i := range maxKeys {
			k.seen[fmt.Sprint(i)] = &bucket{lim: rate.NewLimiter(1, 1), last: time.Now()}
		}
		if !k.allow("fresh-1") || k.allow("fresh-2") {
			t.Errorf("overflowing keys were not pooled")
		}
		if len(k.seen) != maxKeys+1 {
			t.Errorf("%d buckets kept", len(k.seen))
		}
	})
}

// TestMergeRunsOnceAtATime: a new merge is left to the request that
// confirmed it (not due for the retries at once), and a run that finds
// another holding the merge says so (errMergeBusy, and the request
// MergePending), rather than taking it for done.
func TestMergeRunsOnceAtATime(t *testing.T) {
	f := mustFixture(t)
	_, code := f.mustAccount(t)
	a := f.mustGuest(t, "second")
	res := f.mustPreview(t, a, code)
	due := int64(-1)
	f.svc.mergeStepHook = func(string) error {
		due = f.count(t, "SELECT count(*) FROM merges WHERE next_attempt_at <= now()")
		return errors.New("injected") // the request's own run fails
	}
	if outcome, err := f.svc.ConfirmClaim(httptest.NewRecorder(), request(a), res.Token); err != nil || outcome != MergePending {
		t.Fatalf("confirm: %v %v", outcome, err)
	}
	if due != 0 {
		t.Errorf("%d merges due for the retries while the request ran its own", due)
	}
	var id int64
	if err := f.db.Super(t).QueryRow(context.Background(), "SELECT id FROM merges").Scan(&id); err != nil {
		t.Fatal(err)
	}
	holding, hold := make(chan struct{}), make(chan struct{})
	f.svc.mergeStepHook = func(step string) error {
		if step == "memberships" {
			close(holding)
			<-hold
		}
		return nil
	}
	first := make(chan error, 1)
	go func() { first <- f.svc.runMerge(context.Background(), id) }()
	<-holding
	if err := f.svc.runMerge(context.Background(), id); err != errMergeBusy {
		t.Errorf("a run while another holds the merge: %v, want errMergeBusy", err)
	}
	close(hold)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := f.svc.runMerge(context.Background(), id); err != nil {
		t.Errorf("a run once the merge is done: %v", err)
	}
	if n := f.count(t, "SELECT count(*) FROM merges WHERE status = 'done' AND attempts = 2"); n != 1 {
		t.Error("the merge is not done after one failed and one good attempt")
	}
	if n := f.ownedBy(t, a.UserID); n != 0 {
		t.Errorf("the guest still has %d rows", n)
	}
}

// TestCodeReplacedDuringSignIn: a code replaced while a claim with it is
// being verified (argon2id takes a while) signs no one in, with or without
// an identity of the browser's own to retire.
func TestCodeReplacedDuringSignIn(t *testing.T) {
	for _, guest := range []bool{false, true} {
		t.Run(fmt.Sprint("empty guest ", guest), func(t *testing.T) {
			f := mustFixture(t)
			b, code := f.mustAccount(t)
			var sess *Session
			if guest {
				sess = f.mustGuest(t)
				f.db.MustExec(t, "DELETE FROM lists WHERE owner_id = $1", sess.UserID) // nothing to merge
			}
			slots := make(chan struct{}) // unbuffered: taking a slot waits for the test
			f.svc.argonSlots = slots
			done := make(chan error, 1)
			go func() {
				_, err := f.svc.Claim(httptest.NewRecorder(), request(sess), code)
				done <- err
			}()
			<-slots // the claim has looked the code up and verifies it
			f.db.MustExec(t, "UPDATE recovery_codes SET selector = sha256('replaced'), created_at = now() WHERE user_id = $1", b.UserID)
			slots <- struct{}{} // its slot back
			if err := <-done; err != errWrongCode {
				t.Errorf("claim with the replaced code: %v, want errWrongCode", err)
			}
			if n := f.count(t, "SELECT count(*) FROM devices WHERE user_id = $1", b.UserID); n != 1 {
				t.Errorf("the account has %d devices, want its own alone", n)
			}
			if guest && f.count(t, "SELECT count(*) FROM devices WHERE id = $1", sess.DeviceID) != 1 {
				t.Error("the guest's device was retired")
			}
		})
	}
}
