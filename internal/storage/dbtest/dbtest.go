// Package dbtest gives tests fresh, empty databases on every backend:
// SQLite in the test's temporary directory, and PostgreSQL, in a schema
// of its own dropped after the test, when PORTTI_TEST_POSTGRES_DSN names
// a database (CI must set it: without it a test fails under CI=true).
//
// The same few lines were written in several packages' tests (account,
// mail, oidc, sqlstore); new tests use this one.
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// Backend is one database backend: its name and a function giving each
// call a new database URL.
type Backend struct {
	Name string
	URL  func(t testing.TB) string
}

// Backends returns SQLite, and PostgreSQL when the environment names it.
func Backends(t testing.TB) []Backend {
	out := []Backend{{"SQLite", func(t testing.TB) string {
		return "sqlite:" + filepath.Join(t.TempDir(), "portti.db")
	}}}
	dsn := os.Getenv("PORTTI_TEST_POSTGRES_DSN")
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("PORTTI_TEST_POSTGRES_DSN is not set: CI must test PostgreSQL")
		}
		t.Log("PORTTI_TEST_POSTGRES_DSN is not set: SQLite only")
		return out
	}
	return append(out, Backend{"PostgreSQL", func(t testing.TB) string { return postgresSchema(t, dsn) }})
}

// postgresSchema creates a schema, dropped at the test's end, and returns
// dsn with it as the search_path.
func postgresSchema(t testing.TB, dsn string) string {
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Close() })
	// The name is ours, from rand.Text's base32 alphabet.
	schema := "t_" + strings.ToLower(rand.Text())
	if _, err := admin.ExecContext(t.Context(), `CREATE SCHEMA "`+schema+`"`); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		// t.Context is cancelled before cleanups run.
		if _, err := admin.ExecContext(context.Background(), `DROP SCHEMA "`+schema+`" CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
