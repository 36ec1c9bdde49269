package queries

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// InTxAsUser runs fn in one transaction, committed if fn returns nil and
// rolled back otherwise, acting for userID from its first statement on:
// with InTxAsUserOfDevice, ReadAsUser and InSystemTx it is the one place
// transactions begin and end, and each says whom a transaction acts for
// before it reads anything. Row-level security admits only that user's
// rows (and,
// on lists, the rows of the lists it is on). Minting acts as the user it
// is about to create; a sign-in with a verified recovery code as the
// code's account.
func InTxAsUser(ctx context.Context, db *pgxpool.Pool, userID uuid.UUID, fn func(q *Queries) error) error {
	return inTx(ctx, db, &queued{sql: actAsUser, args: []any{userID.String()}}, fn)
}

// InTxAsUserOfDevice runs fn in one transaction acting for the user
// deviceID belongs to when it begins, or for no one if the device is gone
// (ActAsUserOfDevice). identity.ActAs runs a request's writes this way:
// the device id is all its cookie holds.
func InTxAsUserOfDevice(ctx context.Context, db *pgxpool.Pool, deviceID uuid.UUID, fn func(q *Queries) error) error {
	return inTx(ctx, db, &queued{sql: actAsUserOfDevice, args: []any{deviceID}}, fn)
}

// ReadAsUser runs fn's one statement acting for userID: besides the filters
// in each query's own SQL, row-level security limits every row to the
// lists userID is on and to its own identity rows (and, of other users,
// their ids and names). Request handlers read list data only this way
// (and write it through identity.ActAs, which acts as the user the same
// way); identity's single statements on the user's own rows (renaming,
// listing and signing out devices, a new recovery code) go this way too.
//
// The act-as statement and the query go out as one pipeline, which
// PostgreSQL runs as one implicit transaction: one round trip, no BEGIN or
// COMMIT. fn may therefore run a single statement; a second one fails.
func ReadAsUser(ctx context.Context, db *pgxpool.Pool, userID uuid.UUID, fn func(q *Queries) error) error {
	return inTx(ctx, db, &queued{sql: actAsUser, args: []any{userID.String()}, implicit: true}, fn)
}

// InSystemTx runs fn in one transaction as moviedice_system, which row-level
// security lets see every list and every identity row. It is for
// identity's work across users (claims, merging a guest into an account,
// reaping) and server-wide counts; never for a request's own reads and
// writes.
func InSystemTx(ctx context.Context, db *pgxpool.Pool, fn func(q *Queries) error) error {
	return inTx(ctx, db, &queued{sql: actAsSystem}, fn)
}

type queued struct {
	sql  string
	args []any
	// implicit: no BEGIN; the pipeline's implicit transaction is the
	// transaction, so only one statement may follow.
	implicit bool
}

func inTx(ctx context.Context, db *pgxpool.Pool, actAs *queued, fn func(q *Queries) error) error {
	conn, err := db.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer conn.Release() // a connection left inside a transaction is closed, not reused
	tx := &pipelinedTx{conn: conn.Conn(), actAs: actAs}
	err = fn(New(tx))
	if !tx.begun || actAs.implicit {
		return err // no statement ran, or it ended with its pipeline
	}
	end := "COMMIT"
	if err != nil {
		end = "ROLLBACK"
	}
	if _, endErr := tx.conn.Exec(context.WithoutCancel(ctx), end); endErr != nil && err == nil {
		return fmt.Errorf("commit: %w", endErr)
	}
	return err
}

// pipelinedTx is a transaction that sends BEGIN, and the statement that
// sets who it acts as, in one round trip with its first query, instead of
// one round trip each. Later statements run on the connection inside it.
// For ReadAsUser it sends no BEGIN and allows no later statement.
type pipelinedTx struct {
	conn  *pgx.Conn
	actAs *queued
	begun bool
}

// errOneStatement is returned for a second statement in ReadAsUser.
var errOneStatement = errors.New("queries: ReadAsUser runs one statement; use identity.ActAs or InTxAsUser for more")

// start sends BEGIN, the act-as statement and the first query as one batch
// and returns the batch positioned at the first query's result.
func (t *pipelinedTx) start(ctx context.Context, sql string, args []any) (pgx.BatchResults, error) {
	b := &pgx.Batch{}
	if !t.actAs.implicit {
		b.Queue("BEGIN")
	}
	b.Queue(t.actAs.sql, t.actAs.args...)
	b.Queue(sql, args...)
	br := t.conn.SendBatch(ctx, b)
	t.begun = true
	for range len(b.QueuedQueries) - 1 {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return nil, fmt.Errorf("begin: %w", err)
		}
	}
	return br, nil
}

// again reports whether a statement must fail because ReadAsUser's one
// statement already ran.
func (t *pipelinedTx) again() bool {
	return t.begun && t.actAs.implicit
}

func (t *pipelinedTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if t.again() {
		return pgconn.CommandTag{}, errOneStatement
	}
	if t.begun {
		return t.conn.Exec(ctx, sql, args...)
	}
	br, err := t.start(ctx, sql, args)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := br.Exec()
	return tag, errors.Join(err, br.Close())
}

func (t *pipelinedTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if t.again() {
		return nil, errOneStatement
	}
	if t.begun {
		return t.conn.Query(ctx, sql, args...)
	}
	br, err := t.start(ctx, sql, args)
	if err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		br.Close()
		return nil, err
	}
	return &batchRows{Rows: rows, br: br}, nil
}

func (t *pipelinedTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if t.again() {
		return errRow{errOneStatement}
	}
	if t.begun {
		return t.conn.QueryRow(ctx, sql, args...)
	}
	br, err := t.start(ctx, sql, args)
	if err != nil {
		return errRow{err}
	}
	return batchRow{br}
}

// batchRows closes the batch along with the rows.
type batchRows struct {
	pgx.Rows
	br pgx.BatchResults
}

func (r *batchRows) Close() {
	r.Rows.Close()
	r.br.Close()
}

// batchRow scans the batch's pending row, then closes the batch.
type batchRow struct{ br pgx.BatchResults }

func (r batchRow) Scan(dest ...any) error {
	err := r.br.QueryRow().Scan(dest...)
	if cerr := r.br.Close(); err == nil {
		err = cerr
	}
	return err
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }
