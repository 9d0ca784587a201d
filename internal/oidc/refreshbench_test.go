package oidc

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// BenchmarkRefresh measures one rotation (the provider's refresh, without
// HTTP) on SQLite, with and without the reuse grace, whose cost is the
// sealing and the successor's row.
func BenchmarkRefresh(b *testing.B) {
	for _, grace := range []time.Duration{0, 5 * time.Second} {
		b.Run("grace="+grace.String(), func(b *testing.B) {
			e := newEnv(b, func(c *Config) { c.RefreshReuseGrace = grace })
			acc := e.account("bench@example.fi")
			sec := e.client(ClientSpec{ID: "web", RedirectURIs: []string{webRedirect}})
			br := e.browser()
			br.signIn(acc.ID)
			_, tok := e.token(url.Values{"grant_type": {"authorization_code"}, "code": {e.codeFor(br, authQuery("web", webRedirect, ""))}, "redirect_uri": {webRedirect}}, "web", sec)
			rt := str(tok, "refresh_token")
			c, err := e.p.clients.get(context.Background(), "web")
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu := processCPU()
			for range b.N {
				resp, err := e.p.refresh(context.Background(), c, &oidc.RefreshTokenRequest{RefreshToken: rt}, nil)
				if err != nil {
					b.Fatal(err)
				}
				rt = resp.RefreshToken
			}
			b.StopTimer()
			if used := processCPU() - cpu; used > 0 {
				// CPU time per op is what a rotation costs, however busy
				// the machine is.
				b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
			}
		})
	}
}
