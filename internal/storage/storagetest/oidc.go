package storagetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/portti/portti/internal/storage"
)

// The conformance tests of storage.OIDCStorage, run by Run.
var oidcTests = []conformanceTest{
	{"OIDC/NotFound", testOIDCNotFound},
	{"OIDC/Client/CreateGetUpdate", testClientCreateGetUpdate},
	{"OIDC/Client/Conflict", testClientConflict},
	{"OIDC/Client/ListOrder", testClientListOrder},
	{"OIDC/Client/DeleteCascade", testClientDeleteCascade},
	{"OIDC/Client/Source", testClientSource},
	{"OIDC/SigningKey/CreateUpdateList", testSigningKeys},
	{"OIDC/AuthRequest/CreateGetUpdateDelete", testAuthRequest},
	{"OIDC/AuthRequest/CodeConflict", testAuthRequestCodeConflict},
	{"OIDC/AuthRequest/DeleteOnce", testAuthRequestDeleteOnce},
	{"OIDC/RefreshToken/Rotation", testRefreshTokenRotation},
	{"OIDC/RefreshToken/RotateOnce", testRefreshTokenRotateOnce},
	{"OIDC/RefreshToken/RevokeChain", testRevokeRefreshChain},
	{"OIDC/RefreshToken/RevokeSessionTokens", testRevokeSessionTokens},
	{"OIDC/AccessToken/CreateGetRevoke", testAccessToken},
	{"OIDC/AccessToken/WithAccount", testAccessTokenWithAccount},
	{"OIDC/Consent/PutGet", testConsent},
	{"OIDC/SessionClient/AddList", testSessionClients},
	{"OIDC/SessionClient/Delete", testDeleteSessionClients},
	{"OIDC/SessionClient/EndedSessions", testEndedSessionsWithClients},
	{"OIDC/Logout/EnqueueUpdate", testLogoutEnqueueUpdate},
	{"OIDC/Logout/ClaimLease", testLogoutClaimLease},
	{"OIDC/Logout/ClaimConcurrent", testLogoutClaimConcurrent},
	{"OIDC/InTx/CodeExchangeRollback", testOIDCInTxRollback},
	{"OIDC/DeleteExpired", testOIDCDeleteExpired},
}

// sampleClient returns a client with every field set and distinct.
func sampleClient(id string) storage.Client {
	return storage.Client{
		ID:                     id,
		Name:                   "Kirjasto " + id,
		SecretHash:             "5e3c0f…" + id,
		Public:                 false,
		RedirectURIs:           []string{"https://" + id + ".example/callback", "https://" + id + ".example/cb2"},
		PostLogoutRedirectURIs: []string{"https://" + id + ".example/bye"},
		GrantTypes:             []string{"authorization_code", "refresh_token"},
		BackchannelLogoutURI:   "https://" + id + ".example/logout",
		AllowedNetworks:        []string{"192.0.2.0/24", "2001:db8::/32"},
		ThirdParty:             true,
		IDTokenAlg:             "ES256",
		Scopes:                 []string{"books:read", "loans:write"},
		AllowedGroups:          []string{"Staff", "Physics students"},
		Source:                 storage.ClientSourceConfig,
		CreatedAt:              at(-48 * time.Hour),
		UpdatedAt:              at(-time.Hour),
	}
}

func createClient(t *testing.T, s storage.Storage, id string) storage.Client {
	t.Helper()
	c := sampleClient(id)
	must(t, "CreateClient", s.CreateClient(t.Context(), c))
	return c
}

func sampleAuthRequest(id, clientID string) storage.AuthRequest {
	return storage.AuthRequest{
		ID:        id,
		ClientID:  clientID,
		Data:      []byte(`{"scope":"openid email","state":"` + id + `"}`),
		CreatedAt: at(-time.Minute),
		ExpiresAt: at(9 * time.Minute),
	}
}

func sampleRefreshToken(hash, chainID, clientID, accountID, sessionID string) storage.RefreshToken {
	return storage.RefreshToken{
		Hash:      hash,
		ChainID:   chainID,
		ClientID:  clientID,
		AccountID: accountID,
		SessionID: sessionID,
		Scopes:    []string{"openid", "email", "offline_access"},
		Audience:  []string{clientID, "https://api.example"},
		AMR:       []string{"pwd"},
		AuthTime:  at(-2 * time.Hour),
		CreatedAt: at(-time.Hour),
		ExpiresAt: at(30 * 24 * time.Hour),
	}
}

func createRefreshToken(t *testing.T, s storage.Storage, hash, chainID, clientID, accountID, sessionID string) storage.RefreshToken {
	t.Helper()
	rt := sampleRefreshToken(hash, chainID, clientID, accountID, sessionID)
	must(t, "CreateRefreshToken", s.CreateRefreshToken(t.Context(), rt))
	return rt
}

func sampleAccessToken(id, chainID, clientID, accountID string) storage.AccessToken {
	return storage.AccessToken{
		ID:        id,
		ChainID:   chainID,
		ClientID:  clientID,
		AccountID: accountID,
		Scopes:    []string{"openid", "profile"},
		Audience:  []string{clientID},
		CreatedAt: at(-time.Minute),
		ExpiresAt: at(time.Hour),
	}
}

func createAccessToken(t *testing.T, s storage.Storage, id, chainID, clientID, accountID string) storage.AccessToken {
	t.Helper()
	tok := sampleAccessToken(id, chainID, clientID, accountID)
	must(t, "CreateAccessToken", s.CreateAccessToken(t.Context(), tok))
	return tok
}

func sampleLogout(clientID string) storage.LogoutDelivery {
	return storage.LogoutDelivery{
		ClientID:  clientID,
		URI:       "https://" + clientID + ".example/logout",
		Token:     "eyJhbGciOiJFUzI1NiJ9.eyJzaWQiOiJ4In0.sig-" + clientID,
		CreatedAt: at(-time.Minute),
	}
}

// checkRefreshRevoked checks each refresh token's RevokedAt.
func checkRefreshRevoked(t *testing.T, s storage.Storage, want map[string]time.Time) {
	t.Helper()
	for hash, revoked := range want {
		rt, err := s.GetRefreshToken(t.Context(), hash)
		must(t, "GetRefreshToken", err)
		if !rt.RevokedAt.Equal(revoked.Truncate(time.Microsecond)) {
			t.Errorf("refresh token %q: RevokedAt = %v, want %v", hash, rt.RevokedAt, revoked)
		}
	}
}

// checkAccessRevoked checks each access token's RevokedAt.
func checkAccessRevoked(t *testing.T, s storage.Storage, want map[string]time.Time) {
	t.Helper()
	for id, revoked := range want {
		tok, err := s.GetAccessToken(t.Context(), id)
		must(t, "GetAccessToken", err)
		if !tok.RevokedAt.Equal(revoked.Truncate(time.Microsecond)) {
			t.Errorf("access token %q: RevokedAt = %v, want %v", id, tok.RevokedAt, revoked)
		}
	}
}

// --- Not found ---

func testOIDCNotFound(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	fnCalled := false

	_, err := s.GetClient(ctx, "missing")
	checkErrorIs(t, "GetClient", err, storage.ErrNotFound)
	_, err = s.UpdateClient(ctx, "missing", func(c storage.Client) (storage.Client, error) {
		fnCalled = true
		return c, nil
	})
	checkErrorIs(t, "UpdateClient", err, storage.ErrNotFound)
	err = s.DeleteClient(ctx, "missing")
	checkErrorIs(t, "DeleteClient", err, storage.ErrNotFound)

	_, err = s.UpdateSigningKey(ctx, "missing", func(k storage.SigningKey) (storage.SigningKey, error) {
		fnCalled = true
		return k, nil
	})
	checkErrorIs(t, "UpdateSigningKey", err, storage.ErrNotFound)

	_, err = s.GetAuthRequest(ctx, "missing")
	checkErrorIs(t, "GetAuthRequest", err, storage.ErrNotFound)
	_, err = s.GetAuthRequestByCode(ctx, "missing")
	checkErrorIs(t, "GetAuthRequestByCode", err, storage.ErrNotFound)
	_, err = s.UpdateAuthRequest(ctx, "missing", func(r storage.AuthRequest) (storage.AuthRequest, error) {
		fnCalled = true
		return r, nil
	})
	checkErrorIs(t, "UpdateAuthRequest", err, storage.ErrNotFound)
	err = s.DeleteAuthRequest(ctx, "missing")
	checkErrorIs(t, "DeleteAuthRequest", err, storage.ErrNotFound)

	_, err = s.GetRefreshToken(ctx, "missing")
	checkErrorIs(t, "GetRefreshToken", err, storage.ErrNotFound)
	_, err = s.UpdateRefreshToken(ctx, "missing", func(rt storage.RefreshToken) (storage.RefreshToken, error) {
		fnCalled = true
		return rt, nil
	})
	checkErrorIs(t, "UpdateRefreshToken", err, storage.ErrNotFound)

	_, err = s.GetAccessToken(ctx, "missing")
	checkErrorIs(t, "GetAccessToken", err, storage.ErrNotFound)
	err = s.RevokeAccessToken(ctx, "missing", t0)
	checkErrorIs(t, "RevokeAccessToken", err, storage.ErrNotFound)

	_, err = s.GetConsent(ctx, "acc1", "missing")
	checkErrorIs(t, "GetConsent", err, storage.ErrNotFound)

	_, err = s.UpdateLogout(ctx, 12345, func(d storage.LogoutDelivery) (storage.LogoutDelivery, error) {
		fnCalled = true
		return d, nil
	})
	checkErrorIs(t, "UpdateLogout", err, storage.ErrNotFound)

	if fnCalled {
		t.Error("an Update* method called fn for a record that does not exist")
	}

	// Nothing to revoke or list is not an error.
	for what, count := range map[string]func() (int, error){
		"RevokeRefreshChain":  func() (int, error) { return s.RevokeRefreshChain(ctx, "missing", t0) },
		"RevokeSessionTokens": func() (int, error) { return s.RevokeSessionTokens(ctx, "missing", "", t0) },
		"ListClients":         func() (int, error) { l, err := s.ListClients(ctx); return len(l), err },
		"ListSigningKeys":     func() (int, error) { l, err := s.ListSigningKeys(ctx); return len(l), err },
		"ListSessionClients":  func() (int, error) { l, err := s.ListSessionClients(ctx, "missing"); return len(l), err },
		"EndedSessionsWithClients": func() (int, error) {
			l, err := s.EndedSessionsWithClients(ctx, t0, 10)
			return len(l), err
		},
		"ClaimLogouts": func() (int, error) {
			l, err := s.ClaimLogouts(ctx, t0, time.Minute, 10)
			return len(l), err
		},
	} {
		n, err := count()
		must(t, what, err)
		if n != 0 {
			t.Errorf("%s on an empty store returned %d", what, n)
		}
	}
}

// --- Clients ---

func testClientCreateGetUpdate(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	want := createClient(t, s, "app1")
	got, err := s.GetClient(ctx, "app1")
	must(t, "GetClient", err)
	checkRecord(t, "GetClient", got, want)

	// Zero values, a public client, and empty lists survive the round trip.
	public := storage.Client{ID: "spa", Public: true, RedirectURIs: []string{}}
	must(t, "CreateClient", s.CreateClient(ctx, public))
	got, err = s.GetClient(ctx, "spa")
	must(t, "GetClient", err)
	checkRecord(t, "GetClient (zero fields)", got, public)

	var seen storage.Client
	updated, err := s.UpdateClient(ctx, "app1", func(c storage.Client) (storage.Client, error) {
		seen = c
		c.Name = "Kirjasto (uusi)"
		c.RedirectURIs = []string{"https://app1.example/new"}
		c.AllowedNetworks = nil
		c.GrantTypes = append(c.GrantTypes, "client_credentials")
		c.Scopes = []string{"books:read"}
		c.ThirdParty = false
		c.UpdatedAt = at(time.Minute)
		return c, nil
	})
	must(t, "UpdateClient", err)
	checkRecord(t, "the client given to fn", seen, want)
	want.Name = "Kirjasto (uusi)"
	want.RedirectURIs = []string{"https://app1.example/new"}
	want.AllowedNetworks = nil
	want.GrantTypes = []string{"authorization_code", "refresh_token", "client_credentials"}
	want.Scopes = []string{"books:read"}
	want.ThirdParty = false
	want.UpdatedAt = at(time.Minute)
	checkRecord(t, "UpdateClient result", updated, want)
	got, err = s.GetClient(ctx, "app1")
	must(t, "GetClient", err)
	checkRecord(t, "GetClient after update", got, want)

	_, err = s.UpdateClient(ctx, "app1", func(c storage.Client) (storage.Client, error) {
		c.Name = "Changed"
		return c, errTest
	})
	checkErrorIs(t, "UpdateClient with a failing fn", err, errTest)
	got, err = s.GetClient(ctx, "app1")
	must(t, "GetClient", err)
	checkRecord(t, "GetClient after the aborted update", got, want)
}

// testClientSource: the source is stored, changed by UpdateClient, and
// listed, so the configuration's clients can be told from the command's.
func testClientSource(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	cli := sampleClient("from-cli")
	cli.Source = storage.ClientSourceCLI
	must(t, "CreateClient", s.CreateClient(ctx, cli))
	file := createClient(t, s, "from-file")

	list, err := s.ListClients(ctx)
	must(t, "ListClients", err)
	if len(list) != 2 {
		t.Fatalf("ListClients: %d clients, want 2", len(list))
	}
	checkRecord(t, "ListClients[0]", list[0], cli)
	checkRecord(t, "ListClients[1]", list[1], file)

	updated, err := s.UpdateClient(ctx, "from-file", func(c storage.Client) (storage.Client, error) {
		c.Source = storage.ClientSourceCLI
		return c, nil
	})
	must(t, "UpdateClient", err)
	file.Source = storage.ClientSourceCLI
	checkRecord(t, "UpdateClient result", updated, file)
	got, err := s.GetClient(ctx, "from-file")
	must(t, "GetClient", err)
	checkRecord(t, "GetClient after changing the source", got, file)
}

func testClientConflict(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	want := createClient(t, s, "app1")
	other := sampleClient("app1")
	other.Name = "Impostor"
	err := s.CreateClient(ctx, other)
	checkErrorIs(t, "CreateClient with a taken ID", err, storage.ErrConflict)
	got, err := s.GetClient(ctx, "app1")
	must(t, "GetClient", err)
	checkRecord(t, "the client after the failed create", got, want)
}

func testClientListOrder(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	byID := map[string]storage.Client{}
	for _, id := range []string{"mobile", "admin", "portal", "api-gw"} {
		byID[id] = createClient(t, s, id)
	}
	got, err := s.ListClients(ctx)
	must(t, "ListClients", err)
	var want []storage.Client
	for _, id := range []string{"admin", "api-gw", "mobile", "portal"} {
		want = append(want, byID[id])
	}
	checkRecords(t, "ListClients", got, want)
}

func testClientDeleteCascade(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createAccount(t, s, "acc1", "alice@example.com")
	kept := createClient(t, s, "kept")
	createClient(t, s, "gone")

	// Everything that belongs to a client, for both clients.
	logoutIDs := map[string]int64{}
	for _, c := range []string{"kept", "gone"} {
		must(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, sampleAuthRequest("req-"+c, c)))
		createRefreshToken(t, s, "rt-"+c, "chain-"+c, c, "acc1", "sess1")
		createAccessToken(t, s, "at-"+c, "chain-"+c, c, "acc1")
		createAccessToken(t, s, "cc-"+c, "", c, "")
		must(t, "PutConsent", s.PutConsent(ctx, storage.Consent{AccountID: "acc1", ClientID: c, Scopes: []string{"openid"}, GrantedAt: t0}))
		must(t, "AddSessionClient", s.AddSessionClient(ctx, storage.SessionClient{SessionID: "sess1", ClientID: c, AccountID: "acc1", CreatedAt: t0}))
		id, err := s.EnqueueLogout(ctx, sampleLogout(c))
		must(t, "EnqueueLogout", err)
		logoutIDs[c] = id
	}

	must(t, "DeleteClient", s.DeleteClient(ctx, "gone"))

	_, err := s.GetClient(ctx, "gone")
	checkErrorIs(t, "GetClient of the deleted client", err, storage.ErrNotFound)
	err = s.DeleteClient(ctx, "gone")
	checkErrorIs(t, "DeleteClient again", err, storage.ErrNotFound)
	got, err := s.GetClient(ctx, "kept")
	must(t, "GetClient of the other client", err)
	checkRecord(t, "the other client", got, kept)

	for c, wantErr := range map[string]error{"gone": storage.ErrNotFound, "kept": nil} {
		_, err := s.GetAuthRequest(ctx, "req-"+c)
		if !errors.Is(err, wantErr) {
			t.Errorf("GetAuthRequest of client %q: error %v, want %v", c, err, wantErr)
		}
		_, err = s.GetRefreshToken(ctx, "rt-"+c)
		if !errors.Is(err, wantErr) {
			t.Errorf("GetRefreshToken of client %q: error %v, want %v", c, err, wantErr)
		}
		for _, id := range []string{"at-" + c, "cc-" + c} {
			_, err = s.GetAccessToken(ctx, id)
			if !errors.Is(err, wantErr) {
				t.Errorf("GetAccessToken(%q) of client %q: error %v, want %v", id, c, err, wantErr)
			}
		}
		_, err = s.GetConsent(ctx, "acc1", c)
		if !errors.Is(err, wantErr) {
			t.Errorf("GetConsent of client %q: error %v, want %v", c, err, wantErr)
		}
		_, err = s.UpdateLogout(ctx, logoutIDs[c], func(d storage.LogoutDelivery) (storage.LogoutDelivery, error) { return d, nil })
		if !errors.Is(err, wantErr) {
			t.Errorf("UpdateLogout of client %q: error %v, want %v", c, err, wantErr)
		}
	}
	scs, err := s.ListSessionClients(ctx, "sess1")
	must(t, "ListSessionClients", err)
	if len(scs) != 1 || scs[0].ClientID != "kept" {
		t.Errorf("ListSessionClients after DeleteClient = %+v, want only the kept client", scs)
	}
	claimed, err := s.ClaimLogouts(ctx, t0, time.Minute, 10)
	must(t, "ClaimLogouts", err)
	if len(claimed) != 1 || claimed[0].ClientID != "kept" {
		t.Errorf("ClaimLogouts after DeleteClient = %+v, want only the kept client's", claimed)
	}
}

// --- Signing keys ---

func testSigningKeys(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	key := func(id string, created time.Time) storage.SigningKey {
		return storage.SigningKey{
			ID:        id,
			Alg:       "RS256",
			Private:   []byte("sealed\x00\xff" + id),
			Public:    []byte(`{"kty":"RSA","kid":"` + id + `"}`),
			CreatedAt: created,
			SignFrom:  created.Add(time.Hour),
		}
	}
	// Created out of order; "b" and "c" share a creation time, so the ID
	// orders them.
	keys := map[string]storage.SigningKey{
		"c": key("c", at(-24*time.Hour)),
		"a": key("a", at(0)),
		"b": key("b", at(-24*time.Hour)),
		"d": key("d", at(-48*time.Hour)),
	}
	for _, id := range []string{"c", "a", "b", "d"} {
		must(t, "CreateSigningKey", s.CreateSigningKey(ctx, keys[id]))
	}
	err := s.CreateSigningKey(ctx, key("a", at(time.Hour)))
	checkErrorIs(t, "CreateSigningKey with a taken ID", err, storage.ErrConflict)

	list := func(what string, ids ...string) {
		t.Helper()
		got, err := s.ListSigningKeys(ctx)
		must(t, "ListSigningKeys", err)
		var want []storage.SigningKey
		for _, id := range ids {
			want = append(want, keys[id])
		}
		checkRecords(t, what, got, want)
	}
	list("ListSigningKeys", "d", "b", "c", "a")

	var seen storage.SigningKey
	updated, err := s.UpdateSigningKey(ctx, "d", func(k storage.SigningKey) (storage.SigningKey, error) {
		seen = k
		k.RetiredAt = at(-time.Hour)
		k.ExpiresAt = at(23 * time.Hour)
		return k, nil
	})
	must(t, "UpdateSigningKey", err)
	checkRecord(t, "the key given to fn", seen, keys["d"])
	want := keys["d"]
	want.RetiredAt = at(-time.Hour)
	want.ExpiresAt = at(23 * time.Hour)
	keys["d"] = want
	checkRecord(t, "UpdateSigningKey result", updated, want)

	_, err = s.UpdateSigningKey(ctx, "a", func(k storage.SigningKey) (storage.SigningKey, error) {
		k.RetiredAt = t0
		return k, errTest
	})
	checkErrorIs(t, "UpdateSigningKey with a failing fn", err, errTest)
	list("ListSigningKeys after updates", "d", "b", "c", "a")
}

// --- Auth requests ---

func testAuthRequest(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createAccount(t, s, "acc1", "alice@example.com")
	createClient(t, s, "app1")
	want := sampleAuthRequest("req1", "app1")
	must(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, want))
	// Another request without a code yet: an empty code hash is not unique.
	must(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, sampleAuthRequest("req2", "app1")))

	got, err := s.GetAuthRequest(ctx, "req1")
	must(t, "GetAuthRequest", err)
	checkRecord(t, "GetAuthRequest", got, want)
	_, err = s.GetAuthRequestByCode(ctx, "")
	checkErrorIs(t, "GetAuthRequestByCode with an empty hash", err, storage.ErrNotFound)

	// Sign-in, then the code.
	var seen storage.AuthRequest
	updated, err := s.UpdateAuthRequest(ctx, "req1", func(r storage.AuthRequest) (storage.AuthRequest, error) {
		seen = r
		r.AccountID = "acc1"
		r.SessionID = "sess1"
		r.AuthTime = at(time.Second)
		return r, nil
	})
	must(t, "UpdateAuthRequest", err)
	checkRecord(t, "the request given to fn", seen, want)
	want.AccountID, want.SessionID, want.AuthTime = "acc1", "sess1", at(time.Second)
	checkRecord(t, "UpdateAuthRequest result", updated, want)
	updated, err = s.UpdateAuthRequest(ctx, "req1", func(r storage.AuthRequest) (storage.AuthRequest, error) {
		r.CodeHash = "code-hash-1"
		r.Data = append(r.Data, " "...)
		return r, nil
	})
	must(t, "UpdateAuthRequest", err)
	want.CodeHash = "code-hash-1"
	want.Data = append(slices.Clone(want.Data), ' ')
	checkRecord(t, "UpdateAuthRequest result", updated, want)

	got, err = s.GetAuthRequestByCode(ctx, "code-hash-1")
	must(t, "GetAuthRequestByCode", err)
	checkRecord(t, "GetAuthRequestByCode", got, want)
	got, err = s.GetAuthRequest(ctx, "req1")
	must(t, "GetAuthRequest", err)
	checkRecord(t, "GetAuthRequest after update", got, want)

	_, err = s.UpdateAuthRequest(ctx, "req1", func(r storage.AuthRequest) (storage.AuthRequest, error) {
		r.CodeHash = "other"
		return r, errTest
	})
	checkErrorIs(t, "UpdateAuthRequest with a failing fn", err, errTest)
	got, err = s.GetAuthRequestByCode(ctx, "code-hash-1")
	must(t, "GetAuthRequestByCode after the aborted update", err)
	checkRecord(t, "GetAuthRequestByCode after the aborted update", got, want)

	must(t, "DeleteAuthRequest", s.DeleteAuthRequest(ctx, "req1"))
	_, err = s.GetAuthRequest(ctx, "req1")
	checkErrorIs(t, "GetAuthRequest after delete", err, storage.ErrNotFound)
	_, err = s.GetAuthRequestByCode(ctx, "code-hash-1")
	checkErrorIs(t, "GetAuthRequestByCode after delete", err, storage.ErrNotFound)
	err = s.DeleteAuthRequest(ctx, "req1")
	checkErrorIs(t, "DeleteAuthRequest again", err, storage.ErrNotFound)
	_, err = s.GetAuthRequest(ctx, "req2")
	must(t, "GetAuthRequest of the other request", err)
}

func testAuthRequestCodeConflict(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createClient(t, s, "app1")
	first := sampleAuthRequest("req1", "app1")
	first.CodeHash = "code-hash-1"
	must(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, first))
	must(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, sampleAuthRequest("req2", "app1")))

	_, err := s.UpdateAuthRequest(ctx, "req2", func(r storage.AuthRequest) (storage.AuthRequest, error) {
		r.CodeHash = "code-hash-1"
		return r, nil
	})
	checkErrorIs(t, "UpdateAuthRequest to a taken code hash", err, storage.ErrConflict)
	second := sampleAuthRequest("req3", "app1")
	second.CodeHash = "code-hash-1"
	err = s.CreateAuthRequest(ctx, second)
	checkErrorIs(t, "CreateAuthRequest with a taken code hash", err, storage.ErrConflict)
	err = s.CreateAuthRequest(ctx, sampleAuthRequest("req1", "app1"))
	checkErrorIs(t, "CreateAuthRequest with a taken ID", err, storage.ErrConflict)

	got, err := s.GetAuthRequestByCode(ctx, "code-hash-1")
	must(t, "GetAuthRequestByCode", err)
	checkRecord(t, "GetAuthRequestByCode", got, first)
	got, err = s.GetAuthRequest(ctx, "req2")
	must(t, "GetAuthRequest", err)
	if got.CodeHash != "" {
		t.Errorf("the failed update set the code hash to %q", got.CodeHash)
	}
}

// testAuthRequestDeleteOnce exchanges one code from many requests at once:
// exactly one may delete the auth request.
func testAuthRequestDeleteOnce(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createClient(t, s, "app1")
	must(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, sampleAuthRequest("req1", "app1")))
	const n = 10
	errs := make([]error, n)
	runConcurrently(n, func(i int) { errs[i] = s.DeleteAuthRequest(ctx, "req1") })
	succeeded := 0
	for i, err := range errs {
		switch {
		case err == nil:
			succeeded++
		case !errors.Is(err, storage.ErrNotFound):
			t.Errorf("DeleteAuthRequest %d: %v", i, err)
		}
	}
	if succeeded != 1 {
		t.Errorf("%d of %d concurrent DeleteAuthRequest calls succeeded, want 1", succeeded, n)
	}
}

// --- Refresh tokens ---

func testRefreshTokenRotation(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createAccount(t, s, "acc1", "alice@example.com")
	createClient(t, s, "app1")
	first := createRefreshToken(t, s, "rt1", "chain1", "app1", "acc1", "sess1")
	got, err := s.GetRefreshToken(ctx, "rt1")
	must(t, "GetRefreshToken", err)
	checkRecord(t, "GetRefreshToken", got, first)
	err = s.CreateRefreshToken(ctx, sampleRefreshToken("rt1", "chain2", "app1", "acc1", ""))
	checkErrorIs(t, "CreateRefreshToken with a taken hash", err, storage.ErrConflict)

	// Rotation: mark the presented token used, issue the next in the chain.
	var seen storage.RefreshToken
	used, err := s.UpdateRefreshToken(ctx, "rt1", func(rt storage.RefreshToken) (storage.RefreshToken, error) {
		seen = rt
		rt.UsedAt = at(time.Minute)
		return rt, nil
	})
	must(t, "UpdateRefreshToken", err)
	checkRecord(t, "the token given to fn", seen, first)
	first.UsedAt = at(time.Minute)
	checkRecord(t, "UpdateRefreshToken result", used, first)
	next := sampleRefreshToken("rt2", "chain1", "app1", "acc1", "sess1")
	next.CreatedAt = at(time.Minute)
	next.AMR = nil
	must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, next))

	got, err = s.GetRefreshToken(ctx, "rt1")
	must(t, "GetRefreshToken", err)
	checkRecord(t, "the rotated token", got, first)
	got, err = s.GetRefreshToken(ctx, "rt2")
	must(t, "GetRefreshToken", err)
	checkRecord(t, "the new token", got, next)

	_, err = s.UpdateRefreshToken(ctx, "rt2", func(rt storage.RefreshToken) (storage.RefreshToken, error) {
		rt.UsedAt = at(2 * time.Minute)
		return rt, errTest
	})
	checkErrorIs(t, "UpdateRefreshToken with a failing fn", err, errTest)
	got, err = s.GetRefreshToken(ctx, "rt2")
	must(t, "GetRefreshToken", err)
	checkRecord(t, "the token after the aborted update", got, next)
}

// testRefreshTokenRotateOnce presents one refresh token from many requests
// at once: exactly one may find it unused.
func testRefreshTokenRotateOnce(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createAccount(t, s, "acc1", "alice@example.com")
	createClient(t, s, "app1")
	createRefreshToken(t, s, "rt1", "chain1", "app1", "acc1", "sess1")
	errUsed := errors.New("already used")
	const n = 10
	errs := make([]error, n)
	runConcurrently(n, func(i int) {
		_, errs[i] = s.UpdateRefreshToken(ctx, "rt1", func(rt storage.RefreshToken) (storage.RefreshToken, error) {
			if !rt.UsedAt.IsZero() {
				return rt, errUsed
			}
			rt.UsedAt = at(time.Duration(i) * time.Second)
			return rt, nil
		})
	})
	succeeded := 0
	for i, err := range errs {
		switch {
		case err == nil:
			succeeded++
		case !errors.Is(err, errUsed):
			t.Errorf("UpdateRefreshToken %d: %v", i, err)
		}
	}
	if succeeded != 1 {
		t.Errorf("%d of %d concurrent UpdateRefreshToken calls found the token unused, want 1", succeeded, n)
	}
}

func testRevokeRefreshChain(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createAccount(t, s, "acc1", "alice@example.com")
	createClient(t, s, "app1")
	// chain1: a used token, a token revoked earlier, the current token.
	createRefreshToken(t, s, "rt1", "chain1", "app1", "acc1", "sess1")
	_, err := s.UpdateRefreshToken(ctx, "rt1", func(rt storage.RefreshToken) (storage.RefreshToken, error) {
		rt.UsedAt = at(-time.Minute)
		return rt, nil
	})
	must(t, "UpdateRefreshToken", err)
	early := sampleRefreshToken("rt2", "chain1", "app1", "acc1", "sess1")
	early.RevokedAt = at(-30 * time.Second)
	must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, early))
	createRefreshToken(t, s, "rt3", "chain1", "app1", "acc1", "sess1")
	createRefreshToken(t, s, "other", "chain2", "app1", "acc1", "sess1")
	createAccessToken(t, s, "at1", "chain1", "app1", "acc1")
	createAccessToken(t, s, "at2", "chain1", "app1", "acc1")
	must(t, "RevokeAccessToken", s.RevokeAccessToken(ctx, "at2", at(-10*time.Second)))
	createAccessToken(t, s, "at-other", "chain2", "app1", "acc1")
	createAccessToken(t, s, "at-cc", "", "app1", "")

	revokeAt := at(time.Minute)
	n, err := s.RevokeRefreshChain(ctx, "chain1", revokeAt)
	must(t, "RevokeRefreshChain", err)
	if n != 2 {
		t.Errorf("RevokeRefreshChain = %d, want 2 (the used and the current token)", n)
	}
	checkRefreshRevoked(t, s, map[string]time.Time{
		"rt1": revokeAt, "rt2": at(-30 * time.Second), "rt3": revokeAt, "other": {},
	})
	checkAccessRevoked(t, s, map[string]time.Time{
		"at1": revokeAt, "at2": at(-10 * time.Second), "at-other": {}, "at-cc": {},
	})

	n, err = s.RevokeRefreshChain(ctx, "chain1", at(time.Hour))
	must(t, "RevokeRefreshChain again", err)
	if n != 0 {
		t.Errorf("RevokeRefreshChain of a revoked chain = %d, want 0", n)
	}
	checkRefreshRevoked(t, s, map[string]time.Time{"rt1": revokeAt})

	// No chain is not the chain of the client_credentials tokens.
	n, err = s.RevokeRefreshChain(ctx, "", at(time.Hour))
	must(t, "RevokeRefreshChain of no chain", err)
	if n != 0 {
		t.Errorf("RevokeRefreshChain(\"\") = %d, want 0", n)
	}
	checkAccessRevoked(t, s, map[string]time.Time{"at-cc": {}, "at-other": {}})
}

func testRevokeSessionTokens(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createAccount(t, s, "acc1", "alice@example.com")
	createClient(t, s, "app1")
	createClient(t, s, "app2")
	// Session 1 signed in to app1 (chain a, rotated once) and app2
	// (chain b); session 2 to app1 (chain c).
	createRefreshToken(t, s, "a1", "chain-a", "app1", "acc1", "sess1")
	createRefreshToken(t, s, "a2", "chain-a", "app1", "acc1", "sess1")
	createRefreshToken(t, s, "b1", "chain-b", "app2", "acc1", "sess1")
	createRefreshToken(t, s, "c1", "chain-c", "app1", "acc1", "sess2")
	createAccessToken(t, s, "at-a", "chain-a", "app1", "acc1")
	createAccessToken(t, s, "at-b", "chain-b", "app2", "acc1")
	createAccessToken(t, s, "at-c", "chain-c", "app1", "acc1")
	createAccessToken(t, s, "at-cc", "", "app2", "")

	t1 := at(time.Minute)
	n, err := s.RevokeSessionTokens(ctx, "sess1", "app2", t1)
	must(t, "RevokeSessionTokens(sess1, app2)", err)
	if n != 1 {
		t.Errorf("RevokeSessionTokens(sess1, app2) = %d, want 1", n)
	}
	checkRefreshRevoked(t, s, map[string]time.Time{"a1": {}, "a2": {}, "b1": t1, "c1": {}})
	checkAccessRevoked(t, s, map[string]time.Time{"at-a": {}, "at-b": t1, "at-c": {}, "at-cc": {}})

	t2 := at(2 * time.Minute)
	n, err = s.RevokeSessionTokens(ctx, "sess1", "", t2)
	must(t, "RevokeSessionTokens(sess1)", err)
	if n != 2 {
		t.Errorf("RevokeSessionTokens(sess1) = %d, want 2 (chain a; chain b is revoked already)", n)
	}
	checkRefreshRevoked(t, s, map[string]time.Time{"a1": t2, "a2": t2, "b1": t1, "c1": {}})
	checkAccessRevoked(t, s, map[string]time.Time{"at-a": t2, "at-b": t1, "at-c": {}, "at-cc": {}})

	for _, tc := range []struct{ session, client string }{{"", ""}, {"", "app1"}, {"sess2", "app2"}, {"missing", ""}} {
		n, err = s.RevokeSessionTokens(ctx, tc.session, tc.client, at(time.Hour))
		must(t, "RevokeSessionTokens", err)
		if n != 0 {
			t.Errorf("RevokeSessionTokens(%q, %q) = %d, want 0", tc.session, tc.client, n)
		}
	}
	checkRefreshRevoked(t, s, map[string]time.Time{"c1": {}})
	checkAccessRevoked(t, s, map[string]time.Time{"at-c": {}, "at-cc": {}})
}

// --- Access tokens ---

func testAccessToken(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createAccount(t, s, "acc1", "alice@example.com")
	createClient(t, s, "app1")
	user := createAccessToken(t, s, "at1", "chain1", "app1", "acc1")
	service := createAccessToken(t, s, "at2", "", "app1", "") // client_credentials
	for id, want := range map[string]storage.AccessToken{"at1": user, "at2": service} {
		got, err := s.GetAccessToken(ctx, id)
		must(t, "GetAccessToken", err)
		checkRecord(t, "GetAccessToken("+id+")", got, want)
	}
	err := s.CreateAccessToken(ctx, sampleAccessToken("at1", "", "app1", ""))
	checkErrorIs(t, "CreateAccessToken with a taken ID", err, storage.ErrConflict)

	must(t, "RevokeAccessToken", s.RevokeAccessToken(ctx, "at1", at(time.Minute)))
	// Revoking again keeps the first time.
	must(t, "RevokeAccessToken again", s.RevokeAccessToken(ctx, "at1", at(time.Hour)))
	user.RevokedAt = at(time.Minute)
	got, err := s.GetAccessToken(ctx, "at1")
	must(t, "GetAccessToken", err)
	checkRecord(t, "the revoked token", got, user)
	got, err = s.GetAccessToken(ctx, "at2")
	must(t, "GetAccessToken", err)
	checkRecord(t, "the other token", got, service)
}

// testAccessTokenWithAccount: the token and its account in one read, the
// account empty for a client's own token, both as they are now.
func testAccessTokenWithAccount(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	acct := createAccount(t, s, "acc1", "alice@example.com")
	createAccount(t, s, "acc2", "bob@example.com")
	createClient(t, s, "app1")
	user := createAccessToken(t, s, "at1", "chain1", "app1", "acc1")
	service := createAccessToken(t, s, "at2", "", "app1", "") // client_credentials

	got, gotAcct, err := s.GetAccessTokenWithAccount(ctx, "at1")
	must(t, "GetAccessTokenWithAccount", err)
	checkRecord(t, "the user's token", got, user)
	checkRecord(t, "the user's account", gotAcct, acct)

	got, gotAcct, err = s.GetAccessTokenWithAccount(ctx, "at2")
	must(t, "GetAccessTokenWithAccount", err)
	checkRecord(t, "the client's token", got, service)
	checkRecord(t, "the client's token's account", gotAcct, storage.Account{})

	_, _, err = s.GetAccessTokenWithAccount(ctx, "missing")
	checkErrorIs(t, "GetAccessTokenWithAccount of a missing token", err, storage.ErrNotFound)

	// Both halves are read as they are now, whatever the token's state.
	must(t, "RevokeAccessToken", s.RevokeAccessToken(ctx, "at1", at(time.Minute)))
	user.RevokedAt = at(time.Minute)
	acct, err = s.UpdateAccount(ctx, "acc1", func(a storage.Account) (storage.Account, error) {
		a.Disabled = !a.Disabled
		a.GivenName = "Aino"
		return a, nil
	})
	must(t, "UpdateAccount", err)
	got, gotAcct, err = s.GetAccessTokenWithAccount(ctx, "at1")
	must(t, "GetAccessTokenWithAccount", err)
	checkRecord(t, "the revoked token", got, user)
	checkRecord(t, "the updated account", gotAcct, acct)
}

// --- Consents ---

func testConsent(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createAccount(t, s, "acc1", "alice@example.com")
	createAccount(t, s, "acc2", "bob@example.com")
	createClient(t, s, "app1")
	createClient(t, s, "app2")
	first := storage.Consent{AccountID: "acc1", ClientID: "app1", Scopes: []string{"openid", "email"}, GrantedAt: at(-time.Hour)}
	must(t, "PutConsent", s.PutConsent(ctx, first))
	other := storage.Consent{AccountID: "acc2", ClientID: "app1", Scopes: []string{"openid"}, GrantedAt: at(-2 * time.Hour)}
	must(t, "PutConsent", s.PutConsent(ctx, other))
	got, err := s.GetConsent(ctx, "acc1", "app1")
	must(t, "GetConsent", err)
	checkRecord(t, "GetConsent", got, first)

	// Put again replaces it.
	second := storage.Consent{AccountID: "acc1", ClientID: "app1", Scopes: []string{"openid", "profile", "address"}, GrantedAt: at(time.Minute)}
	must(t, "PutConsent again", s.PutConsent(ctx, second))
	got, err = s.GetConsent(ctx, "acc1", "app1")
	must(t, "GetConsent", err)
	checkRecord(t, "GetConsent after the second put", got, second)
	got, err = s.GetConsent(ctx, "acc2", "app1")
	must(t, "GetConsent", err)
	checkRecord(t, "the other account's consent", got, other)
	_, err = s.GetConsent(ctx, "acc1", "app2")
	checkErrorIs(t, "GetConsent to another client", err, storage.ErrNotFound)
}

// --- Session clients ---

func testSessionClients(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createAccount(t, s, "acc1", "alice@example.com")
	for _, c := range []string{"app1", "app2", "app3"} {
		createClient(t, s, c)
	}
	sc := func(session, client string, created time.Time) storage.SessionClient {
		return storage.SessionClient{SessionID: session, ClientID: client, AccountID: "acc1", CreatedAt: created}
	}
	want := []storage.SessionClient{
		sc("sess1", "app3", at(-time.Hour)),
		sc("sess1", "app1", at(-time.Minute)),
		sc("sess1", "app2", at(-time.Minute)),
	}
	for _, i := range []int{1, 0, 2} {
		must(t, "AddSessionClient", s.AddSessionClient(ctx, want[i]))
	}
	must(t, "AddSessionClient", s.AddSessionClient(ctx, sc("sess2", "app1", at(0))))
	// Signing in to app3 again changes nothing.
	must(t, "AddSessionClient again", s.AddSessionClient(ctx, sc("sess1", "app3", at(time.Minute))))
	err := s.InTx(ctx, func(tx storage.Storage) error {
		// Nor inside a transaction, which must still commit.
		if err := tx.AddSessionClient(ctx, sc("sess1", "app1", at(time.Hour))); err != nil {
			return err
		}
		return tx.AddSessionClient(ctx, sc("sess3", "app1", at(time.Hour)))
	})
	must(t, "InTx", err)

	got, err := s.ListSessionClients(ctx, "sess1")
	must(t, "ListSessionClients", err)
	checkRecords(t, "ListSessionClients(sess1)", got, want)
	got, err = s.ListSessionClients(ctx, "sess3")
	must(t, "ListSessionClients", err)
	checkRecords(t, "ListSessionClients(sess3)", got, []storage.SessionClient{sc("sess3", "app1", at(time.Hour))})
}

// testEndedSessionsWithClients: sessions that expired or are gone while
// their clients are recorded; live sessions and sessions without clients
// are not listed.
func testEndedSessionsWithClients(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createAccount(t, s, "acc1", "alice@example.com")
	createClient(t, s, "app1")
	createClient(t, s, "app2")
	session := func(id string, expires time.Time) {
		se := sampleSession(id, "acc1", at(-48*time.Hour))
		se.ExpiresAt = expires
		must(t, "CreateSession", s.CreateSession(ctx, se))
	}
	session("live", at(time.Hour))
	session("expired", at(-time.Minute))
	session("expired-alone", at(-time.Minute)) // no clients: nothing to tell
	for _, sc := range []storage.SessionClient{
		{SessionID: "live", ClientID: "app1", AccountID: "acc1", CreatedAt: at(-time.Hour)},
		{SessionID: "expired", ClientID: "app1", AccountID: "acc1", CreatedAt: at(-time.Hour)},
		{SessionID: "expired", ClientID: "app2", AccountID: "acc1", CreatedAt: at(-time.Hour)},
		{SessionID: "gone", ClientID: "app2", AccountID: "acc1", CreatedAt: at(-time.Hour)},
	} {
		must(t, "AddSessionClient", s.AddSessionClient(ctx, sc))
	}
	got, err := s.EndedSessionsWithClients(ctx, at(0), 10)
	must(t, "EndedSessionsWithClients", err)
	if !slices.Equal(got, []string{"expired", "gone"}) {
		t.Errorf("EndedSessionsWithClients = %q, want [expired gone]", got)
	}
	got, err = s.EndedSessionsWithClients(ctx, at(0), 1)
	must(t, "EndedSessionsWithClients", err)
	if !slices.Equal(got, []string{"expired"}) {
		t.Errorf("EndedSessionsWithClients with limit 1 = %q, want [expired]", got)
	}
	// Once told (the records deleted), a session is not listed again; an
	// hour later the live one has expired too.
	_, err = s.DeleteSessionClients(ctx, "expired")
	must(t, "DeleteSessionClients", err)
	got, err = s.EndedSessionsWithClients(ctx, at(2*time.Hour), 10)
	must(t, "EndedSessionsWithClients", err)
	if !slices.Equal(got, []string{"gone", "live"}) {
		t.Errorf("EndedSessionsWithClients two hours on = %q, want [gone live]", got)
	}
}

// --- Logout deliveries ---

func testLogoutEnqueueUpdate(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createClient(t, s, "app1")
	want := sampleLogout("app1")
	id, err := s.EnqueueLogout(ctx, want)
	must(t, "EnqueueLogout", err)
	id2, err := s.EnqueueLogout(ctx, sampleLogout("app1"))
	must(t, "EnqueueLogout", err)
	if id <= 0 || id2 <= id {
		t.Errorf("EnqueueLogout returned IDs %d, %d; want positive and increasing", id, id2)
	}
	want.ID = id

	var seen storage.LogoutDelivery
	updated, err := s.UpdateLogout(ctx, id, func(d storage.LogoutDelivery) (storage.LogoutDelivery, error) {
		seen = d
		d.Attempts++
		d.LastError = "503 Service Unavailable"
		d.NextAttemptAt = at(time.Minute)
		return d, nil
	})
	must(t, "UpdateLogout", err)
	checkRecord(t, "the delivery given to fn", seen, want)
	want.Attempts, want.LastError, want.NextAttemptAt = 1, "503 Service Unavailable", at(time.Minute)
	checkRecord(t, "UpdateLogout result", updated, want)

	_, err = s.UpdateLogout(ctx, id, func(d storage.LogoutDelivery) (storage.LogoutDelivery, error) {
		d.DeliveredAt = at(time.Hour)
		return d, errTest
	})
	checkErrorIs(t, "UpdateLogout with a failing fn", err, errTest)
	updated, err = s.UpdateLogout(ctx, id, func(d storage.LogoutDelivery) (storage.LogoutDelivery, error) {
		checkRecord(t, "the delivery after the aborted update", d, want)
		d.DeliveredAt = at(2 * time.Minute)
		return d, nil
	})
	must(t, "UpdateLogout", err)
	want.DeliveredAt = at(2 * time.Minute)
	checkRecord(t, "UpdateLogout result", updated, want)

	// Delivered: no longer claimed.
	claimed, err := s.ClaimLogouts(ctx, at(time.Hour), time.Minute, 10)
	must(t, "ClaimLogouts", err)
	if len(claimed) != 1 || claimed[0].ID != id2 {
		t.Errorf("ClaimLogouts = %+v, want only delivery %d", claimed, id2)
	}
}

func testLogoutClaimLease(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createClient(t, s, "app1")
	const lease = 5 * time.Minute
	enqueue := func(d storage.LogoutDelivery) storage.LogoutDelivery {
		t.Helper()
		id, err := s.EnqueueLogout(ctx, d)
		must(t, "EnqueueLogout", err)
		d.ID = id
		return d
	}
	due := enqueue(sampleLogout("app1"))
	later := sampleLogout("app1")
	later.NextAttemptAt = at(time.Hour)
	later = enqueue(later)
	delivered := sampleLogout("app1")
	delivered.DeliveredAt = at(-time.Second)
	enqueue(delivered)

	claim := func(now time.Time, limit int, want ...storage.LogoutDelivery) {
		t.Helper()
		got, err := s.ClaimLogouts(ctx, now, lease, limit)
		must(t, "ClaimLogouts", err)
		for i := range want {
			want[i].NextAttemptAt = now.Add(lease)
		}
		checkRecords(t, fmt.Sprintf("ClaimLogouts at t0%+v", now.Sub(t0)), got, want)
	}
	claim(at(0), 10, due)
	claim(at(time.Minute), 10)            // leased to the first claimer
	claim(at(lease-time.Microsecond), 10) // still leased
	claim(at(lease), 10, due)             // the lease has passed: retried
	claim(at(2*time.Hour), 1, due)        // oldest first, limit respected
	claim(at(2*time.Hour), 10, later)

	// The lease is stored: an update sees it.
	_, err := s.UpdateLogout(ctx, due.ID, func(d storage.LogoutDelivery) (storage.LogoutDelivery, error) {
		if want := at(2*time.Hour + lease).Truncate(time.Microsecond); !d.NextAttemptAt.Equal(want) {
			t.Errorf("claimed delivery's NextAttemptAt = %v, want %v", d.NextAttemptAt, want)
		}
		return d, nil
	})
	must(t, "UpdateLogout", err)
}

// testLogoutClaimConcurrent runs several deliverers at once: every logout
// token is claimed by exactly one of them.
func testLogoutClaimConcurrent(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createClient(t, s, "app1")
	const deliveries, claimers = 30, 4
	for range deliveries {
		_, err := s.EnqueueLogout(ctx, sampleLogout("app1"))
		must(t, "EnqueueLogout", err)
	}
	claimConcurrently(t, "delivery", deliveries, claimers, func() ([]int64, error) {
		got, err := s.ClaimLogouts(ctx, t0, time.Minute, 3)
		ids := make([]int64, len(got))
		for i, d := range got {
			ids[i] = d.ID
		}
		return ids, err
	})
}

// --- Transactions ---

// testOIDCInTxRollback exchanges a code in a transaction that fails at the
// end: nothing of it stays, and a conflict handled inside it does not spoil
// the transaction.
func testOIDCInTxRollback(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createAccount(t, s, "acc1", "alice@example.com")
	createClient(t, s, "app1")
	req := sampleAuthRequest("req1", "app1")
	req.AccountID, req.SessionID, req.CodeHash = "acc1", "sess1", "code-hash-1"
	must(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, req))

	exchange := func(fail bool) error {
		return s.InTx(ctx, func(tx storage.Storage) error {
			r, err := tx.GetAuthRequestByCode(ctx, "code-hash-1")
			if err != nil {
				return err
			}
			if err := tx.DeleteAuthRequest(ctx, r.ID); err != nil {
				return err
			}
			if err := tx.CreateClient(ctx, sampleClient("app1")); !errors.Is(err, storage.ErrConflict) {
				return fmt.Errorf("CreateClient with a taken ID: error %v, want ErrConflict", err)
			}
			if err := tx.CreateRefreshToken(ctx, sampleRefreshToken("rt1", "chain1", r.ClientID, r.AccountID, r.SessionID)); err != nil {
				return err
			}
			if err := tx.CreateAccessToken(ctx, sampleAccessToken("at1", "chain1", r.ClientID, r.AccountID)); err != nil {
				return err
			}
			if err := tx.AddSessionClient(ctx, storage.SessionClient{SessionID: r.SessionID, ClientID: r.ClientID, AccountID: r.AccountID, CreatedAt: t0}); err != nil {
				return err
			}
			if fail {
				return errTest
			}
			return nil
		})
	}
	checkErrorIs(t, "InTx", exchange(true), errTest)
	got, err := s.GetAuthRequestByCode(ctx, "code-hash-1")
	must(t, "GetAuthRequestByCode after rollback", err)
	checkRecord(t, "the auth request after rollback", got, req)
	_, err = s.GetRefreshToken(ctx, "rt1")
	checkErrorIs(t, "GetRefreshToken after rollback", err, storage.ErrNotFound)
	_, err = s.GetAccessToken(ctx, "at1")
	checkErrorIs(t, "GetAccessToken after rollback", err, storage.ErrNotFound)
	scs, err := s.ListSessionClients(ctx, "sess1")
	must(t, "ListSessionClients", err)
	if len(scs) != 0 {
		t.Errorf("ListSessionClients after rollback = %+v, want none", scs)
	}

	must(t, "InTx", exchange(false))
	_, err = s.GetAuthRequestByCode(ctx, "code-hash-1")
	checkErrorIs(t, "GetAuthRequestByCode after the exchange", err, storage.ErrNotFound)
	_, err = s.GetRefreshToken(ctx, "rt1")
	must(t, "GetRefreshToken after commit", err)
	_, err = s.GetAccessToken(ctx, "at1")
	must(t, "GetAccessToken after commit", err)
	// The code is single-use.
	checkErrorIs(t, "a second exchange", exchange(false), storage.ErrNotFound)
}

// --- Housekeeping ---

func testOIDCDeleteExpired(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	const day = 24 * time.Hour
	now := t0
	createAccount(t, s, "acc1", "alice@example.com")
	createClient(t, s, "app1")

	requests := map[string]time.Time{ // ID: expiry
		"expired": now.Add(-time.Second),
		"valid":   now.Add(time.Minute),
	}
	for id, expires := range requests {
		r := sampleAuthRequest(id, "app1")
		r.CreatedAt, r.ExpiresAt = expires.Add(-10*time.Minute), expires
		must(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, r))
	}
	refresh := map[string]time.Time{ // hash: expiry
		"long-expired":     now.Add(-8 * day),
		"recently-expired": now.Add(-6 * day),
		"valid":            now.Add(day),
	}
	for hash, expires := range refresh {
		rt := sampleRefreshToken(hash, "chain-"+hash, "app1", "acc1", "sess1")
		rt.CreatedAt, rt.ExpiresAt = expires.Add(-30*day), expires
		must(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, rt))
	}
	access := map[string]time.Time{ // ID: expiry
		"long-expired":     now.Add(-25 * time.Hour),
		"recently-expired": now.Add(-23 * time.Hour),
		"valid":            now.Add(time.Hour),
	}
	for id, expires := range access {
		tok := sampleAccessToken(id, "", "app1", "")
		tok.CreatedAt, tok.ExpiresAt = expires.Add(-time.Hour), expires
		must(t, "CreateAccessToken", s.CreateAccessToken(ctx, tok))
	}
	logouts := map[string]time.Time{ // URI: delivered at
		"https://old.example/logout":         now.Add(-31 * day),
		"https://recent.example/logout":      now.Add(-29 * day),
		"https://undelivered.example/logout": {},
	}
	logoutIDs := map[string]int64{}
	for uri, deliveredAt := range logouts {
		d := sampleLogout("app1")
		d.URI, d.CreatedAt, d.DeliveredAt = uri, now.Add(-40*day), deliveredAt
		id, err := s.EnqueueLogout(ctx, d)
		must(t, "EnqueueLogout", err)
		logoutIDs[uri] = id
	}

	must(t, "DeleteExpired", s.DeleteExpired(ctx, now))

	for id, wantErr := range map[string]error{"expired": storage.ErrNotFound, "valid": nil} {
		_, err := s.GetAuthRequest(ctx, id)
		if !errors.Is(err, wantErr) {
			t.Errorf("GetAuthRequest(%q) after DeleteExpired: error %v, want %v", id, err, wantErr)
		}
	}
	for hash, wantErr := range map[string]error{"long-expired": storage.ErrNotFound, "recently-expired": nil, "valid": nil} {
		_, err := s.GetRefreshToken(ctx, hash)
		if !errors.Is(err, wantErr) {
			t.Errorf("GetRefreshToken(%q) after DeleteExpired: error %v, want %v", hash, err, wantErr)
		}
		_, err = s.GetAccessToken(ctx, hash)
		if !errors.Is(err, wantErr) {
			t.Errorf("GetAccessToken(%q) after DeleteExpired: error %v, want %v", hash, err, wantErr)
		}
	}
	for uri, wantErr := range map[string]error{
		"https://old.example/logout":         storage.ErrNotFound,
		"https://recent.example/logout":      nil,
		"https://undelivered.example/logout": nil,
	} {
		_, err := s.UpdateLogout(ctx, logoutIDs[uri], func(d storage.LogoutDelivery) (storage.LogoutDelivery, error) { return d, nil })
		if !errors.Is(err, wantErr) {
			t.Errorf("UpdateLogout(%s) after DeleteExpired: error %v, want %v", uri, err, wantErr)
		}
	}
}
