package storagetest

import (
	"sync"
	"testing"
	"time"

	"github.com/portti/portti/internal/storage"
)

// mfaTests cover credentials and the factors a session records.
var mfaTests = []conformanceTest{
	{"Credential/CreateGetList", testCredentialCreateGetList},
	{"Credential/Lookup", testCredentialLookup},
	{"Credential/Update", testCredentialUpdate},
	{"Credential/UpdateConcurrent", testCredentialUpdateConcurrent},
	{"Credential/Delete", testCredentialDelete},
	{"Credential/AccountGone", testCredentialAccountGone},
	{"Session/Factors", testSessionFactors},
	{"Client/RequireMFA", testClientRequireMFA},
}

func sampleCredential(id, accountID, kind string, created time.Time) storage.Credential {
	return storage.Credential{
		ID: id, AccountID: accountID, Kind: kind, Name: "phone " + id,
		Secret: []byte{0, 1, 2, 0xff}, Data: []byte(`{"digits":6}`),
		CreatedAt: created,
	}
}

func testCredentialCreateGetList(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createAccount(t, s, "acc1", "alice@example.com")
	createAccount(t, s, "acc2", "bob@example.com")
	c1 := sampleCredential("c1", "acc1", "totp", at(time.Hour))
	c2 := sampleCredential("c2", "acc1", "recovery", at(0))
	c2.Name, c2.Data = "", nil
	c3 := sampleCredential("c3", "acc2", "totp", at(0))
	for _, c := range []storage.Credential{c1, c2, c3} {
		must(t, "CreateCredential", s.CreateCredential(ctx, c))
	}
	got, err := s.GetCredential(ctx, "c1")
	must(t, "GetCredential", err)
	checkRecord(t, "GetCredential", got, c1)

	checkErrorIs(t, "CreateCredential with a taken ID", s.CreateCredential(ctx, c1), storage.ErrConflict)
	checkErrorIs(t, "CreateCredential for no account",
		s.CreateCredential(ctx, sampleCredential("c9", "nobody", "totp", at(0))), storage.ErrNotFound)
	_, err = s.GetCredential(ctx, "c9")
	checkErrorIs(t, "GetCredential of none", err, storage.ErrNotFound)

	list, err := s.ListCredentials(ctx, "acc1")
	must(t, "ListCredentials", err)
	checkRecords(t, "ListCredentials (oldest first)", list, []storage.Credential{c2, c1})
	list, err = s.ListCredentials(ctx, "acc3")
	must(t, "ListCredentials of an account with none", err)
	checkRecords(t, "ListCredentials of an account with none", list, nil)
}

func testCredentialLookup(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createAccount(t, s, "acc1", "alice@example.com")
	createAccount(t, s, "acc2", "bob@example.com")
	c1 := sampleCredential("c1", "acc1", "webauthn", at(0))
	c1.Lookup = "credid-1"
	must(t, "CreateCredential", s.CreateCredential(ctx, c1))
	// Two credentials without a lookup value do not clash.
	must(t, "CreateCredential", s.CreateCredential(ctx, sampleCredential("c2", "acc1", "totp", at(0))))
	must(t, "CreateCredential", s.CreateCredential(ctx, sampleCredential("c3", "acc1", "totp", at(0))))

	got, err := s.GetCredentialByLookup(ctx, "webauthn", "credid-1")
	must(t, "GetCredentialByLookup", err)
	checkRecord(t, "GetCredentialByLookup", got, c1)
	_, err = s.GetCredentialByLookup(ctx, "totp", "credid-1")
	checkErrorIs(t, "GetCredentialByLookup of another kind", err, storage.ErrNotFound)
	_, err = s.GetCredentialByLookup(ctx, "totp", "")
	checkErrorIs(t, "GetCredentialByLookup of an empty value", err, storage.ErrNotFound)

	dup := sampleCredential("c4", "acc2", "webauthn", at(0))
	dup.Lookup = "credid-1"
	checkErrorIs(t, "CreateCredential with a taken lookup", s.CreateCredential(ctx, dup), storage.ErrConflict)
	dup.Kind = "other"
	must(t, "the same lookup for another kind", s.CreateCredential(ctx, dup))
}

func testCredentialUpdate(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createAccount(t, s, "acc1", "alice@example.com")
	want := sampleCredential("c1", "acc1", "totp", at(0))
	must(t, "CreateCredential", s.CreateCredential(ctx, want))
	got, err := s.UpdateCredential(ctx, "c1", func(c storage.Credential) (storage.Credential, error) {
		c.Counter = 58000000
		c.LastUsedAt = at(time.Minute)
		c.Name = "renamed"
		c.Secret = []byte("new")
		return c, nil
	})
	must(t, "UpdateCredential", err)
	want.Counter, want.LastUsedAt, want.Name, want.Secret = 58000000, at(time.Minute), "renamed", []byte("new")
	checkRecord(t, "UpdateCredential result", got, want)
	got, err = s.GetCredential(ctx, "c1")
	must(t, "GetCredential", err)
	checkRecord(t, "GetCredential after update", got, want)

	_, err = s.UpdateCredential(ctx, "c1", func(c storage.Credential) (storage.Credential, error) {
		c.Counter++
		return c, errTest
	})
	checkErrorIs(t, "UpdateCredential with a failing fn", err, errTest)
	_, err = s.UpdateCredential(ctx, "c1", func(c storage.Credential) (storage.Credential, error) {
		c.AccountID = "acc2"
		return c, nil
	})
	if err == nil {
		t.Fatal("UpdateCredential moved a credential to another account")
	}
	got, err = s.GetCredential(ctx, "c1")
	must(t, "GetCredential", err)
	checkRecord(t, "GetCredential after refused updates", got, want)
	_, err = s.UpdateCredential(ctx, "none", func(c storage.Credential) (storage.Credential, error) { return c, nil })
	checkErrorIs(t, "UpdateCredential of none", err, storage.ErrNotFound)
}

// testCredentialUpdateConcurrent is the replay guard's race: of many
// sign-ins presenting the same time step at once, exactly one wins.
func testCredentialUpdateConcurrent(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createAccount(t, s, "acc1", "alice@example.com")
	must(t, "CreateCredential", s.CreateCredential(ctx, sampleCredential("c1", "acc1", "totp", at(0))))
	const n = 8
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins int
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.UpdateCredential(ctx, "c1", func(c storage.Credential) (storage.Credential, error) {
				if c.Counter >= 100 {
					return c, errTest
				}
				c.Counter = 100
				return c, nil
			})
			if err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d concurrent updates saw the step unused, want 1", wins)
	}
}

func testCredentialDelete(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createAccount(t, s, "acc1", "alice@example.com")
	createAccount(t, s, "acc2", "bob@example.com")
	for _, c := range []storage.Credential{
		sampleCredential("c1", "acc1", "totp", at(0)),
		sampleCredential("c2", "acc1", "totp", at(1)),
		sampleCredential("c3", "acc1", "recovery", at(2)),
		sampleCredential("c4", "acc2", "totp", at(0)),
	} {
		must(t, "CreateCredential", s.CreateCredential(ctx, c))
	}
	must(t, "DeleteCredential", s.DeleteCredential(ctx, "c1"))
	checkErrorIs(t, "DeleteCredential again", s.DeleteCredential(ctx, "c1"), storage.ErrNotFound)
	n, err := s.DeleteCredentials(ctx, "acc1", "recovery")
	must(t, "DeleteCredentials of a kind", err)
	if n != 1 {
		t.Errorf("DeleteCredentials of a kind removed %d, want 1", n)
	}
	list, _ := s.ListCredentials(ctx, "acc1")
	if len(list) != 1 || list[0].ID != "c2" {
		t.Fatalf("left after deleting: %+v, want c2", list)
	}
	n, err = s.DeleteCredentials(ctx, "acc1", "")
	must(t, "DeleteCredentials of every kind", err)
	if n != 1 {
		t.Errorf("DeleteCredentials of every kind removed %d, want 1", n)
	}
	if list, _ := s.ListCredentials(ctx, "acc2"); len(list) != 1 {
		t.Fatalf("another account's credentials went too: %+v", list)
	}
}

// testCredentialAccountGone: credentials go with their account's row (the
// schema cascades), and none is left for a later account to inherit.
func testCredentialAccountGone(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createAccount(t, s, "acc1", "alice@example.com")
	must(t, "CreateCredential", s.CreateCredential(ctx, sampleCredential("c1", "acc1", "totp", at(0))))
	err := s.InTx(ctx, func(tx storage.Storage) error {
		if err := tx.CreateCredential(ctx, sampleCredential("c2", "acc1", "totp", at(0))); err != nil {
			return err
		}
		return errTest
	})
	checkErrorIs(t, "InTx", err, errTest)
	_, err = s.GetCredential(ctx, "c2")
	checkErrorIs(t, "a credential created in a rolled-back transaction", err, storage.ErrNotFound)
}

func testSessionFactors(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createAccount(t, s, "acc1", "alice@example.com")
	se := sampleSession("sess1", "acc1", at(0))
	se.Factors = []storage.AuthFactor{{Method: "pwd", At: at(0)}, {Method: "totp", At: at(time.Second)}, {Method: "webauthn", At: at(2 * time.Second), AMR: []string{"hwk", "user"}}}
	must(t, "CreateSession", s.CreateSession(ctx, se))
	check := func(what string, got []storage.AuthFactor, want []storage.AuthFactor) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: factors %+v, want %+v", what, got, want)
		}
		for i := range got {
			checkRecord(t, what, got[i], want[i])
		}
	}
	got, err := s.GetSession(ctx, "sess1")
	must(t, "GetSession", err)
	check("GetSession", got.Factors, se.Factors)

	step := storage.AuthFactor{Method: "recovery", At: at(time.Hour)}
	upd, err := s.UpdateSession(ctx, "sess1", func(x storage.Session) (storage.Session, error) {
		x.Factors = append(x.Factors, step)
		return x, nil
	})
	must(t, "UpdateSession", err)
	want := append(se.Factors, step)
	check("UpdateSession result", upd.Factors, want)
	list, err := s.ListSessions(ctx, "acc1")
	must(t, "ListSessions", err)
	check("ListSessions", list[0].Factors, want)

	plain := sampleSession("sess2", "acc1", at(0))
	must(t, "CreateSession without factors", s.CreateSession(ctx, plain))
	got, err = s.GetSession(ctx, "sess2")
	must(t, "GetSession", err)
	check("a session without factors", got.Factors, nil)
}

// testClientRequireMFA: a client's demand for a second factor is kept and
// changed like its other fields.
func testClientRequireMFA(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	c := sampleClient("app1")
	c.RequireMFA = true
	must(t, "CreateClient", s.CreateClient(ctx, c))
	got, err := s.GetClient(ctx, "app1")
	must(t, "GetClient", err)
	if !got.RequireMFA {
		t.Fatal("RequireMFA not kept")
	}
	upd, err := s.UpdateClient(ctx, "app1", func(c storage.Client) (storage.Client, error) {
		c.RequireMFA = false
		return c, nil
	})
	must(t, "UpdateClient", err)
	got, err = s.GetClient(ctx, "app1")
	must(t, "GetClient", err)
	if upd.RequireMFA || got.RequireMFA {
		t.Fatal("RequireMFA not cleared")
	}
	if c2 := sampleClient("app2"); !c2.RequireMFA {
		must(t, "CreateClient", s.CreateClient(ctx, c2))
		if got, _ := s.GetClient(ctx, "app2"); got.RequireMFA {
			t.Fatal("a client created without RequireMFA requires it")
		}
	}
}
