package storagetest

import (
	"testing"
	"time"

	"github.com/portti/portti/internal/storage"
)

// appTests are the cases of AppStorage, run by Run.
var appTests = []conformanceTest{
	{"Apps/ListAndRemove", testAppAccess},
}

// testAppAccess: an application is listed for a consent, a live refresh
// token or a live browser sign-in, and not for dead ones or another
// account's; removing access deletes the consent, revokes every token and
// forgets the sign-ins, for that client and account only.
func testAppAccess(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createAccount(t, s, "acc1", "alice@example.com")
	createAccount(t, s, "acc2", "bob@example.com")
	for _, c := range []string{"consented", "offline", "browser", "expired", "other"} {
		createClient(t, s, c)
	}
	now := at(0)
	must(t, "PutConsent", s.PutConsent(ctx, storage.Consent{AccountID: "acc1", ClientID: "consented", Scopes: []string{"openid", "email"}, GrantedAt: at(-2 * time.Hour)}))
	must(t, "PutConsent", s.PutConsent(ctx, storage.Consent{AccountID: "acc2", ClientID: "other", Scopes: []string{"openid"}, GrantedAt: at(-time.Hour)}))
	rt := func(hash, client, account string, created, expires time.Time) storage.RefreshToken {
		return storage.RefreshToken{Hash: hash, ChainID: "chain-" + hash, ClientID: client, AccountID: account, SessionID: "sess1",
			Scopes: []string{"openid", "offline_access"}, CreatedAt: created, ExpiresAt: expires, AuthTime: created}
	}
	for _, r := range []storage.RefreshToken{
		rt("h1", "offline", "acc1", at(-time.Hour), at(time.Hour)),
		rt("h2", "consented", "acc1", at(-30*time.Minute), at(time.Hour)),
		rt("h3", "expired", "acc1", at(-3*time.Hour), at(-time.Minute)),
		rt("h4", "offline", "acc2", at(-time.Hour), at(time.Hour)),
	} {
		must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, r))
	}
	must(t, "CreateAccessToken", s.CreateAccessToken(ctx, storage.AccessToken{ID: "at1", ChainID: "chain-h1", ClientID: "offline", AccountID: "acc1", CreatedAt: at(-time.Minute), ExpiresAt: at(time.Minute)}))
	must(t, "CreateAccessToken", s.CreateAccessToken(ctx, storage.AccessToken{ID: "at2", ClientID: "offline", AccountID: "acc2", CreatedAt: at(-time.Minute), ExpiresAt: at(time.Minute)}))
	must(t, "CreateSession", s.CreateSession(ctx, sampleSession("sess1", "acc1", at(-time.Hour))))
	must(t, "CreateSession", s.CreateSession(ctx, sampleSession("old", "acc1", at(-48*time.Hour))))
	must(t, "AddSessionClient", s.AddSessionClient(ctx, storage.SessionClient{SessionID: "sess1", ClientID: "browser", AccountID: "acc1", CreatedAt: at(-10 * time.Minute)}))
	must(t, "AddSessionClient", s.AddSessionClient(ctx, storage.SessionClient{SessionID: "sess1", ClientID: "offline", AccountID: "acc1", CreatedAt: at(-5 * time.Minute)}))
	must(t, "AddSessionClient", s.AddSessionClient(ctx, storage.SessionClient{SessionID: "old", ClientID: "expired", AccountID: "acc1", CreatedAt: at(-47 * time.Hour)}))

	got, err := s.ListAppAccess(ctx, "acc1", now)
	must(t, "ListAppAccess", err)
	want := []storage.AppAccess{
		{ClientID: "browser", ClientName: "Kirjasto browser", LastUsed: at(-10 * time.Minute)},
		{ClientID: "consented", ClientName: "Kirjasto consented", Scopes: []string{"openid", "email"}, Consented: at(-2 * time.Hour), LastUsed: at(-30 * time.Minute), Offline: true},
		{ClientID: "offline", ClientName: "Kirjasto offline", LastUsed: at(-5 * time.Minute), Offline: true},
	}
	checkRecords(t, "ListAppAccess(acc1)", got, want)

	removed, err := s.RemoveAppAccess(ctx, "acc1", "offline", now)
	must(t, "RemoveAppAccess", err)
	if removed.Consent || removed.RefreshTokens != 1 || removed.AccessTokens != 1 || len(removed.SessionIDs) != 1 || removed.SessionIDs[0] != "sess1" {
		t.Errorf("RemoveAppAccess(offline) = %+v", removed)
	}
	if r, err := s.GetRefreshToken(ctx, "h1"); err != nil || r.RevokedAt.IsZero() {
		t.Errorf("refresh token h1 after removal: %+v, %v", r, err)
	}
	if a, err := s.GetAccessToken(ctx, "at1"); err != nil || a.RevokedAt.IsZero() {
		t.Errorf("access token at1 after removal: %+v, %v", a, err)
	}
	// Another account's tokens with the same client are untouched.
	if r, err := s.GetRefreshToken(ctx, "h4"); err != nil || !r.RevokedAt.IsZero() {
		t.Errorf("another account's refresh token: %+v, %v", r, err)
	}
	if a, err := s.GetAccessToken(ctx, "at2"); err != nil || !a.RevokedAt.IsZero() {
		t.Errorf("another account's access token: %+v, %v", a, err)
	}

	removed, err = s.RemoveAppAccess(ctx, "acc1", "consented", now)
	must(t, "RemoveAppAccess", err)
	if !removed.Consent || removed.RefreshTokens != 1 {
		t.Errorf("RemoveAppAccess(consented) = %+v", removed)
	}
	got, err = s.ListAppAccess(ctx, "acc1", now)
	must(t, "ListAppAccess", err)
	checkRecords(t, "ListAppAccess after removals", got, want[:1])
	if _, err := s.GetConsent(ctx, "acc2", "other"); err != nil {
		t.Errorf("another account's consent: %v", err)
	}
}
