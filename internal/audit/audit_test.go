package audit

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portti/portti/internal/storage"
	"github.com/portti/portti/internal/storage/sqlstore"
)

// TestLoggedOnlyWhenStored: an event recorded in a transaction that rolls
// back leaves neither a row nor a log line; one that commits leaves both.
func TestLoggedOnlyWhenStored(t *testing.T) {
	ctx := context.Background()
	store, err := sqlstore.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	var logs bytes.Buffer
	r := NewRecorder(store, slog.New(slog.NewTextHandler(&logs, nil)), nil)

	rollback := errors.New("rolled back")
	err = store.InTx(ctx, func(tx storage.Storage) error {
		if err := r.Record(ctx, tx, storage.Event{Kind: Registered, Email: "gone@example.fi"}); err != nil {
			return err
		}
		return rollback
	})
	if !errors.Is(err, rollback) {
		t.Fatalf("InTx: %v", err)
	}
	err = store.InTx(ctx, func(tx storage.Storage) error {
		if err := r.Record(ctx, tx, storage.Event{Kind: Registered, Email: "kept@example.fi"}); err != nil {
			return err
		}
		if strings.Contains(logs.String(), "kept@example.fi") {
			t.Error("logged before the commit")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	events, err := store.ListEvents(ctx, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Email != "kept@example.fi" {
		t.Errorf("stored events %+v, want only kept@example.fi's", events)
	}
	if strings.Contains(logs.String(), "gone@example.fi") || !strings.Contains(logs.String(), "kept@example.fi") {
		t.Errorf("log:\n%s\nwant kept@example.fi's event only", logs.String())
	}
}
