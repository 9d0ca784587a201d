package mail

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/portti/portti/internal/mail/smtptest"
	"github.com/portti/portti/internal/storage"
	"github.com/portti/portti/internal/storage/sqlstore"
)

// TestSQLiteTwoNodes runs the outbox on the real SQLite store: mail
// enqueued in a committed transaction arrives, mail from a rolled-back one
// never does, and two nodes sharing the database, with the SMTP server
// refusing some messages, deliver every message exactly once.
func TestSQLiteTwoNodes(t *testing.T) {
	ctx := context.Background()
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "portti.db")
	open := func() storage.Storage {
		st, err := sqlstore.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	node1, node2 := open(), open()

	srv := smtptest.Start(t)
	srv.FailNext(3)
	cfg := func(st storage.Storage) OutboxConfig {
		return OutboxConfig{Store: st, Sender: newSender(t, srv.URL()),
			PollInterval: 5 * time.Millisecond, BatchSize: 4, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}
	}
	o1, o2 := newOutbox(t, cfg(node1)), newOutbox(t, cfg(node2))

	const n = 20
	for i := range n {
		to := fmt.Sprintf("user%d@example.fi", i)
		err := node1.InTx(ctx, func(tx storage.Storage) error {
			return o1.Enqueue(ctx, tx, to, "fi", activation("https://login.example.fi/a/"+to))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	rollback := errors.New("rollback")
	err := node1.InTx(ctx, func(tx storage.Storage) error {
		if err := o1.Enqueue(ctx, tx, "rolled.back@example.fi", "fi", activation("https://login.example.fi/a/x")); err != nil {
			return err
		}
		return rollback
	})
	if !errors.Is(err, rollback) {
		t.Fatalf("InTx = %v", err)
	}

	startWorker(t, o1)
	startWorker(t, o2)
	waitUntil(t, "all are marked sent", func() bool {
		mails, err := node2.ListMail(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(mails) != n {
			t.Fatalf("%d mails in the outbox, want %d", len(mails), n)
		}
		for _, m := range mails {
			if m.SentAt.IsZero() {
				return false
			}
		}
		return true
	})
	time.Sleep(50 * time.Millisecond) // let the workers poll a few more times

	got := map[string]int{}
	for _, m := range srv.Messages() {
		got[m.To[0]]++
	}
	for i := range n {
		if to := fmt.Sprintf("user%d@example.fi", i); got[to] != 1 {
			t.Errorf("%s received %d times", to, got[to])
		}
	}
	if len(srv.Messages()) != n {
		t.Errorf("received %d messages, want %d", len(srv.Messages()), n)
	}
	mails, _ := node1.ListMail(ctx, 100)
	failed := 0
	for _, m := range mails {
		failed += m.Attempts
	}
	if failed != 3 {
		t.Errorf("%d failed attempts recorded, want 3", failed)
	}
}
