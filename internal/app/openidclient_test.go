package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/oidc"
)

// openidClientDir holds the Node relying party (test/openid-client).
var openidClientDir = filepath.Join("..", "..", "test", "openid-client")

// needNode returns the path of node, skipping the test when it is missing
// (failing it in CI), and makes sure the relying party's dependencies are
// installed from its lockfile.
func needNode(t *testing.T) string {
	t.Helper()
	inCI := os.Getenv("CI") == "true"
	node, err := exec.LookPath("node")
	if err != nil {
		if inCI {
			t.Fatal("node is not installed (scripts/test.sh installs it)")
		}
		t.Skip("node is not installed; run scripts/test.sh or install Node.js to run the openid-client relying party")
	}
	if _, err := os.Stat(filepath.Join(openidClientDir, "node_modules", "openid-client", "package.json")); err == nil {
		return node
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		if inCI {
			t.Fatal("npm is not installed (scripts/test.sh installs it)")
		}
		t.Skip("npm is not installed; cannot install openid-client")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = openidClientDir
	if out, err := cmd.CombinedOutput(); err != nil {
		if inCI {
			t.Fatalf("npm ci in %s: %v\n%s", openidClientDir, err, out)
		}
		t.Skipf("npm ci in %s failed (offline?): %v\n%s", openidClientDir, err, out)
	}
	return node
}

// TestOpenIDClient runs the npm package openid-client, an OpenID Certified
// relying party library nobody here wrote, against a running portti:
// discovery, the code flow with PKCE through the real login form,
// userinfo, refresh with rotation, and client credentials
// (test/openid-client/rp.mjs).
func TestOpenIDClient(t *testing.T) {
	node := needNode(t)
	// The script checks reuse detection at once after a rotation: no
	// grace period (TestOIDCRefreshParallel covers the grace).
	env := apptest.Start(t, map[string]string{"PORTTI_REFRESH_REUSE_GRACE": "0s"})
	ctx := context.Background()

	const email, pw = "aino@example.fi", "kesämökki järven rannalla"
	aino, err := env.App.Accounts.AddUser(ctx, email, account.Profile{GivenName: "Aino", FamilyName: "Virtanen"}, pw,
		account.Meta{ClientIP: "test", Lang: "en"})
	if err != nil {
		t.Fatal(err)
	}
	// Nothing listens at the redirect URI: the script reads the code from
	// portti's redirect to it.
	const redirectURI = "http://127.0.0.1:9/openid-client/callback"
	_, secret, err := oidc.RegisterClient(ctx, env.App.Store, oidc.ClientSpec{
		ID: "openid-client", Name: "openid-client (npm)", RedirectURIs: []string{redirectURI},
		GrantTypes: []string{oidc.GrantAuthorizationCode, oidc.GrantRefreshToken, oidc.GrantClientCredentials},
		Scopes:     []string{"grades:read", "grades:write"},
	}, env.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}

	runCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(runCtx, node, "rp.mjs")
	cmd.Dir = openidClientDir
	cmd.Env = append(os.Environ(),
		"ISSUER="+env.URL,
		"CLIENT_ID=openid-client",
		"CLIENT_SECRET="+secret,
		"REDIRECT_URI="+redirectURI,
		"LOGIN_EMAIL="+email,
		"LOGIN_PASSWORD="+pw,
		// portti runs on the test's clock; openid-client judges iat and
		// exp by it rather than by the wall clock.
		"SERVER_TIME="+strconv.FormatInt(env.Clock.Now().Unix(), 10),
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if errors.Is(runCtx.Err(), context.DeadlineExceeded) {
		t.Fatalf("node rp.mjs did not finish in 60 s\nstdout:\n%s\nstderr:\n%s", &stdout, &stderr)
	}
	if err != nil {
		t.Fatalf("node rp.mjs: %v\nstdout:\n%s\nstderr:\n%s", err, &stdout, &stderr)
	}

	var got struct {
		OK                   bool   `json:"ok"`
		Issuer               string `json:"issuer"`
		Sub                  string `json:"sub"`
		Email                string `json:"email"`
		EmailVerified        bool   `json:"email_verified"`
		Name                 string `json:"name"`
		SID                  string `json:"sid"`
		IDTokenAlg           string `json:"id_token_alg"`
		UserinfoSub          string `json:"userinfo_sub"`
		UserinfoEmail        string `json:"userinfo_email"`
		RefreshRotated       bool   `json:"refresh_rotated"`
		ReusedRefreshToken   string `json:"reused_refresh_token"`
		ClientCredentialsTyp string `json:"client_credentials_token_type"`
		ClientCredentialsSc  string `json:"client_credentials_scope"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("summary: %v\nstdout:\n%s\nstderr:\n%s", err, &stdout, &stderr)
	}
	if !got.OK || got.Issuer != env.URL || got.Sub != aino.ID || got.Email != email || !got.EmailVerified ||
		got.Name != "Aino Virtanen" || got.SID == "" || got.IDTokenAlg != "RS256" ||
		got.UserinfoSub != aino.ID || got.UserinfoEmail != email || !got.RefreshRotated ||
		got.ReusedRefreshToken != "invalid_grant" || got.ClientCredentialsTyp == "" || got.ClientCredentialsSc != "grades:read" {
		t.Errorf("summary does not match (account %s):\n%s\nstderr:\n%s", aino.ID, &stdout, &stderr)
	}
	t.Logf("openid-client summary:\n%s", &stdout)
}
