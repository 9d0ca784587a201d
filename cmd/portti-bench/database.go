package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// benchDatabase returns the database URL the servers use and a function
// that removes what the run created. With no --database, a SQLite file in
// the temporary directory (removed with it). With a PostgreSQL URL, a new
// schema on that database, set as the search_path, dropped at the end:
// the benchmark never touches tables it did not create.
func benchDatabase(ctx context.Context, database, tmp string) (dbURL string, drop func() error, err error) {
	if database == "" {
		return "sqlite:" + filepath.Join(tmp, "bench.db"), func() error { return nil }, nil
	}
	if !strings.HasPrefix(database, "postgres://") && !strings.HasPrefix(database, "postgresql://") {
		return "", nil, fmt.Errorf("--database: want a postgres:// URL, got %.20q…", database)
	}
	u, err := url.Parse(database)
	if err != nil {
		return "", nil, fmt.Errorf("--database: %w", err)
	}
	admin, err := sql.Open("pgx", database)
	if err != nil {
		return "", nil, err
	}
	// The name is ours, from rand.Text's base32 alphabet.
	schema := "portti_bench_" + strings.ToLower(rand.Text())
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA "`+schema+`"`); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("--database: create schema: %w", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	drop = func() error {
		defer admin.Close()
		_, err := admin.ExecContext(context.Background(), `DROP SCHEMA "`+schema+`" CASCADE`)
		return err
	}
	return u.String(), drop, nil
}

// redactedURL is u without its password, for the report.
func redactedURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.User == nil {
		if strings.HasPrefix(u, "sqlite:") {
			return "SQLite"
		}
		return u
	}
	return p.Redacted()
}
