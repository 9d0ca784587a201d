package app

import (
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/audit"
	"github.com/portti/portti/internal/authn"
	"github.com/portti/portti/internal/config"
	"github.com/portti/portti/internal/guests"
	"github.com/portti/portti/internal/mail"
	"github.com/portti/portti/internal/session"
	"github.com/portti/portti/internal/storage"
	"github.com/portti/portti/internal/web"
)

// wireGuests builds guest invitations (package guests) and registers its
// pages with the web front.
func wireGuests(store storage.Storage, cfg config.Config, logger *slog.Logger, opt Options,
	accounts *account.Service, outbox *mail.Outbox, srv *web.Server) (*guests.Service, error) {
	if err := srv.AddPages(guests.Templates(), "templates"); err != nil {
		return nil, err
	}
	return guests.New(guests.Config{
		Store: store, Accounts: accounts, Outbox: outbox, Audit: audit.NewRecorder(store, logger, opt.Now),
		PublicURL: strings.TrimSuffix(cfg.PublicURL, "/"), Logger: logger, Now: opt.Now,
		LinkTTL: cfg.Guests.LinkTTL, MaxDuration: cfg.Guests.MaxDuration,
	}), nil
}

// guestsHandler serves /guests/ (acceptance, for anyone holding a link)
// and /admin/guests (the inviters' page).
func (a *App) guestsHandler(mux *http.ServeMux) {
	trusted := a.Config.TrustedProxyPrefixes()
	clientIP := func(r *http.Request) string { return web.ClientIP(r, trusted) }
	var home guests.HomeOrganisations
	if a.Federation != nil {
		home = a.Federation
	}
	mux.Handle("/guests/", a.Web.Protect(a.Guests.Handler(a.Web, clientIP, home)))
	console := a.Web.Protect(a.Guests.ConsoleHandler(a.Web, inviterGate(a.Store, a.Sessions, a.MFA, a.Web, trusted)))
	mux.Handle("/admin/guests", console)
}

// inviterGate lets through a browser signed in with a second factor to an
// account holding the guest-inviter or admin role: inviting creates
// accounts, so it asks what the helpdesk console asks.
func inviterGate(store storage.Storage, sessions *session.Manager, mfa *authn.Service, pages *web.Server, trusted []netip.Prefix) guests.Gate {
	return func(w http.ResponseWriter, r *http.Request) (guests.Inviter, account.Meta, bool) {
		ctx := r.Context()
		all, err := sessions.Sessions(ctx, r)
		if err != nil {
			pages.RenderProblem(w, r, http.StatusInternalServerError, "error.internal", "")
			return guests.Inviter{}, account.Meta{}, false
		}
		if len(all) == 0 {
			http.Redirect(w, r, "/login?"+url.Values{"return": {"/admin/guests"}}.Encode(), http.StatusSeeOther)
			return guests.Inviter{}, account.Meta{}, false
		}
		for _, se := range all {
			rs, err := store.ListRoles(ctx, se.AccountID)
			if err != nil {
				pages.RenderProblem(w, r, http.StatusInternalServerError, "error.internal", "")
				return guests.Inviter{}, account.Meta{}, false
			}
			roles := make([]string, 0, len(rs))
			for _, ro := range rs {
				roles = append(roles, ro.Role)
			}
			if !guests.MayInvite(roles) {
				continue
			}
			acc, err := store.GetAccount(ctx, se.AccountID)
			if err != nil {
				pages.RenderProblem(w, r, http.StatusInternalServerError, "error.internal", "")
				return guests.Inviter{}, account.Meta{}, false
			}
			if mfa.Registry().SecondFactorAt(se.Factors).IsZero() {
				http.Redirect(w, r, "/login?"+url.Values{"email": {acc.Email}, "return": {"/admin/guests"}, "notice": {"mfa_reauth"}, "mfa": {"fresh"}}.Encode(), http.StatusSeeOther)
				return guests.Inviter{}, account.Meta{}, false
			}
			m := account.Meta{ClientIP: web.ClientIP(r, trusted), UserAgent: r.UserAgent(), Lang: pages.Lang(r)}
			return guests.Inviter{AccountID: acc.ID, Email: acc.Email}, m, true
		}
		pages.RenderProblem(w, r, http.StatusForbidden, "guests.forbidden", "")
		return guests.Inviter{}, account.Meta{}, false
	}
}
