package oidc

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"

	"github.com/portti/portti/internal/storage"
)

// commitCountingStore records the writes the provider makes outside a
// transaction of its own: each is a commit of its own (on SQLite, a turn
// at the single writer). Writes inside InTx go to the transaction's
// store, which this wrapper does not see.
type commitCountingStore struct {
	storage.Storage
	mu     sync.Mutex
	writes []string
}

func (c *commitCountingStore) note(what string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = append(c.writes, what)
}

func (c *commitCountingStore) InTx(ctx context.Context, fn func(tx storage.Storage) error) error {
	c.note("InTx")
	return c.Storage.InTx(ctx, fn)
}

func (c *commitCountingStore) UpdateAuthRequest(ctx context.Context, id string, fn func(storage.AuthRequest) (storage.AuthRequest, error)) (storage.AuthRequest, error) {
	c.note("UpdateAuthRequest")
	return c.Storage.UpdateAuthRequest(ctx, id, fn)
}

func (c *commitCountingStore) AddSessionClient(ctx context.Context, sc storage.SessionClient) error {
	c.note("AddSessionClient")
	return c.Storage.AddSessionClient(ctx, sc)
}

func (c *commitCountingStore) CreateAccessToken(ctx context.Context, t storage.AccessToken) error {
	c.note("CreateAccessToken")
	return c.Storage.CreateAccessToken(ctx, t)
}

func (c *commitCountingStore) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.writes
	c.writes = nil
	return w
}

// TestCodeFlowCommits: the continuation that issues a code marks the
// request signed in and records the session's application in one
// transaction with the code's hash, and the code exchange redeems the
// code and stores its access token in one (issue 8, benchmark h: each
// commit is a turn at SQLite's single writer).
func TestCodeFlowCommits(t *testing.T) {
	var counting *commitCountingStore
	e := newEnv(t, func(c *Config) {
		counting = &commitCountingStore{Storage: c.Store}
		c.Store = counting
	})
	acc := e.account("commits@example.fi")
	sec := e.client(ClientSpec{ID: "web", RedirectURIs: []string{webRedirect}})
	b := e.browser()
	b.signIn(acc.ID)
	counting.take() // the authorization request and the sign-in

	code := e.codeFor(b, authQuery("web", webRedirect, ""))
	got := counting.take()
	// One InTx for the sign-in and the code's hash.
	if want := []string{"InTx"}; !slices.Equal(got, want) {
		t.Errorf("continuation: writes outside a transaction %q, want %q", got, want)
	}

	status, tok := e.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect}}, "web", sec)
	if status != http.StatusOK || str(tok, "access_token") == "" {
		t.Fatalf("code exchange: %d %v", status, tok)
	}
	if got, want := counting.take(), []string{"InTx"}; !slices.Equal(got, want) {
		t.Errorf("code exchange: writes outside a transaction %q, want %q", got, want)
	}

	// The code stays single-use with the redemption inside the
	// transaction.
	if status, _ := e.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect}}, "web", sec); status != http.StatusBadRequest {
		t.Errorf("second exchange of the code: %d, want 400", status)
	}
}
