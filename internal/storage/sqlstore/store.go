// Package sqlstore implements storage.Storage on SQL databases: SQLite
// (modernc.org/sqlite, pure Go, no cgo) for a single portti node, and
// PostgreSQL (pgx) for several nodes sharing one database.
//
// Both backends run the same SQL text with $1-style placeholders; the only
// dialect-specific SQL is the row-locking suffix (FOR UPDATE, SKIP LOCKED),
// which SQLite does not need because its writers are already serialised.
// The schema lives in per-dialect goose migrations that Open applies.
//
// One representation on both backends keeps comparisons in SQL simple:
// times are INTEGER/BIGINT unix microseconds in UTC with the zero time as 0,
// and booleans are INTEGER 0/1. See time.go.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // registers the "sqlite" database/sql driver

	"github.com/portti/portti/internal/storage"
)

var _ storage.Storage = (*Store)(nil)

// defaultLimit applies when a List* or ClaimMail caller passes no limit.
const defaultLimit = 100

// Connection pool sizes.
//
// SQLite in WAL mode runs any number of readers next to one writer. Every
// transaction here begins IMMEDIATE (takes the write lock up front) and every
// connection waits up to busy_timeout for that lock, so extra connections
// queue for the writer instead of failing; a handful is enough to let reads
// proceed while a write is in progress, and more would only add lock churn.
//
// PostgreSQL handles concurrency itself; 20 connections per node is plenty
// for an identity provider and keeps several nodes well under the server's
// default max_connections of 100.
const (
	sqliteMaxConns   = 8
	postgresMaxConns = 20
)

type dialect int

const (
	dialectSQLite dialect = iota + 1
	dialectPostgres
)

func (d dialect) String() string {
	switch d {
	case dialectSQLite:
		return "sqlite"
	case dialectPostgres:
		return "postgres"
	}
	return "unknown"
}

// querier is what *sql.DB and *sql.Tx have in common, so that the same
// method bodies run inside and outside a transaction.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Store is a storage.Storage on a SQL database. The *Store returned by Open
// is safe for concurrent use; a *Store bound to a transaction (the tx passed
// to the function given to InTx) belongs to that one call.
type Store struct {
	db      *sql.DB
	q       querier // db, or tx when bound to a transaction
	tx      *sql.Tx // nil unless bound to a transaction
	dialect dialect

	// callerTx is set on the Store handed to an InTx function. Its writes
	// run under a savepoint on PostgreSQL; see guard.
	callerTx bool

	// afterCommit collects AfterCommit's functions in a transaction.
	afterCommit *[]func()

	stmts  *stmtCache  // SQLite's prepared statements; nil on PostgreSQL
	writer *writeLock  // SQLite's writers in this process; nil on PostgreSQL
	bg     *background // SQLite's background work, waited for by Close
}

// Open connects to databaseURL, "sqlite:PATH" or "postgres://…" /
// "postgresql://…", and brings the schema up to date. Several processes may
// open the same database at the same time; migrations are serialised.
func Open(ctx context.Context, databaseURL string) (*Store, error) {
	scheme, rest, ok := strings.Cut(databaseURL, ":")
	switch strings.ToLower(scheme) {
	case "sqlite":
		if !ok {
			break
		}
		return openSQLite(ctx, rest)
	case "postgres", "postgresql":
		if !strings.HasPrefix(rest, "//") {
			break
		}
		// pgx recognises a URL only by a lower-case scheme.
		return openPostgres(ctx, strings.ToLower(scheme)+":"+rest)
	}
	// Not echoing the URL: it may hold a password.
	return nil, errors.New(`sqlstore: unsupported database URL: want "sqlite:PATH" or "postgres://…"`)
}

func openSQLite(ctx context.Context, path string) (*Store, error) {
	if err := checkSQLitePath(path); err != nil {
		return nil, fmt.Errorf("sqlstore: open sqlite: %w", err)
	}
	if err := createPrivateFile(path); err != nil {
		return nil, fmt.Errorf("sqlstore: open sqlite: %w", err)
	}
	db, err := sql.Open("sqlite", sqliteDSN(path))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open sqlite: %w", err)
	}
	db.SetMaxOpenConns(sqliteMaxConns)
	// Keep every connection: opening one runs the DSN's pragmas again.
	db.SetMaxIdleConns(sqliteMaxConns)
	lock := func(ctx context.Context) (func() error, error) { return lockSQLiteMigrations(ctx, path) }
	return finishOpen(ctx, db, dialectSQLite, lock)
}

func openPostgres(ctx context.Context, url string) (*Store, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		// pgx redacts the password in its parse errors.
		return nil, fmt.Errorf("sqlstore: open postgres: %w", err)
	}
	db.SetMaxOpenConns(postgresMaxConns)
	db.SetMaxIdleConns(postgresMaxConns)
	// Let an idle node give its connections back to the server.
	db.SetConnMaxIdleTime(5 * time.Minute)
	lock := func(ctx context.Context) (func() error, error) { return lockPostgresMigrations(ctx, db) }
	return finishOpen(ctx, db, dialectPostgres, lock)
}

// finishOpen checks the connection and migrates the schema under lock, a
// function that takes a lock across processes and returns its release.
func finishOpen(ctx context.Context, db *sql.DB, d dialect, lock func(context.Context) (func() error, error)) (*Store, error) {
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqlstore: connect to %s: %w", d, err)
	}
	if err := migrate(ctx, db, d, lock); err != nil {
		_ = db.Close()
		return nil, err
	}
	s := &Store{db: db, q: db, dialect: d}
	if d == dialectSQLite {
		s.bg = &background{}
		s.stmts = newStmtCache(db, s.bg)
		s.q = s.stmts
		s.writer = newWriteLock(db, s.bg)
	}
	return s, nil
}

// Close closes the database. It is an error to call it on a Store bound to a
// transaction.
func (s *Store) Close() error {
	if s.tx != nil {
		return errors.New("sqlstore: Close called inside a transaction")
	}
	s.bg.close()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("sqlstore: close: %w", err)
	}
	return nil
}

// InTx runs fn with a Store bound to one transaction. On a Store already
// bound to a transaction it just calls fn with that Store, so nested InTx
// calls share the outer transaction and commit or roll back with it. fn's
// error is returned as it is.
//
// fn must do all its storage work through tx. A write through the outer
// Store waits for the transaction's locks: on SQLite for busy_timeout and
// then fails, on PostgreSQL possibly forever. Keep fn short, too: on
// SQLite the transaction holds the database's only write lock throughout,
// so slow work such as password hashing belongs before InTx.
func (s *Store) InTx(ctx context.Context, fn func(tx storage.Storage) error) error {
	if s.tx != nil {
		return fn(s)
	}
	return s.begin(ctx, true, func(tx *Store) error { return fn(tx) })
}

// withTx runs fn in the Store's transaction, or in a new one when the Store
// is not bound to one. The Update* methods use it for read-modify-write;
// the caller's function runs inside, holding the lock as InTx's fn does.
func (s *Store) withTx(ctx context.Context, fn func(tx *Store) error) error {
	if s.tx != nil {
		return fn(s)
	}
	return s.begin(ctx, false, fn)
}

func (s *Store) begin(ctx context.Context, callerTx bool, fn func(tx *Store) error) error {
	run := s.runTx
	if s.writer != nil { // SQLite: group commit
		run = s.runGrouped
	}
	after, err := run(ctx, callerTx, fn)
	if err != nil {
		return err
	}
	// Committed, and the write lock released: nobody waits for these.
	for _, f := range after {
		f()
	}
	return nil
}

// runTx runs fn in a new transaction of its own (PostgreSQL) and commits
// it, returning the functions fn gave AfterCommit.
func (s *Store) runTx(ctx context.Context, callerTx bool, fn func(tx *Store) error) (after []func(), err error) {
	sqlTx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: begin transaction: %w", err)
	}
	done := false
	defer func() {
		if !done { // fn failed or panicked
			_ = sqlTx.Rollback()
		}
	}()
	tx := &Store{db: s.db, q: sqlTx, tx: sqlTx, dialect: s.dialect, callerTx: callerTx, afterCommit: new([]func())}
	if err := fn(tx); err != nil {
		return nil, err
	}
	done = true
	if err := sqlTx.Commit(); err != nil {
		return nil, fmt.Errorf("sqlstore: commit: %w", classify(err))
	}
	return *tx.afterCommit, nil
}

// AfterCommit implements storage.Storage.
func (s *Store) AfterCommit(fn func()) {
	if s.tx == nil {
		fn()
		return
	}
	*s.afterCommit = append(*s.afterCommit, fn)
}

// guard runs one write that may violate a constraint. On PostgreSQL any
// failed statement aborts the whole transaction, so a caller inside InTx
// that handles, say, ErrConflict and carries on would find every later
// statement failing, while the same code works on SQLite. A savepoint
// around the write undoes only the failed statement, as SQLite does.
// Writes outside a caller's transaction need no savepoint: their
// transaction ends with the error anyway.
func (s *Store) guard(ctx context.Context, write func() error) error {
	if !s.callerTx || s.dialect != dialectPostgres {
		return write()
	}
	if _, err := s.tx.ExecContext(ctx, "SAVEPOINT sqlstore_write"); err != nil {
		return fmt.Errorf("sqlstore: savepoint: %w", err)
	}
	if err := write(); err != nil {
		if _, rbErr := s.tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT sqlstore_write"); rbErr != nil {
			return errors.Join(err, fmt.Errorf("sqlstore: rollback to savepoint: %w", rbErr))
		}
		return err
	}
	// No RELEASE: it would cost a round trip per write, and changes
	// nothing the commit does not. A later SAVEPOINT of the same name
	// hides this one, so a ROLLBACK TO returns to the latest, and the
	// subtransaction's ID stays with the transaction either way.
	return nil
}

// write runs one statement that writes, through q. On SQLite outside a
// transaction it runs in one of its own, so that it queues for the write
// lock with every other writer (and may share a group's commit); in a
// transaction, or on PostgreSQL, it runs under guard.
func (s *Store) write(ctx context.Context, stmt func(q querier) error) error {
	if s.tx == nil && s.writer != nil {
		return s.begin(ctx, false, func(tx *Store) error { return stmt(tx.q) })
	}
	return s.guard(ctx, func() error { return stmt(s.q) })
}

// exec runs a write and returns the number of affected rows.
func (s *Store) exec(ctx context.Context, query string, args ...any) (int64, error) {
	var n int64
	err := s.write(ctx, func(q querier) error {
		res, err := q.ExecContext(ctx, query, args...)
		if err != nil {
			return classify(err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// forUpdate is appended to the SELECT of a read-modify-write. On PostgreSQL
// it locks the row so that concurrent updaters queue; on SQLite the
// transaction already holds the database's single write lock.
func (s *Store) forUpdate() string {
	if s.dialect == dialectPostgres {
		return " FOR UPDATE"
	}
	return ""
}

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface {
	Scan(dest ...any) error
}

// queryAll runs a query and scans every row with scan.
func queryAll[T any](ctx context.Context, q querier, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// limitOrDefault turns a caller's limit into a LIMIT value.
func limitOrDefault(limit int) int {
	if limit <= 0 {
		return defaultLimit
	}
	return limit
}
