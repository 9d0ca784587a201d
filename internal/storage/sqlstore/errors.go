package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/portti/portti/internal/storage"
)

// PostgreSQL SQLSTATE codes.
const (
	pgUniqueViolation     = "23505"
	pgForeignKeyViolation = "23503"
)

// classify adds the storage sentinel an error stands for, keeping the
// driver's error for the message:
//   - a unique or primary key violation is storage.ErrConflict;
//   - a foreign key violation is storage.ErrNotFound: the record refers to
//     an account or a client that does not exist;
//   - sql.ErrNoRows is storage.ErrNotFound.
//
// Other errors are returned unchanged. The driver messages name the
// constraint or column, never the offending value, so no e-mail address
// ends up in a log through them.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return storage.ErrNotFound
	}
	var sqliteErr *sqlite.Error
	if errors.As(err, &sqliteErr) {
		switch sqliteErr.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %w", storage.ErrConflict, err)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("%w: referenced record: %w", storage.ErrNotFound, err)
		}
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case pgUniqueViolation:
			return fmt.Errorf("%w: %w", storage.ErrConflict, err)
		case pgForeignKeyViolation:
			return fmt.Errorf("%w: referenced record: %w", storage.ErrNotFound, err)
		}
	}
	return err
}
