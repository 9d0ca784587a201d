// Package storagetest is the conformance suite for storage.Storage: every
// backend runs it, so that code written against one behaves the same on
// the others.
//
// The suite uses a backend only through the interface. Times are compared
// at microsecond precision and must come back in UTC.
package storagetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/portti/portti/internal/storage"
)

// Run runs the conformance suite. Each subtest calls open for a fresh, empty
// Storage and runs in parallel with the others, so open must be safe for
// concurrent use. open should register the Storage's Close with t.Cleanup;
// one subtest closes its Storage itself, so that cleanup must tolerate a
// second Close.
func Run(t *testing.T, open func(t *testing.T) storage.Storage) {
	tests := []conformanceTest{
		{"Account/CreateAndGet", testAccountCreateAndGet},
		{"Account/Conflict", testAccountConflict},
		{"Account/Update", testAccountUpdate},
		{"Account/UpdateEmailConflict", testAccountUpdateEmailConflict},
		{"Account/UpdateFnError", testAccountUpdateFnError},
		{"Account/List", testAccountList},
		{"Account/ListDefaultLimit", testAccountListDefaultLimit},
		{"NotFound", testNotFound},
		{"Token/CreateGetUpdate", testTokenCreateGetUpdate},
		{"Token/SingleUse", testTokenSingleUse},
		{"Token/Conflict", testTokenConflict},
		{"Token/DeleteTokens", testDeleteTokens},
		{"Session/CreateGetUpdate", testSessionCreateGetUpdate},
		{"Session/ListOrder", testSessionListOrder},
		{"Session/Delete", testSessionDelete},
		{"Session/DeleteSessionsKeep", testDeleteSessionsKeep},
		{"KnownDevice/Upsert", testKnownDeviceUpsert},
		{"KnownDevice/UpsertFnError", testKnownDeviceUpsertFnError},
		{"KnownDevice/UpsertConcurrent", testKnownDeviceUpsertConcurrent},
		{"KnownDevice/ClearLocks", testClearDeviceLocks},
		{"Attempt/Window", testAttemptWindow},
		{"Attempt/Concurrent", testAttemptConcurrent},
		{"Event/AppendAndList", testEvents},
		{"Mail/EnqueueListUpdate", testMailEnqueueListUpdate},
		{"Mail/ClaimLease", testMailClaimLease},
		{"Mail/ClaimConcurrent", testMailClaimConcurrent},
		{"InTx/Commit", testInTxCommit},
		{"InTx/Rollback", testInTxRollback},
		{"InTx/Nested", testInTxNested},
		{"InTx/AfterCommit", testInTxAfterCommit},
		{"InTx/ContinueAfterError", testInTxContinueAfterError},
		{"DeleteExpired", testDeleteExpired},
		{"Close", testClose},
	}
	tests = append(tests, oidcTests...)
	tests = append(tests, federationTests...)
	tests = append(tests, refreshGraceTests...)
	tests = append(tests, appTests...)
	tests = append(tests, endedTests...)
	tests = append(tests, resourceTests...)
	tests = append(tests, mailFaultTests...)
	tests = append(tests, mfaTests...)
	tests = append(tests, mfaGraceTests...)
	tests = append(tests, adminTests...)
	tests = append(tests, proofingTests...)
	tests = append(tests, samlTests...)
	tests = append(tests, provisionTests...)
	tests = append(tests, guestTests...)
	tests = append(tests, lifecycleTests...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// conformanceTest is one subtest of Run, given a fresh Storage.
type conformanceTest struct {
	name string
	fn   func(t *testing.T, s storage.Storage)
}

// t0 is the suite's "now": not UTC and not a whole microsecond, so that a
// backend that does not normalise times fails.
var t0 = time.Date(2025, 6, 1, 12, 0, 0, 123456789, time.FixedZone("EEST", 3*60*60))

func at(d time.Duration) time.Time { return t0.Add(d) }

var errTest = errors.New("storagetest: fn failed on purpose")

// checkRecord compares two records of the same struct type field by field:
// times with Equal after truncating want to the microsecond, and got must be
// in UTC; a nil and an empty slice (a list, a byte string) as equal;
// everything else with reflect.DeepEqual.
func checkRecord(t *testing.T, what string, got, want any) {
	t.Helper()
	gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
	if gv.Type() != wv.Type() || gv.Kind() != reflect.Struct {
		t.Fatalf("%s: cannot compare %T with %T", what, got, want)
	}
	for i := range gv.NumField() {
		name := gv.Type().Field(i).Name
		if gf, wf := gv.Field(i), wv.Field(i); gf.Kind() == reflect.Slice && gf.Len() == 0 && wf.Len() == 0 {
			continue
		}
		g, w := gv.Field(i).Interface(), wv.Field(i).Interface()
		if gt, ok := g.(time.Time); ok {
			wt := w.(time.Time).Truncate(time.Microsecond)
			if !gt.Equal(wt) {
				t.Errorf("%s.%s = %v, want %v", what, name, gt, wt)
			}
			if gt.Location() != time.UTC {
				t.Errorf("%s.%s = %v, want a time in UTC", what, name, gt)
			}
			continue
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s.%s = %#v, want %#v", what, name, g, w)
		}
	}
}

func checkRecords[T any](t *testing.T, what string, got, want []T) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d records, want %d:\ngot  %+v\nwant %+v", what, len(got), len(want), got, want)
	}
	for i := range got {
		checkRecord(t, fmt.Sprintf("%s[%d]", what, i), got[i], want[i])
	}
}

func checkErrorIs(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error %v, want %v", what, err, target)
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// sampleAccount returns an account with every field set and distinct, so
// that a backend mixing up two columns fails.
func sampleAccount(id, email string) storage.Account {
	return storage.Account{
		ID:                id,
		Email:             email,
		GivenName:         "Äino " + id,
		FamilyName:        "Järvinen " + id,
		PhoneNumber:       "+358 40 123 " + id,
		StreetAddress:     "Mannerheimintie 1 " + id,
		PostalCode:        "00100",
		Locality:          "Helsinki",
		Locale:            "fi",
		PasswordHash:      "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$" + id,
		PasswordChangedAt: at(-72 * time.Hour),
		ActivatedAt:       at(-48 * time.Hour),
		Disabled:          true,
		FailedLogins:      3,
		LockedUntil:       at(15 * time.Minute),
		TermsVersion:      "2025-01",
		TermsAcceptedAt:   at(-47 * time.Hour),
		PendingEmail:      "new-" + email,
		CreatedAt:         at(-49 * time.Hour),
		UpdatedAt:         at(-time.Hour),
	}
}

func createAccount(t *testing.T, s storage.Storage, id, email string) storage.Account {
	t.Helper()
	a := sampleAccount(id, email)
	must(t, "CreateAccount", s.CreateAccount(t.Context(), a))
	return a
}

func sampleToken(hash, accountID string, kind storage.TokenKind) storage.Token {
	return storage.Token{
		Hash:      hash,
		Kind:      kind,
		AccountID: accountID,
		Email:     accountID + "@example.com",
		CreatedAt: at(-time.Hour),
		ExpiresAt: at(time.Hour),
	}
}

func sampleSession(id, accountID string, created time.Time) storage.Session {
	return storage.Session{
		ID:         id,
		AccountID:  accountID,
		DeviceID:   "device-" + id,
		Persistent: true,
		CreatedAt:  created,
		LastSeenAt: created.Add(time.Minute),
		ExpiresAt:  created.Add(24 * time.Hour),
		ClientIP:   "2001:db8::1",
		UserAgent:  "Mozilla/5.0 " + id,
	}
}

func sampleMail(to string) storage.Mail {
	return storage.Mail{
		To:        to,
		Subject:   "Vahvista sähköpostiosoitteesi",
		Text:      "Hei!\n\nhttps://portti.example/activate/abc\n",
		HTML:      "<p>Hei!</p>",
		CreatedAt: at(-time.Minute),
	}
}

// runConcurrently calls fn(i) for i in [0, n) in n goroutines started
// together, and waits for all.
func runConcurrently(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			fn(i)
		})
	}
	close(start)
	wg.Wait()
}

// --- Accounts ---

func testAccountCreateAndGet(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	want := createAccount(t, s, "acc1", "alice@example.com")
	got, err := s.GetAccount(ctx, "acc1")
	must(t, "GetAccount", err)
	checkRecord(t, "GetAccount", got, want)
	got, err = s.GetAccountByEmail(ctx, "alice@example.com")
	must(t, "GetAccountByEmail", err)
	checkRecord(t, "GetAccountByEmail", got, want)

	// Zero values survive the round trip as zero values.
	empty := storage.Account{ID: "acc2", Email: "bob@example.com"}
	must(t, "CreateAccount", s.CreateAccount(ctx, empty))
	got, err = s.GetAccount(ctx, "acc2")
	must(t, "GetAccount", err)
	checkRecord(t, "GetAccount (zero fields)", got, empty)
}

func testAccountConflict(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	want := createAccount(t, s, "acc1", "alice@example.com")

	err := s.CreateAccount(ctx, sampleAccount("acc2", "alice@example.com"))
	checkErrorIs(t, "CreateAccount with a taken e-mail", err, storage.ErrConflict)
	err = s.CreateAccount(ctx, sampleAccount("acc1", "other@example.com"))
	checkErrorIs(t, "CreateAccount with a taken ID", err, storage.ErrConflict)

	_, err = s.GetAccount(ctx, "acc2")
	checkErrorIs(t, "GetAccount after the failed create", err, storage.ErrNotFound)
	_, err = s.GetAccountByEmail(ctx, "other@example.com")
	checkErrorIs(t, "GetAccountByEmail after the failed create", err, storage.ErrNotFound)
	got, err := s.GetAccount(ctx, "acc1")
	must(t, "GetAccount", err)
	checkRecord(t, "GetAccount", got, want)
}

func testAccountUpdate(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	orig := createAccount(t, s, "acc1", "alice@example.com")
	other := createAccount(t, s, "acc2", "bob@example.com")

	var seen storage.Account
	updated, err := s.UpdateAccount(ctx, "acc1", func(a storage.Account) (storage.Account, error) {
		seen = a
		a.Email = "alice.new@example.com"
		a.GivenName = "Alice"
		a.Disabled = false
		a.FailedLogins = 0
		a.LockedUntil = time.Time{}
		a.PendingEmail = ""
		a.ActivatedAt = at(time.Second)
		a.UpdatedAt = at(2 * time.Second)
		return a, nil
	})
	must(t, "UpdateAccount", err)
	checkRecord(t, "the account given to fn", seen, orig)

	want := orig
	want.Email = "alice.new@example.com"
	want.GivenName = "Alice"
	want.Disabled = false
	want.FailedLogins = 0
	want.LockedUntil = time.Time{}
	want.PendingEmail = ""
	want.ActivatedAt = at(time.Second)
	want.UpdatedAt = at(2 * time.Second)
	checkRecord(t, "UpdateAccount result", updated, want)

	got, err := s.GetAccount(ctx, "acc1")
	must(t, "GetAccount", err)
	checkRecord(t, "GetAccount after update", got, want)
	got, err = s.GetAccountByEmail(ctx, "alice.new@example.com")
	must(t, "GetAccountByEmail new address", err)
	checkRecord(t, "GetAccountByEmail after update", got, want)
	_, err = s.GetAccountByEmail(ctx, "alice@example.com")
	checkErrorIs(t, "GetAccountByEmail old address", err, storage.ErrNotFound)

	got, err = s.GetAccount(ctx, "acc2")
	must(t, "GetAccount other", err)
	checkRecord(t, "the other account", got, other)
}

func testAccountUpdateEmailConflict(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createAccount(t, s, "acc1", "alice@example.com")
	bob := createAccount(t, s, "acc2", "bob@example.com")

	_, err := s.UpdateAccount(ctx, "acc2", func(a storage.Account) (storage.Account, error) {
		a.Email = "alice@example.com"
		a.GivenName = "Changed"
		return a, nil
	})
	checkErrorIs(t, "UpdateAccount to a taken e-mail", err, storage.ErrConflict)
	got, err := s.GetAccount(ctx, "acc2")
	must(t, "GetAccount", err)
	checkRecord(t, "the account after the failed update", got, bob)
}

func testAccountUpdateFnError(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	want := createAccount(t, s, "acc1", "alice@example.com")
	_, err := s.UpdateAccount(ctx, "acc1", func(a storage.Account) (storage.Account, error) {
		a.GivenName = "Changed"
		return a, errTest
	})
	checkErrorIs(t, "UpdateAccount with a failing fn", err, errTest)
	got, err := s.GetAccount(ctx, "acc1")
	must(t, "GetAccount", err)
	checkRecord(t, "the account after the aborted update", got, want)
}

func testAccountList(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	// Created out of order; % and _ must match themselves only.
	emails := []string{
		"bob@example.com", "alice@example.com", "al_x@example.com",
		"al%y@example.com", "alfred@example.org", "zed@example.net", "älvä@example.fi",
	}
	byEmail := map[string]storage.Account{}
	for i, e := range emails {
		byEmail[e] = createAccount(t, s, fmt.Sprintf("acc%d", i), e)
	}
	pick := func(es ...string) []storage.Account {
		var out []storage.Account
		for _, e := range es {
			out = append(out, byEmail[e])
		}
		return out
	}
	for _, tc := range []struct {
		filter storage.AccountFilter
		want   []storage.Account
	}{
		{storage.AccountFilter{}, pick("al%y@example.com", "al_x@example.com", "alfred@example.org",
			"alice@example.com", "bob@example.com", "zed@example.net", "älvä@example.fi")},
		{storage.AccountFilter{EmailPrefix: "al"}, pick("al%y@example.com", "al_x@example.com",
			"alfred@example.org", "alice@example.com")},
		{storage.AccountFilter{EmailPrefix: "al_"}, pick("al_x@example.com")},
		{storage.AccountFilter{EmailPrefix: "al%"}, pick("al%y@example.com")},
		{storage.AccountFilter{EmailPrefix: "ali"}, pick("alice@example.com")},
		{storage.AccountFilter{EmailPrefix: "alice@example.com"}, pick("alice@example.com")},
		{storage.AccountFilter{EmailPrefix: "ä"}, pick("älvä@example.fi")},
		{storage.AccountFilter{EmailPrefix: "nobody"}, nil},
		{storage.AccountFilter{EmailPrefix: "al", Limit: 2}, pick("al%y@example.com", "al_x@example.com")},
		{storage.AccountFilter{Limit: 1}, pick("al%y@example.com")},
	} {
		got, err := s.ListAccounts(ctx, tc.filter)
		must(t, fmt.Sprintf("ListAccounts(%+v)", tc.filter), err)
		checkRecords(t, fmt.Sprintf("ListAccounts(%+v)", tc.filter), got, tc.want)
	}
}

func testAccountListDefaultLimit(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	const n = 105
	must(t, "InTx", s.InTx(ctx, func(tx storage.Storage) error {
		for i := range n {
			a := storage.Account{ID: fmt.Sprintf("acc%03d", i), Email: fmt.Sprintf("user%03d@example.com", i)}
			if err := tx.CreateAccount(ctx, a); err != nil {
				return err
			}
		}
		return nil
	}))
	got, err := s.ListAccounts(ctx, storage.AccountFilter{})
	must(t, "ListAccounts", err)
	if len(got) != 100 {
		t.Fatalf("ListAccounts without a limit returned %d accounts, want 100", len(got))
	}
	if got[0].Email != "user000@example.com" || got[99].Email != "user099@example.com" {
		t.Errorf("ListAccounts returned %q … %q, want user000 … user099", got[0].Email, got[99].Email)
	}
	got, err = s.ListAccounts(ctx, storage.AccountFilter{Limit: 200})
	must(t, "ListAccounts", err)
	if len(got) != n {
		t.Errorf("ListAccounts with limit 200 returned %d accounts, want %d", len(got), n)
	}
}

// --- Not found ---

func testNotFound(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createAccount(t, s, "acc1", "alice@example.com")
	fnCalled := false

	_, err := s.GetAccount(ctx, "missing")
	checkErrorIs(t, "GetAccount", err, storage.ErrNotFound)
	_, err = s.GetAccountByEmail(ctx, "missing@example.com")
	checkErrorIs(t, "GetAccountByEmail", err, storage.ErrNotFound)
	_, err = s.UpdateAccount(ctx, "missing", func(a storage.Account) (storage.Account, error) {
		fnCalled = true
		return a, nil
	})
	checkErrorIs(t, "UpdateAccount", err, storage.ErrNotFound)

	_, err = s.GetToken(ctx, "missing")
	checkErrorIs(t, "GetToken", err, storage.ErrNotFound)
	_, err = s.UpdateToken(ctx, "missing", func(tok storage.Token) (storage.Token, error) {
		fnCalled = true
		return tok, nil
	})
	checkErrorIs(t, "UpdateToken", err, storage.ErrNotFound)

	_, err = s.GetSession(ctx, "missing")
	checkErrorIs(t, "GetSession", err, storage.ErrNotFound)
	_, err = s.UpdateSession(ctx, "missing", func(sess storage.Session) (storage.Session, error) {
		fnCalled = true
		return sess, nil
	})
	checkErrorIs(t, "UpdateSession", err, storage.ErrNotFound)
	err = s.DeleteSession(ctx, "missing")
	checkErrorIs(t, "DeleteSession", err, storage.ErrNotFound)

	_, err = s.GetKnownDevice(ctx, "acc1", "missing")
	checkErrorIs(t, "GetKnownDevice", err, storage.ErrNotFound)

	_, err = s.UpdateMail(ctx, 12345, func(m storage.Mail) (storage.Mail, error) {
		fnCalled = true
		return m, nil
	})
	checkErrorIs(t, "UpdateMail", err, storage.ErrNotFound)

	if fnCalled {
		t.Error("an Update* method called fn for a record that does not exist")
	}

	// Nothing to delete or count is not an error.
	n, err := s.DeleteTokens(ctx, "acc1", storage.TokenRecovery)
	must(t, "DeleteTokens", err)
	if n != 0 {
		t.Errorf("DeleteTokens = %d, want 0", n)
	}
	n, err = s.DeleteSessions(ctx, "acc1", "")
	must(t, "DeleteSessions", err)
	if n != 0 {
		t.Errorf("DeleteSessions = %d, want 0", n)
	}
	n, err = s.Attempts(ctx, "missing", t0, time.Hour)
	must(t, "Attempts", err)
	if n != 0 {
		t.Errorf("Attempts = %d, want 0", n)
	}
	for what, list := range map[string]func() (int, error){
		"ListAccounts": func() (int, error) {
			l, err := s.ListAccounts(ctx, storage.AccountFilter{EmailPrefix: "x"})
			return len(l), err
		},
		"ListSessions": func() (int, error) { l, err := s.ListSessions(ctx, "acc1"); return len(l), err },
		"ListEvents":   func() (int, error) { l, err := s.ListEvents(ctx, "", 0); return len(l), err },
		"ListMail":     func() (int, error) { l, err := s.ListMail(ctx, 0); return len(l), err },
		"ClaimMail":    func() (int, error) { l, err := s.ClaimMail(ctx, t0, time.Minute, 10); return len(l), err },
	} {
		n, err := list()
		must(t, what, err)
		if n != 0 {
			t.Errorf("%s on an empty store returned %d records", what, n)
		}
	}
}

// --- Tokens ---

func testTokenCreateGetUpdate(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createAccount(t, s, "acc1", "alice@example.com")
	want := sampleToken("hash1", "acc1", storage.TokenActivation)
	must(t, "CreateToken", s.CreateToken(ctx, want))
	got, err := s.GetToken(ctx, "hash1")
	must(t, "GetToken", err)
	checkRecord(t, "GetToken", got, want)

	var seen storage.Token
	updated, err := s.UpdateToken(ctx, "hash1", func(tok storage.Token) (storage.Token, error) {
		seen = tok
		tok.UsedAt = at(time.Minute)
		return tok, nil
	})
	must(t, "UpdateToken", err)
	checkRecord(t, "the token given to fn", seen, want)
	want.UsedAt = at(time.Minute)
	checkRecord(t, "UpdateToken result", updated, want)
	got, err = s.GetToken(ctx, "hash1")
	must(t, "GetToken", err)
	checkRecord(t, "GetToken after update", got, want)

	_, err = s.UpdateToken(ctx, "hash1", func(tok storage.Token) (storage.Token, error) {
		tok.UsedAt = time.Time{}
		return tok, errTest
	})
	checkErrorIs(t, "UpdateToken with a failing fn", err, errTest)
	got, err = s.GetToken(ctx, "hash1")
	must(t, "GetToken", err)
	checkRecord(t, "GetToken after the aborted update", got, want)
}

// testTokenSingleUse follows one link from many requests at once: exactly
// one may find the token unused.
func testTokenSingleUse(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createAccount(t, s, "acc1", "alice@example.com")
	must(t, "CreateToken", s.CreateToken(ctx, sampleToken("hash1", "acc1", storage.TokenRecovery)))
	errUsed := errors.New("already used")
	const n = 10
	errs := make([]error, n)
	runConcurrently(n, func(i int) {
		_, errs[i] = s.UpdateToken(ctx, "hash1", func(tok storage.Token) (storage.Token, error) {
			if !tok.UsedAt.IsZero() {
				return tok, errUsed
			}
			tok.UsedAt = at(time.Duration(i) * time.Second)
			return tok, nil
		})
	})
	succeeded := 0
	for i, err := range errs {
		switch {
		case err == nil:
			succeeded++
		case !errors.Is(err, errUsed):
			t.Errorf("UpdateToken %d: %v", i, err)
		}
	}
	if succeeded != 1 {
		t.Errorf("%d of %d concurrent UpdateToken calls found the token unused, want 1", succeeded, n)
	}
}

func testTokenConflict(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createAccount(t, s, "acc1", "alice@example.com")
	must(t, "CreateToken", s.CreateToken(ctx, sampleToken("hash1", "acc1", storage.TokenActivation)))
	err := s.CreateToken(ctx, sampleToken("hash1", "acc1", storage.TokenRecovery))
	checkErrorIs(t, "CreateToken with a taken hash", err, storage.ErrConflict)
	got, err := s.GetToken(ctx, "hash1")
	must(t, "GetToken", err)
	if got.Kind != storage.TokenActivation {
		t.Errorf("the failed CreateToken changed the token's kind to %q", got.Kind)
	}
}

func testDeleteTokens(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createAccount(t, s, "acc1", "alice@example.com")
	createAccount(t, s, "acc2", "bob@example.com")
	used := sampleToken("used", "acc1", storage.TokenActivation)
	used.UsedAt = at(-time.Minute)
	for _, tok := range []storage.Token{
		sampleToken("a1", "acc1", storage.TokenActivation),
		sampleToken("a2", "acc1", storage.TokenActivation),
		used,
		sampleToken("r1", "acc1", storage.TokenRecovery),
		sampleToken("b1", "acc2", storage.TokenActivation),
	} {
		must(t, "CreateToken", s.CreateToken(ctx, tok))
	}
	n, err := s.DeleteTokens(ctx, "acc1", storage.TokenActivation)
	must(t, "DeleteTokens", err)
	if n != 2 {
		t.Errorf("DeleteTokens = %d, want 2", n)
	}
	for hash, wantErr := range map[string]error{
		"a1": storage.ErrNotFound, "a2": storage.ErrNotFound,
		"used": nil, "r1": nil, "b1": nil,
	} {
		_, err := s.GetToken(ctx, hash)
		if !errors.Is(err, wantErr) {
			t.Errorf("GetToken(%q) after DeleteTokens: error %v, want %v", hash, err, wantErr)
		}
	}
}

// --- Sessions ---

func testSessionCreateGetUpdate(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createAccount(t, s, "acc1", "alice@example.com")
	want := sampleSession("sess1", "acc1", at(0))
	must(t, "CreateSession", s.CreateSession(ctx, want))
	got, err := s.GetSession(ctx, "sess1")
	must(t, "GetSession", err)
	checkRecord(t, "GetSession", got, want)

	err = s.CreateSession(ctx, sampleSession("sess1", "acc1", at(time.Hour)))
	checkErrorIs(t, "CreateSession with a taken ID", err, storage.ErrConflict)

	updated, err := s.UpdateSession(ctx, "sess1", func(sess storage.Session) (storage.Session, error) {
		sess.LastSeenAt = at(time.Hour)
		sess.ExpiresAt = at(25 * time.Hour)
		sess.Persistent = false
		sess.ClientIP = "192.0.2.7"
		return sess, nil
	})
	must(t, "UpdateSession", err)
	want.LastSeenAt = at(time.Hour)
	want.ExpiresAt = at(25 * time.Hour)
	want.Persistent = false
	want.ClientIP = "192.0.2.7"
	checkRecord(t, "UpdateSession result", updated, want)
	got, err = s.GetSession(ctx, "sess1")
	must(t, "GetSession", err)
	checkRecord(t, "GetSession after update", got, want)

	_, err = s.UpdateSession(ctx, "sess1", func(sess storage.Session) (storage.Session, error) {
		sess.ClientIP = "changed"
		return sess, errTest
	})
	checkErrorIs(t, "UpdateSession with a failing fn", err, errTest)
	got, err = s.GetSession(ctx, "sess1")
	must(t, "GetSession", err)
	checkRecord(t, "GetSession after the aborted update", got, want)
}

func testSessionListOrder(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createAccount(t, s, "acc1", "alice@example.com")
	createAccount(t, s, "acc2", "bob@example.com")
	middle := sampleSession("middle", "acc1", at(-time.Hour))
	oldest := sampleSession("oldest", "acc1", at(-48*time.Hour)) // expired: still listed
	newest := sampleSession("newest", "acc1", at(0))
	for _, sess := range []storage.Session{middle, oldest, newest, sampleSession("other", "acc2", at(time.Hour))} {
		must(t, "CreateSession", s.CreateSession(ctx, sess))
	}
	got, err := s.ListSessions(ctx, "acc1")
	must(t, "ListSessions", err)
	checkRecords(t, "ListSessions", got, []storage.Session{newest, middle, oldest})
}

func testSessionDelete(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createAccount(t, s, "acc1", "alice@example.com")
	must(t, "CreateSession", s.CreateSession(ctx, sampleSession("sess1", "acc1", at(0))))
	must(t, "CreateSession", s.CreateSession(ctx, sampleSession("sess2", "acc1", at(0))))
	must(t, "DeleteSession", s.DeleteSession(ctx, "sess1"))
	_, err := s.GetSession(ctx, "sess1")
	checkErrorIs(t, "GetSession after DeleteSession", err, storage.ErrNotFound)
	checkErrorIs(t, "DeleteSession again", s.DeleteSession(ctx, "sess1"), storage.ErrNotFound)
	_, err = s.GetSession(ctx, "sess2")
	must(t, "GetSession of the other session", err)
}

func testDeleteSessionsKeep(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createAccount(t, s, "acc1", "alice@example.com")
	createAccount(t, s, "acc2", "bob@example.com")
	keep := sampleSession("s2", "acc1", at(0))
	for _, sess := range []storage.Session{
		sampleSession("s1", "acc1", at(-time.Hour)), keep, sampleSession("s3", "acc1", at(time.Hour)),
		sampleSession("s4", "acc2", at(0)),
	} {
		must(t, "CreateSession", s.CreateSession(ctx, sess))
	}
	n, err := s.DeleteSessions(ctx, "acc1", "s2")
	must(t, "DeleteSessions", err)
	if n != 2 {
		t.Errorf("DeleteSessions = %d, want 2", n)
	}
	got, err := s.ListSessions(ctx, "acc1")
	must(t, "ListSessions", err)
	checkRecords(t, "ListSessions after DeleteSessions", got, []storage.Session{keep})

	n, err = s.DeleteSessions(ctx, "acc1", "")
	must(t, "DeleteSessions", err)
	if n != 1 {
		t.Errorf("DeleteSessions with no keep = %d, want 1", n)
	}
	got, err = s.ListSessions(ctx, "acc2")
	must(t, "ListSessions", err)
	if len(got) != 1 {
		t.Errorf("the other account has %d sessions, want 1", len(got))
	}
}

// --- Known devices ---

// testClearDeviceLocks: every device of the account is unlocked and its
// count reset, other fields kept; other accounts' devices are untouched.
func testClearDeviceLocks(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createAccount(t, s, "acc1", "alice@example.com")
	createAccount(t, s, "acc2", "bob@example.com")
	locked := func(acc, dev string) storage.KnownDevice {
		d, err := s.UpsertKnownDevice(ctx, acc, dev, func(d storage.KnownDevice) (storage.KnownDevice, error) {
			d.FirstSeenAt, d.LastSeenAt = at(0), at(time.Minute)
			d.FailedLogins, d.LockedUntil = 5, at(time.Hour)
			return d, nil
		})
		must(t, "UpsertKnownDevice", err)
		return d
	}
	d1, d2, other := locked("acc1", "dev1"), locked("acc1", "dev2"), locked("acc2", "dev1")
	// A device without failures is not counted.
	_, err := s.UpsertKnownDevice(ctx, "acc1", "dev3", func(d storage.KnownDevice) (storage.KnownDevice, error) {
		d.FirstSeenAt, d.LastSeenAt = at(0), at(time.Minute)
		return d, nil
	})
	must(t, "UpsertKnownDevice", err)
	n, err := s.ClearDeviceLocks(ctx, "acc1")
	must(t, "ClearDeviceLocks", err)
	if n != 2 {
		t.Errorf("ClearDeviceLocks cleared %d devices, want 2", n)
	}
	if n, err := s.ClearDeviceLocks(ctx, "acc1"); err != nil || n != 0 {
		t.Errorf("ClearDeviceLocks again: %d, %v; want 0, nil", n, err)
	}
	n, err = s.ClearDeviceLocks(ctx, "missing")
	must(t, "ClearDeviceLocks of an account without devices", err)
	if n != 0 {
		t.Errorf("ClearDeviceLocks of an account without devices: %d", n)
	}
	for _, want := range []storage.KnownDevice{d1, d2} {
		want.FailedLogins, want.LockedUntil = 0, time.Time{}
		got, err := s.GetKnownDevice(ctx, want.AccountID, want.DeviceID)
		must(t, "GetKnownDevice", err)
		checkRecord(t, "an unlocked device", got, want)
	}
	got, err := s.GetKnownDevice(ctx, "acc2", "dev1")
	must(t, "GetKnownDevice", err)
	checkRecord(t, "another account's device", got, other)
}

func testKnownDeviceUpsert(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createAccount(t, s, "acc1", "alice@example.com")
	createAccount(t, s, "acc2", "bob@example.com")

	first, err := s.UpsertKnownDevice(ctx, "acc1", "dev1", func(d storage.KnownDevice) (storage.KnownDevice, error) {
		checkRecord(t, "the new device given to fn", d, storage.KnownDevice{AccountID: "acc1", DeviceID: "dev1"})
		d.FirstSeenAt = at(0)
		d.LastSeenAt = at(0)
		d.FailedLogins = 1
		d.LockedUntil = at(time.Minute)
		return d, nil
	})
	must(t, "UpsertKnownDevice (insert)", err)
	want := storage.KnownDevice{AccountID: "acc1", DeviceID: "dev1", FirstSeenAt: at(0),
		LastSeenAt: at(0), FailedLogins: 1, LockedUntil: at(time.Minute)}
	checkRecord(t, "UpsertKnownDevice result", first, want)

	second, err := s.UpsertKnownDevice(ctx, "acc1", "dev1", func(d storage.KnownDevice) (storage.KnownDevice, error) {
		checkRecord(t, "the stored device given to fn", d, want)
		d.LastSeenAt = at(time.Hour)
		d.FailedLogins++
		d.LockedUntil = time.Time{}
		return d, nil
	})
	must(t, "UpsertKnownDevice (update)", err)
	want.LastSeenAt = at(time.Hour)
	want.FailedLogins = 2
	want.LockedUntil = time.Time{}
	checkRecord(t, "UpsertKnownDevice result", second, want)

	got, err := s.GetKnownDevice(ctx, "acc1", "dev1")
	must(t, "GetKnownDevice", err)
	checkRecord(t, "GetKnownDevice", got, want)

	// The same device ID belongs to each account separately.
	_, err = s.GetKnownDevice(ctx, "acc2", "dev1")
	checkErrorIs(t, "GetKnownDevice of another account", err, storage.ErrNotFound)
}

func testKnownDeviceUpsertFnError(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createAccount(t, s, "acc1", "alice@example.com")
	_, err := s.UpsertKnownDevice(ctx, "acc1", "new", func(d storage.KnownDevice) (storage.KnownDevice, error) {
		d.FailedLogins = 5
		return d, errTest
	})
	checkErrorIs(t, "UpsertKnownDevice of a new device with a failing fn", err, errTest)
	_, err = s.GetKnownDevice(ctx, "acc1", "new")
	checkErrorIs(t, "GetKnownDevice after the aborted insert", err, storage.ErrNotFound)

	want, err := s.UpsertKnownDevice(ctx, "acc1", "old", func(d storage.KnownDevice) (storage.KnownDevice, error) {
		d.FirstSeenAt, d.LastSeenAt = at(0), at(0)
		return d, nil
	})
	must(t, "UpsertKnownDevice", err)
	_, err = s.UpsertKnownDevice(ctx, "acc1", "old", func(d storage.KnownDevice) (storage.KnownDevice, error) {
		d.FailedLogins = 5
		return d, errTest
	})
	checkErrorIs(t, "UpsertKnownDevice of a stored device with a failing fn", err, errTest)
	got, err := s.GetKnownDevice(ctx, "acc1", "old")
	must(t, "GetKnownDevice", err)
	checkRecord(t, "GetKnownDevice after the aborted update", got, want)
}

// testKnownDeviceUpsertConcurrent counts wrong passwords typed at once in a
// browser not yet known: none may be lost, and none may fail because
// another request created the record first.
func testKnownDeviceUpsertConcurrent(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createAccount(t, s, "acc1", "alice@example.com")
	const n = 10
	errs := make([]error, n)
	runConcurrently(n, func(i int) {
		_, errs[i] = s.UpsertKnownDevice(ctx, "acc1", "dev1", func(d storage.KnownDevice) (storage.KnownDevice, error) {
			d.FailedLogins++
			return d, nil
		})
	})
	for i, err := range errs {
		must(t, fmt.Sprintf("UpsertKnownDevice %d", i), err)
	}
	got, err := s.GetKnownDevice(ctx, "acc1", "dev1")
	must(t, "GetKnownDevice", err)
	if got.FailedLogins != n {
		t.Errorf("FailedLogins = %d after %d concurrent increments", got.FailedLogins, n)
	}
}

// --- Attempts ---

func testAttemptWindow(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	const window = 10 * time.Minute
	count := func(now time.Time, want int) {
		t.Helper()
		got, err := s.CountAttempt(ctx, "login-ip:192.0.2.1", now, window)
		must(t, "CountAttempt", err)
		if got != want {
			t.Errorf("CountAttempt at t0%+v = %d, want %d", now.Sub(t0), got, want)
		}
	}
	attempts := func(key string, now time.Time, want int) {
		t.Helper()
		got, err := s.Attempts(ctx, key, now, window)
		must(t, "Attempts", err)
		if got != want {
			t.Errorf("Attempts(%q) at t0%+v = %d, want %d", key, now.Sub(t0), got, want)
		}
	}
	const key = "login-ip:192.0.2.1"
	attempts(key, at(0), 0)
	count(at(0), 1)
	count(at(time.Minute), 2)
	count(at(window-time.Microsecond), 3) // the window started at t0
	attempts(key, at(5*time.Minute), 3)
	attempts(key, at(window-time.Microsecond), 3)
	attempts(key, at(window), 0) // the window has passed
	attempts("login-ip:192.0.2.2", at(time.Minute), 0)

	count(at(window), 1) // a new window starts at t0+window
	count(at(window+time.Minute), 2)
	attempts(key, at(2*window-time.Microsecond), 2)
	attempts(key, at(2*window), 0)
	count(at(5*window), 1) // long after
}

func testAttemptConcurrent(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	const n = 20
	got := make([]int, n)
	errs := make([]error, n)
	runConcurrently(n, func(i int) {
		got[i], errs[i] = s.CountAttempt(ctx, "key", t0, time.Hour)
	})
	for i, err := range errs {
		must(t, fmt.Sprintf("CountAttempt %d", i), err)
	}
	slices.Sort(got)
	for i, v := range got {
		if v != i+1 {
			t.Fatalf("concurrent CountAttempt returned %v, want each of 1..%d once", got, n)
		}
	}
	total, err := s.Attempts(ctx, "key", t0, time.Hour)
	must(t, "Attempts", err)
	if total != n {
		t.Errorf("Attempts = %d, want %d", total, n)
	}
}

// --- Events ---

func testEvents(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	var all []storage.Event
	for i, acc := range []string{"acc1", "acc2", "acc1", "", "acc1"} {
		e := storage.Event{
			Time:      at(time.Duration(i) * time.Second),
			Kind:      fmt.Sprintf("login.failure.%d", i),
			AccountID: acc,
			Email:     fmt.Sprintf("user%d@example.com", i),
			ClientIP:  "198.51.100.9",
			UserAgent: "curl/8",
			Reason:    "wrong_password",
			Ref:       fmt.Sprintf("REF%d", i),
		}
		must(t, "AppendEvent", s.AppendEvent(ctx, e))
		all = append(all, e)
	}
	slices.Reverse(all) // newest first

	got, err := s.ListEvents(ctx, "", 0)
	must(t, "ListEvents", err)
	if len(got) != len(all) {
		t.Fatalf("ListEvents returned %d events, want %d", len(got), len(all))
	}
	for i := range got {
		if got[i].ID <= 0 || (i > 0 && got[i].ID >= got[i-1].ID) {
			t.Errorf("ListEvents IDs not positive and descending: %d after %d", got[i].ID, got[max(i-1, 0)].ID)
		}
		all[i].ID = got[i].ID // assigned by the store
	}
	checkRecords(t, "ListEvents", got, all)

	got, err = s.ListEvents(ctx, "acc1", 0)
	must(t, "ListEvents(acc1)", err)
	checkRecords(t, "ListEvents(acc1)", got, []storage.Event{all[0], all[2], all[4]})

	got, err = s.ListEvents(ctx, "", 2)
	must(t, "ListEvents with limit", err)
	checkRecords(t, "ListEvents with limit", got, all[:2])

	got, err = s.ListEvents(ctx, "acc1", 1)
	must(t, "ListEvents(acc1) with limit", err)
	checkRecords(t, "ListEvents(acc1) with limit", got, all[:1])
}

// --- Mail ---

func testMailEnqueueListUpdate(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	var all []storage.Mail
	for i := range 3 {
		m := sampleMail(fmt.Sprintf("user%d@example.com", i))
		id, err := s.EnqueueMail(ctx, m)
		must(t, "EnqueueMail", err)
		if id <= 0 || (i > 0 && id <= all[i-1].ID) {
			t.Errorf("EnqueueMail returned ID %d, want positive and increasing", id)
		}
		m.ID = id
		all = append(all, m)
	}
	slices.Reverse(all) // newest first

	got, err := s.ListMail(ctx, 0)
	must(t, "ListMail", err)
	checkRecords(t, "ListMail", got, all)
	got, err = s.ListMail(ctx, 2)
	must(t, "ListMail with limit", err)
	checkRecords(t, "ListMail with limit", got, all[:2])

	want := all[1]
	updated, err := s.UpdateMail(ctx, want.ID, func(m storage.Mail) (storage.Mail, error) {
		checkRecord(t, "the mail given to fn", m, want)
		m.Attempts++
		m.LastError = "421 try again later"
		m.NextAttemptAt = at(time.Minute)
		return m, nil
	})
	must(t, "UpdateMail", err)
	want.Attempts = 1
	want.LastError = "421 try again later"
	want.NextAttemptAt = at(time.Minute)
	checkRecord(t, "UpdateMail result", updated, want)

	_, err = s.UpdateMail(ctx, want.ID, func(m storage.Mail) (storage.Mail, error) {
		m.SentAt = at(time.Hour)
		return m, errTest
	})
	checkErrorIs(t, "UpdateMail with a failing fn", err, errTest)

	got, err = s.ListMail(ctx, 0)
	must(t, "ListMail", err)
	all[1] = want
	checkRecords(t, "ListMail after updates", got, all)
}

func testMailClaimLease(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	const lease = 5 * time.Minute
	enqueue := func(m storage.Mail) storage.Mail {
		t.Helper()
		id, err := s.EnqueueMail(ctx, m)
		must(t, "EnqueueMail", err)
		m.ID = id
		return m
	}
	due := enqueue(sampleMail("due@example.com"))
	later := sampleMail("later@example.com")
	later.NextAttemptAt = at(time.Hour)
	later = enqueue(later)
	sent := sampleMail("sent@example.com")
	sent.SentAt = at(-time.Second)
	enqueue(sent)

	claim := func(now time.Time, limit int, want ...storage.Mail) {
		t.Helper()
		got, err := s.ClaimMail(ctx, now, lease, limit)
		must(t, "ClaimMail", err)
		for i := range want {
			want[i].NextAttemptAt = now.Add(lease)
		}
		checkRecords(t, fmt.Sprintf("ClaimMail at t0%+v", now.Sub(t0)), got, want)
	}
	claim(at(0), 10, due)
	claim(at(time.Minute), 10)            // leased to the first claimer
	claim(at(lease-time.Microsecond), 10) // still leased
	claim(at(lease), 10, due)             // the lease has passed: retried
	claim(at(2*time.Hour), 1, due)        // oldest first, limit respected
	claim(at(2*time.Hour), 10, later)

	// The lease is stored: the listing shows it.
	got, err := s.ListMail(ctx, 0)
	must(t, "ListMail", err)
	for _, m := range got {
		if m.ID == due.ID && !m.NextAttemptAt.Equal(at(2*time.Hour+lease).Truncate(time.Microsecond)) {
			t.Errorf("claimed mail's NextAttemptAt = %v, want %v", m.NextAttemptAt, at(2*time.Hour+lease))
		}
	}
}

// testMailClaimConcurrent runs several senders at once: every message is
// claimed by exactly one of them.
func testMailClaimConcurrent(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	const messages, claimers = 30, 4
	for i := range messages {
		_, err := s.EnqueueMail(ctx, sampleMail(fmt.Sprintf("user%d@example.com", i)))
		must(t, "EnqueueMail", err)
	}
	claimConcurrently(t, "message", messages, claimers, func() ([]int64, error) {
		got, err := s.ClaimMail(ctx, t0, time.Minute, 3)
		ids := make([]int64, len(got))
		for i, m := range got {
			ids[i] = m.ID
		}
		return ids, err
	})
}

// claimConcurrently runs claimers that each claim until nothing is left,
// and checks that every one of want items was claimed exactly once.
func claimConcurrently(t *testing.T, what string, want, claimers int, claim func() ([]int64, error)) {
	t.Helper()
	claimed := make([][]int64, claimers)
	errs := make([]error, claimers)
	runConcurrently(claimers, func(i int) {
		for {
			got, err := claim()
			if err != nil {
				errs[i] = err
				return
			}
			if len(got) == 0 {
				return
			}
			claimed[i] = append(claimed[i], got...)
		}
	})
	for i, err := range errs {
		must(t, fmt.Sprintf("claim by claimer %d", i), err)
	}
	seen := map[int64]int{}
	for i, ids := range claimed {
		for _, id := range ids {
			if prev, dup := seen[id]; dup {
				t.Errorf("%s %d claimed by claimers %d and %d", what, id, prev, i)
			}
			seen[id] = i
		}
	}
	if len(seen) != want {
		t.Errorf("%d %ss claimed, want %d", len(seen), what, want)
	}
}

// --- Transactions ---

func testInTxCommit(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	err := s.InTx(ctx, func(tx storage.Storage) error {
		if err := tx.CreateAccount(ctx, sampleAccount("acc1", "alice@example.com")); err != nil {
			return err
		}
		// A transaction reads its own writes.
		if _, err := tx.GetAccount(ctx, "acc1"); err != nil {
			return err
		}
		if _, err := tx.UpdateAccount(ctx, "acc1", func(a storage.Account) (storage.Account, error) {
			a.GivenName = "In transaction"
			return a, nil
		}); err != nil {
			return err
		}
		return tx.CreateToken(ctx, sampleToken("hash1", "acc1", storage.TokenActivation))
	})
	must(t, "InTx", err)
	a, err := s.GetAccount(ctx, "acc1")
	must(t, "GetAccount after commit", err)
	if a.GivenName != "In transaction" {
		t.Errorf("GivenName = %q, want the value set in the transaction", a.GivenName)
	}
	_, err = s.GetToken(ctx, "hash1")
	must(t, "GetToken after commit", err)
}

func testInTxRollback(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	orig := createAccount(t, s, "acc0", "existing@example.com")
	err := s.InTx(ctx, func(tx storage.Storage) error {
		if err := tx.CreateAccount(ctx, sampleAccount("acc1", "alice@example.com")); err != nil {
			return err
		}
		if err := tx.CreateToken(ctx, sampleToken("hash1", "acc1", storage.TokenActivation)); err != nil {
			return err
		}
		if _, err := tx.UpdateAccount(ctx, "acc0", func(a storage.Account) (storage.Account, error) {
			a.GivenName = "Rolled back"
			return a, nil
		}); err != nil {
			return err
		}
		if _, err := tx.CountAttempt(ctx, "key", t0, time.Hour); err != nil {
			return err
		}
		return errTest
	})
	checkErrorIs(t, "InTx", err, errTest)
	_, err = s.GetAccount(ctx, "acc1")
	checkErrorIs(t, "GetAccount after rollback", err, storage.ErrNotFound)
	_, err = s.GetToken(ctx, "hash1")
	checkErrorIs(t, "GetToken after rollback", err, storage.ErrNotFound)
	got, err := s.GetAccount(ctx, "acc0")
	must(t, "GetAccount", err)
	checkRecord(t, "the account updated in the rolled back transaction", got, orig)
	n, err := s.Attempts(ctx, "key", t0, time.Hour)
	must(t, "Attempts", err)
	if n != 0 {
		t.Errorf("Attempts = %d after rollback, want 0", n)
	}
}

// testInTxAfterCommit: AfterCommit's functions run after the commit, in
// order, also from a nested InTx; never after a rollback; at once outside
// a transaction.
func testInTxAfterCommit(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	var ran []string
	err := s.InTx(ctx, func(tx storage.Storage) error {
		if err := tx.CreateAccount(ctx, sampleAccount("acc1", "alice@example.com")); err != nil {
			return err
		}
		tx.AfterCommit(func() {
			// The commit is visible to everyone by now.
			if _, err := s.GetAccount(ctx, "acc1"); err != nil {
				t.Errorf("GetAccount in AfterCommit: %v", err)
			}
			ran = append(ran, "outer")
		})
		if err := tx.InTx(ctx, func(inner storage.Storage) error {
			inner.AfterCommit(func() { ran = append(ran, "inner") })
			return nil
		}); err != nil {
			return err
		}
		if len(ran) != 0 {
			t.Errorf("AfterCommit ran before the commit: %q", ran)
		}
		return nil
	})
	must(t, "InTx", err)
	if !slices.Equal(ran, []string{"outer", "inner"}) {
		t.Errorf("after the commit ran %q, want [outer inner]", ran)
	}

	ran = nil
	err = s.InTx(ctx, func(tx storage.Storage) error {
		tx.AfterCommit(func() { ran = append(ran, "rolled back") })
		return errTest
	})
	checkErrorIs(t, "InTx", err, errTest)
	if len(ran) != 0 {
		t.Errorf("AfterCommit ran after a rollback: %q", ran)
	}

	s.AfterCommit(func() { ran = append(ran, "now") })
	if !slices.Equal(ran, []string{"now"}) {
		t.Errorf("outside a transaction AfterCommit ran %q, want [now]", ran)
	}
}

func testInTxNested(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	// Nested InTx joins the outer transaction: the outer error undoes the
	// inner work too.
	err := s.InTx(ctx, func(tx storage.Storage) error {
		if err := tx.CreateAccount(ctx, sampleAccount("acc1", "alice@example.com")); err != nil {
			return err
		}
		if err := tx.InTx(ctx, func(inner storage.Storage) error {
			if _, err := inner.GetAccount(ctx, "acc1"); err != nil {
				return err
			}
			return inner.CreateToken(ctx, sampleToken("hash1", "acc1", storage.TokenActivation))
		}); err != nil {
			return err
		}
		return errTest
	})
	checkErrorIs(t, "InTx", err, errTest)
	_, err = s.GetAccount(ctx, "acc1")
	checkErrorIs(t, "GetAccount after rollback", err, storage.ErrNotFound)
	_, err = s.GetToken(ctx, "hash1")
	checkErrorIs(t, "GetToken after rollback", err, storage.ErrNotFound)

	err = s.InTx(ctx, func(tx storage.Storage) error {
		if err := tx.CreateAccount(ctx, sampleAccount("acc1", "alice@example.com")); err != nil {
			return err
		}
		return tx.InTx(ctx, func(inner storage.Storage) error {
			return inner.CreateToken(ctx, sampleToken("hash1", "acc1", storage.TokenActivation))
		})
	})
	must(t, "InTx", err)
	_, err = s.GetToken(ctx, "hash1")
	must(t, "GetToken after commit", err)
}

// testInTxContinueAfterError handles an expected error inside a
// transaction and carries on: the transaction must still commit the rest.
func testInTxContinueAfterError(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createAccount(t, s, "acc0", "taken@example.com")
	err := s.InTx(ctx, func(tx storage.Storage) error {
		// A write that succeeds before the failing one is kept: undoing
		// the failure must not undo it.
		if err := tx.CreateToken(ctx, sampleToken("kept", "acc0", storage.TokenRecovery)); err != nil {
			return err
		}
		err := tx.CreateAccount(ctx, sampleAccount("acc1", "taken@example.com"))
		if !errors.Is(err, storage.ErrConflict) {
			return fmt.Errorf("CreateAccount with a taken e-mail: error %v, want ErrConflict", err)
		}
		if _, err := tx.UpsertKnownDevice(ctx, "acc0", "dev1", func(d storage.KnownDevice) (storage.KnownDevice, error) {
			return d, errTest
		}); !errors.Is(err, errTest) {
			return fmt.Errorf("UpsertKnownDevice with a failing fn: error %v, want errTest", err)
		}
		return tx.CreateAccount(ctx, sampleAccount("acc1", "free@example.com"))
	})
	must(t, "InTx", err)
	_, err = s.GetAccountByEmail(ctx, "free@example.com")
	must(t, "GetAccountByEmail after commit", err)
	_, err = s.GetKnownDevice(ctx, "acc0", "dev1")
	checkErrorIs(t, "GetKnownDevice after the aborted upsert", err, storage.ErrNotFound)
	_, err = s.GetToken(ctx, "kept")
	must(t, "GetToken of the write before the failed one", err)
}

// --- Housekeeping ---

func testDeleteExpired(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	const day = 24 * time.Hour
	now := t0
	createAccount(t, s, "acc1", "alice@example.com")

	tokens := map[string]time.Time{ // hash: expiry
		"long-expired":     now.Add(-8 * day),
		"recently-expired": now.Add(-6 * day),
		"valid":            now.Add(time.Hour),
	}
	for hash, expires := range tokens {
		tok := sampleToken(hash, "acc1", storage.TokenRecovery)
		tok.CreatedAt, tok.ExpiresAt = expires.Add(-time.Hour), expires
		must(t, "CreateToken", s.CreateToken(ctx, tok))
	}
	sessions := map[string]time.Time{ // ID: expiry
		"expired": now.Add(-time.Second),
		"valid":   now.Add(time.Hour),
	}
	for id, expires := range sessions {
		sess := sampleSession(id, "acc1", expires.Add(-day))
		sess.ExpiresAt = expires
		must(t, "CreateSession", s.CreateSession(ctx, sess))
	}
	for key, start := range map[string]time.Time{"stale": now.Add(-25 * time.Hour), "recent": now.Add(-time.Hour)} {
		_, err := s.CountAttempt(ctx, key, start, time.Minute)
		must(t, "CountAttempt", err)
	}
	mails := map[string]time.Time{ // address: sent at
		"old@example.com":    now.Add(-31 * day),
		"recent@example.com": now.Add(-29 * day),
		"unsent@example.com": {},
	}
	for to, sentAt := range mails {
		m := sampleMail(to)
		m.CreatedAt = now.Add(-40 * day)
		m.SentAt = sentAt
		_, err := s.EnqueueMail(ctx, m)
		must(t, "EnqueueMail", err)
	}

	must(t, "DeleteExpired", s.DeleteExpired(ctx, now))

	for hash, wantErr := range map[string]error{"long-expired": storage.ErrNotFound, "recently-expired": nil, "valid": nil} {
		_, err := s.GetToken(ctx, hash)
		if !errors.Is(err, wantErr) {
			t.Errorf("GetToken(%q) after DeleteExpired: error %v, want %v", hash, err, wantErr)
		}
	}
	for id, wantErr := range map[string]error{"expired": storage.ErrNotFound, "valid": nil} {
		_, err := s.GetSession(ctx, id)
		if !errors.Is(err, wantErr) {
			t.Errorf("GetSession(%q) after DeleteExpired: error %v, want %v", id, err, wantErr)
		}
	}
	// A window as long as two days would still count both attempts, had
	// DeleteExpired not removed the stale counter.
	for key, want := range map[string]int{"stale": 0, "recent": 1} {
		n, err := s.Attempts(ctx, key, now, 2*day)
		must(t, "Attempts", err)
		if n != want {
			t.Errorf("Attempts(%q) after DeleteExpired = %d, want %d", key, n, want)
		}
	}
	got, err := s.ListMail(ctx, 0)
	must(t, "ListMail", err)
	var left []string
	for _, m := range got {
		left = append(left, m.To)
	}
	slices.Sort(left)
	if want := []string{"recent@example.com", "unsent@example.com"}; !slices.Equal(left, want) {
		t.Errorf("mail left after DeleteExpired: %q, want %q", left, want)
	}
}

func testClose(t *testing.T, s storage.Storage) {
	must(t, "CreateAccount", s.CreateAccount(t.Context(), sampleAccount("acc1", "alice@example.com")))
	must(t, "Close", s.Close())
	// A closed Storage fails instead of panicking.
	if _, err := s.GetAccount(context.Background(), "acc1"); err == nil {
		t.Error("GetAccount on a closed Storage succeeded")
	}
}
