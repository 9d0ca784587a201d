package app

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/audit"
	"github.com/portti/portti/internal/config"
	"github.com/portti/portti/internal/mail"
	"github.com/portti/portti/internal/proofing"
	"github.com/portti/portti/internal/provision"
	"github.com/portti/portti/internal/storage"
)

// identifierHasher is proofing's keyed hash for the registry identifiers
// that SCIM and the CSV import bind; nil (an interface holding nothing,
// so that provision refuses identifiers) without a key encryption key.
func identifierHasher(cfg config.Config) provision.IdentifierHasher {
	h, err := proofing.NewHasher(cfg.KeyEncryptionKeyBytes())
	if err != nil {
		return nil
	}
	return h
}

// wireLifecycle builds the provisioned accounts' lifecycle worker and
// the policy SCIM and the CSV import share with it (issue 11): the
// owner's notice before the end goes through the outbox in the
// worker's transaction; ended sessions are told to applications
// (back-channel logout) as `portti user disable` tells them.
func wireLifecycle(store storage.Storage, cfg config.Config, logger *slog.Logger, opt Options,
	outbox *mail.Outbox, sessionEnded func(context.Context, string), accounts *account.Service) (*provision.Lifecycle, provision.Policy) {
	notices, _ := provision.ParseNoticeDays(cfg.Provision.EndNoticeDays) // validated by config
	policy := provision.NewPolicy(cfg.Provision.GraceDays, cfg.Provision.RetentionDays, notices)
	accountLink := strings.TrimSuffix(cfg.PublicURL, "/") + "/account"
	lc := provision.NewLifecycle(provision.LifecycleConfig{
		Store: store, Audit: audit.NewRecorder(store, logger, opt.Now), Policy: policy, Now: opt.Now, Logger: logger,
		Notify: func(ctx context.Context, tx storage.Storage, a storage.Account, ends time.Time) error {
			lang := a.Locale
			if lang == "" {
				lang = "en"
			}
			// The end is the first moment the account no longer is:
			// the days shown are the ones before it.
			msg := mail.AccountEnding{Name: a.GivenName, LastDay: ends.Add(-time.Nanosecond),
				SignInUntil: ends.Add(policy.Grace).Add(-time.Nanosecond), AccountLink: accountLink}
			return outbox.Enqueue(ctx, tx, a.Email, lang, msg)
		},
		Invite: accounts.InviteProvisioned,
		SessionsEnded: func(ctx context.Context, ids []string) {
			for _, id := range ids {
				sessionEnded(ctx, id)
			}
		},
	})
	return lc, policy
}
