package sqlstore

import (
	"database/sql"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/portti/portti/internal/storage"
)

// A client stored before migration 00003 (which added clients.source) was
// added with `portti client add`: after the upgrade it reads as such, so
// syncing the configuration file's clients never removes it.
func TestClientSourceMigration(t *testing.T) {
	for _, tc := range []struct {
		name    string
		newURL  func(t *testing.T) string
		driver  string
		dsn     func(url string) string
		dialect goose.Dialect
		dir     string
	}{
		{"sqlite", func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "portti.db") }, "sqlite",
			func(u string) string { return sqliteDSN(u[len("sqlite:"):]) }, goose.DialectSQLite3, "migrations/sqlite"},
		{"postgres", nil, "pgx", func(u string) string { return u }, goose.DialectPostgres, "migrations/postgres"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			newURL := tc.newURL
			if newURL == nil {
				newURL = postgresForTest(t)
			}
			url := newURL(t)

			// The schema as the release before 00003 left it, with a client.
			db, err := sql.Open(tc.driver, tc.dsn(url))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			fsys, err := fs.Sub(migrationFiles, tc.dir)
			if err != nil {
				t.Fatal(err)
			}
			p, err := goose.NewProvider(tc.dialect, db, fsys, goose.WithDisableGlobalRegistry(true))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.UpTo(t.Context(), 2); err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(t.Context(), `INSERT INTO clients (id, name) VALUES ('old', 'Old app')`); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}

			s := openForTest(t, url)
			c, err := s.GetClient(t.Context(), "old")
			if err != nil {
				t.Fatal(err)
			}
			if c.Source != storage.ClientSourceCLI || c.Name != "Old app" {
				t.Errorf("after the upgrade: source %q name %q, want %q %q", c.Source, c.Name, storage.ClientSourceCLI, "Old app")
			}
		})
	}
}
