package account

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/portti/portti/internal/audit"
	"github.com/portti/portti/internal/password"
	"github.com/portti/portti/internal/storage"
)

// commitCountingStore records the writes made outside a transaction of
// their own, each a commit (on SQLite, a turn at the single writer).
type commitCountingStore struct {
	storage.Storage
	mu     sync.Mutex
	writes []string
}

func (c *commitCountingStore) note(what string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = append(c.writes, what)
}

func (c *commitCountingStore) InTx(ctx context.Context, fn func(tx storage.Storage) error) error {
	c.note("InTx")
	return c.Storage.InTx(ctx, fn)
}

func (c *commitCountingStore) UpdateAccount(ctx context.Context, id string, fn func(storage.Account) (storage.Account, error)) (storage.Account, error) {
	c.note("UpdateAccount")
	return c.Storage.UpdateAccount(ctx, id, fn)
}

func (c *commitCountingStore) UpsertKnownDevice(ctx context.Context, accountID, deviceID string, fn func(storage.KnownDevice) (storage.KnownDevice, error)) (storage.KnownDevice, error) {
	c.note("UpsertKnownDevice")
	return c.Storage.UpsertKnownDevice(ctx, accountID, deviceID, fn)
}

func (c *commitCountingStore) AppendEvent(ctx context.Context, e storage.Event) error {
	c.note("AppendEvent")
	return c.Storage.AppendEvent(ctx, e)
}

// TestCompleteLoginOneCommit: a sign-in's bookkeeping — the account's
// lock lifted, the browser remembered, the audit row — is one
// transaction (issue 8, benchmark h), and all of it is stored.
func TestCompleteLoginOneCommit(t *testing.T) {
	params := password.DefaultParams
	params.Memory, params.Time = 1024, 1
	s, st := newTestService(t, params)
	ctx := context.Background()
	a, err := s.AddUser(ctx, "commits@example.fi", Profile{GivenName: "Maija", FamilyName: "Meikäläinen"}, "kesämökki järven rannalla", Meta{})
	if err != nil {
		t.Fatal(err)
	}
	// A failed login elsewhere left a count on the account, which a
	// sign-in from a new browser lifts.
	if a, err = st.UpdateAccount(ctx, a.ID, func(a storage.Account) (storage.Account, error) {
		a.FailedLogins = 2
		return a, nil
	}); err != nil {
		t.Fatal(err)
	}
	counting := &commitCountingStore{Storage: st}
	s.cfg.Store = counting

	if err := s.CompleteLogin(ctx, a, Meta{DeviceID: "device-1", ClientIP: "192.0.2.7"}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"InTx"}; !slices.Equal(counting.writes, want) {
		t.Errorf("writes outside a transaction %q, want %q", counting.writes, want)
	}
	if got, err := st.GetAccount(ctx, a.ID); err != nil || got.FailedLogins != 0 {
		t.Errorf("account after the sign-in: failed logins %d, %v; want 0", got.FailedLogins, err)
	}
	if d, err := st.GetKnownDevice(ctx, a.ID, "device-1"); err != nil || d.LastSeenAt.IsZero() {
		t.Errorf("known device: %+v, %v", d, err)
	}
	events, err := st.ListEvents(ctx, a.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(events, func(e storage.Event) bool { return e.Kind == audit.LoginSuccess && e.ClientIP == "192.0.2.7" }) {
		t.Errorf("no %s event in %+v", audit.LoginSuccess, events)
	}
}
