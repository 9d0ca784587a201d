package storagetest

import (
	"errors"
	"testing"
	"time"

	"github.com/portti/portti/internal/storage"
)

// proofingTests cover strong identification's records.
var proofingTests = []conformanceTest{
	{"Proofing/Identities", testProofingIdentities},
	{"Proofing/Keys", testProofingKeys},
	{"Proofing/Flows", testProofingFlows},
}

// testProofingIdentities: an account holds one identity (a new binding
// replaces it); several accounts may share one; an unknown account cannot be bound.
func testProofingIdentities(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	at := func(d time.Duration) time.Time { return at(d).Truncate(time.Microsecond).UTC() }
	createAccount(t, s, "staff", "matti@example.com")
	createAccount(t, s, "student", "matti@student.example.com")
	createAccount(t, s, "other", "maija@example.com")
	if _, err := s.GetIdentity(ctx, "staff"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetIdentity before binding: %v, want ErrNotFound", err)
	}
	must(t, "BindIdentity", s.BindIdentity(ctx, storage.ProofedIdentity{AccountID: "staff", Identity: "h1", Provider: "ftn", BoundAt: at(time.Hour)}))
	must(t, "BindIdentity", s.BindIdentity(ctx, storage.ProofedIdentity{AccountID: "student", Identity: "h1", Provider: "cli", BoundAt: at(2 * time.Hour)}))
	must(t, "BindIdentity", s.BindIdentity(ctx, storage.ProofedIdentity{AccountID: "other", Identity: "h2", Provider: "ftn", BoundAt: at(time.Hour)}))
	got, err := s.GetIdentity(ctx, "staff")
	must(t, "GetIdentity", err)
	if got.Identity != "h1" || got.Provider != "ftn" || !got.BoundAt.Equal(at(time.Hour)) {
		t.Fatalf("GetIdentity = %+v", got)
	}
	list, err := s.AccountsWithIdentity(ctx, "h1")
	must(t, "AccountsWithIdentity", err)
	if len(list) != 2 || list[0].AccountID != "staff" || list[1].AccountID != "student" {
		t.Fatalf("AccountsWithIdentity(h1) = %+v, want staff then student", list)
	}
	// Rebinding replaces.
	must(t, "BindIdentity again", s.BindIdentity(ctx, storage.ProofedIdentity{AccountID: "student", Identity: "h2", Provider: "ftn", BoundAt: at(3 * time.Hour)}))
	list, err = s.AccountsWithIdentity(ctx, "h1")
	must(t, "AccountsWithIdentity", err)
	if len(list) != 1 {
		t.Fatalf("after rebinding, h1 has %d accounts, want 1", len(list))
	}
	if list, _ := s.AccountsWithIdentity(ctx, "nobody"); len(list) != 0 {
		t.Fatalf("unknown identity has accounts %+v", list)
	}
	must(t, "UnbindIdentity", s.UnbindIdentity(ctx, "other"))
	if err := s.UnbindIdentity(ctx, "other"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("UnbindIdentity twice: %v, want ErrNotFound", err)
	}
	if err := s.BindIdentity(ctx, storage.ProofedIdentity{AccountID: "ghost", Identity: "h3", Provider: "ftn", BoundAt: at(0)}); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("binding an unknown account: %v, want ErrNotFound", err)
	}
}

// testProofingKeys: keys come back oldest first with their bytes; a key
// retires once.
func testProofingKeys(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	at := func(d time.Duration) time.Time { return at(d).Truncate(time.Microsecond).UTC() }
	must(t, "CreateProofingKey", s.CreateProofingKey(ctx, storage.ProofingKey{ID: "k2", Use: "enc", Alg: "RSA-OAEP-256", Private: []byte{1, 2}, Public: []byte(`{"kty":"RSA"}`), CreatedAt: at(2 * time.Hour)}))
	must(t, "CreateProofingKey", s.CreateProofingKey(ctx, storage.ProofingKey{ID: "k1", Use: "sig", Alg: "RS256", Private: []byte{3}, Public: []byte(`{}`), CreatedAt: at(time.Hour)}))
	if err := s.CreateProofingKey(ctx, storage.ProofingKey{ID: "k1", Use: "sig", Alg: "RS256", Private: []byte{3}, Public: []byte(`{}`), CreatedAt: at(time.Hour)}); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("duplicate key: %v, want ErrConflict", err)
	}
	keys, err := s.ListProofingKeys(ctx)
	must(t, "ListProofingKeys", err)
	if len(keys) != 2 || keys[0].ID != "k1" || keys[1].ID != "k2" {
		t.Fatalf("ListProofingKeys = %+v", keys)
	}
	if k := keys[1]; k.Use != "enc" || k.Alg != "RSA-OAEP-256" || string(k.Private) != "\x01\x02" || string(k.Public) != `{"kty":"RSA"}` || !k.RetiredAt.IsZero() {
		t.Fatalf("key k2 = %+v", k)
	}
	must(t, "RetireProofingKey", s.RetireProofingKey(ctx, "k1", at(3*time.Hour), at(4*time.Hour)))
	if err := s.RetireProofingKey(ctx, "k1", at(5*time.Hour), at(6*time.Hour)); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("retiring twice: %v, want ErrNotFound", err)
	}
	keys, _ = s.ListProofingKeys(ctx)
	if !keys[0].RetiredAt.Equal(at(3*time.Hour)) || !keys[0].ExpiresAt.Equal(at(4*time.Hour)) {
		t.Fatalf("retired key = %+v", keys[0])
	}
}

// testProofingFlows: a flow is read back whole until it expires, updated
// in a transaction, deleted once, and swept when expired.
func testProofingFlows(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	at := func(d time.Duration) time.Time { return at(d).Truncate(time.Microsecond).UTC() }
	f := storage.ProofingFlow{ID: "f1", Purpose: "mfa_reset", Provider: "ftn", AccountID: "acc", Challenge: "c",
		Return: "/x", Lang: "fi", State: "s", Nonce: "n", Verifier: "v", CreatedAt: at(0), ExpiresAt: at(10 * time.Minute)}
	must(t, "CreateProofingFlow", s.CreateProofingFlow(ctx, f))
	must(t, "CreateProofingFlow", s.CreateProofingFlow(ctx, storage.ProofingFlow{ID: "f2", Purpose: "username", CreatedAt: at(0), ExpiresAt: at(time.Minute)}))
	got, err := s.GetProofingFlow(ctx, "f1", at(time.Minute))
	must(t, "GetProofingFlow", err)
	if got != f {
		t.Fatalf("GetProofingFlow = %+v, want %+v", got, f)
	}
	if _, err := s.GetProofingFlow(ctx, "f1", at(10*time.Minute)); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("expired flow: %v, want ErrNotFound", err)
	}
	up, err := s.UpdateProofingFlow(ctx, "f1", func(f storage.ProofingFlow) (storage.ProofingFlow, error) {
		f.Identity, f.GivenName, f.FamilyName, f.ProvenAt, f.Nonce, f.Verifier = "h", "Matti", "Meikäläinen", at(2*time.Minute), "", ""
		return f, nil
	})
	must(t, "UpdateProofingFlow", err)
	got, _ = s.GetProofingFlow(ctx, "f1", at(time.Minute))
	if got != up || got.Identity != "h" || got.FamilyName != "Meikäläinen" || !got.ProvenAt.Equal(at(2*time.Minute)) {
		t.Fatalf("after update %+v, returned %+v", got, up)
	}
	if _, err := s.UpdateProofingFlow(ctx, "f1", func(f storage.ProofingFlow) (storage.ProofingFlow, error) {
		f.Identity = "changed"
		return f, errTest
	}); !errors.Is(err, errTest) {
		t.Fatalf("update whose fn failed: %v", err)
	}
	if got, _ := s.GetProofingFlow(ctx, "f1", at(time.Minute)); got.Identity != "h" {
		t.Fatal("a failed update wrote")
	}
	n, err := s.DeleteExpiredProofingFlows(ctx, at(5*time.Minute))
	must(t, "DeleteExpiredProofingFlows", err)
	if n != 1 {
		t.Fatalf("DeleteExpiredProofingFlows removed %d, want 1", n)
	}
	must(t, "DeleteProofingFlow", s.DeleteProofingFlow(ctx, "f1"))
	if err := s.DeleteProofingFlow(ctx, "f1"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("deleting twice: %v, want ErrNotFound", err)
	}
}
