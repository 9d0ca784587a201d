package account

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/portti/portti/internal/mail"
	"github.com/portti/portti/internal/password"
	"github.com/portti/portti/internal/storage"
	"github.com/portti/portti/internal/storage/sqlstore"
)

// newTestService returns a Service on a fresh SQLite database, with an
// outbox in dev mode (no sender) and a hasher with params.
func newTestService(t *testing.T, params password.Params) (*Service, storage.Storage) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "account.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	renderer, err := mail.NewRenderer(mail.RendererConfig{Product: "portti"})
	if err != nil {
		t.Fatal(err)
	}
	discard := slog.New(slog.DiscardHandler)
	outbox, err := mail.NewOutbox(mail.OutboxConfig{Store: st, Renderer: renderer, Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	policy, err := password.NewPolicy(password.PresetNIST)
	if err != nil {
		t.Fatal(err)
	}
	s := New(Config{
		Store: st, Hasher: password.NewHasher(params), Policy: policy, Outbox: outbox,
		Logger: discard, PublicURL: "https://portti.test",
		ThrottleLimit: 1 << 20, // this test is about one address's timing, not the throttle
	})
	return s, st
}

func median(ds []time.Duration) time.Duration {
	ds = slices.Clone(ds)
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// TestLoginTimingDoesNotTellAccountsApart checks that a login for an
// unknown address costs what a wrong password for a real account costs:
// the unknown address must spend a dummy hash, or the speed of the answer
// would tell who has an account. So must an account whose stored hash
// cannot be used (no password set), which Verify rejects without hashing.
//
// The hashing is real (8 MiB, t=1: some milliseconds), so that it, and
// not the noise of the database, is what the measurement sees.
func TestLoginTimingDoesNotTellAccountsApart(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test")
	}
	params := password.DefaultParams
	params.Memory, params.Time = 8*1024, 1
	s, st := newTestService(t, params)
	ctx := context.Background()
	const pw = "kesämökki järven rannalla"
	if _, err := s.AddUser(ctx, "known@example.fi", Profile{GivenName: "Known", FamilyName: "Person"}, pw, Meta{}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if err := st.CreateAccount(ctx, storage.Account{
		ID: "nopasswordaccount000000000", Email: "nopassword@example.fi",
		ActivatedAt: now, CreatedAt: now, UpdatedAt: now,
	}); err != nil {
		t.Fatal(err)
	}

	cases := []struct{ name, email string }{
		{"unknown address", "unknown@example.fi"},
		{"wrong password", "known@example.fi"},
		{"no password set", "nopassword@example.fi"},
	}
	m := Meta{ClientIP: "192.0.2.1", UserAgent: "timing-test", Lang: "en"}
	login := func(email string) time.Duration {
		start := time.Now()
		_, err := s.Login(ctx, email, "not the password 123", m)
		d := time.Since(start)
		if !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("login as %s: %v, want ErrInvalidCredentials", email, err)
		}
		return d
	}
	for _, c := range cases { // warm up: the dummy hash is made on first use
		login(c.email)
	}
	const rounds = 15
	times := make([][]time.Duration, len(cases))
	for range rounds {
		// Interleaved, so that a slow spell of the machine hits all alike.
		for i, c := range cases {
			times[i] = append(times[i], login(c.email))
		}
	}
	ref := median(times[1])
	for i, c := range cases {
		got := median(times[i])
		t.Logf("%-16s median %v", c.name, got)
		if ratio := float64(got) / float64(ref); ratio < 0.5 || ratio > 1.5 {
			t.Errorf("%s: median %v vs %v for a wrong password (ratio %.2f): the time tells accounts apart", c.name, got, ref, ratio)
		}
	}
}
