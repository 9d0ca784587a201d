package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/portti/portti/internal/secret"
	"github.com/portti/portti/internal/storage"
	"github.com/portti/portti/internal/storage/sqlstore"
)

// clientEnv points the commands at a fresh database and returns its URL.
func clientEnv(t *testing.T) string {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "PORTTI_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	dbURL := "sqlite:" + filepath.Join(t.TempDir(), "portti.db")
	t.Setenv("PORTTI_DATABASE_URL", dbURL)
	t.Setenv("PORTTI_KEY_ENCRYPTION_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
	return dbURL
}

func runCmd(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return out.String() + errOut.String(), err
}

func TestClientCommands(t *testing.T) {
	dbURL := clientEnv(t)

	out, err := runCmd(t, "", "client", "add", "--id", "moodle", "--name", "Moodle",
		"--redirect-uri", "https://moodle.example.fi/auth/oidc/", "--redirect-uri", "https://moodle.example.fi/login",
		"--post-logout-redirect-uri", "https://moodle.example.fi/", "--allowed-network", "10.0.0.0/8",
		"--grant", "authorization_code", "--grant", "refresh_token", "--grant", "client_credentials")
	if err != nil {
		t.Fatalf("add: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`client secret: (\S+)`).FindStringSubmatch(out)
	if m == nil || !secret.Plausible(m[1]) {
		t.Fatalf("no secret printed:\n%s", out)
	}
	generated := m[1]

	// A public client; a confidential one with the secret on stdin.
	if out, err := runCmd(t, "", "client", "add", "--id", "app", "--public", "--redirect-uri", "com.example.app:/cb"); err != nil || strings.Contains(out, "secret") {
		t.Fatalf("public add: %v\n%s", err, out)
	}
	given := "operator-chosen-secret-with-enough-randomness-0123"
	if out, err := runCmd(t, given+"\n", "client", "add", "--id", "svc", "--secret-stdin", "--grant", "client_credentials",
		"--scope", "grades:read", "--scope", "grades:write"); err != nil || strings.Contains(out, given) || !strings.Contains(out, "scopes:        grades:read grades:write") {
		t.Fatalf("stdin add: %v\n%s", err, out)
	}
	if out, err := runCmd(t, "", "client", "list"); err != nil || !strings.Contains(out, "grades:read grades:write") {
		t.Errorf("list shows no scopes: %v\n%s", err, out)
	}

	// Only hashes are stored.
	store, err := sqlstore.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	for id, sec := range map[string]string{"moodle": generated, "svc": given} {
		c, err := store.GetClient(context.Background(), id)
		if err != nil || c.SecretHash != secret.Hash(sec) {
			t.Errorf("%s: stored %q, err %v", id, c.SecretHash, err)
		}
	}
	store.Close()

	// Refused: every problem said at once, nothing stored.
	out, err = runCmd(t, "", "client", "add", "--id", "bad", "--redirect-uri", "http://evil.example/cb", "--allowed-network", "campus", "--grant", "password")
	if err == nil || !strings.Contains(err.Error(), "https://") || !strings.Contains(err.Error(), "CIDR") || !strings.Contains(err.Error(), `"password"`) {
		t.Errorf("bad add: %v\n%s", err, out)
	}
	if _, err := runCmd(t, "", "client", "add", "--id", "moodle", "--redirect-uri", "https://x.example/cb"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("duplicate: %v", err)
	}
	if _, err := runCmd(t, "x\n", "client", "add", "--id", "p2", "--public", "--secret-stdin", "--redirect-uri", "https://x.example/cb"); err == nil {
		t.Error("public client with --secret-stdin accepted")
	}

	out, err = runCmd(t, "", "client", "list")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"moodle", "confidential", "10.0.0.0/8", "Moodle", "app", "public", "svc", "client_credentials"} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, generated) || strings.Contains(out, secret.Hash(generated)) {
		t.Error("list shows a secret")
	}

	if out, err := runCmd(t, "", "client", "remove", "app"); err != nil || !strings.Contains(out, "removed client app") {
		t.Errorf("remove: %v\n%s", err, out)
	}
	if _, err := runCmd(t, "", "client", "remove", "app"); err == nil {
		t.Error("removing twice succeeded")
	}
	if out, _ := runCmd(t, "", "client", "list"); strings.Contains(out, "com.example.app") {
		t.Errorf("removed client listed:\n%s", out)
	}
}

// TestClientUpdate: client update changes the fields given and nothing
// else, keeps the client's record (its tokens and sign-ins with it),
// replaces the secret only when asked, and refuses what add refuses.
func TestClientUpdate(t *testing.T) {
	dbURL := clientEnv(t)
	ctx := context.Background()
	out, err := runCmd(t, "", "client", "add", "--id", "moodle", "--name", "Moodle",
		"--redirect-uri", "https://moodle.example.fi/auth/oidc/", "--allowed-network", "10.0.0.0/8")
	if err != nil {
		t.Fatalf("add: %v\n%s", err, out)
	}
	first := regexp.MustCompile(`client secret: (\S+)`).FindStringSubmatch(out)[1]
	stored := func() storage.Client {
		t.Helper()
		store, err := sqlstore.Open(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		c, err := store.GetClient(ctx, "moodle")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	before := stored()

	out, err = runCmd(t, "", "client", "update", "--id", "moodle", "--name", "Moodle 4.5",
		"--redirect-uri", "https://moodle.example.fi/new/", "--redirect-uri", "https://moodle.example.fi/login")
	if err != nil || !strings.Contains(out, "updated client moodle") || strings.Contains(out, "client secret") {
		t.Fatalf("update: %v\n%s", err, out)
	}
	c := stored()
	if c.Name != "Moodle 4.5" || !slices.Equal(c.RedirectURIs, []string{"https://moodle.example.fi/new/", "https://moodle.example.fi/login"}) ||
		!slices.Equal(c.AllowedNetworks, before.AllowedNetworks) || c.SecretHash != secret.Hash(first) ||
		!c.CreatedAt.Equal(before.CreatedAt) || !c.UpdatedAt.After(before.UpdatedAt) {
		t.Errorf("after update: %+v", c)
	}

	// '' empties a list.
	if out, err := runCmd(t, "", "client", "update", "--id", "moodle", "--allowed-network", ""); err != nil {
		t.Fatalf("emptying a list: %v\n%s", err, out)
	}
	if c := stored(); len(c.AllowedNetworks) != 0 {
		t.Errorf("allowed networks %q, want none", c.AllowedNetworks)
	}

	// A new secret, generated or given.
	out, err = runCmd(t, "", "client", "update", "--id", "moodle", "--new-secret")
	m := regexp.MustCompile(`client secret: (\S+)`).FindStringSubmatch(out)
	if err != nil || m == nil || m[1] == first || stored().SecretHash != secret.Hash(m[1]) {
		t.Fatalf("--new-secret: %v\n%s", err, out)
	}
	given := "operator-chosen-secret-with-enough-randomness-4567"
	if out, err := runCmd(t, given+"\n", "client", "update", "--id", "moodle", "--secret-stdin"); err != nil || strings.Contains(out, given) {
		t.Fatalf("--secret-stdin: %v\n%s", err, out)
	}
	if stored().SecretHash != secret.Hash(given) {
		t.Error("--secret-stdin did not replace the secret")
	}

	// Refused: nothing changes.
	before = stored()
	if _, err := runCmd(t, "", "client", "update", "--id", "moodle", "--redirect-uri", "http://evil.example/cb"); err == nil || !strings.Contains(err.Error(), "not changed") {
		t.Errorf("bad update: %v", err)
	}
	if _, err := runCmd(t, "", "client", "update", "--id", "nobody", "--name", "x"); err == nil || !strings.Contains(err.Error(), `no client "nobody"`) {
		t.Errorf("unknown client: %v", err)
	}
	if _, err := runCmd(t, "", "client", "update", "--name", "x"); err == nil {
		t.Error("update without --id accepted")
	}
	if c := stored(); !slices.Equal(c.RedirectURIs, before.RedirectURIs) || c.SecretHash != before.SecretHash {
		t.Errorf("a refused update changed the client: %+v", c)
	}

	// A client of the configuration file is changed there.
	store, err := sqlstore.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateClient(ctx, storage.Client{ID: "from-file", Source: storage.ClientSourceConfig, GrantTypes: []string{"client_credentials"}, SecretHash: secret.Hash(given)}); err != nil {
		t.Fatal(err)
	}
	store.Close()
	if _, err := runCmd(t, "", "client", "update", "--id", "from-file", "--name", "x"); err == nil || !strings.Contains(err.Error(), "configuration file") {
		t.Errorf("update of a configuration file's client: %v", err)
	}
}

func TestKeysCommands(t *testing.T) {
	clientEnv(t)
	out, err := runCmd(t, "", "keys", "list")
	if err != nil {
		t.Fatalf("list: %v\n%s", err, out)
	}
	if strings.Count(out, "RS256") != 1 || strings.Count(out, "ES256") != 1 {
		t.Fatalf("first keys:\n%s", out)
	}
	out, err = runCmd(t, "", "keys", "rotate")
	if err != nil {
		t.Fatalf("rotate: %v\n%s", err, out)
	}
	if strings.Count(out, "RS256") != 2 || strings.Count(out, "ES256") != 2 || !strings.Contains(out, "in the JWKS of every running portti node by") {
		t.Errorf("after rotation:\n%s", out)
	}
	if _, err := runCmd(t, "", "keys", "shred"); err == nil {
		t.Error("unknown keys command accepted")
	}
}

// TestClientResourceServer: `client add --resource-server` makes an API
// (no grants needed), `client update` changes its identifier and scopes,
// and a second client cannot take the same identifier.
func TestClientResourceServer(t *testing.T) {
	dbURL := clientEnv(t)
	ctx := context.Background()
	apiSecret := "grades-api-secret-with-enough-randomness-0123"
	out, err := runCmd(t, apiSecret+"\n", "client", "add", "--id", "grades-api", "--resource-server", "https://api.example.fi/grades",
		"--resource-scope", "grades:read", "--resource-scope", "grades:write", "--secret-stdin")
	if err != nil || !strings.Contains(out, "API:           https://api.example.fi/grades") || !strings.Contains(out, "accepts:       grades:read grades:write") ||
		!strings.Contains(out, "grant types:   none") || strings.Contains(out, apiSecret) {
		t.Fatalf("add: %v\n%s", err, out)
	}
	stored := func(id string) storage.Client {
		t.Helper()
		store, err := sqlstore.Open(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		c, err := store.GetClient(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := stored("grades-api")
	if c.ResourceServer != "https://api.example.fi/grades" || !slices.Equal(c.ResourceScopes, []string{"grades:read", "grades:write"}) ||
		len(c.GrantTypes) != 0 || c.SecretHash != secret.Hash(apiSecret) {
		t.Errorf("stored: %+v", c)
	}

	if out, err := runCmd(t, "", "client", "add", "--id", "other-api", "--resource-server", "https://api.example.fi/grades"); err == nil ||
		!strings.Contains(err.Error(), `client "grades-api" is already the resource server`) {
		t.Errorf("a taken identifier: %v\n%s", err, out)
	}
	if _, err := runCmd(t, "", "client", "add", "--id", "bad-api", "--resource-server", "https://api.example.fi/grades#x"); err == nil || !strings.Contains(err.Error(), "fragment") {
		t.Errorf("a fragment: %v", err)
	}

	if out, err := runCmd(t, "", "client", "update", "--id", "grades-api", "--resource-server", "https://api.example.fi/grades/v2", "--resource-scope", ""); err != nil {
		t.Fatalf("update: %v\n%s", err, out)
	}
	if c := stored("grades-api"); c.ResourceServer != "https://api.example.fi/grades/v2" || len(c.ResourceScopes) != 0 || c.SecretHash != secret.Hash(apiSecret) {
		t.Errorf("after update: %+v", c)
	}
	if _, err := runCmd(t, "", "client", "add", "--id", "books-api", "--resource-server", "https://api.example.fi/books"); err != nil {
		t.Fatal(err)
	}
	if _, err := runCmd(t, "", "client", "update", "--id", "books-api", "--resource-server", "https://api.example.fi/grades/v2"); err == nil ||
		!strings.Contains(err.Error(), "already the resource server") {
		t.Errorf("update to a taken identifier: %v", err)
	}
	out, err = runCmd(t, "", "client", "list")
	if err != nil || !strings.Contains(out, "api https://api.example.fi/grades/v2") {
		t.Errorf("list: %v\n%s", err, out)
	}
}
