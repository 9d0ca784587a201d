package account

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/portti/portti/internal/storage"
)

// TestActivationRequestAnswers runs the activation page's work on SQLite
// and PostgreSQL: each kind of address gets its own message (or none),
// an unknown one is put on the waitlist, and the registry's creation of
// its account takes the entry and sends the invitation, whose link sets
// the first password once.
func TestActivationRequestAnswers(t *testing.T) {
	for name, db := range taskDatabases(t) {
		t.Run(name, func(t *testing.T) {
			s, st := newNode(t, db(t))
			s.cfg.Activation.RegistryDelay = func(lang string) string { return "Usually the next day (" + lang + ")." }
			ctx := context.Background()
			now := time.Now().UTC().Truncate(time.Second)
			add := func(id, email string, state string, activated, disabled bool) storage.Account {
				a := storage.Account{ID: id, Email: email, Disabled: disabled, CreatedAt: now, UpdatedAt: now}
				if activated {
					a.ActivatedAt, a.PasswordHash = now, "x"
				}
				if err := st.CreateAccount(ctx, a); err != nil {
					t.Fatal(err)
				}
				if state != "" {
					p := storage.Provisioned{AccountID: id, State: state, Source: storage.ProvisionSourceSCIM, CreatedAt: now, UpdatedAt: now}
					if state == storage.ProvisionPending {
						p.StartsAt = now.AddDate(0, 1, 0)
					}
					if err := st.CreateProvisioned(ctx, p); err != nil {
						t.Fatal(err)
					}
				}
				return a
			}
			add("a1", "ready@student.example.fi", storage.ProvisionActive, false, false)
			add("a2", "pending@student.example.fi", storage.ProvisionPending, false, false)
			add("a3", "active@student.example.fi", storage.ProvisionActive, true, false)
			add("a4", "off@student.example.fi", storage.ProvisionDisabled, false, true)
			add("a5", "self@example.fi", "", false, false)
			want := map[string]string{
				"ready@student.example.fi":   "Activate your account",
				"pending@student.example.fi": "Your account will work from",
				"active@student.example.fi":  "already active",
				"off@student.example.fi":     "",
				"self@example.fi":            "Confirm your email address",
				"new@student.example.fi":     "does not exist yet",
			}
			for email := range want {
				if err := s.ActivationRequest(ctx, " "+strings.ToUpper(email), Meta{Lang: "en"}); err != nil {
					t.Fatal(err)
				}
			}
			drain(t, s)
			for email, subject := range want {
				ms := mailsTo(t, st, email)
				switch {
				case subject == "" && len(ms) != 0:
					t.Errorf("%s: %d messages, want none", email, len(ms))
				case subject != "" && (len(ms) != 1 || !strings.Contains(ms[0].Subject, subject)):
					t.Errorf("%s: messages %v, want one about %q", email, ms, subject)
				}
			}
			if ms := mailsTo(t, st, "new@student.example.fi"); len(ms) == 1 && !strings.Contains(ms[0].Text, "Usually the next day (en).") {
				t.Errorf("the unknown address's message lacks the registry's delay:\n%s", ms[0].Text)
			}

			// The registry creates the waiting address's account.
			a := add("a6", "new@student.example.fi", "", false, false)
			p := storage.Provisioned{AccountID: a.ID, State: storage.ProvisionActive, Source: storage.ProvisionSourceSCIM, CreatedAt: now, UpdatedAt: now}
			if err := st.CreateProvisioned(ctx, p); err != nil {
				t.Fatal(err)
			}
			if err := s.inTx(ctx, func(tx storage.Storage) error { return s.InviteProvisioned(ctx, tx, a, p) }); err != nil {
				t.Fatal(err)
			}
			if _, err := st.TakeWaitlist(ctx, a.Email, now); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("the waitlist entry is still there: %v", err)
			}
			var invitation string
			ms := mailsTo(t, st, a.Email)
			for _, m := range ms {
				if strings.Contains(m.Subject, "Activate your account") {
					invitation = m.Text
				}
			}
			if len(ms) != 2 || invitation == "" {
				t.Fatalf("after creation: %d messages, invitation %v", len(ms), invitation != "")
			}
			code := linkToken(t, invitation, "/activation/password?token=")
			if _, err := s.AcceptInvitation(ctx, code, "short", "short", Meta{}); !errors.As(err, new(ValidationError)) {
				t.Errorf("a too short password: %v", err)
			}
			got, err := s.AcceptInvitation(ctx, code, "kesämökki järven rannalla", "kesämökki järven rannalla", Meta{})
			if err != nil || !got.Activated() || got.PasswordHash == "" {
				t.Fatalf("accept: %+v %v", got, err)
			}
			var le *LinkError
			if _, err := s.AcceptInvitation(ctx, code, "kesämökki järven rannalla", "kesämökki järven rannalla", Meta{}); !errors.As(err, &le) || le.Reason != LinkUsed {
				t.Errorf("second use: %v", err)
			}
			// An activated account is never invited again.
			if err := s.inTx(ctx, func(tx storage.Storage) error { return s.InviteProvisioned(ctx, tx, got, p) }); err != nil {
				t.Fatal(err)
			}
			if n := len(mailsTo(t, st, a.Email)); n != 2 {
				t.Errorf("%d messages after inviting an activated account", n)
			}
		})
	}
}

// linkToken finds the token of a link in a message's text.
func linkToken(t *testing.T, text, prefix string) string {
	t.Helper()
	i := strings.Index(text, prefix)
	if i < 0 {
		t.Fatalf("no %s link in:\n%s", prefix, text)
	}
	rest := text[i+len(prefix):]
	if j := strings.IndexAny(rest, " \n&"); j >= 0 {
		rest = rest[:j]
	}
	return rest
}
