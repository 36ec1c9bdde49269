package queries_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/moviedice/moviedice/queries"
	"github.com/moviedice/moviedice/web/pgdev/pgtest"
)

// Every statement that reaches a list's data carries its own owner or
// membership filter in its SQL text. Row-level security is turned off on
// the list tables here, so only that text stands between a statement and a
// list its caller is not on; each statement runs as the users who may use
// it (which must find or change the row, or the refusals prove nothing)
// and as those who may not (which must find or change nothing).
func TestStatementsCarryTheirOwnFilters(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	pool := db.Pool(t)

	// L: owner O, members M (who added film F) and N. Z: owner X, with
	// film ZF. X is on no list of O's, and O on none of X's.
	o, m, n, x := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	list, film, zList, zFilm := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	db.MustExec(t, `INSERT INTO users (id, display_name) VALUES ($1, 'Owner Otter'), ($2, 'Member Mole'), ($3, 'Nearby Newt'), ($4, 'Outside Owl')`, o, m, n, x)
	db.MustExec(t, `WITH l AS (INSERT INTO lists (id, owner_id, name, invite_token) VALUES ($1, $2, 'L', repeat('l', 22)), ($5, $6, 'Z', repeat('z', 22)))
		INSERT INTO list_members (list_id, user_id) VALUES ($1, $2), ($1, $3), ($1, $4), ($5, $6)`, list, o, m, n, zList, x)
	db.MustExec(t, `INSERT INTO movies (id, list_id, added_by, title) VALUES ($1, $2, $3, 'F'), ($4, $5, $6, 'ZF')`, film, list, m, zFilm, zList, x)
	db.WithoutListPolicies(t)

	// found turns a :one statement's answer into a count of rows.
	found := func(err error) (int64, error) {
		if errors.Is(err, pgx.ErrNoRows) {
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
		return 1, nil
	}
	type run func(q *queries.Queries, as uuid.UUID) (int64, error)
	type want struct {
		name string
		as   uuid.UUID
		rows int64
	}
	all := func(ws ...want) []want { return ws }
	for _, c := range []struct {
		statement string
		run       run
		wants     []want
	}{
		{"RenameListForOwner", func(q *queries.Queries, as uuid.UUID) (int64, error) {
			return q.RenameListForOwner(ctx, queries.RenameListForOwnerParams{ID: list, OwnerID: as, Name: "Renamed"})
		}, all(want{"owner", o, 1}, want{"member", m, 0}, want{"outsider", x, 0})},
		{"DeleteListForOwner", func(q *queries.Queries, as uuid.UUID) (int64, error) {
			return q.DeleteListForOwner(ctx, queries.DeleteListForOwnerParams{ID: list, OwnerID: as})
		}, all(want{"owner", o, 1}, want{"member", m, 0}, want{"outsider", x, 0})},
		{"RotateInviteForOwner", func(q *queries.Queries, as uuid.UUID) (int64, error) {
			return q.RotateInviteForOwner(ctx, queries.RotateInviteForOwnerParams{ID: list, OwnerID: as, InviteToken: strings.Repeat("r", 22)})
		}, all(want{"owner", o, 1}, want{"member", m, 0}, want{"outsider", x, 0})},
		{"HandOverListForOwner to a member", func(q *queries.Queries, as uuid.UUID) (int64, error) {
			return q.HandOverListForOwner(ctx, queries.HandOverListForOwnerParams{ID: list, OwnerID: as, NewOwnerID: n})
		}, all(want{"owner", o, 1}, want{"member", m, 0}, want{"outsider", x, 0})},
		{"HandOverListForOwner to someone not on the list", func(q *queries.Queries, as uuid.UUID) (int64, error) {
			return q.HandOverListForOwner(ctx, queries.HandOverListForOwnerParams{ID: list, OwnerID: as, NewOwnerID: x})
		}, all(want{"owner", o, 0})},
		{"RemoveMemberForOwner", func(q *queries.Queries, as uuid.UUID) (int64, error) {
			return q.RemoveMemberForOwner(ctx, queries.RemoveMemberForOwnerParams{ListID: list, OwnerID: as, MemberID: m})
		}, all(want{"owner", o, 1}, want{"another member", n, 0}, want{"outsider", x, 0})},
		{"RemoveMemberForOwner of the owner", func(q *queries.Queries, as uuid.UUID) (int64, error) {
			return q.RemoveMemberForOwner(ctx, queries.RemoveMemberForOwnerParams{ListID: list, OwnerID: as, MemberID: as})
		}, all(want{"owner", o, 0})},
		{"LeaveListForMember", func(q *queries.Queries, as uuid.UUID) (int64, error) {
			return q.LeaveListForMember(ctx, queries.LeaveListForMemberParams{ListID: list, UserID: as})
		}, all(want{"member", m, 1}, want{"owner", o, 0}, want{"outsider", x, 0})},
		{"GetListForMember", func(q *queries.Queries, as uuid.UUID) (int64, error) {
			_, err := q.GetListForMember(ctx, queries.GetListForMemberParams{ID: list, UserID: as})
			return found(err)
		}, all(want{"member", m, 1}, want{"outsider", x, 0})},
		{"GetListPageForMember", func(q *queries.Queries, as uuid.UUID) (int64, error) {
			_, err := q.GetListPageForMember(ctx, queries.GetListPageForMemberParams{ID: list, UserID: as, WithMembers: true, WithMovies: true, WithRolls: true})
			return found(err)
		}, all(want{"member", m, 1}, want{"outsider", x, 0})},
		{"GetListFilmsForMember", func(q *queries.Queries, as uuid.UUID) (int64, error) {
			_, err := q.GetListFilmsForMember(ctx, queries.GetListFilmsForMemberParams{ID: list, UserID: as, Films: []uuid.UUID{film}})
			return found(err)
		}, all(want{"member", m, 1}, want{"outsider", x, 0})},
		{"ListListsForMember (rows of L)", func(q *queries.Queries, as uuid.UUID) (int64, error) {
			lists, err := q.ListListsForMember(ctx, as)
			var of int64
			for _, l := range lists {
				if l.ID == list {
					of++
				}
			}
			return of, err
		}, all(want{"member", m, 1}, want{"outsider", x, 0})},
		{"AddMovieForMember", func(q *queries.Queries, as uuid.UUID) (int64, error) {
			_, err := q.AddMovieForMember(ctx, queries.AddMovieForMemberParams{ListID: list, UserID: as, Title: "New"})
			return found(err)
		}, all(want{"member", m, 1}, want{"outsider", x, 0})},
		{"CountFilmsForMember", func(q *queries.Queries, as uuid.UUID) (int64, error) {
			return q.CountFilmsForMember(ctx, queries.CountFilmsForMemberParams{ListID: list, UserID: as})
		}, all(want{"member", m, 1}, want{"outsider", x, 0})},
		{"CountMoviesForMember", func(q *queries.Queries, as uuid.UUID) (int64, error) {
			return q.CountMoviesForMember(ctx, queries.CountMoviesForMemberParams{ListID: list, UserID: as})
		}, all(want{"member", m, 1}, want{"outsider", x, 0})},
		{"FindSameMovieForMember", func(q *queries.Queries, as uuid.UUID) (int64, error) {
			_, err := q.FindSameMovieForMember(ctx, queries.FindSameMovieForMemberParams{ListID: list, UserID: as, Title: " f "})
			return found(err)
		}, all(want{"member", m, 1}, want{"outsider", x, 0})},
		{"DeleteMovieForAdderOrOwner", func(q *queries.Queries, as uuid.UUID) (int64, error) {
			return q.DeleteMovieForAdderOrOwner(ctx, queries.DeleteMovieForAdderOrOwnerParams{ID: film, ListID: list, UserID: as})
		}, all(want{"adder", m, 1}, want{"owner", o, 1}, want{"another member", n, 0}, want{"outsider", x, 0})},
		{"DeleteMovieForAdderOrOwner of another list's film", func(q *queries.Queries, as uuid.UUID) (int64, error) {
			return q.DeleteMovieForAdderOrOwner(ctx, queries.DeleteMovieForAdderOrOwnerParams{ID: zFilm, ListID: list, UserID: as})
		}, all(want{"owner of L", o, 0}, want{"owner of Z, on L's id", x, 0})},
		{"SetWatchedForMember", func(q *queries.Queries, as uuid.UUID) (int64, error) {
			return q.SetWatchedForMember(ctx, queries.SetWatchedForMemberParams{ID: film, ListID: list, UserID: as, Watched: true})
		}, all(want{"member", n, 1}, want{"outsider", x, 0})},
		{"SetWatchedForMember of another list's film", func(q *queries.Queries, as uuid.UUID) (int64, error) {
			return q.SetWatchedForMember(ctx, queries.SetWatchedForMemberParams{ID: zFilm, ListID: list, UserID: as, Watched: true})
		}, all(want{"member of L", n, 0})},
		{"ListUnwatchedMovieIDsForMember", func(q *queries.Queries, as uuid.UUID) (int64, error) {
			ids, err := q.ListUnwatchedMovieIDsForMember(ctx, queries.ListUnwatchedMovieIDsForMemberParams{ListID: list, UserID: as})
			return int64(len(ids)), err
		}, all(want{"member", n, 1}, want{"outsider", x, 0})},
		{"CreateRollForMember", func(q *queries.Queries, as uuid.UUID) (int64, error) {
			_, err := q.CreateRollForMember(ctx, queries.CreateRollForMemberParams{ListID: list, MovieID: film, UserID: as})
			return found(err)
		}, all(want{"member", n, 1}, want{"outsider", x, 0})},
		{"CreateRollForMember of another list's film", func(q *queries.Queries, as uuid.UUID) (int64, error) {
			_, err := q.CreateRollForMember(ctx, queries.CreateRollForMemberParams{ListID: list, MovieID: zFilm, UserID: as})
			return found(err)
		}, all(want{"member of L", n, 0})},
	} {
		for _, w := range c.wants {
			t.Run(c.statement+" as "+w.name, func(t *testing.T) {
				// Each call in a transaction acting as the caller, rolled
				// back, so every call starts from the same data.
				tx, err := pool.Begin(ctx)
				if err != nil {
					t.Fatal(err)
				}
				defer tx.Rollback(ctx)
				q := queries.New(tx)
				if err := q.ActAsUser(ctx, w.as.String()); err != nil {
					t.Fatal(err)
				}
				rows, err := c.run(q, w.as)
				if err != nil {
					t.Fatal(err)
				}
				if rows != w.rows {
					t.Errorf("%d rows, want %d", rows, w.rows)
				}
			})
		}
	}
}
