package app_test

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/authn/passkey/softkey"
	"github.com/portti/portti/internal/storage"
)

var optionsRE = regexp.MustCompile(`data-options="([^"]*)"`)

// enrolPasskey adds key as a passkey of the account signed in in c.
func enrolPasskey(t testing.TB, env *apptest.Env, c *http.Client, key *softkey.Key, name string) answer {
	t.Helper()
	page := send(t, c, http.MethodGet, env.URL+"/account/mfa/webauthn/new", nil)
	m := optionsRE.FindStringSubmatch(page.Body)
	if page.Status != http.StatusOK || m == nil || !strings.Contains(page.Body, `src="/static/passkey.js"`) {
		t.Fatalf("passkey enrolment page: %d at %s\n%s", page.Status, page.URL, page.Body)
	}
	resp, err := key.Register([]byte(html.UnescapeString(m[1])))
	if err != nil {
		t.Fatal(err)
	}
	return send(t, c, http.MethodPost, env.URL+"/account/mfa/webauthn/new", url.Values{
		"pending": {hiddenValue(t, page.Body, "pending")}, "response": {string(resp)}, "name": {name},
	})
}

// passkeyOptions asks for a ceremony's options in browser c (challenge:
// the second step's, or "" for passwordless).
func passkeyOptions(t testing.TB, env *apptest.Env, c *http.Client, challenge string) []byte {
	t.Helper()
	f := url.Values{}
	if challenge != "" {
		f.Set("challenge", challenge)
	}
	a := send(t, c, http.MethodPost, env.URL+"/login/passkey/options", f)
	if a.Status != http.StatusOK || !json.Valid([]byte(a.Body)) {
		t.Fatalf("passkey options: %d %s", a.Status, a.Body)
	}
	return []byte(a.Body)
}

func passkeyOf(t testing.TB, env *apptest.Env, accountID string) storage.Credential {
	t.Helper()
	for _, c := range credentials(t, env, accountID) {
		if c.Kind == "webauthn" {
			return c
		}
	}
	t.Fatal("no passkey")
	return storage.Credential{}
}

// TestPasskeyPages: passwordless and second-step sign-ins over HTTP, and
// each bad answer explained in the person's language with the account
// left as it was.
func TestPasskeyPages(t *testing.T) {
	env := apptest.Start(t, map[string]string{"PORTTI_PUBLIC_URL": apptest.Localhost})
	aino := addUser(t, env, "aino@example.fi", "kesämökki järven rannalla")
	addUser(t, env, "eero@example.fi", "kesämökki järven rannalla")
	ainoKey, _ := softkey.New(env.URL)
	eeroKey, _ := softkey.New(env.URL)
	for _, p := range []struct {
		email string
		key   *softkey.Key
	}{{"aino@example.fi", ainoKey}, {"eero@example.fi", eeroKey}} {
		c := newBrowser(t)
		signIn(t, env, c, p.email, "kesämökki järven rannalla", false)
		if a := enrolPasskey(t, env, c, p.key, "YubiKey"); a.Status != http.StatusOK {
			t.Fatalf("enrol: %d\n%s", a.Status, a.Body)
		}
	}

	// The login page offers it, with the script and a way without it.
	fi := newBrowser(t, "Accept-Language", "fi")
	login := send(t, fi, http.MethodGet, env.URL+"/login", nil)
	mustContainText(t, login.Body, catalogText("fi", "passkey.login.heading"), catalogText("fi", "passkey.noscript"))
	if !strings.Contains(login.Body, `<script src="/static/passkey.js" defer></script>`) || strings.Contains(login.Body, "<script>") {
		t.Errorf("login page scripts:\n%s", login.Body)
	}
	if csp := login.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
		t.Errorf("CSP %q", csp)
	}

	// Bad answers to a passwordless ceremony, each with its page in Finnish.
	before := passkeyOf(t, env, aino.ID)
	sessions := len(liveSessions(t, env, aino.ID))
	var o struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
			RPID      string `json:"rpId"`
		} `json:"publicKey"`
	}
	// Each attempt starts a ceremony of its own: a refused answer ends
	// the one it answered (the page's button starts a new one).
	refused := func(name string, answer func(opts []byte) []byte, key string) {
		t.Helper()
		opts := passkeyOptions(t, env, fi, "")
		if err := json.Unmarshal(opts, &o); err != nil || o.PublicKey.RPID != "localhost" {
			t.Fatalf("options %s: %v", opts, err)
		}
		resp := answer(opts)
		a := send(t, fi, http.MethodPost, env.URL+"/login/passkey", url.Values{"response": {string(resp)}})
		if a.Status != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, a.Status)
		}
		mustContainText(t, a.Body, catalogText("fi", key))
		if after := passkeyOf(t, env, aino.ID); after.Counter != before.Counter || !after.LastUsedAt.Equal(before.LastUsedAt) {
			t.Errorf("%s: the passkey changed", name)
		}
		if len(liveSessions(t, env, aino.ID)) != sessions {
			t.Errorf("%s: a session was started", name)
		}
	}
	refused("junk", func([]byte) []byte {
		junk, _ := json.Marshal(map[string]any{"id": "AA", "type": "public-key", "response": map[string]string{"clientDataJSON": "e30"}})
		return junk
	}, "passkey.error.invalid")
	refused("another origin", func([]byte) []byte {
		r, _ := ainoKey.Sign("localhost", o.PublicKey.Challenge, "http://evil.localhost:1")
		return r
	}, "passkey.error.wrong_origin")
	refused("another challenge", func([]byte) []byte {
		r, _ := ainoKey.Sign("localhost", "Y2hhbGxlbmdlLWZyb20tYW5vdGhlci1zaWduLWluLXg", env.URL)
		return r
	}, "passkey.error.wrong_challenge")
	refused("no ceremony in this browser", func([]byte) []byte {
		send(t, fi, http.MethodPost, env.URL+"/login/passkey", url.Values{"response": {"{}"}}) // ends it
		r, _ := ainoKey.Sign("localhost", o.PublicKey.Challenge, env.URL)
		return r
	}, "passkey.error.gone")

	// A right answer signs in; the same answer again finds the ceremony spent.
	opts := passkeyOptions(t, env, fi, "")
	good, _ := ainoKey.Assert(opts)
	a := send(t, stayPut(fi), http.MethodPost, env.URL+"/login/passkey", url.Values{"response": {string(good)}})
	if a.Status != http.StatusSeeOther || a.Header.Get("Location") != "/account" {
		t.Fatalf("passwordless sign-in: %d %s\n%s", a.Status, a.Header.Get("Location"), a.Body)
	}
	if n := len(liveSessions(t, env, aino.ID)); n != sessions+1 {
		t.Fatalf("%d sessions after the passkey sign-in", n)
	}
	other := newBrowser(t, "Accept-Language", "sv")
	send(t, other, http.MethodGet, env.URL+"/login", nil)
	replay := send(t, other, http.MethodPost, env.URL+"/login/passkey", url.Values{"response": {string(good)}})
	if replay.Status != http.StatusUnauthorized {
		t.Errorf("replayed answer without the ceremony: %d", replay.Status)
	}
	mustContainText(t, replay.Body, catalogText("sv", "passkey.error.gone"))

	// Second step: Eero's passkey on Aino's second step.
	c := newBrowser(t, "Accept-Language", "en")
	step := passwordStep(t, env, c, "aino@example.fi", "kesämökki järven rannalla")
	mustContainText(t, step.Body, enText("passkey.second.button"))
	challenge := hiddenValue(t, step.Body, "challenge")
	opts = passkeyOptions(t, env, c, challenge)
	_ = json.Unmarshal(opts, &o)
	r, _ := eeroKey.Sign("localhost", o.PublicKey.Challenge, env.URL)
	a = send(t, c, http.MethodPost, env.URL+"/login/mfa/passkey", url.Values{"challenge": {challenge}, "response": {string(r)}})
	if a.Status != http.StatusUnauthorized {
		t.Errorf("another account's passkey: %d", a.Status)
	}
	mustContainText(t, a.Body, enText("passkey.error.other_account"))
	if got := storedAccount(t, env, "aino@example.fi"); got.FailedLogins != 1 {
		t.Errorf("another account's passkey counted %d failures, want 1", got.FailedLogins)
	}
	// A clone of Aino's key, its counter behind.
	before = passkeyOf(t, env, aino.ID)
	ainoKey.Counter = uint32(before.Counter) - 1
	opts = passkeyOptions(t, env, c, challenge)
	r, _ = ainoKey.Assert(opts)
	a = send(t, c, http.MethodPost, env.URL+"/login/mfa/passkey", url.Values{"challenge": {challenge}, "response": {string(r)}})
	mustContainText(t, a.Body, enText("passkey.error.replayed"))
	if after := passkeyOf(t, env, aino.ID); after.Counter != before.Counter {
		t.Errorf("the counter moved on a replay: %d → %d", before.Counter, after.Counter)
	}
	// The real key, once its counter is ahead.
	ainoKey.Counter = uint32(before.Counter)
	opts = passkeyOptions(t, env, c, challenge)
	r, _ = ainoKey.Assert(opts)
	a = send(t, stayPut(c), http.MethodPost, env.URL+"/login/mfa/passkey", url.Values{"challenge": {challenge}, "response": {string(r)}})
	if a.Status != http.StatusSeeOther {
		t.Fatalf("second step with the passkey: %d\n%s", a.Status, a.Body)
	}
	if got := storedAccount(t, env, "aino@example.fi"); got.FailedLogins != 0 {
		t.Errorf("failures after a right second step: %d", got.FailedLogins)
	}
}
