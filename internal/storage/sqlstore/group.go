package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// group is one SQLite transaction shared by writers that queued behind
// one another for the write lock (group commit). SQLite's one writer is
// portti's bottleneck for token grants: a refresh dirties about twelve
// pages and the commit writes each to the WAL with two system calls,
// inside the lock. Writers that arrive while another holds the lock join
// its transaction instead of starting their own, so their writes share
// pages and one commit.
//
// Each member runs its function on its own goroutine, in turn, inside a
// savepoint: a member whose function fails (or panics) undoes only its
// own writes and returns at once. A member whose function succeeds hands
// the lock to the next queued writer, if any, and waits for the group's
// commit: it returns success only once its writes are committed, and the
// commit's error otherwise. The last member (nobody queued, or
// maxGroup members) commits. Members see the writes of those before
// them, as if they had run one after another, which they did.
type group struct {
	tx      *sql.Tx
	q       querier // tx, or the statement cache bound to it
	members int
	// broken is set when a member's failure took the whole transaction
	// with it (SQLite rolls back on some errors); the group then ends
	// with a rollback and every waiting member gets the error.
	broken error
	err    error         // the outcome, once done is closed
	done   chan struct{} // closed when the group has committed or rolled back
}

// maxGroup bounds a group: the first member waits for all the others'
// functions before its commit.
const maxGroup = 16

// runGrouped is runTx for SQLite: fn runs as a member of the open group,
// or of a new one.
func (s *Store) runGrouped(ctx context.Context, callerTx bool, fn func(tx *Store) error) (after []func(), err error) {
	l := s.writer
	release, err := l.acquire(ctx)
	if errors.Is(err, errWaitedTooLong) {
		// Held this long, most likely by this very goroutine: a write
		// through the outer Store inside InTx, which InTx forbids. Not
		// into the open group (it would commit the holder's half-done
		// work): a transaction of its own meets SQLite's lock and fails
		// after busy_timeout.
		return s.runTx(ctx, callerTx, fn)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: begin transaction: %w", err)
	}
	g := l.open
	if g == nil {
		// Not the caller's context: the transaction outlives the member
		// that opens it, and database/sql rolls a transaction back when
		// the context it began with ends.
		sqlTx, err := s.db.BeginTx(context.Background(), nil)
		if err != nil {
			release()
			return nil, fmt.Errorf("sqlstore: begin transaction: %w", err)
		}
		g = &group{tx: sqlTx, q: sqlTx, done: make(chan struct{})}
		if s.stmts != nil {
			g.q = txStmts{tx: sqlTx, c: s.stmts}
		}
		l.open = g
	} else {
		l.joined.Add(1)
	}
	tx := &Store{db: s.db, q: memberQuerier{g.q}, tx: g.tx, dialect: s.dialect, callerTx: callerTx,
		stmts: s.stmts, writer: l, afterCommit: new([]func())}
	fnErr, panicked, panicValue := g.run(tx, fn)
	g.members++

	if g.broken == nil && g.members < maxGroup && l.waiting() {
		release() // the next writer joins g
		switch {
		case panicked:
			panic(panicValue)
		case fnErr != nil:
			return nil, fnErr
		}
		<-g.done
		if g.err != nil {
			return nil, g.err
		}
		return *tx.afterCommit, nil
	}

	l.open = nil
	if g.broken != nil {
		_ = g.tx.Rollback()
		g.err = fmt.Errorf("sqlstore: a transaction shared with other writers failed: %w", g.broken)
	} else if err := g.tx.Commit(); err != nil {
		g.err = fmt.Errorf("sqlstore: commit: %w", classify(err))
	}
	close(g.done)
	release()
	switch {
	case panicked:
		panic(panicValue)
	case fnErr != nil:
		return nil, fnErr
	case g.err != nil:
		return nil, g.err
	}
	return *tx.afterCommit, nil
}

// run runs one member's fn inside a savepoint, undoing its writes when it
// fails or panics.
func (g *group) run(tx *Store, fn func(tx *Store) error) (err error, panicked bool, panicValue any) {
	// The bookkeeping must not be interrupted by a member's context.
	bg := context.Background()
	if _, err := g.tx.ExecContext(bg, "SAVEPOINT sqlstore_member"); err != nil {
		g.broken = err
		return fmt.Errorf("sqlstore: begin transaction: %w", err), false, nil
	}
	func() {
		defer func() {
			if r := recover(); r != nil {
				panicked, panicValue = true, r
			}
		}()
		err = fn(tx)
	}()
	if err != nil || panicked {
		if _, rbErr := g.tx.ExecContext(bg, "ROLLBACK TO sqlstore_member"); rbErr != nil {
			g.broken = fmt.Errorf("undo a failed write: %w", rbErr)
			return err, panicked, panicValue
		}
	}
	if _, relErr := g.tx.ExecContext(bg, "RELEASE sqlstore_member"); relErr != nil {
		g.broken = fmt.Errorf("release a savepoint: %w", relErr)
		if err == nil && !panicked {
			err = fmt.Errorf("sqlstore: %w", g.broken)
		}
	}
	return err, panicked, panicValue
}

// memberQuerier runs a group member's statements. A member whose context
// has ended stops at its next statement, as in a transaction of its own,
// but a statement once started runs to its end: SQLite answers an
// interrupted write by rolling back the whole transaction, which here
// holds other members' writes too.
type memberQuerier struct{ q querier }

func (m memberQuerier) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return m.q.ExecContext(context.WithoutCancel(ctx), query, args...)
}

func (m memberQuerier) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return m.q.QueryContext(context.WithoutCancel(ctx), query, args...)
}

// QueryRowContext cannot refuse to start (a *sql.Row holds its error
// only from database/sql); a read is harmless, and the member's next
// write stops.
func (m memberQuerier) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return m.q.QueryRowContext(context.WithoutCancel(ctx), query, args...)
}
