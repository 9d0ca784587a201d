package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// The schema, one goose migration folder per dialect. A change to the schema
// is a new numbered file in both folders.
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

// migrate applies pending migrations, holding a lock that keeps other
// processes opening the same database from migrating at the same time.
// sqliteLock is the lock for SQLite; PostgreSQL uses an advisory lock.
func migrate(ctx context.Context, db *sql.DB, d dialect, sqliteLock *migrationFileLock) error {
	var (
		gooseDialect goose.Dialect
		dir          string
		lockOpt      goose.ProviderOption
	)
	switch d {
	case dialectSQLite:
		gooseDialect, dir = goose.DialectSQLite3, "migrations/sqlite"
		lockOpt = goose.WithLocker(sqliteLock)
	case dialectPostgres:
		gooseDialect, dir = goose.DialectPostgres, "migrations/postgres"
		locker, err := postgresMigrationLocker(ctx, db)
		if err != nil {
			return fmt.Errorf("sqlstore: migrate: %w", err)
		}
		lockOpt = goose.WithSessionLocker(locker)
	default:
		return fmt.Errorf("sqlstore: migrate: unknown dialect %d", d)
	}
	fsys, err := fs.Sub(migrationFiles, dir)
	if err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	p, err := goose.NewProvider(gooseDialect, db, fsys,
		// Only our embedded migrations, never Go migrations some other
		// package registered globally.
		goose.WithDisableGlobalRegistry(true),
		lockOpt,
	)
	if err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("sqlstore: migrate %s database: %w", d, err)
	}
	return nil
}

// postgresMigrationLocker returns goose's session-level advisory lock, with
// a lock ID derived from the schema being migrated. Advisory locks are per
// database, not per schema: with goose's fixed default ID, installations (or
// tests) in different schemas of one database would wait for each other,
// goose polling the lock only every few seconds.
func postgresMigrationLocker(ctx context.Context, db *sql.DB) (lock.SessionLocker, error) {
	var schema sql.NullString
	if err := db.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return nil, fmt.Errorf("find current schema: %w", err)
	}
	if !schema.Valid {
		return nil, errors.New("no schema to create tables in: does the search_path schema exist?")
	}
	h := fnv.New64a()
	h.Write([]byte("portti migrations\x00" + schema.String))
	return lock.NewPostgresSessionLocker(
		lock.WithLockID(int64(h.Sum64())),
		// Poll every second for up to 5 minutes: another node's migrations
		// take well under that.
		lock.WithLockTimeout(1, 300),
		lock.WithUnlockTimeout(1, 60),
	)
}
