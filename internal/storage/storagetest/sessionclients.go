package storagetest

import (
	"sync"
	"testing"
	"time"

	"github.com/portti/portti/internal/storage"
)

// testDeleteSessionClients: a session's records go, in order, and only
// that session's; of concurrent deleters exactly one gets them.
func testDeleteSessionClients(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createAccount(t, s, "acc1", "alice@example.com")
	for _, c := range []string{"app1", "app2"} {
		createClient(t, s, c)
	}
	sc := func(session, client string, created time.Time) storage.SessionClient {
		return storage.SessionClient{SessionID: session, ClientID: client, AccountID: "acc1", CreatedAt: created}
	}
	want := []storage.SessionClient{sc("sess1", "app2", at(-time.Hour)), sc("sess1", "app1", at(0))}
	for _, x := range []storage.SessionClient{want[1], want[0], sc("sess2", "app1", at(0))} {
		must(t, "AddSessionClient", s.AddSessionClient(ctx, x))
	}
	got, err := s.DeleteSessionClients(ctx, "sess1")
	must(t, "DeleteSessionClients", err)
	checkRecords(t, "DeleteSessionClients(sess1)", got, want)
	if left, err := s.ListSessionClients(ctx, "sess1"); err != nil || len(left) != 0 {
		t.Errorf("ListSessionClients after the delete = %+v, %v; want none", left, err)
	}
	got, err = s.DeleteSessionClients(ctx, "sess1")
	must(t, "DeleteSessionClients again", err)
	if len(got) != 0 {
		t.Errorf("second DeleteSessionClients = %+v, want none", got)
	}
	if left, err := s.ListSessionClients(ctx, "sess2"); err != nil || len(left) != 1 {
		t.Errorf("the other session's records: %+v, %v", left, err)
	}
	// Inside a transaction that rolls back, nothing is removed.
	_ = s.InTx(ctx, func(tx storage.Storage) error {
		if _, err := tx.DeleteSessionClients(ctx, "sess2"); err != nil {
			return err
		}
		return errTest
	})
	if left, err := s.ListSessionClients(ctx, "sess2"); err != nil || len(left) != 1 {
		t.Errorf("after a rolled back delete: %+v, %v", left, err)
	}

	// Racing deleters: the records are handed out once.
	for _, c := range []string{"app1", "app2"} {
		must(t, "AddSessionClient", s.AddSessionClient(ctx, sc("sess3", c, at(0))))
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int
	)
	for range 4 {
		wg.Go(func() {
			got, err := s.DeleteSessionClients(ctx, "sess3")
			if err != nil {
				t.Errorf("concurrent DeleteSessionClients: %v", err)
				return
			}
			mu.Lock()
			total += len(got)
			mu.Unlock()
		})
	}
	wg.Wait()
	if total != 2 {
		t.Errorf("concurrent deleters got %d records in all, want 2", total)
	}
}
