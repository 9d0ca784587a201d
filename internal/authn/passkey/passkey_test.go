package passkey_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"log/slog"
	"net/url"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/authn"
	"github.com/portti/portti/internal/authn/passkey"
	"github.com/portti/portti/internal/authn/passkey/softkey"
	"github.com/portti/portti/internal/authn/recoverycode"
	"github.com/portti/portti/internal/mail"
	"github.com/portti/portti/internal/password"
	"github.com/portti/portti/internal/storage"
	"github.com/portti/portti/internal/storage/sqlstore"
)

const origin = "https://id.example.fi"

type env struct {
	st      storage.Storage
	svc     *authn.Service
	method  *passkey.Method
	now     time.Time
	clock   func() time.Time
	outbox  *mail.Outbox
	counter int
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "passkey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{st: st, now: time.Now().UTC().Truncate(time.Second)}
	e.clock = func() time.Time { return e.now }
	discard := slog.New(slog.DiscardHandler)
	renderer, err := mail.NewRenderer(mail.RendererConfig{Product: "portti"})
	if err != nil {
		t.Fatal(err)
	}
	e.outbox, err = mail.NewOutbox(mail.OutboxConfig{Store: st, Renderer: renderer, Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	policy, err := password.NewPolicy(password.PresetNIST)
	if err != nil {
		t.Fatal(err)
	}
	accounts := account.New(account.Config{
		Store: st, Hasher: password.NewHasher(password.Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}), Policy: policy,
		Outbox: e.outbox, Logger: discard, PublicURL: origin, ThrottleLimit: 1 << 20, LockoutThreshold: 100, LockoutDuration: time.Hour, Now: e.clock,
	})
	forms, err := authn.NewFormSealer(nil, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	e.method, err = passkey.New(passkey.Config{PublicURL: origin + "/", Product: "portti", Forms: forms, Store: st, Random: rand.Reader, Now: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	e.svc = authn.New(authn.Config{
		Store: st, Registry: authn.NewRegistry(e.method, recoverycode.New(rand.Reader)), Accounts: accounts,
		Outbox: e.outbox, Logger: discard, PublicURL: origin, Now: e.clock,
	})
	return e
}

// account makes an activated account with a fresh signed-in session.
func (e *env) account(t *testing.T, email string) (storage.Account, storage.Session) {
	t.Helper()
	ctx := context.Background()
	e.counter++
	a := storage.Account{
		ID: "acc" + string(rune('a'+e.counter)) + "0123456789abcdefghijkl", Email: email,
		ActivatedAt: e.now, CreatedAt: e.now, UpdatedAt: e.now, PasswordChangedAt: e.now,
	}
	if err := e.st.CreateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	se := storage.Session{
		ID: "se-" + a.ID, AccountID: a.ID, CreatedAt: e.now, LastSeenAt: e.now, ExpiresAt: e.now.Add(time.Hour),
		Factors: []storage.AuthFactor{authn.Factor(authn.MethodPassword, e.now)},
	}
	if err := e.st.CreateSession(ctx, se); err != nil {
		t.Fatal(err)
	}
	return a, se
}

// enrol registers key for a through the Enroller, as /account/mfa does.
func (e *env) enrol(t *testing.T, a storage.Account, se storage.Session, key *softkey.Key, name string) authn.Enrolled {
	t.Helper()
	ctx := context.Background()
	en, err := e.svc.BeginEnrol(ctx, se, a, passkey.Kind)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := key.Register([]byte(en.Data["Options"].(string)))
	if err != nil {
		t.Fatal(err)
	}
	out, err := e.svc.FinishEnrol(ctx, se, a, passkey.Kind, en.Pending, url.Values{"response": {string(resp)}, "name": {name}}, account.Meta{})
	if err != nil {
		t.Fatalf("FinishEnrol: %v", err)
	}
	return out
}

func newKey(t *testing.T) *softkey.Key {
	t.Helper()
	k, err := softkey.New(origin)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (e *env) credential(t *testing.T, accountID string) storage.Credential {
	t.Helper()
	creds, err := e.st.ListCredentials(context.Background(), accountID)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range creds {
		if c.Kind == passkey.Kind {
			return c
		}
	}
	t.Fatal("no passkey stored")
	return storage.Credential{}
}

func TestNewRelyingParty(t *testing.T) {
	for in, want := range map[string][2]string{
		"https://id.example.fi/":         {"id.example.fi", "https://id.example.fi"},
		"http://localhost:8080":          {"localhost", "http://localhost:8080"},
		"https://login.example.fi:8443/": {"login.example.fi", "https://login.example.fi:8443"},
	} {
		m, err := passkey.New(passkey.Config{PublicURL: in, Product: "portti"})
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if m.RPID() != want[0] || m.Origin() != want[1] {
			t.Errorf("%s: RP ID %q, origin %q; want %q", in, m.RPID(), m.Origin(), want)
		}
	}
	if _, err := passkey.New(passkey.Config{PublicURL: "id.example.fi", Product: "portti"}); err == nil {
		t.Error("a public URL without a scheme was accepted")
	}
}

func TestEnrolment(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a, se := e.account(t, "alice@example.fi")
	key := newKey(t)
	out := e.enrol(t, a, se, key, "  YubiKey\x00 5 ")
	if len(out.RecoveryCodes) != 10 {
		t.Errorf("first method: %d recovery codes, want 10", len(out.RecoveryCodes))
	}
	c := e.credential(t, a.ID)
	if c.Name != "YubiKey 5" || len(c.Secret) != 0 || c.Lookup == "" {
		t.Errorf("stored %+v", c)
	}
	need, err := e.svc.SecondStepNeeded(ctx, a)
	if err != nil || !need {
		t.Errorf("SecondStepNeeded = %v, %v; want true", need, err)
	}

	// The same authenticator's answer posted twice: one credential.
	se, _ = e.st.GetSession(ctx, se.ID) // now with the passkey's factor: fresh
	en, err := e.svc.BeginEnrol(ctx, se, a, passkey.Kind)
	if err != nil {
		t.Fatal(err)
	}
	second := newKey(t)
	resp, _ := second.Register([]byte(en.Data["Options"].(string)))
	form := url.Values{"response": {string(resp)}, "name": {"laptop"}}
	if _, err := e.svc.FinishEnrol(ctx, se, a, passkey.Kind, en.Pending, form, account.Meta{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.FinishEnrol(ctx, se, a, passkey.Kind, en.Pending, form, account.Meta{}); !errors.Is(err, authn.ErrAlreadyEnrolled) {
		t.Errorf("double post: %v, want ErrAlreadyEnrolled", err)
	}

	// Wrong origin, wrong challenge, junk: refused, nothing stored.
	en, _ = e.svc.BeginEnrol(ctx, se, a, passkey.Kind)
	for name, tc := range map[string]struct {
		mutate func(k *softkey.Key, opts string) string
		want   error
	}{
		"other origin": {func(k *softkey.Key, opts string) string { k.Origin = "https://evil.example"; return opts }, authn.ErrWrongChallenge},
		"other challenge": {func(k *softkey.Key, opts string) string {
			var o map[string]map[string]any
			_ = json.Unmarshal([]byte(opts), &o)
			o["publicKey"]["challenge"] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
			b, _ := json.Marshal(o)
			return string(b)
		}, authn.ErrWrongChallenge},
	} {
		k := newKey(t)
		opts := tc.mutate(k, en.Data["Options"].(string))
		resp, err := k.Register([]byte(opts))
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.FinishEnrol(ctx, se, a, passkey.Kind, en.Pending, url.Values{"response": {string(resp)}}, account.Meta{})
		want := tc.want
		if name == "other origin" {
			want = authn.ErrWrongOrigin
		}
		if !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", name, err, want)
		}
	}
	if _, err := e.svc.FinishEnrol(ctx, se, a, passkey.Kind, en.Pending, url.Values{"response": {`{"id":`}}, account.Meta{}); !errors.Is(err, authn.ErrAssertionInvalid) {
		t.Errorf("junk: %v", err)
	}
	creds, _ := e.st.ListCredentials(ctx, a.ID)
	if n := len(creds); n != 3 { // two passkeys and the recovery codes
		t.Errorf("%d credentials after refused enrolments, want 3", n)
	}
}

// secondStep signs a's password in and returns the second step's challenge.
func (e *env) secondStep(t *testing.T, a storage.Account) string {
	t.Helper()
	ch, err := e.svc.BeginChallenge(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func TestSecondFactor(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a, se := e.account(t, "alice@example.fi")
	key := newKey(t)
	e.enrol(t, a, se, key, "YubiKey")
	b, bse := e.account(t, "bob@example.fi")
	bobKey := newKey(t)
	e.enrol(t, b, bse, bobKey, "Bob's key")

	ch := e.secondStep(t, a)
	cer, err := e.svc.BeginAssertion(ctx, ch)
	if err != nil {
		t.Fatal(err)
	}
	var opts struct {
		PublicKey struct {
			Challenge        string `json:"challenge"`
			RPID             string `json:"rpId"`
			UserVerification string `json:"userVerification"`
			Allow            []any  `json:"allowCredentials"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(cer.Options, &opts); err != nil {
		t.Fatal(err)
	}
	if opts.PublicKey.RPID != "id.example.fi" || len(opts.PublicKey.Allow) != 1 || opts.PublicKey.UserVerification != "discouraged" {
		t.Errorf("options %s", cer.Options)
	}

	before := e.credential(t, a.ID)
	refuse := func(name string, resp []byte, want error) {
		t.Helper()
		_, err := e.svc.VerifyAssertion(ctx, ch, cer.State, resp, account.Meta{})
		if !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", name, err, want)
		}
		if now := e.credential(t, a.ID); now.Counter != before.Counter || !now.LastUsedAt.Equal(before.LastUsedAt) {
			t.Errorf("%s: the credential changed: counter %d → %d", name, before.Counter, now.Counter)
		}
		if _, err := e.svc.Challenge(ctx, ch); err != nil {
			t.Errorf("%s: the second step was spent: %v", name, err)
		}
	}
	sign := func(k *softkey.Key, challenge, origin string) []byte {
		t.Helper()
		r, err := k.Sign("id.example.fi", challenge, origin)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	refuse("another challenge", sign(key, "b3RoZXItY2hhbGxlbmdlLW90aGVyLWNoYWxsZW5nZQ", origin), authn.ErrWrongChallenge)
	refuse("another origin", sign(key, opts.PublicKey.Challenge, "https://id.example.fi.evil.example"), authn.ErrWrongOrigin)
	refuse("another account's passkey", sign(bobKey, opts.PublicKey.Challenge, origin), authn.ErrOtherAccount)
	refuse("an unknown passkey", sign(newKey(t), opts.PublicKey.Challenge, origin), authn.ErrUnknownCredential)
	forged := newKey(t)
	forged.ID, forged.UserHandle = key.ID, key.UserHandle
	refuse("a signature by another key", sign(forged, opts.PublicKey.Challenge, origin), authn.ErrAssertionInvalid)
	old := key.Counter
	other, err := e.svc.BeginAssertion(ctx, ch)
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := key.Assert(other.Options)
	key.Counter = old
	refuse("the answer to a newer ceremony (another tab)", resp, authn.ErrWrongChallenge)
	if _, err := e.svc.VerifyAssertion(ctx, ch, "junk", sign(key, opts.PublicKey.Challenge, origin), account.Meta{}); !errors.Is(err, authn.ErrCeremonyGone) {
		t.Errorf("no ceremony state: %v", err)
	}

	// Each refusal counted like a wrong password.
	got, _ := e.st.GetAccount(ctx, a.ID)
	if got.FailedLogins == 0 {
		t.Error("refused passkey answers were not counted")
	}

	good := sign(key, opts.PublicKey.Challenge, origin)
	res, err := e.svc.VerifyAssertion(ctx, ch, cer.State, good, account.Meta{})
	if err != nil {
		t.Fatalf("right answer: %v", err)
	}
	amr := e.svc.Registry().AMR(res.Factors)
	if !slices.Equal(amr, []string{"pwd", "hwk", "user", "mfa"}) {
		t.Errorf("amr %v", amr)
	}
	if c := e.credential(t, a.ID); c.Counter != int64(key.Counter) {
		t.Errorf("counter %d, want %d", c.Counter, key.Counter)
	}
	// The same answer again: the step and the ceremony are spent.
	if _, err := e.svc.VerifyAssertion(ctx, ch, cer.State, good, account.Meta{}); !errors.Is(err, authn.ErrChallengeGone) {
		t.Errorf("replayed answer: %v, want ErrChallengeGone", err)
	}
	// A new sign-in with the old ceremony's answer: the ceremony is spent.
	ch2 := e.secondStep(t, a)
	if _, err := e.svc.VerifyAssertion(ctx, ch2, cer.State, good, account.Meta{}); !errors.Is(err, authn.ErrCeremonyGone) && !errors.Is(err, authn.ErrReplayed) {
		t.Errorf("old ceremony in a new sign-in: %v", err)
	}

	// A clone of the key signs with a counter already used.
	ch4 := e.secondStep(t, a)
	cer4, err := e.svc.BeginAssertion(ctx, ch4)
	if err != nil {
		t.Fatal(err)
	}
	key.Counter--
	resp, _ = key.Assert(cer4.Options)
	before = e.credential(t, a.ID)
	if _, err := e.svc.VerifyAssertion(ctx, ch4, cer4.State, resp, account.Meta{}); !errors.Is(err, authn.ErrReplayed) {
		t.Errorf("counter that did not grow: %v, want ErrReplayed", err)
	}
	if after := e.credential(t, a.ID); after.Counter != before.Counter {
		t.Errorf("counter replay changed the counter %d → %d", before.Counter, after.Counter)
	}

	// Expired ceremony.
	ch3 := e.secondStep(t, a)
	cer3, err := e.svc.BeginAssertion(ctx, ch3)
	if err != nil {
		t.Fatal(err)
	}
	resp, _ = key.Assert(cer3.Options)
	e.now = e.now.Add(passkey.CeremonyTTL + time.Second)
	if _, err := e.svc.VerifyAssertion(ctx, ch3, cer3.State, resp, account.Meta{}); !errors.Is(err, authn.ErrCeremonyGone) {
		t.Errorf("expired ceremony: %v", err)
	}
}

func TestPasswordless(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a, se := e.account(t, "alice@example.fi")
	key := newKey(t)
	e.enrol(t, a, se, key, "YubiKey")
	b, bse := e.account(t, "bob@example.fi")
	synced := newKey(t)
	synced.Synced, synced.CountUp, synced.Attachment = true, false, "platform"
	e.enrol(t, b, bse, synced, "phone")

	begin := func() authn.Ceremony {
		t.Helper()
		c, err := e.svc.BeginAssertion(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	cer := begin()
	var opts struct {
		PublicKey struct {
			UserVerification string `json:"userVerification"`
			Allow            []any  `json:"allowCredentials"`
		} `json:"publicKey"`
	}
	_ = json.Unmarshal(cer.Options, &opts)
	if opts.PublicKey.UserVerification != "required" || len(opts.PublicKey.Allow) != 0 {
		t.Errorf("passwordless options %s", cer.Options)
	}
	resp, _ := key.Assert(cer.Options)
	res, err := e.svc.SignInWithAssertion(ctx, cer.State, resp, account.Meta{})
	if err != nil || res.Account.ID != a.ID {
		t.Fatalf("passwordless: %v, account %q", err, res.Account.ID)
	}
	if amr := e.svc.Registry().AMR(res.Factors); !slices.Equal(amr, []string{"hwk", "user", "mfa"}) {
		t.Errorf("amr %v", amr)
	}
	if acr := e.svc.Registry().ACR(res.Factors); acr != authn.ACRMFA {
		t.Errorf("acr %v", acr)
	}
	if _, err := e.svc.SignInWithAssertion(ctx, cer.State, resp, account.Meta{}); !errors.Is(err, authn.ErrCeremonyGone) && !errors.Is(err, authn.ErrReplayed) {
		t.Errorf("replayed passwordless answer: %v", err)
	}

	cer = begin()
	resp, _ = synced.Assert(cer.Options)
	res, err = e.svc.SignInWithAssertion(ctx, cer.State, resp, account.Meta{})
	if err != nil || res.Account.ID != b.ID {
		t.Fatalf("synced passkey: %v", err)
	}
	if amr := e.svc.Registry().AMR(res.Factors); !slices.Equal(amr, []string{"swk", "user", "mfa"}) {
		t.Errorf("synced amr %v", amr)
	}
	// A synced passkey's counter stays 0: its second use is no replay.
	cer = begin()
	resp, _ = synced.Assert(cer.Options)
	if _, err := e.svc.SignInWithAssertion(ctx, cer.State, resp, account.Meta{}); err != nil {
		t.Errorf("synced passkey, second use: %v", err)
	}

	cer = begin()
	key.UserVerified = false
	resp, _ = key.Assert(cer.Options)
	if _, err := e.svc.SignInWithAssertion(ctx, cer.State, resp, account.Meta{}); !errors.Is(err, authn.ErrUserNotVerified) {
		t.Errorf("no user verification: %v", err)
	}
	key.UserVerified = true

	// A user handle naming another account than the credential's.
	cer = begin()
	uh := key.UserHandle
	key.UserHandle = []byte(b.ID)
	resp, _ = key.Assert(cer.Options)
	key.UserHandle = uh
	if _, err := e.svc.SignInWithAssertion(ctx, cer.State, resp, account.Meta{}); !errors.Is(err, authn.ErrOtherAccount) {
		t.Errorf("user handle of another account: %v", err)
	}

	// A second step's ceremony is no passwordless one, and back.
	ch := e.secondStep(t, a)
	cer2, err := e.svc.BeginAssertion(ctx, ch)
	if err != nil {
		t.Fatal(err)
	}
	resp, _ = key.Assert(cer2.Options)
	if _, err := e.svc.SignInWithAssertion(ctx, cer2.State, resp, account.Meta{}); !errors.Is(err, authn.ErrCeremonyGone) {
		t.Errorf("second step's ceremony used for passwordless: %v", err)
	}

	// The account's state: the same answers as a right password gets.
	for name, tc := range map[string]struct {
		change func(*storage.Account)
		want   error
	}{
		"disabled":      {func(x *storage.Account) { x.Disabled = true }, account.ErrDisabled},
		"not activated": {func(x *storage.Account) { x.ActivatedAt = time.Time{} }, account.ErrNotActivated},
		"locked":        {func(x *storage.Account) { x.LockedUntil = e.now.Add(time.Hour) }, nil},
	} {
		if _, err := e.st.UpdateAccount(ctx, a.ID, func(x storage.Account) (storage.Account, error) { tc.change(&x); return x, nil }); err != nil {
			t.Fatal(err)
		}
		before := e.credential(t, a.ID)
		cer := begin()
		resp, _ := key.Assert(cer.Options)
		_, err := e.svc.SignInWithAssertion(ctx, cer.State, resp, account.Meta{})
		var locked *account.LockedError
		if tc.want == nil && !errors.As(err, &locked) || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: %v", name, err)
		}
		if after := e.credential(t, a.ID); after.Counter != before.Counter {
			t.Errorf("%s: the refused sign-in used the credential", name)
		}
		key.Counter = uint32(before.Counter) // the refused signature was never recorded
		if _, err := e.st.UpdateAccount(ctx, a.ID, func(x storage.Account) (storage.Account, error) {
			x.Disabled, x.ActivatedAt, x.LockedUntil = false, e.now, time.Time{}
			return x, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRemoveLastPasskeyTakesRecoveryCodes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a, se := e.account(t, "alice@example.fi")
	e.enrol(t, a, se, newKey(t), "YubiKey")
	c := e.credential(t, a.ID)
	se, _ = e.st.GetSession(ctx, se.ID)
	if err := e.svc.Remove(ctx, se, a, c.ID, account.Meta{}); err != nil {
		t.Fatal(err)
	}
	creds, _ := e.st.ListCredentials(ctx, a.ID)
	if len(creds) != 0 {
		t.Errorf("%d credentials left", len(creds))
	}
	e.now = e.now.Add(time.Hour)
	se, _ = e.st.GetSession(ctx, se.ID)
	if _, err := e.svc.BeginEnrol(ctx, se, a, passkey.Kind); !errors.Is(err, authn.ErrNotFresh) {
		t.Errorf("adding a passkey an hour after signing in: %v, want ErrNotFresh", err)
	}
}

func FuzzParseAssertion(f *testing.F) {
	k, err := softkey.New(origin)
	if err != nil {
		f.Fatal(err)
	}
	k.UserHandle = []byte("acc")
	good, _ := k.Sign("id.example.fi", "Y2hhbGxlbmdlLWNoYWxsZW5nZS1jaGFsbGVuZ2UtY2g", origin)
	f.Add(good)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"id":"","rawId":"","type":"public-key","response":{}}`))
	f.Add([]byte(`{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"","signature":""}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := passkey.ParseAssertion(body)
		if err != nil {
			if !errors.Is(err, authn.ErrAssertionInvalid) {
				t.Fatalf("error %v is not ErrAssertionInvalid", err)
			}
			return
		}
		if p == nil || len(body) > passkey.MaxResponse {
			t.Fatal("accepted without a result, or too long")
		}
	})
}

func FuzzParseRegistration(f *testing.F) {
	k, err := softkey.New(origin)
	if err != nil {
		f.Fatal(err)
	}
	good, err := k.Register([]byte(`{"publicKey":{"challenge":"Y2hhbGxlbmdlLWNoYWxsZW5nZS1jaGFsbGVuZ2UtY2g","rp":{"id":"id.example.fi"},"user":{"id":"YWNj"}}}`))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","attestationObject":"oA"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := passkey.ParseRegistration(body)
		if err != nil {
			if !errors.Is(err, authn.ErrAssertionInvalid) {
				t.Fatalf("error %v is not ErrAssertionInvalid", err)
			}
			return
		}
		if p == nil || len(body) > passkey.MaxResponse {
			t.Fatal("accepted without a result, or too long")
		}
	})
}

func TestRename(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a, se := e.account(t, "alice@example.fi")
	b, _ := e.account(t, "bob@example.fi")
	e.enrol(t, a, se, newKey(t), "YubiKey")
	c := e.credential(t, a.ID)
	if err := e.svc.Rename(ctx, a, c.ID, "  work\tlaptop\x07 ", account.Meta{}); err != nil {
		t.Fatal(err)
	}
	if got := e.credential(t, a.ID); got.Name != "work laptop" {
		t.Errorf("name %q", got.Name)
	}
	if err := e.svc.Rename(ctx, b, c.ID, "mine now", account.Meta{}); !errors.Is(err, authn.ErrUnknownMethod) {
		t.Errorf("renaming another account's passkey: %v", err)
	}
	if got := e.credential(t, a.ID); got.Name != "work laptop" {
		t.Errorf("another account renamed it: %q", got.Name)
	}
	for _, x := range e.mustCreds(t, a.ID) {
		if x.Kind == "recovery" {
			if err := e.svc.Rename(ctx, a, x.ID, "codes", account.Meta{}); !errors.Is(err, authn.ErrUnknownMethod) {
				t.Errorf("renaming the recovery codes: %v", err)
			}
		}
	}
}

func (e *env) mustCreds(t *testing.T, accountID string) []storage.Credential {
	t.Helper()
	cs, err := e.st.ListCredentials(context.Background(), accountID)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}
