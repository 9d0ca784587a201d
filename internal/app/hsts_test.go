package app_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/oidc"
)

// TestHSTS: with an https public URL every response — pages, static
// files, error pages, the OpenID Connect endpoints and their errors —
// carries Strict-Transport-Security; with plain http (development) or
// PORTTI_HSTS=off none does, and PORTTI_HSTS sets the max-age.
func TestHSTS(t *testing.T) {
	const public = "https://id.example.fi"
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"https", map[string]string{"PORTTI_PUBLIC_URL": public}, "max-age=31536000; includeSubDomains"},
		{"https, a day", map[string]string{"PORTTI_PUBLIC_URL": public, "PORTTI_HSTS": "24h"}, "max-age=86400; includeSubDomains"},
		{"https, off", map[string]string{"PORTTI_PUBLIC_URL": public, "PORTTI_HSTS": "off"}, ""},
		{"plain http", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := apptest.Start(t, tt.env)
			// The test talks plain http to the loopback listener, as a
			// TLS-terminating proxy does; the public URL decides.
			requests := []struct {
				method, path string
				body         url.Values
			}{
				{http.MethodGet, "/login", nil},
				{http.MethodGet, "/register", nil},
				{http.MethodGet, "/static/style.css", nil},
				{http.MethodGet, "/no-such-page", nil},
				{http.MethodGet, oidc.PathDiscovery, nil},
				{http.MethodGet, oidc.PathJWKS, nil},
				{http.MethodGet, oidc.PathAuthorize + "?client_id=nobody", nil},
				{http.MethodPost, oidc.PathToken, url.Values{"grant_type": {"client_credentials"}}},
				{http.MethodGet, oidc.PathEndSession, nil},
			}
			noRedirects := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			for _, rq := range requests {
				req, err := http.NewRequest(rq.method, env.URL+rq.path, strings.NewReader(rq.body.Encode()))
				if err != nil {
					t.Fatal(err)
				}
				if rq.body != nil {
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				}
				resp, err := noRedirects.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if got := resp.Header.Get("Strict-Transport-Security"); got != tt.want {
					t.Errorf("%s %s (%d): Strict-Transport-Security %q, want %q", rq.method, rq.path, resp.StatusCode, got, tt.want)
				}
			}
		})
	}
}
