package provision

import (
	"testing"

	"github.com/portti/portti/internal/storage/dbtest"
)

// dbFunc gives a test a fresh, empty database URL.
type dbFunc func(t testing.TB) string

// onBackends runs fn on SQLite and PostgreSQL (dbtest): a transaction
// that fails half-way behaves differently there.
func onBackends(t *testing.T, fn func(t *testing.T, db dbFunc)) {
	for _, b := range dbtest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) { fn(t, b.URL) })
	}
}
