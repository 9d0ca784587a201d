package app_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/audit"
	"github.com/portti/portti/internal/password"
	"github.com/portti/portti/internal/storage"
)

// TestLoginUpgradesOldHash: a password hashed with older argon2id
// parameters (or imported) is re-hashed with the configured ones at the
// next successful login, and the upgrade is audited.
func TestLoginUpgradesOldHash(t *testing.T) {
	env := apptest.Start(t, nil) // argon2 m=64 KiB, t=1
	ctx := context.Background()
	const pw = "kesämökki järven rannalla"
	a, err := env.App.Accounts.AddUser(ctx, "aino@example.fi", account.Profile{GivenName: "Aino", FamilyName: "Virtanen"}, pw, account.Meta{Lang: "en"})
	if err != nil {
		t.Fatal(err)
	}
	old, err := password.NewHasher(password.Params{Memory: 128, Time: 2, Threads: 1, KeyLen: 32, SaltLen: 16}).Hash(pw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.App.Store.UpdateAccount(ctx, a.ID, func(a storage.Account) (storage.Account, error) {
		a.PasswordHash = old
		return a, nil
	}); err != nil {
		t.Fatal(err)
	}

	login := func() {
		t.Helper()
		status, body := post(t, env.Browser(t), env.URL+"/login", url.Values{"email": {a.Email}, "password": {pw}})
		if status != http.StatusOK || !strings.Contains(body, "You are signed in as") {
			t.Fatalf("login: %d", status)
		}
	}
	login()
	got, err := env.App.Store.GetAccount(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.PasswordHash == old || !strings.HasPrefix(got.PasswordHash, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash not upgraded: %s", got.PasswordHash)
	}
	events, _ := env.App.Store.ListEvents(ctx, a.ID, 50)
	rehashed := 0
	for _, e := range events {
		if e.Kind == audit.PasswordRehashed {
			rehashed++
		}
	}
	if rehashed != 1 {
		t.Fatalf("%d %s events, want 1", rehashed, audit.PasswordRehashed)
	}

}
