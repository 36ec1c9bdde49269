package queries

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	pgxuuid "github.com/vgarvardt/pgx-google-uuid/v5"
)

// AppRole is the database role the app works as: not the owner of any table,
// not a superuser, without BYPASSRLS. The connecting role (the one that ran the
// migrations) is a member of it, and every pooled connection switches to it.
const AppRole = "moviedice_app"

// OpenPool connects to url and makes every connection act as AppRole.
func OpenPool(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database url: %w", err)
	}
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		// google/uuid values go through pgx's binary uuid codec, not
		// through text and sql.Scanner.
		pgxuuid.Register(conn.TypeMap())
		registerUUIDArray(conn.TypeMap())
		_, err := conn.Exec(ctx, "SET ROLE "+AppRole)
		return err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("database pool: %w", err)
	}
	return pool, nil
}

// registerUUIDArray makes uuid[] elements decode straight into uuid.UUID.
// pgxuuid replaces only the scalar type, and pgx's array codec asks its
// element codec for a plan directly: pgx's own uuid codec, which scans a
// uuid.UUID (an sql.Scanner) by formatting every element as text and
// parsing it back.
func registerUUIDArray(m *pgtype.Map) {
	elem := &pgtype.Type{Name: "uuid", OID: pgtype.UUIDOID, Codec: uuidElementCodec{}}
	m.RegisterType(&pgtype.Type{Name: "_uuid", OID: pgtype.UUIDArrayOID, Codec: &pgtype.ArrayCodec{ElementType: elem}})
}

// uuidElementCodec is pgx's uuid codec with a direct binary plan for
// *uuid.UUID targets.
type uuidElementCodec struct{ pgtype.UUIDCodec }

func (c uuidElementCodec) PlanScan(m *pgtype.Map, oid uint32, format int16, target any) pgtype.ScanPlan {
	if _, ok := target.(*uuid.UUID); ok && format == pgtype.BinaryFormatCode {
		return scanBinaryUUID{}
	}
	return c.UUIDCodec.PlanScan(m, oid, format, target)
}

type scanBinaryUUID struct{}

func (scanBinaryUUID) Scan(src []byte, dst any) error {
	if src == nil { // a NULL element: the zero uuid, as the text path gives
		*dst.(*uuid.UUID) = uuid.UUID{}
		return nil
	}
	if len(src) != len(uuid.UUID{}) {
		return fmt.Errorf("uuid: want 16 bytes, got %d", len(src))
	}
	copy(dst.(*uuid.UUID)[:], src)
	return nil
}
