package oidc

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/portti/portti/internal/storage"
)

func TestSealing(t *testing.T) {
	s, err := newSealer([]byte(testKEK), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der := []byte("pretend this is PKCS#8")
	blob, err := s.seal("kid1", "ES256", der)
	if err != nil {
		t.Fatal(err)
	}
	if blob[0] != sealAESGCM || bytes.Contains(blob, der) {
		t.Fatalf("not sealed: %x", blob)
	}
	got, plain, err := s.open("kid1", "ES256", blob)
	if err != nil || plain || !bytes.Equal(got, der) {
		t.Fatalf("open: %q %v %v", got, plain, err)
	}

	// Any change to the ciphertext, nonce or tag is detected.
	for i := 1; i < len(blob); i++ {
		tampered := bytes.Clone(blob)
		tampered[i] ^= 0x01
		if _, _, err := s.open("kid1", "ES256", tampered); !errors.Is(err, errWrongKEK) {
			t.Fatalf("byte %d flipped: err %v", i, err)
		}
	}
	if _, _, err := s.open("kid1", "ES256", blob[:len(blob)-1]); err == nil {
		t.Error("truncated blob opened")
	}
	// Bound to its record: another kid or algorithm does not open it.
	if _, _, err := s.open("kid2", "ES256", blob); !errors.Is(err, errWrongKEK) {
		t.Errorf("other kid: %v", err)
	}
	if _, _, err := s.open("kid1", "RS256", blob); !errors.Is(err, errWrongKEK) {
		t.Errorf("other alg: %v", err)
	}
	// Another key encryption key does not open it; none at all says so.
	other, _ := newSealer([]byte("fedcba9876543210fedcba9876543210"), rand.Reader)
	if _, _, err := other.open("kid1", "ES256", blob); !errors.Is(err, errWrongKEK) {
		t.Errorf("other KEK: %v", err)
	}
	none, _ := newSealer(nil, rand.Reader)
	if _, _, err := none.open("kid1", "ES256", blob); !errors.Is(err, errSealedNoKEK) {
		t.Errorf("no KEK: %v", err)
	}
	// Without a KEK keys are stored in the clear, marked so, and still
	// open once a KEK is configured.
	clear, _ := none.seal("kid1", "ES256", der)
	if clear[0] != sealPlain {
		t.Errorf("plain format %x", clear[0])
	}
	if got, plain, err := s.open("kid1", "ES256", clear); err != nil || !plain || !bytes.Equal(got, der) {
		t.Errorf("plain key with a KEK: %v %v", plain, err)
	}
	if _, err := newSealer([]byte("short"), rand.Reader); err == nil {
		t.Error("short KEK accepted")
	}
}

func TestStoredKeys(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	recs, err := e.store.ListSigningKeys(ctx)
	if err != nil || len(recs) != 2 {
		t.Fatalf("keys at first start: %d %v", len(recs), err)
	}
	algs := map[string]bool{}
	for _, r := range recs {
		algs[r.Alg] = true
		if r.Private[0] != sealAESGCM {
			t.Errorf("key %s not sealed", r.ID)
		}
		if _, err := x509.ParsePKCS8PrivateKey(r.Private[1:]); err == nil {
			t.Errorf("key %s readable without the KEK", r.ID)
		}
		var pub jose.JSONWebKey
		if err := pub.UnmarshalJSON(r.Public); err != nil || !pub.IsPublic() || pub.KeyID != r.ID {
			t.Errorf("public JWK of %s: %v", r.ID, err)
		}
	}
	if !algs["RS256"] || !algs["ES256"] {
		t.Errorf("algorithms %v", algs)
	}

	// A second start reuses them.
	e2 := newEnvOn(t, e.store, e.clock)
	if recs2, _ := e2.store.ListSigningKeys(ctx); len(recs2) != 2 {
		t.Errorf("second start made keys: %d", len(recs2))
	}
	// Another KEK, or none, refuses to start rather than replace them.
	for name, kek := range map[string][]byte{"other": []byte("fedcba9876543210fedcba9876543210"), "none": nil} {
		cfg := e.cfg
		cfg.KeyEncryptionKey = kek
		if _, err := New(cfg); err == nil {
			t.Errorf("%s KEK: started", name)
		}
	}
	// A tampered private key is refused too.
	rec := recs[0]
	if _, err := e.store.UpdateSigningKey(ctx, rec.ID, func(k storage.SigningKey) (storage.SigningKey, error) {
		k.Private[len(k.Private)-1] ^= 1
		return k, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(e.cfg); err == nil || !strings.Contains(err.Error(), rec.ID) {
		t.Errorf("tampered key: %v", err)
	}
}

func TestPlainKeysInDevelopment(t *testing.T) {
	var logs bytes.Buffer
	e := newEnv(t, func(c *Config) {
		c.KeyEncryptionKey = nil
		c.Logger = newTestLogger(&logs)
	})
	recs, _ := e.store.ListSigningKeys(context.Background())
	for _, r := range recs {
		if r.Private[0] != sealPlain {
			t.Errorf("key %s format %d", r.ID, r.Private[0])
		}
	}
	// Said by WarnUnsealedKeys (portti serve), not by New, which every
	// operator command runs too.
	if strings.Contains(logs.String(), "UNENCRYPTED") {
		t.Errorf("New warned:\n%s", logs.String())
	}
	e.p.WarnUnsealedKeys()
	if !strings.Contains(logs.String(), "UNENCRYPTED") {
		t.Errorf("no warning:\n%s", logs.String())
	}
	// Configuring a KEK later keeps the keys working, with a warning.
	logs.Reset()
	cfg := e.cfg
	cfg.KeyEncryptionKey = []byte(testKEK)
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p.WarnUnsealedKeys()
	if !strings.Contains(logs.String(), "keys rotate") {
		t.Errorf("no advice to rotate:\n%s", logs.String())
	}
}

func TestRotationTimeline(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	p := e.p
	delay, ttl := p.cfg.KeyPublishDelay, max(p.cfg.IDTokenTTL, p.cfg.AccessTokenTTL)
	oldRS, oldES := p.keys.current(algRS256, e.clock.Now()), p.keys.current(algES256, e.clock.Now())

	t0 := e.clock.Now()
	newIDs, err := p.RotateKeys(ctx)
	if err != nil || len(newIDs) != 2 {
		t.Fatalf("rotate: %v %v", newIDs, err)
	}
	isNew := func(id string) bool { return id == newIDs[0] || id == newIDs[1] }

	// Check, at instants across the whole rotation, that exactly one key
	// per algorithm signs, which one, and what JWKS lists.
	for _, step := range []struct {
		at        time.Duration
		signsNew  bool
		publishes []string // "old", "new"
	}{
		{0, false, []string{"old", "new"}},
		{delay / 2, false, []string{"old", "new"}},
		{delay - time.Second, false, []string{"old", "new"}},
		{delay, true, []string{"old", "new"}},
		{delay + ttl - time.Second, true, []string{"old", "new"}},
		{delay + ttl, true, []string{"new"}},
		{delay + 2*ttl, true, []string{"new"}},
	} {
		now := t0.Add(step.at)
		e.clock.c(now)
		for _, alg := range signingAlgs {
			n := 0
			for _, k := range p.keys.snapshot() {
				if k.alg() == alg && k.signs(now) {
					n++
				}
			}
			if n != 1 {
				t.Errorf("at +%s: %d %s keys sign", step.at, n, alg)
			}
			cur := p.keys.current(alg, now)
			if isNew(cur.id()) != step.signsNew {
				t.Errorf("at +%s: %s signs with %s (new: %v)", step.at, alg, cur.id(), isNew(cur.id()))
			}
		}
		kids := e.jwksKids()
		hasOld := kids[oldRS.id()] && kids[oldES.id()]
		hasNew := kids[newIDs[0]] && kids[newIDs[1]]
		wantOld := step.publishes[0] == "old"
		if hasOld != wantOld || !hasNew {
			t.Errorf("at +%s: JWKS %v (old %v new %v)", step.at, kids, hasOld, hasNew)
		}
		// What is signed is verifiable with what is published.
		_, tok := e.clientCredentialsToken()
		if _, _, err := p.keys.verify(ctx, tok); err != nil {
			t.Errorf("at +%s: own token does not verify: %v", step.at, err)
		}
	}

	// The stored timeline: the old keys retire when the new ones start and
	// expire when their last tokens do.
	recs, _ := e.store.ListSigningKeys(ctx)
	for _, r := range recs {
		switch {
		case isNew(r.ID):
			if !r.SignFrom.Equal(t0.Add(delay)) || !r.RetiredAt.IsZero() {
				t.Errorf("new key %s: %+v", r.ID, r)
			}
		default:
			if !r.RetiredAt.Equal(t0.Add(delay)) || !r.ExpiresAt.Equal(t0.Add(delay+ttl)) {
				t.Errorf("old key %s: retired %v expires %v", r.ID, r.RetiredAt, r.ExpiresAt)
			}
		}
	}
}

func TestRotationReachesOtherNodes(t *testing.T) {
	a := newEnv(t)
	b := newEnvOn(t, a.store, a.clock)
	ctx := context.Background()
	ids, err := a.p.RotateKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Node b learns the new keys within the refresh interval, long before
	// they sign.
	a.clock.Advance(keyRefresh + time.Second)
	if kids := b.jwksKids(); !kids[ids[0]] || !kids[ids[1]] {
		t.Errorf("node b JWKS after refresh: %v", kids)
	}
	a.clock.Advance(a.p.cfg.KeyPublishDelay)
	for _, alg := range signingAlgs {
		ka, _ := a.p.keys.signer(ctx, alg)
		kb, _ := b.p.keys.signer(ctx, alg)
		if ka.id() != kb.id() || (ka.id() != ids[0] && ka.id() != ids[1]) {
			t.Errorf("%s: node a signs with %s, node b with %s", alg, ka.id(), kb.id())
		}
	}
	// A token signed by a key node b has never seen (created after its
	// last load) still verifies there: an unknown kid reloads.
	more, err := a.p.RotateKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a.clock.Advance(a.p.cfg.KeyPublishDelay)
	ka, _ := a.p.keys.signer(ctx, algES256)
	if ka.id() != more[1] && ka.id() != more[0] {
		t.Fatalf("node a did not switch: %s", ka.id())
	}
	tok, _ := ka.sign([]byte(`{"iss":"x"}`), "JWT")
	if _, _, err := b.p.keys.verify(ctx, tok); err != nil {
		t.Errorf("node b: %v", err)
	}
}

func TestJWKSAndDiscoveryCaching(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{PathJWKS, PathDiscovery} {
		resp, err := http.Get(e.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		etag := resp.Header.Get("ETag")
		if resp.StatusCode != 200 || etag == "" || !strings.Contains(resp.Header.Get("Cache-Control"), "max-age=300") {
			t.Errorf("%s: %d %v", path, resp.StatusCode, resp.Header)
		}
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
		req.Header.Set("If-None-Match", etag)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotModified {
			t.Errorf("%s with If-None-Match: %d", path, resp.StatusCode)
		}
	}
	// A rotation changes the JWKS and its ETag.
	before := e.jwksETag()
	if _, err := e.p.RotateKeys(context.Background()); err != nil {
		t.Fatal(err)
	}
	if after := e.jwksETag(); after == before {
		t.Error("ETag unchanged after rotation")
	}

	var d map[string]any
	resp, err := http.Get(e.srv.URL + PathDiscovery)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"issuer":                 e.srv.URL,
		"token_endpoint":         e.srv.URL + PathToken,
		"jwks_uri":               e.srv.URL + PathJWKS,
		"authorization_endpoint": e.srv.URL + PathAuthorize,
		"end_session_endpoint":   e.srv.URL + PathEndSession,
	}
	for k, v := range want {
		if d[k] != v {
			t.Errorf("discovery %s = %v, want %v", k, d[k], v)
		}
	}
	if got, _ := json.Marshal(d["code_challenge_methods_supported"]); string(got) != `["S256"]` {
		t.Errorf("code_challenge_methods_supported %s", got)
	}
	if got, _ := json.Marshal(d["response_types_supported"]); string(got) != `["code"]` {
		t.Errorf("response_types_supported %s", got)
	}
	if d["request_uri_parameter_supported"] != false {
		t.Errorf("request_uri_parameter_supported %v", d["request_uri_parameter_supported"])
	}
}

func (e *testEnv) jwksKids() map[string]bool {
	e.t.Helper()
	resp, err := http.Get(e.srv.URL + PathJWKS)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		e.t.Fatal(err)
	}
	out := map[string]bool{}
	for _, k := range set.Keys {
		if !k.IsPublic() {
			e.t.Fatalf("JWKS has a private key: %s", k.KeyID)
		}
		out[k.KeyID] = true
	}
	return out
}

func (e *testEnv) jwksETag() string {
	resp, err := http.Get(e.srv.URL + PathJWKS)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.Header.Get("ETag")
}

// clientCredentialsToken gets a token for a client made on first use.
func (e *testEnv) clientCredentialsToken() (int, string) {
	e.t.Helper()
	if _, err := e.store.GetClient(context.Background(), "cc-test"); err != nil {
		rec, _, _ := NewClient(ClientSpec{ID: "cc-test", Secret: strings.Repeat("s", 40), GrantTypes: []string{GrantClientCredentials}}, e.clock.Now(), nil)
		if err := e.store.CreateClient(context.Background(), rec); err != nil {
			e.t.Fatal(err)
		}
	}
	status, m := e.token(map[string][]string{"grant_type": {"client_credentials"}}, "cc-test", strings.Repeat("s", 40))
	return status, str(m, "access_token")
}
