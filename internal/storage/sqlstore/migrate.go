package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"time"

	"github.com/pressly/goose/v3"
)

// The schema, one goose migration folder per dialect. A change to the schema
// is a new numbered file in both folders.
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

// migrationLockTimeout bounds the wait for another process's migrations
// (on SQLite, as the lock file's busy_timeout).
const migrationLockTimeout = 5 * time.Minute

// migrate applies pending migrations while holding lock, a lock across
// processes, so that several processes opening one database at once
// migrate it one after the other.
//
// The lock is taken around goose's Up rather than given to goose as a
// locker, because Up first checks for pending migrations, creating goose's
// version table, without taking its locker. Racing processes then collide
// on creating that table, and goose recovers by retrying after a second.
func migrate(ctx context.Context, db *sql.DB, d dialect, lock func(context.Context) (func() error, error)) (err error) {
	var (
		gooseDialect goose.Dialect
		dir          string
	)
	switch d {
	case dialectSQLite:
		gooseDialect, dir = goose.DialectSQLite3, "migrations/sqlite"
	case dialectPostgres:
		gooseDialect, dir = goose.DialectPostgres, "migrations/postgres"
	default:
		return fmt.Errorf("sqlstore: migrate: unknown dialect %d", d)
	}
	fsys, err := fs.Sub(migrationFiles, dir)
	if err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	// Only our embedded migrations, never Go migrations some other package
	// registered with goose globally.
	p, err := goose.NewProvider(gooseDialect, db, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}

	unlock, err := lock(ctx)
	if err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	defer func() {
		if unlockErr := unlock(); unlockErr != nil && err == nil {
			err = fmt.Errorf("sqlstore: migrate: %w", unlockErr)
		}
	}()
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("sqlstore: migrate %s database: %w", d, err)
	}
	return nil
}

// lockPostgresMigrations takes a session-level advisory lock on a
// connection of its own, waiting for another holder, and returns the
// function that releases it.
//
// The lock ID is derived from the schema being migrated. Advisory locks are
// per database, not per schema: with one fixed ID, installations (or tests)
// in different schemas of one database would wait for each other.
func lockPostgresMigrations(ctx context.Context, db *sql.DB) (unlock func() error, err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration lock: %w", err)
	}
	defer func() {
		if err != nil {
			_ = conn.Close()
		}
	}()
	var schema sql.NullString
	if err := conn.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return nil, fmt.Errorf("migration lock: find current schema: %w", err)
	}
	if !schema.Valid {
		return nil, errors.New("migration lock: no schema to create tables in: does the search_path schema exist?")
	}
	h := fnv.New64a()
	h.Write([]byte("portti migrations\x00" + schema.String))
	id := int64(h.Sum64())
	// Blocks until the lock is free.
	waitCtx, cancel := context.WithTimeout(ctx, migrationLockTimeout)
	defer cancel()
	if _, err := conn.ExecContext(waitCtx, "SELECT pg_advisory_lock($1)", id); err != nil {
		return nil, fmt.Errorf("migration lock: %w", err)
	}
	return func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var unlocked bool
		err := conn.QueryRowContext(ctx, "SELECT pg_advisory_unlock($1)", id).Scan(&unlocked)
		if err == nil && !unlocked {
			err = errors.New("the lock was not held")
		}
		if err != nil {
			// Ending the session releases its locks: do not return the
			// connection, still holding the lock, to the pool.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			_ = conn.Close()
			return fmt.Errorf("migration unlock: %w", err)
		}
		return conn.Close()
	}, nil
}
