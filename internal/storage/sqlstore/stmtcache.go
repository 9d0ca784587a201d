package sqlstore

import (
	"context"
	"database/sql"
	"sync"
)

// stmtCache runs every query through a prepared statement kept for the
// life of the Store, so that each SQL text is parsed once per connection
// instead of at every call. modernc.org/sqlite prepares (parses and plans)
// each query given to DB.Query or DB.Exec again, and that was a fifth of
// the CPU time of a token lookup (portti-bench, issue 3). database/sql
// keeps a Stmt's per-connection handles and re-prepares on a connection
// it has not seen; SQLite re-prepares by itself after a schema change.
//
// Only SQLite uses it: pgx caches prepared statements per connection by
// itself.
type stmtCache struct {
	db *sql.DB
	bg *background

	mu      sync.RWMutex
	m       map[string]*sql.Stmt
	pending map[string]bool // being prepared for a transaction
}

// maxCachedStmts bounds the cache; the store's SQL texts are constants,
// far fewer than this, so it only guards against a future dynamic query.
const maxCachedStmts = 256

func newStmtCache(db *sql.DB, bg *background) *stmtCache {
	return &stmtCache{db: db, bg: bg, m: map[string]*sql.Stmt{}, pending: map[string]bool{}}
}

func (c *stmtCache) lookup(query string) *sql.Stmt {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.m[query]
}

// stmt returns the prepared statement of query, preparing it if needed,
// or nil when it could not be prepared or the cache is full: the caller
// then runs the query directly, which reports any error in the SQL. No
// lock is held while preparing, which waits for a free connection.
func (c *stmtCache) stmt(ctx context.Context, query string) *sql.Stmt {
	if st := c.lookup(query); st != nil {
		return st
	}
	c.mu.RLock()
	full := len(c.m) >= maxCachedStmts
	c.mu.RUnlock()
	if full {
		return nil
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.m[query]; old != nil { // prepared meanwhile by another caller
		_ = st.Close()
		return old
	}
	c.m[query] = st
	return st
}

// prepareLater prepares query in the background. A transaction must not
// prepare through the pool itself: it holds a connection, and with every
// connection held by a transaction doing the same, none would be free.
func (c *stmtCache) prepareLater(query string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending[query] || c.m[query] != nil || len(c.m) >= maxCachedStmts {
		return
	}
	c.pending[query] = true
	c.bg.goRun(func() {
		c.stmt(context.Background(), query)
		c.mu.Lock()
		delete(c.pending, query)
		c.mu.Unlock()
	})
}

func (c *stmtCache) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := c.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return c.db.ExecContext(ctx, query, args...)
}

func (c *stmtCache) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return c.db.QueryContext(ctx, query, args...)
}

func (c *stmtCache) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return c.db.QueryRowContext(ctx, query, args...)
}

// txStmts is the cache seen from inside a transaction: the cached
// statement bound to the transaction's connection (Tx.StmtContext reuses
// the handle already prepared on that connection, or prepares it there).
// A statement not cached yet runs directly this time and is prepared in
// the background for the next.
type txStmts struct {
	tx *sql.Tx
	c  *stmtCache
}

func (t txStmts) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := t.c.lookup(query); st != nil {
		return t.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	t.c.prepareLater(query)
	return t.tx.ExecContext(ctx, query, args...)
}

func (t txStmts) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := t.c.lookup(query); st != nil {
		return t.tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	t.c.prepareLater(query)
	return t.tx.QueryContext(ctx, query, args...)
}

func (t txStmts) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := t.c.lookup(query); st != nil {
		return t.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	t.c.prepareLater(query)
	return t.tx.QueryRowContext(ctx, query, args...)
}
