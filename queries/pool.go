package queries

import (
	"context"
	"fmt"
	"net"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	pgxuuid "github.com/vgarvardt/pgx-google-uuid/v5"

	"github.com/moviedice/moviedice/web/rawwrite"
)

// AppRole is the database role the app works as: not the owner of any table,
// not a superuser, without BYPASSRLS. The connecting role (the one that ran the
// migrations) is a member of it, and every pooled connection switches to it.
const AppRole = "moviedice_app"

// SystemRole is the role of identity's cross-user work (InSystemTx).
const SystemRole = "moviedice_system"

// OpenPool connects to url and makes every connection act as AppRole.
func OpenPool(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database url: %w", err)
	}
	// Requests write to their connection without the scheduler's system
	// call hand-over (see rawwrite).
	dial := cfg.ConnConfig.DialFunc
	cfg.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return rawwrite.Conn(c), nil
	}
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		// google/uuid values go through pgx's binary uuid codec, not
		// through text and sql.Scanner; arrays decode in one pass.
		pgxuuid.Register(conn.TypeMap())
		registerArrays(conn.TypeMap())
		_, err := conn.Exec(ctx, "SET ROLE "+AppRole)
		return err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("database pool: %w", err)
	}
	return pool, nil
}
