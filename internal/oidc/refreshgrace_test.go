package oidc

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portti/portti/internal/secret"
	"github.com/portti/portti/internal/storage"
	"github.com/portti/portti/internal/storage/sqlstore"
)

// graceBackends returns two stores on one fresh database — two portti nodes
// — for each backend: SQLite always, PostgreSQL when
// PORTTI_TEST_POSTGRES_DSN names one (in CI it must).
func graceBackends(t *testing.T) map[string]func(t *testing.T) (a, b *sqlstore.Store) {
	return map[string]func(t *testing.T) (a, b *sqlstore.Store){
		"sqlite": func(t *testing.T) (a, b *sqlstore.Store) {
			path := filepath.Join(t.TempDir(), "p.db")
			return openStore(t, path), openStore(t, path)
		},
		"postgres": func(t *testing.T) (a, b *sqlstore.Store) {
			u := postgresSchema(t)
			return openURL(t, u), openURL(t, u)
		},
	}
}

func openURL(t *testing.T, databaseURL string) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), databaseURL)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// postgresSchema returns the URL of a fresh schema in the database
// PORTTI_TEST_POSTGRES_DSN names, dropped after the test.
func postgresSchema(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("PORTTI_TEST_POSTGRES_DSN")
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("PORTTI_TEST_POSTGRES_DSN is not set: CI must test PostgreSQL")
		}
		t.Skip("PORTTI_TEST_POSTGRES_DSN is not set; set it to a PostgreSQL URL to test PostgreSQL")
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	schema := "t_" + strings.ToLower(rand.Text())
	if _, err := admin.ExecContext(context.Background(), `CREATE SCHEMA "`+schema+`"`); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), `DROP SCHEMA "`+schema+`" CASCADE`); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// refreshVia posts a refresh grant to node e; safe from many goroutines.
func refreshVia(e *testEnv, rt, clientID, sec string, extra url.Values) (int, map[string]any, error) {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	for k, v := range extra {
		form[k] = v
	}
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+PathToken, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, sec)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	out := map[string]any{}
	err = json.Unmarshal(body, &out)
	return resp.StatusCode, out, err
}

// TestRefreshGraceAcrossNodes: four refreshes with one token at once, two
// at each of two nodes sharing the database, on SQLite and PostgreSQL: all
// succeed with one and the same successor, no access token twice, and the
// chain lives on. Repeated to give the race its chances.
func TestRefreshGraceAcrossNodes(t *testing.T) {
	for name, open := range graceBackends(t) {
		t.Run(name, func(t *testing.T) {
			sa, sb := open(t)
			clock := &testClock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
			grace := func(c *Config) { c.RefreshReuseGrace = 5 * time.Second }
			a := newEnvOn(t, sa, clock, grace)
			b := newEnvOn(t, sb, clock, grace)
			acc := a.account("nodes@example.fi")
			sec := a.client(ClientSpec{ID: "proxy", RedirectURIs: []string{webRedirect}})
			br := a.browser()
			br.signIn(acc.ID)
			_, tok := a.token(url.Values{"grant_type": {"authorization_code"}, "code": {a.codeFor(br, authQuery("proxy", webRedirect, ""))}, "redirect_uri": {webRedirect}}, "proxy", sec)
			rt := str(tok, "refresh_token")
			for round := range 5 {
				type answer struct {
					status int
					tok    map[string]any
					err    error
				}
				answers := make([]answer, 4)
				start := make(chan struct{})
				var wg sync.WaitGroup
				for i := range answers {
					node := []*testEnv{a, b}[i%2]
					wg.Go(func() {
						<-start
						s, m, err := refreshVia(node, rt, "proxy", sec, nil)
						answers[i] = answer{s, m, err}
					})
				}
				close(start)
				wg.Wait()
				access := map[string]bool{}
				for i, ans := range answers {
					if ans.err != nil || ans.status != http.StatusOK {
						t.Fatalf("round %d, refresh %d: %d %v %v", round, i, ans.status, ans.tok, ans.err)
					}
					if str(ans.tok, "refresh_token") != str(answers[0].tok, "refresh_token") {
						t.Errorf("round %d: refresh %d got another successor", round, i)
					}
					if at := str(ans.tok, "access_token"); access[at] {
						t.Errorf("round %d: access token handed out twice", round)
					} else {
						access[at] = true
					}
				}
				for at := range access {
					if status, _ := b.userinfo(at); status != http.StatusOK {
						t.Errorf("round %d: userinfo %d", round, status)
					}
				}
				rt = str(answers[0].tok, "refresh_token")
				clock.Advance(time.Minute) // the next round: past the grace
			}
		})
	}
}

// TestRefreshGraceEdges: within the grace period the replay gets the same
// successor only while that successor is unused and unrevoked; narrower
// scopes are allowed and wider ones refused; the stored successor is
// sealed (the database has no token in clear, nor anything another token
// opens) and goes once the grace is over.
func TestRefreshGraceEdges(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.RefreshReuseGrace = 5 * time.Second })
	acc := e.account("edges@example.fi")
	sec := e.client(ClientSpec{ID: "web", RedirectURIs: []string{webRedirect}})
	b := e.browser()
	b.signIn(acc.ID)
	issue := func() string {
		t.Helper()
		_, tok := e.token(url.Values{"grant_type": {"authorization_code"}, "code": {e.codeFor(b, authQuery("web", webRedirect, ""))}, "redirect_uri": {webRedirect}}, "web", sec)
		return str(tok, "refresh_token")
	}
	refresh := func(rt string, extra url.Values) (int, map[string]any) {
		t.Helper()
		status, m, err := refreshVia(e, rt, "web", sec, extra)
		if err != nil {
			t.Fatal(err)
		}
		return status, m
	}
	ctx := context.Background()

	// Sealed: the row holds neither token, and does not open with
	// another token or for another row.
	r1 := issue()
	_, t2 := refresh(r1, nil)
	r2 := str(t2, "refresh_token")
	rs, err := e.store.GetRefreshSuccessor(ctx, secret.Hash(r1))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(rs.Sealed, []byte(r2)) || bytes.Contains(rs.Sealed, []byte(r1)) || !rs.ExpiresAt.Equal(e.clock.Now().Add(5*time.Second)) {
		t.Errorf("stored successor: %x, expires %v", rs.Sealed, rs.ExpiresAt)
	}
	if got, err := e.p.openSuccessor(r1, secret.Hash(r1), rs.Sealed); err != nil || got != r2 {
		t.Errorf("open with the rotated token: %v", err)
	}
	if _, err := e.p.openSuccessor(r2, secret.Hash(r1), rs.Sealed); err == nil {
		t.Error("opened with another token")
	}
	if _, err := e.p.openSuccessor(r1, secret.Hash(r2), rs.Sealed); err == nil {
		t.Error("opened for another row")
	}
	// Nor without the key encryption key's salt.
	salt := e.p.graceSalt
	e.p.graceSalt = nil
	if _, err := e.p.openSuccessor(r1, secret.Hash(r1), rs.Sealed); err == nil {
		t.Error("opened without the key encryption key")
	}
	e.p.graceSalt = salt

	// Narrower scope within the grace: the same successor; wider: refused,
	// and nothing revoked.
	if status, m := refresh(r1, url.Values{"scope": {"openid"}}); status != http.StatusOK || str(m, "refresh_token") != r2 || str(m, "scope") != "openid" {
		t.Errorf("narrower replay: %d %v", status, m)
	}
	if status, m := refresh(r1, url.Values{"scope": {"openid phone"}}); status != http.StatusBadRequest || m["error"] != "invalid_scope" {
		t.Errorf("wider replay: %d %v", status, m)
	}

	// Once the successor has been used, the old token is reuse even
	// within the grace: the chain goes.
	_, t3 := refresh(r2, nil)
	r3 := str(t3, "refresh_token")
	if r3 == "" {
		t.Fatalf("refresh with the successor: %v", t3)
	}
	if status, m := refresh(r1, nil); status != http.StatusBadRequest || m["error"] != "invalid_grant" {
		t.Errorf("replay after the successor was used: %d %v", status, m)
	}
	if status, _ := refresh(r3, nil); status != http.StatusBadRequest {
		t.Errorf("newest token after the reuse: %d", status)
	}

	// A revoked successor (the person logged out) is not handed out again.
	r1 = issue()
	_, t2 = refresh(r1, nil)
	if status, _ := e.post(PathRevoke, url.Values{"token": {str(t2, "refresh_token")}, "token_type_hint": {"refresh_token"}}, "web", sec); status != http.StatusOK {
		t.Fatalf("revoke: %d", status)
	}
	if status, m := refresh(r1, nil); status != http.StatusBadRequest || m["error"] != "invalid_grant" {
		t.Errorf("replay after the successor's revocation: %d %v", status, m)
	}

	// After the grace the row is cleaned up.
	r1 = issue()
	refresh(r1, nil)
	e.clock.Advance(6 * time.Second)
	if err := e.store.DeleteExpired(ctx, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.GetRefreshSuccessor(ctx, secret.Hash(r1)); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("successor after its grace and the clean-up: %v", err)
	}
}
