package account

import (
	"context"
	"errors"
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

// TestLoginStartsSessionInItsTransaction: a sign-in given StartSession
// begins the browser session in the transaction of its bookkeeping (one
// commit per sign-in, issue 8), with the factors it was given; a failing
// StartSession fails the sign-in and undoes the bookkeeping with it.
func TestLoginStartsSessionInItsTransaction(t *testing.T) {
	params := password.DefaultParams
	params.Memory, params.Time = 1024, 1
	s, st := newTestService(t, params)
	ctx := context.Background()
	const pw = "kesämökki järven rannalla"
	a, err := s.AddUser(ctx, "session-tx@example.fi", Profile{GivenName: "Maija", FamilyName: "Meikäläinen"}, pw, Meta{})
	if err != nil {
		t.Fatal(err)
	}
	counting := &commitCountingStore{Storage: st}
	s.cfg.Store = counting
	factors := []storage.AuthFactor{{Method: "password"}}

	var inTx bool
	m := Meta{DeviceID: "device-1", Factors: factors, StartSession: func(ctx context.Context, tx storage.Storage, got storage.Account, f []storage.AuthFactor) error {
		inTx = tx != storage.Storage(counting) && tx != st
		if got.ID != a.ID || !slices.EqualFunc(f, factors, func(x, y storage.AuthFactor) bool { return x.Method == y.Method }) {
			t.Errorf("StartSession(%s, %+v), want %s and the sign-in's factors", got.ID, f, a.ID)
		}
		return tx.CreateSession(ctx, storage.Session{ID: "session-1", AccountID: got.ID})
	}}
	if _, err := s.Login(ctx, a.Email, pw, m); err != nil {
		t.Fatal(err)
	}
	if !inTx {
		t.Error("StartSession was not given the sign-in's transaction")
	}
	if want := []string{"InTx"}; !slices.Equal(counting.writes, want) {
		t.Errorf("writes outside a transaction %q, want %q", counting.writes, want)
	}
	if _, err := st.GetSession(ctx, "session-1"); err != nil {
		t.Errorf("the session begun in the sign-in's transaction: %v", err)
	}

	// A StartSession that fails: no session, no success recorded, no
	// browser remembered.
	before, err := st.ListEvents(ctx, a.ID, 50)
	if err != nil {
		t.Fatal(err)
	}
	m.DeviceID = "device-2"
	m.StartSession = func(ctx context.Context, tx storage.Storage, _ storage.Account, _ []storage.AuthFactor) error {
		if err := tx.CreateSession(ctx, storage.Session{ID: "session-2", AccountID: a.ID}); err != nil {
			return err
		}
		return errTestSession
	}
	if _, err := s.Login(ctx, a.Email, pw, m); !errors.Is(err, errTestSession) {
		t.Fatalf("Login with a failing StartSession: %v, want it", err)
	}
	if _, err := st.GetSession(ctx, "session-2"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("session of the failed sign-in: %v, want none", err)
	}
	if _, err := st.GetKnownDevice(ctx, a.ID, "device-2"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("browser of the failed sign-in remembered: %v", err)
	}
	if after, err := st.ListEvents(ctx, a.ID, 50); err != nil || len(after) != len(before) {
		t.Errorf("events after the failed sign-in: %d (%v), want %d", len(after), err, len(before))
	}
}

var errTestSession = errors.New("test: the session could not begin")
