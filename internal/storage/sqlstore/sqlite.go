package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// sqliteParams are the DSN parameters of every SQLite connection, spelled
// as modernc.org/sqlite v1.61 parses them (see applyQueryParams in its
// sqlite.go): "_txlock" selects the BEGIN mode of database/sql transactions
// and each "_pragma=NAME(VALUE)" runs "PRAGMA NAME(VALUE)" on every new
// connection, busy_timeout first.
//
//   - _txlock=immediate: transactions take the write lock at BEGIN, where
//     busy_timeout makes them wait for it. A deferred transaction that reads
//     and then writes after another writer committed fails at once with
//     SQLITE_BUSY, whatever the timeout.
//   - busy_timeout(10000): a busy database is waited for, up to 10 s, and
//     never surfaces as an error in normal operation.
//   - journal_mode(WAL): readers do not block the writer or each other, and
//     another process (the command line next to a running server) can use
//     the same file.
//   - foreign_keys(1): SQLite enforces REFERENCES only when asked to.
//   - synchronous(NORMAL): durable across application crashes; in WAL mode
//     a power loss can roll back only the last transactions, never corrupt.
//   - wal_autocheckpoint(0): no checkpoint inside a commit, where its fsync
//     would hold up every writer queued on the writeLock; the writeLock
//     runs a passive checkpoint in the background instead (see
//     writeLock.release). SQLite still checkpoints when the last connection
//     to the file closes.
const sqliteParams = "_txlock=immediate" +
	"&_pragma=busy_timeout(10000)" +
	"&_pragma=journal_mode(WAL)" +
	"&_pragma=foreign_keys(1)" +
	"&_pragma=synchronous(NORMAL)" +
	"&_pragma=wal_autocheckpoint(0)"

func sqliteDSN(path string) string { return path + "?" + sqliteParams }

// checkSQLitePath rejects the paths that sqliteDSN cannot express or that
// would not give one shared database.
func checkSQLitePath(path string) error {
	switch {
	case path == "":
		return errors.New(`empty path: want "sqlite:PATH"`)
	case strings.Contains(path, ":memory:"), strings.Contains(path, "mode=memory"):
		// Every pooled connection would get its own empty database.
		return errors.New("in-memory databases are not supported; give a file path")
	case strings.HasPrefix(path, "//"):
		return errors.New(`"sqlite://" URLs are not supported: want sqlite:/absolute/path or sqlite:relative/path`)
	case strings.HasPrefix(strings.ToLower(path), "file:"):
		return errors.New("SQLite URI filenames are not supported; give a plain path")
	case strings.ContainsRune(path, '?'):
		// The driver splits the DSN at the first '?'.
		return errors.New(`the path must not contain "?"`)
	case strings.ContainsRune(path, 0):
		return errors.New("the path must not contain NUL")
	}
	return nil
}

// createPrivateFile creates path and its parent directory unless they
// exist, readable by the owner only: the database holds password hashes.
// SQLite gives its -wal and -shm files the permissions of the database file.
func createPrivateFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create database file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("create database file: %w", err)
	}
	return nil
}

// lockSQLiteMigrations serialises migrations between processes that share
// one SQLite database (a server and the command line started together after
// an upgrade). It returns the function that releases the lock.
//
// The database's own write lock is not enough: goose reads the applied
// versions before it begins each migration's transaction, so two processes
// could both decide to apply the same migration; the second would fail
// ("table already exists") or, for a data migration, apply it twice. So the
// lock is a write transaction held on a small side file next to the
// database, PATH.migrate-lock. It is an OS file lock taken by SQLite: it
// works wherever SQLite does, and a crashed process cannot leave it behind.
func lockSQLiteMigrations(ctx context.Context, dbPath string) (unlock func() error, err error) {
	path := dbPath + ".migrate-lock"
	if err := createPrivateFile(path); err != nil {
		return nil, fmt.Errorf("migration lock: %w", err)
	}
	dsn := fmt.Sprintf("%s?_txlock=immediate&_pragma=busy_timeout(%d)", path, migrationLockTimeout.Milliseconds())
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("migration lock: %w", err)
	}
	db.SetMaxOpenConns(1)
	tx, err := db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: waits for another holder
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("migration lock: %w", err)
	}
	return func() error {
		// Nothing was written; the rollback only drops the lock.
		if err := errors.Join(tx.Rollback(), db.Close()); err != nil {
			return fmt.Errorf("migration unlock: %w", err)
		}
		return nil
	}, nil
}
