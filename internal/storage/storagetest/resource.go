package storagetest

import (
	"testing"
	"time"

	"github.com/portti/portti/internal/storage"
)

// The conformance tests of storage.ResourceStorage, run by Run.
var resourceTests = []conformanceTest{
	{"Resource/ClientByResource", testClientByResource},
	{"Resource/UniqueResource", testUniqueResource},
	{"Resource/DenyJTI", testDenyJTI},
	{"Resource/DenyJTIExpires", testDenyJTIExpires},
	{"Resource/AccessTokenStatus", testAccessTokenStatus},
}

// testClientByResource: a resource server's identifier and accepted
// scopes survive the round trip, and it is found by its identifier only.
func testClientByResource(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	api := sampleClient("grades-api")
	api.ResourceServer = "https://api.example.fi/grades"
	api.ResourceScopes = []string{"grades:read", "grades:write"}
	must(t, "CreateClient", s.CreateClient(ctx, api))
	createClient(t, s, "app1") // no resource server

	got, err := s.GetClientByResource(ctx, "https://api.example.fi/grades")
	must(t, "GetClientByResource", err)
	checkRecord(t, "GetClientByResource", got, api)
	got, err = s.GetClient(ctx, "grades-api")
	must(t, "GetClient", err)
	checkRecord(t, "GetClient", got, api)

	for _, r := range []string{"", "https://api.example.fi/grades/", "https://API.example.fi/grades", "https://api.example.fi/other"} {
		_, err := s.GetClientByResource(ctx, r)
		checkErrorIs(t, "GetClientByResource("+r+")", err, storage.ErrNotFound)
	}

	updated, err := s.UpdateClient(ctx, "grades-api", func(c storage.Client) (storage.Client, error) {
		c.ResourceServer = "https://api.example.fi/grades/v2"
		c.ResourceScopes = nil
		return c, nil
	})
	must(t, "UpdateClient", err)
	api.ResourceServer, api.ResourceScopes = "https://api.example.fi/grades/v2", nil
	checkRecord(t, "UpdateClient", updated, api)
	_, err = s.GetClientByResource(ctx, "https://api.example.fi/grades")
	checkErrorIs(t, "GetClientByResource(old identifier)", err, storage.ErrNotFound)
	got, err = s.GetClientByResource(ctx, "https://api.example.fi/grades/v2")
	must(t, "GetClientByResource(new identifier)", err)
	checkRecord(t, "GetClientByResource(new identifier)", got, api)
}

// testUniqueResource: two clients cannot be the same API, while any
// number of clients are no API at all.
func testUniqueResource(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	a := sampleClient("api-a")
	a.ResourceServer = "https://api.example.fi/x"
	must(t, "CreateClient", s.CreateClient(ctx, a))
	b := sampleClient("api-b")
	b.ResourceServer = "https://api.example.fi/x"
	checkErrorIs(t, "CreateClient with a taken resource", s.CreateClient(ctx, b), storage.ErrConflict)
	b.ResourceServer = "https://api.example.fi/y"
	must(t, "CreateClient", s.CreateClient(ctx, b))
	_, err := s.UpdateClient(ctx, "api-b", func(c storage.Client) (storage.Client, error) {
		c.ResourceServer = "https://api.example.fi/x"
		return c, nil
	})
	checkErrorIs(t, "UpdateClient to a taken resource", err, storage.ErrConflict)
	createClient(t, s, "app1")
	createClient(t, s, "app2")
}

// testDenyJTI: a denied jti is denied, others are not, and denying twice
// is no error.
func testDenyJTI(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	for _, jti := range []string{"jti-1", ""} {
		denied, err := s.JTIDenied(ctx, jti)
		must(t, "JTIDenied", err)
		if denied {
			t.Errorf("JTIDenied(%q) before any revocation = true", jti)
		}
	}
	r := storage.RevokedJTI{JTI: "jti-1", ClientID: "machine", RevokedAt: at(0), ExpiresAt: at(10 * time.Minute)}
	must(t, "DenyJTI", s.DenyJTI(ctx, r))
	must(t, "DenyJTI again", s.DenyJTI(ctx, r))
	denied, err := s.JTIDenied(ctx, "jti-1")
	must(t, "JTIDenied", err)
	if !denied {
		t.Error("JTIDenied(jti-1) after DenyJTI = false")
	}
	denied, err = s.JTIDenied(ctx, "jti-2")
	must(t, "JTIDenied", err)
	if denied {
		t.Error("JTIDenied(jti-2) = true; only jti-1 was denied")
	}
	if err := s.DenyJTI(ctx, storage.RevokedJTI{ClientID: "machine", ExpiresAt: at(time.Minute)}); err == nil {
		t.Error("DenyJTI without a jti: no error")
	}
}

// testDenyJTIExpires: DeleteExpired drops an entry once its token has
// expired (its exp refuses it from then on) and keeps the others.
func testDenyJTIExpires(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	must(t, "DenyJTI", s.DenyJTI(ctx, storage.RevokedJTI{JTI: "old", ClientID: "m", RevokedAt: at(-20 * time.Minute), ExpiresAt: at(-time.Second)}))
	must(t, "DenyJTI", s.DenyJTI(ctx, storage.RevokedJTI{JTI: "live", ClientID: "m", RevokedAt: at(-time.Minute), ExpiresAt: at(time.Minute)}))
	must(t, "DeleteExpired", s.DeleteExpired(ctx, t0))
	for jti, want := range map[string]bool{"old": false, "live": true} {
		denied, err := s.JTIDenied(ctx, jti)
		must(t, "JTIDenied", err)
		if denied != want {
			t.Errorf("after DeleteExpired, JTIDenied(%q) = %v, want %v", jti, denied, want)
		}
	}
}

// testAccessTokenStatus: the token as GetAccessToken reads it, and
// whether its account exists and is disabled.
func testAccessTokenStatus(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createAccount(t, s, "acc1", "alice@example.com")
	createClient(t, s, "app1")
	want := storage.AccessToken{ID: "at-person", ChainID: "c1", ClientID: "app1", AccountID: "acc1",
		Scopes: []string{"openid"}, Audience: []string{"https://api.example.fi/x"}, CreatedAt: at(0), ExpiresAt: at(time.Hour)}
	must(t, "CreateAccessToken", s.CreateAccessToken(ctx, want))
	machine := storage.AccessToken{ID: "at-machine", ClientID: "app1", CreatedAt: at(0), ExpiresAt: at(time.Hour), RevokedAt: at(time.Minute)}
	must(t, "CreateAccessToken", s.CreateAccessToken(ctx, machine))

	setDisabled := func(d bool) {
		t.Helper()
		_, err := s.UpdateAccount(ctx, "acc1", func(a storage.Account) (storage.Account, error) {
			a.Disabled = d
			return a, nil
		})
		must(t, "UpdateAccount", err)
	}
	setDisabled(false)
	got, st, err := s.GetAccessTokenStatus(ctx, "at-person")
	must(t, "GetAccessTokenStatus", err)
	checkRecord(t, "GetAccessTokenStatus", got, want)
	if st != (storage.AccountStatus{Exists: true}) {
		t.Errorf("status %+v, want an existing, enabled account", st)
	}
	setDisabled(true)
	if _, st, _ := s.GetAccessTokenStatus(ctx, "at-person"); st != (storage.AccountStatus{Exists: true, Disabled: true}) {
		t.Errorf("status %+v, want disabled", st)
	}
	got, st, err = s.GetAccessTokenStatus(ctx, "at-machine")
	must(t, "GetAccessTokenStatus", err)
	checkRecord(t, "GetAccessTokenStatus (no account)", got, machine)
	if st != (storage.AccountStatus{}) {
		t.Errorf("status of a token without account %+v", st)
	}
	_, _, err = s.GetAccessTokenStatus(ctx, "nothing")
	checkErrorIs(t, "GetAccessTokenStatus(unknown)", err, storage.ErrNotFound)
}
