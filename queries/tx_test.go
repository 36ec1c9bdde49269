package queries_test

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/moviedice/moviedice/queries"
	"github.com/moviedice/moviedice/web/pgdev/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func TestTransactions(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	// One connection, so what one transaction leaves behind the next sees.
	pool, err := queries.OpenPool(ctx, db.URL+" pool_max_conns=1")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	// createUser mints a user acting as it, as identity does.
	createUser := func(q *queries.Queries, id uuid.UUID, name string) error {
		if err := q.ActAsUser(ctx, id.String()); err != nil {
			return err
		}
		return q.CreateUser(ctx, queries.CreateUserParams{ID: id, DisplayName: name})
	}
	t.Run("a transaction commits what fn wrote, or nothing if fn fails", func(t *testing.T) {
		kept := uuid.New()
		err := queries.InTxAsUser(ctx, pool, kept, func(q *queries.Queries) error { return createUser(q, kept, "Kept Otter") })
		if err != nil {
			t.Fatal(err)
		}
		boom := errors.New("boom")
		lost := uuid.New()
		err = queries.InTxAsUser(ctx, pool, lost, func(q *queries.Queries) error {
			if err := createUser(q, lost, "Lost Otter"); err != nil {
				return err
			}
			if err := createUser(q, uuid.New(), "Lost Badger"); err != nil {
				return err
			}
			return boom
		})
		if err != boom {
			t.Fatalf("err %v", err)
		}
		if n := db.MustCount(t, "SELECT count(*) FROM users"); n != 1 {
			t.Errorf("%d users: a failed transaction left rows", n)
		}
	})
	t.Run("a failing first statement rolls back and leaves the connection usable", func(t *testing.T) {
		id := uuid.New()
		err := queries.InTxAsUser(ctx, pool, id, func(q *queries.Queries) error {
			return q.CreateUser(ctx, queries.CreateUserParams{ID: id}) // violates the name check
		})
		if err == nil {
			t.Fatal("empty name accepted")
		}
		for range 20 { // every pooled connection is still fine
			if err := pool.Ping(ctx); err != nil {
				t.Fatal(err)
			}
		}
	})
	t.Run("InTxAsUser acts as the user from the first statement on; InTxAsUserOfDevice as the device's user, or no one", func(t *testing.T) {
		user, device := uuid.New(), uuid.Nil
		err := queries.InTxAsUser(ctx, pool, user, func(q *queries.Queries) (err error) {
			if err := q.CreateUser(ctx, queries.CreateUserParams{ID: user, DisplayName: "Acting Otter"}); err != nil {
				return err
			}
			device, err = q.CreateDevice(ctx, queries.CreateDeviceParams{UserID: user})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			device uuid.UUID
			want   uuid.UUID
		}{{device, user}, {uuid.New(), uuid.Nil}} {
			var locked uuid.UUID
			err := queries.InTxAsUserOfDevice(ctx, pool, c.device, func(q *queries.Queries) (err error) {
				locked, err = q.LockUserOfDevice(ctx, c.device)
				return err
			})
			if locked != c.want || (c.want == uuid.Nil) != errors.Is(err, pgx.ErrNoRows) {
				t.Errorf("device %s: acted as and locked %s (%v), want %s", c.device, locked, err, c.want)
			}
		}
	})
	t.Run("ReadAsUser acts as the user and allows one statement only", func(t *testing.T) {
		user := uuid.New()
		var seen bool
		err := queries.ReadAsUser(ctx, pool, user, func(q *queries.Queries) error {
			_, err := q.IsListMember(ctx, queries.IsListMemberParams{ListID: uuid.New(), UserID: user})
			seen = err == nil
			if err != nil {
				return err
			}
			_, err = q.IsListMember(ctx, queries.IsListMemberParams{ListID: uuid.New(), UserID: user})
			return err
		})
		if !seen || err == nil {
			t.Errorf("first statement ok %v, second statement err %v", seen, err)
		}
		var acting string
		if err := pool.QueryRow(ctx, "SELECT coalesce(current_setting('app.user_id', true), '')").Scan(&acting); err != nil || acting != "" {
			t.Errorf("app.user_id leaked past its transaction: %q %v", acting, err)
		}
	})
	t.Run("InSystemTx acts as moviedice_system, only inside", func(t *testing.T) {
		var role string
		err := queries.InSystemTx(ctx, pool, func(q *queries.Queries) error {
			_, err := q.CountSiteStats(ctx)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := pool.QueryRow(ctx, "SELECT current_user").Scan(&role); err != nil || role != queries.AppRole {
			t.Errorf("after a system transaction the pool works as %q (%v)", role, err)
		}
	})
}
