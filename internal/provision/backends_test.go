package provision

import (
	"context"
	"crypto/rand"
	"database/sql"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// dbFunc gives a test a fresh, empty database URL.
type dbFunc func(t *testing.T) string

// onBackends runs fn on SQLite, and on PostgreSQL (a schema of its own)
// when PORTTI_TEST_POSTGRES_DSN names a database, which CI must: a
// transaction that fails half-way behaves differently there.
func onBackends(t *testing.T, fn func(t *testing.T, db dbFunc)) {
	t.Run("SQLite", func(t *testing.T) {
		fn(t, func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "portti.db") })
	})
	dsn := os.Getenv("PORTTI_TEST_POSTGRES_DSN")
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("PORTTI_TEST_POSTGRES_DSN is not set: CI must test PostgreSQL")
		}
		t.Log("PORTTI_TEST_POSTGRES_DSN is not set: SQLite only")
		return
	}
	t.Run("PostgreSQL", func(t *testing.T) {
		fn(t, func(t *testing.T) string {
			admin, err := sql.Open("pgx", dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = admin.Close() })
			schema := "t_" + strings.ToLower(rand.Text())
			if _, err := admin.ExecContext(t.Context(), `CREATE SCHEMA "`+schema+`"`); err != nil {
				t.Fatalf("create schema: %v", err)
			}
			t.Cleanup(func() {
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
		})
	})
}
