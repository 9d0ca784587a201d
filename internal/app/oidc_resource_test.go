package app_test

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"testing"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/oidc"
)

// TestResourceServerWithLibraries: a machine client built with
// golang.org/x/oauth2/clientcredentials asks for a token for an API with
// RFC 8707's resource parameter; go-oidc verifies it against portti's
// JWKS with the API's identifier as audience; the API introspects it with
// its own credentials; the client revokes it and the API then sees it
// inactive.
func TestResourceServerWithLibraries(t *testing.T) {
	env := apptest.Start(t, nil)
	ctx := context.Background()
	const api = "https://api.example.fi/grades"
	apiSecret := "grades-api-secret-0123456789-0123456789"
	svcSecret := "service-secret-0123456789-0123456789-xyz"
	for _, spec := range []oidc.ClientSpec{
		{ID: "grades-api", Secret: apiSecret, ResourceServer: api, ResourceScopes: []string{"grades:read"}},
		{ID: "svc", Secret: svcSecret, GrantTypes: []string{oidc.GrantClientCredentials}, Scopes: []string{"grades:read", "books:read"}},
	} {
		if _, _, err := oidc.RegisterClient(ctx, env.App.Store, spec, env.Clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	provider, err := gooidc.NewProvider(ctx, env.URL)
	if err != nil {
		t.Fatal(err)
	}
	cc := clientcredentials.Config{
		ClientID: "svc", ClientSecret: svcSecret, TokenURL: provider.Endpoint().TokenURL,
		EndpointParams: url.Values{"resource": {api}},
	}
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatalf("client_credentials with resource: %v", err)
	}
	if tok.Extra("scope") != "grades:read" {
		t.Errorf("scope %v, want only what the API accepts", tok.Extra("scope"))
	}
	// The API checks the JWT itself: its identifier is the audience.
	verifier := provider.Verifier(&gooidc.Config{ClientID: api, SupportedSigningAlgs: []string{"ES256"}, Now: env.Clock.Now})
	at, err := verifier.Verify(ctx, tok.AccessToken)
	if err != nil || !slices.Equal(at.Audience, []string{api}) {
		t.Fatalf("verify with the API's audience: %v %+v", err, at)
	}

	introspect := func() map[string]any {
		return postJSON(t, env.URL+oidc.PathIntrospect, url.Values{"token": {tok.AccessToken}}, "grades-api", apiSecret)
	}
	if m := introspect(); m["active"] != true || m["client_id"] != "svc" || m["scope"] != "grades:read" {
		t.Errorf("the API introspects: %v", m)
	}
	postJSON(t, env.URL+oidc.PathRevoke, url.Values{"token": {tok.AccessToken}}, "svc", svcSecret)
	if m := introspect(); m["active"] != false {
		t.Errorf("after revocation: %v", m)
	}

	cc.EndpointParams = url.Values{"resource": {"https://api.example.fi/unknown"}}
	var re *oauth2.RetrieveError
	if _, err := cc.Token(ctx); !errors.As(err, &re) || re.ErrorCode != "invalid_target" {
		t.Errorf("unknown resource: %v", err)
	}
}
