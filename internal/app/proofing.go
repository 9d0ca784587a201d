package app

import (
	"crypto/rand"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/authn"
	"github.com/portti/portti/internal/config"
	"github.com/portti/portti/internal/mail"
	"github.com/portti/portti/internal/proofing"
	"github.com/portti/portti/internal/session"
	"github.com/portti/portti/internal/storage"
	"github.com/portti/portti/internal/web"
)

// wireProofing builds strong identification (package proofing). Without
// a key encryption key it is off (identities are hashed under a key
// derived from it; Validate refuses providers without one), and the
// operator's set-identifier then says so.
func wireProofing(store storage.Storage, cfg config.Config, logger *slog.Logger, opt Options,
	accounts *account.Service, mfa *authn.Service, sessions *session.Manager, outbox *mail.Outbox,
	srv *web.Server, trusted []netip.Prefix) (*proofing.Service, error) {
	kek := cfg.KeyEncryptionKeyBytes()
	if len(kek) == 0 {
		return nil, nil
	}
	hasher, err := proofing.NewHasher(kek)
	if err != nil {
		return nil, err
	}
	keys, err := proofing.NewKeys(proofing.KeysConfig{Store: store, KeyEncryptionKey: kek, Random: rand.Reader, Now: opt.Now})
	if err != nil {
		return nil, err
	}
	providers := make([]proofing.Provider, len(cfg.Proofing.Providers))
	for i, p := range cfg.Proofing.Providers {
		providers[i] = proofing.Provider{
			ID: p.ID, Name: p.Name, Issuer: p.Issuer, ClientID: p.ClientID, Scopes: p.Scopes, ACRValues: p.ACRValues,
			IdentifierClaim: p.IdentifierClaim, GivenNameClaim: p.GivenNameClaim, FamilyNameClaim: p.FamilyNameClaim,
			TokenEndpointAuth: p.TokenEndpointAuth, ClientSecret: p.ClientSecret,
			RequestObject: p.RequestObject, EncryptedIDToken: p.EncryptedIDToken,
		}
	}
	if err := srv.AddPages(proofing.Templates(), "templates"); err != nil {
		return nil, err
	}
	return proofing.New(proofing.Config{
		Providers: providers, PublicURL: strings.TrimSuffix(cfg.PublicURL, "/"),
		Store: store, Keys: keys, Hasher: hasher, Accounts: accounts, MFA: mfa, Sessions: sessions,
		Outbox: outbox, Pages: srv, Logger: logger, Secure: cfg.SecureCookies(),
		ClientIP: func(r *http.Request) string { return web.ClientIP(r, trusted) },
		Now:      opt.Now,
	})
}
