package app

import (
	"log/slog"
	"net/http"
	"net/netip"
	"strings"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/authn"
	"github.com/portti/portti/internal/config"
	"github.com/portti/portti/internal/federation"
	"github.com/portti/portti/internal/mail"
	"github.com/portti/portti/internal/proofing"
	"github.com/portti/portti/internal/session"
	"github.com/portti/portti/internal/storage"
	"github.com/portti/portti/internal/web"
)

// wireFederation builds sign-in with a home organisation (package
// federation). Its relying-party keys (private_key_jwt, request objects,
// encrypted id_tokens) are strong identification's: one JWKS at
// /proofing/jwks.json serves both. nil when no provider is configured.
func wireFederation(store storage.Storage, cfg config.Config, logger *slog.Logger, opt Options,
	accounts *account.Service, mfa *authn.Service, sessions *session.Manager, outbox *mail.Outbox, proof *proofing.Service,
	srv *web.Server, trusted []netip.Prefix) (*federation.Service, error) {
	if len(cfg.Federation.Providers) == 0 {
		return nil, nil
	}
	var keys *proofing.Keys
	if proof != nil {
		keys = proof.Keys()
	}
	providers := make([]federation.Provider, len(cfg.Federation.Providers))
	for i, p := range cfg.Federation.Providers {
		providers[i] = federation.Provider{TrustMFA: p.TrustMFA, Provider: proofing.Provider{
			ID: p.ID, Name: p.Name, Issuer: p.Issuer, ClientID: p.ClientID, Scopes: p.Scopes, ACRValues: p.ACRValues,
			IdentifierClaim: p.IdentifierClaim, TokenEndpointAuth: p.TokenEndpointAuth, ClientSecret: p.ClientSecret,
			RequestObject: p.RequestObject, EncryptedIDToken: p.EncryptedIDToken,
		}}
	}
	if err := srv.AddPages(federation.Templates(), "templates"); err != nil {
		return nil, err
	}
	return federation.New(federation.Config{
		Providers: providers, PublicURL: strings.TrimSuffix(cfg.PublicURL, "/"),
		Store: store, Keys: keys, Accounts: accounts, MFA: mfa, Sessions: sessions, Outbox: outbox,
		Pages: srv, Logger: logger, Secure: cfg.SecureCookies(),
		ClientIP: func(r *http.Request) string { return web.ClientIP(r, trusted) },
		Now:      opt.Now,
	})
}

// loginSkipsChooser lets /login?idp=ID go straight to that home
// organisation; every other request reaches the login page.
func (a *App) loginSkipsChooser(next http.Handler) http.Handler {
	if a.Federation == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/login" && a.Federation.LoginRedirect(w, r) {
			return
		}
		next.ServeHTTP(w, r)
	})
}
