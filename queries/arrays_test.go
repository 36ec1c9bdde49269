package queries_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/moviedice/moviedice/queries"
	"github.com/moviedice/moviedice/web/pgdev/pgtest"
)

// The pool's array decoding gives what pgx's own gives, value for value,
// and refuses what it cannot represent.
func TestArraysDecodeAsPgxDoes(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	pool, err := queries.OpenPool(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	plain, err := pgx.Connect(ctx, db.URL) // pgx's codecs only
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close(ctx)

	long := strings.Repeat("x", 70000)
	for _, tc := range []struct {
		sql  string
		dest func() []any
	}{
		{`SELECT ARRAY['Heat', '', 'Amélie ⚄', '<b>"&''</b>', $1]::text[], '{}'::text[], NULL::text[], ARRAY['one']::text[]`,
			func() []any { return []any{new([]string), new([]string), new([]string), new([]string)} }},
		{`SELECT ARRAY[1, -2, 2147483647, -2147483648, 0]::int[], '{}'::int[], NULL::int[]`,
			func() []any { return []any{new([]int32), new([]int32), new([]int32)} }},
		{`SELECT ARRAY[true, false, true]::bool[], '{}'::bool[]`,
			func() []any { return []any{new([]bool), new([]bool)} }},
		{`SELECT ARRAY['2026-11-24 07:06:05.123456+00', '1999-12-31 23:59:59.5+00', '1970-01-01 00:00:00+00', '0044-03-15 12:00:00+00', '9999-12-31 23:59:59.999999+00']::timestamptz[], '{}'::timestamptz[]`,
			func() []any { return []any{new([]time.Time), new([]time.Time)} }},
		{`SELECT ARRAY['6f1e2d3c-2222-4aaa-8bbb-2c3d4e5f6a7b', NULL, '00000000-0000-0000-0000-000000000001']::uuid[], '{}'::uuid[], NULL::uuid[]`,
			func() []any { return []any{new([]uuid.UUID), new([]uuid.UUID), new([]uuid.UUID)} }},
	} {
		mine, theirs := tc.dest(), tc.dest()
		args := []any{}
		if strings.Contains(tc.sql, "$1") {
			args = append(args, long)
		}
		if err := pool.QueryRow(ctx, tc.sql, args...).Scan(mine...); err != nil {
			t.Fatalf("%s: %v", tc.sql, err)
		}
		if err := plain.QueryRow(ctx, tc.sql, args...).Scan(theirs...); err != nil {
			t.Fatalf("%s with pgx's codecs: %v", tc.sql, err)
		}
		for i := range mine {
			if !reflect.DeepEqual(mine[i], theirs[i]) {
				t.Errorf("%s: column %d is %v, pgx gives %v", tc.sql, i+1, mine[i], theirs[i])
			}
		}
	}

	for _, tc := range []struct{ sql, dest string }{
		{`SELECT ARRAY['a', NULL]::text[]`, "text"},
		{`SELECT ARRAY[1, NULL]::int[]`, "int"},
		{`SELECT ARRAY[true, NULL]::bool[]`, "bool"},
		{`SELECT ARRAY['infinity']::timestamptz[]`, "time"},
		{`SELECT ARRAY[[1, 2], [3, 4]]::int[]`, "int"},
	} {
		var err error
		switch tc.dest {
		case "text":
			var d []string
			err = pool.QueryRow(ctx, tc.sql).Scan(&d)
		case "int":
			var d []int32
			err = pool.QueryRow(ctx, tc.sql).Scan(&d)
		case "bool":
			var d []bool
			err = pool.QueryRow(ctx, tc.sql).Scan(&d)
		case "time":
			var d []time.Time
			err = pool.QueryRow(ctx, tc.sql).Scan(&d)
		}
		if err == nil {
			t.Errorf("%s: scanned without an error", tc.sql)
		}
	}

	// Targets without a direct plan still decode, through pgx's codec.
	var ids []string
	if err := pool.QueryRow(ctx, `SELECT ARRAY['6f1e2d3c-2222-4aaa-8bbb-2c3d4e5f6a7b']::uuid[]`).Scan(&ids); err != nil || len(ids) != 1 || ids[0] != "6f1e2d3c-2222-4aaa-8bbb-2c3d4e5f6a7b" {
		t.Errorf("uuid[] into []string: %v, %v", ids, err)
	}
	// So does text format (the simple protocol).
	var uuids []uuid.UUID
	if err := pool.QueryRow(ctx, `SELECT ARRAY['6f1e2d3c-2222-4aaa-8bbb-2c3d4e5f6a7b']::uuid[]`, pgx.QueryExecModeSimpleProtocol).Scan(&uuids); err != nil ||
		len(uuids) != 1 || uuids[0].String() != "6f1e2d3c-2222-4aaa-8bbb-2c3d4e5f6a7b" {
		t.Errorf("uuid[] in text format: %v, %v", uuids, err)
	}
	// And arrays still go out as parameters.
	var n int
	if err := pool.QueryRow(ctx, `SELECT cardinality($1::uuid[]) + cardinality($2::text[])`, []uuid.UUID{uuid.New(), uuid.New()}, []string{"a"}).Scan(&n); err != nil || n != 3 {
		t.Errorf("array parameters: %d, %v", n, err)
	}
}
