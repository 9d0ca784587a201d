package app_test

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/config"
	"github.com/portti/portti/internal/oidc"
	"github.com/portti/portti/internal/secret"
	"github.com/portti/portti/internal/storage"
)

const (
	reportingSecret = "reporting-secret-from-the-environment-0123456789"
	backupSecret    = "backup-secret-kept-by-the-backup-job-0123456789"
)

// clientsFile lists a client whose secret is in the environment and one
// given by its SHA-256, as an operator writes them.
var clientsFile = `
clients:
  - id: reporting
    name: Reporting
    grants: [client_credentials]
    secret_env: REPORTING_SECRET
    scopes: [grades:read]
  - id: backup
    grants: client_credentials
    secret_sha256: ` + secret.Hash(backupSecret) + `
`

// A client defined in the configuration file gets tokens at portti's
// token endpoint as soon as portti has started, and a changed file synced
// into the running App (what SIGHUP does) adds, changes and removes them,
// never touching a client added with `portti client add`.
func TestClientsFromConfigFile(t *testing.T) {
	env := apptest.StartWithFile(t, clientsFile, map[string]string{"REPORTING_SECRET": reportingSecret})
	ctx := context.Background()
	tokenURL := env.URL + oidc.PathToken
	cc := url.Values{"grant_type": {"client_credentials"}}

	// POST /oauth2/token with HTTP Basic (postJSON fails on anything but 200).
	tok := postJSON(t, tokenURL, cc, "reporting", reportingSecret)
	if tok["access_token"] == "" || !strings.EqualFold(tok["token_type"].(string), "bearer") || tok["scope"] != "grades:read" {
		t.Fatalf("token response: %v", tok)
	}
	// The token verifies against the JWKS, as a resource server checks it,
	// and the grant works from an independent OAuth 2.0 client library,
	// here with client_secret_post for the client given by its hash.
	provider, err := gooidc.NewProvider(ctx, env.URL)
	if err != nil {
		t.Fatal(err)
	}
	verify := func(clientID, token string) {
		t.Helper()
		v := provider.Verifier(&gooidc.Config{ClientID: clientID, SupportedSigningAlgs: []string{"RS256", "ES256"}, Now: env.Clock.Now})
		if at, err := v.Verify(ctx, token); err != nil || at.Subject != clientID {
			t.Errorf("%s's access token: %v", clientID, err)
		}
	}
	verify("reporting", tok["access_token"].(string))
	backup := clientcredentials.Config{ClientID: "backup", ClientSecret: backupSecret, TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInParams}
	bt, err := backup.Token(ctx)
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	verify("backup", bt.AccessToken)
	if status := tokenStatus(t, tokenURL, cc, "reporting", "not-"+reportingSecret); status != http.StatusUnauthorized {
		t.Errorf("wrong secret: %d", status)
	}
	if !strings.Contains(env.Logs(), "clients from the configuration file synced") {
		t.Errorf("start-up did not log the sync:\n%s", env.Logs())
	}

	// A client of the command's, next to the file's.
	_, cliSecret, err := oidc.RegisterClient(ctx, env.App.Store, oidc.ClientSpec{ID: "cli-svc", GrantTypes: []string{oidc.GrantClientCredentials}}, env.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}

	// The file changes: backup leaves, reporting's secret moves to a hash,
	// a public app arrives.
	const rotated = "reporting-secret-rotated-by-the-operator-0123456789"
	next := loadFile(t, `
clients:
  - id: reporting
    grants: [client_credentials]
    secret_sha256: `+secret.Hash(rotated)+`
  - id: app
    public: true
    redirect_uris: [fi.example.app:/cb]
`, nil)
	res, err := env.App.SyncClients(ctx, next.Clients)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.Created, ",") != "app" || strings.Join(res.Updated, ",") != "reporting" || strings.Join(res.Removed, ",") != "backup" {
		t.Errorf("sync: %+v", res)
	}
	for _, c := range []struct {
		id, secret string
		want       int
	}{
		{"reporting", reportingSecret, http.StatusUnauthorized},
		{"reporting", rotated, http.StatusOK},
		{"backup", backupSecret, http.StatusUnauthorized},
		{"cli-svc", cliSecret, http.StatusOK},
	} {
		if status := tokenStatus(t, tokenURL, cc, c.id, c.secret); status != c.want {
			t.Errorf("%s after the sync: %d, want %d", c.id, status, c.want)
		}
	}

	// A file client may not take the ID of the command's client.
	clash := loadFile(t, "clients:\n  - {id: cli-svc, public: true, redirect_uris: [fi.example.app:/cb]}\n", nil)
	if res, err := env.App.SyncClients(ctx, clash.Clients); err != nil || strings.Join(res.Conflicts, ",") != "cli-svc" {
		t.Errorf("clash: %+v %v", res, err)
	}
	if !strings.Contains(env.Logs(), "a client added with `portti client add` has its ID") {
		t.Error("the clash was not logged")
	}
	c, err := env.App.Store.GetClient(ctx, "cli-svc")
	if err != nil || c.Source != storage.ClientSourceCLI || c.Public {
		t.Errorf("the command's client: %+v %v", c, err)
	}
	list, _ := env.App.Store.ListClients(ctx)
	if len(list) != 1 || list[0].ID != "cli-svc" {
		t.Errorf("after the clash, clients %+v; want only cli-svc (the file's others left the list)", list)
	}
}

// loadFile loads a configuration file as the server does.
func loadFile(t *testing.T, file string, env map[string]string) config.Config {
	t.Helper()
	cfg, err := config.Load(writeTemp(t, file), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// tokenStatus posts to the token endpoint and returns the status.
func tokenStatus(t *testing.T, u string, form url.Values, user, pass string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// A secret_env whose variable is not set is a configuration problem, so
// portti does not start (or, on SIGHUP, keeps the clients it has).
func TestClientsFromConfigFileMissingSecret(t *testing.T) {
	_, err := config.Load(writeTemp(t, clientsFile), func(string) (string, bool) { return "", false })
	if err == nil || !strings.Contains(err.Error(), "clients[0].secret_env: environment variable REPORTING_SECRET is not set") {
		t.Errorf("err = %v", err)
	}
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "portti.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
