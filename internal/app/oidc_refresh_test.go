package app_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/oidc"
)

// tokenAnswer is the token endpoint's answer.
type tokenAnswer struct {
	status       int
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	Error        string `json:"error"`
	err          error
}

// refreshAt posts a refresh_token grant for client a to portti's token
// endpoint, authenticating with HTTP Basic. Safe from many goroutines:
// it reports failures in the answer rather than through t.
func (a *ssoApp) refreshAt(refreshToken string) tokenAnswer {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}
	req, err := http.NewRequest(http.MethodPost, a.env.URL+oidc.PathToken, strings.NewReader(form.Encode()))
	if err != nil {
		return tokenAnswer{err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(a.conf.ClientID), url.QueryEscape(a.conf.ClientSecret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return tokenAnswer{err: err}
	}
	defer resp.Body.Close()
	ans := tokenAnswer{status: resp.StatusCode}
	ans.err = json.NewDecoder(resp.Body).Decode(&ans)
	return ans
}

// userinfoStatus is the userinfo endpoint's status for an access token.
func userinfoStatus(t *testing.T, env *apptest.Env, accessToken string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, env.URL+oidc.PathUserinfo, nil)
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

const theftWarning = "a rotated refresh token was used again; revoked its whole chain"

// TestOIDCRefreshParallel: four requests refreshing with the same token at
// once — an authenticating proxy or a single-page application after the
// refresh period — all succeed with the same new refresh token and access
// tokens that work; the grant is not revoked and nobody is warned of
// theft. Before the grace period, three of the four revoked the chain.
func TestOIDCRefreshParallel(t *testing.T) {
	env := apptest.Start(t, nil) // refresh_reuse_grace: the default 5s
	aino := addSSOUser(t, env, "aino@example.fi", "Aino", "Virtanen")
	app := newSSOApp(t, env, oidc.ClientSpec{ID: "proxy", Name: "Proxy"})
	first := app.signIn(env.Browser(t), aino.Email).token.RefreshToken
	if first == "" {
		t.Fatal("no refresh token")
	}

	const parallel = 4
	answers := make([]tokenAnswer, parallel)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range answers {
		wg.Go(func() {
			<-start
			answers[i] = app.refreshAt(first)
		})
	}
	close(start)
	wg.Wait()
	seen := map[string]bool{}
	for i, a := range answers {
		if a.err != nil || a.status != http.StatusOK || a.RefreshToken == "" || a.AccessToken == "" {
			t.Fatalf("refresh %d: %d %+v", i, a.status, a)
		}
		if a.RefreshToken != answers[0].RefreshToken {
			t.Errorf("refresh %d got another refresh token than refresh 0", i)
		}
		if a.RefreshToken == first {
			t.Error("the refresh token was not rotated")
		}
		if seen[a.AccessToken] {
			t.Errorf("refresh %d: an access token handed out twice", i)
		}
		seen[a.AccessToken] = true
	}
	for i, a := range answers {
		if status := userinfoStatus(t, env, a.AccessToken); status != http.StatusOK {
			t.Errorf("access token of refresh %d: userinfo %d", i, status)
		}
	}
	// The chain lives on: the successor refreshes, and the access tokens
	// of all four answers still work.
	env.Clock.Advance(time.Minute)
	next := app.refreshAt(answers[0].RefreshToken)
	if next.status != http.StatusOK || next.RefreshToken == "" {
		t.Fatalf("refresh with the shared successor: %d %+v", next.status, next)
	}
	for i, a := range answers {
		if status := userinfoStatus(t, env, a.AccessToken); status != http.StatusOK {
			t.Errorf("access token of refresh %d after the next rotation: userinfo %d", i, status)
		}
	}
	if strings.Contains(env.Logs(), theftWarning) {
		t.Error("parallel refreshes were logged as theft")
	}
}

// TestOIDCRefreshReuseAfterGrace: reuse detection stands outside the grace
// period (after it, from another client, or with the grace turned off):
// the chain is revoked, its newest tokens included, and the reuse logged.
func TestOIDCRefreshReuseAfterGrace(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		reuse func(t *testing.T, env *apptest.Env, owner, other *ssoApp, rotated string) tokenAnswer
	}{
		{"after the grace period", nil, func(t *testing.T, env *apptest.Env, owner, _ *ssoApp, rotated string) tokenAnswer {
			env.Clock.Advance(5*time.Second + time.Millisecond)
			return owner.refreshAt(rotated)
		}},
		{"another client within the grace period", nil, func(t *testing.T, env *apptest.Env, _, other *ssoApp, rotated string) tokenAnswer {
			return other.refreshAt(rotated)
		}},
		{"grace turned off", map[string]string{"PORTTI_REFRESH_REUSE_GRACE": "0s"}, func(t *testing.T, env *apptest.Env, owner, _ *ssoApp, rotated string) tokenAnswer {
			return owner.refreshAt(rotated)
		}},
		{"a longer grace, within it", map[string]string{"PORTTI_REFRESH_REUSE_GRACE": "30s"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := apptest.Start(t, tt.env)
			eero := addSSOUser(t, env, "eero@example.fi", "Eero", "Korhonen")
			owner := newSSOApp(t, env, oidc.ClientSpec{ID: "spa", Name: "SPA"})
			other := newSSOApp(t, env, oidc.ClientSpec{ID: "other", Name: "Other"})
			first := owner.signIn(env.Browser(t), eero.Email).token.RefreshToken
			rotated := owner.refreshAt(first)
			if rotated.status != http.StatusOK {
				t.Fatalf("first refresh: %d %+v", rotated.status, rotated)
			}
			if tt.reuse == nil {
				// 20 s later, still within a 30 s grace: the same successor.
				env.Clock.Advance(20 * time.Second)
				again := owner.refreshAt(first)
				if again.status != http.StatusOK || again.RefreshToken != rotated.RefreshToken {
					t.Fatalf("within a 30 s grace: %d %+v", again.status, again)
				}
				return
			}
			ans := tt.reuse(t, env, owner, other, first)
			if ans.status != http.StatusBadRequest || ans.Error != "invalid_grant" {
				t.Fatalf("reuse: %d %+v", ans.status, ans)
			}
			// The whole chain is revoked: the successor and its access token.
			if next := owner.refreshAt(rotated.RefreshToken); next.status != http.StatusBadRequest || next.Error != "invalid_grant" {
				t.Errorf("successor after the reuse: %d %+v", next.status, next)
			}
			if status := userinfoStatus(t, env, rotated.AccessToken); status != http.StatusUnauthorized {
				t.Errorf("successor's access token after the reuse: userinfo %d, want 401", status)
			}
			if !strings.Contains(env.Logs(), theftWarning) {
				t.Error("the reuse was not logged")
			}
		})
	}
}
