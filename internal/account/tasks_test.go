package account

import (
	"context"
	"crypto/rand"
	"database/sql"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portti/portti/internal/audit"
	"github.com/portti/portti/internal/mail"
	"github.com/portti/portti/internal/password"
	"github.com/portti/portti/internal/storage"
	"github.com/portti/portti/internal/storage/sqlstore"
)

// taskDatabases returns a fresh SQLite database URL, and a fresh
// PostgreSQL schema's when PORTTI_TEST_POSTGRES_DSN names a database
// (required in CI).
func taskDatabases(t *testing.T) map[string]func(t *testing.T) string {
	dbs := map[string]func(t *testing.T) string{
		"SQLite": func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "portti.db") },
	}
	dsn := os.Getenv("PORTTI_TEST_POSTGRES_DSN")
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("PORTTI_TEST_POSTGRES_DSN is not set: CI must test PostgreSQL")
		}
		t.Log("PORTTI_TEST_POSTGRES_DSN is not set: SQLite only")
		return dbs
	}
	dbs["PostgreSQL"] = func(t *testing.T) string {
		admin, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = admin.Close() })
		schema := "t_" + strings.ToLower(rand.Text())
		if _, err := admin.ExecContext(t.Context(), `CREATE SCHEMA "`+schema+`"`); err != nil {
			t.Fatalf("create schema: %v", err)
		}
		t.Cleanup(func() {
			if _, err := admin.ExecContext(context.Background(), `DROP SCHEMA "`+schema+`" CASCADE`); err != nil {
				t.Errorf("drop schema %s: %v", schema, err)
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
	return dbs
}

// newNode is one portti node's account Service on the database at dsn,
// with an outbox in dev mode.
func newNode(t *testing.T, dsn string) (*Service, storage.Storage) {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	renderer, err := mail.NewRenderer(mail.RendererConfig{Product: "portti"})
	if err != nil {
		t.Fatal(err)
	}
	discard := slog.New(slog.DiscardHandler)
	outbox, err := mail.NewOutbox(mail.OutboxConfig{Store: st, Renderer: renderer, Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	policy, err := password.NewPolicy(password.PresetNIST)
	if err != nil {
		t.Fatal(err)
	}
	params := password.DefaultParams
	params.Memory, params.Time = 64, 1
	return New(Config{
		Store: st, Hasher: password.NewHasher(params), Policy: policy, Outbox: outbox,
		Logger: discard, PublicURL: "https://portti.test",
	}), st
}

// drain does the due tasks on every node at once until none are left.
func drain(t *testing.T, nodes ...*Service) {
	t.Helper()
	for {
		var wg sync.WaitGroup
		for _, n := range nodes {
			wg.Go(func() {
				if _, err := n.DoTasks(context.Background()); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		left, err := nodes[0].PendingTasks(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if left == 0 {
			return
		}
	}
}

func mailsTo(t *testing.T, st storage.Storage, to string) []storage.Mail {
	t.Helper()
	ms, err := st.ListMail(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []storage.Mail
	for _, m := range ms {
		if m.To == to {
			out = append(out, m)
		}
	}
	return out
}

// TestTasksDurableAndOnce: the e-mail forms' requests only queue tasks. A
// node that answers and then stops before doing them loses nothing: other
// nodes do them, each exactly once, though they work at the same time; the
// audit log still has the request's address and browser.
func TestTasksDurableAndOnce(t *testing.T) {
	for name, newDSN := range taskDatabases(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dsn := newDSN(t)
			front, frontStore := newNode(t, dsn)
			ctx := context.Background()
			const pw = "kesämökki järven rannalla"
			if _, err := front.AddUser(ctx, "known@example.fi", Profile{GivenName: "Known", FamilyName: "Person"}, pw, Meta{}); err != nil {
				t.Fatal(err)
			}
			m := Meta{ClientIP: "192.0.2.7", UserAgent: "tasks-test", Lang: "sv"}
			for _, email := range []string{"known@example.fi", "unknown@example.fi"} {
				if err := front.ForgotPassword(ctx, email, m); err != nil {
					t.Fatal(err)
				}
			}
			reg := Registration{Email: "new@example.fi", EmailConfirm: "new@example.fi", Password: pw, PasswordConfirm: pw,
				Profile: Profile{GivenName: "Uusi", FamilyName: "Henkilö"}, AcceptTerms: true}
			for range 3 { // the same address thrice: one account
				if err := front.Register(ctx, reg, m); err != nil {
					t.Fatal(err)
				}
			}
			if err := front.ResendActivation(ctx, "new@example.fi", m); err != nil {
				t.Fatal(err)
			}
			if n, err := front.PendingTasks(ctx); err != nil || n != 6 {
				t.Fatalf("%d tasks queued (%v), want 6", n, err)
			}
			// Nothing happened yet but the queueing.
			if ms := mailsTo(t, frontStore, "known@example.fi"); len(ms) != 0 {
				t.Fatalf("mail queued inside the request: %+v", ms)
			}
			frontStore.Close() // the node stops

			a, st := newNode(t, dsn)
			b, _ := newNode(t, dsn)
			drain(t, a, b)

			if ms := mailsTo(t, st, "known@example.fi"); len(ms) != 1 || !strings.Contains(ms[0].Text, "/password/reset?token=") {
				t.Errorf("known address: %d mails, want one reset link", len(ms))
			}
			if ms := mailsTo(t, st, "unknown@example.fi"); len(ms) != 0 {
				t.Errorf("unknown address: %d mails", len(ms))
			}
			accounts, err := st.ListAccounts(ctx, storage.AccountFilter{EmailPrefix: "new@"})
			if err != nil || len(accounts) != 1 {
				t.Fatalf("accounts for new@example.fi: %d (%v), want 1", len(accounts), err)
			}
			if acc := accounts[0]; acc.Activated() || acc.Locale != "sv" || acc.GivenName != "Uusi" {
				t.Errorf("registered account: %+v", acc)
			}
			// One activation for the registration, one per repeat (the
			// owner never activated) and one for the resend: four links,
			// each queued once.
			if ms := mailsTo(t, st, "new@example.fi"); len(ms) != 4 {
				t.Errorf("new@example.fi: %d mails, want 4", len(ms))
			}
			events, err := st.ListEvents(ctx, "", 100)
			if err != nil {
				t.Fatal(err)
			}
			kinds := map[string]int{}
			for _, e := range events {
				kinds[e.Kind]++
				if e.Kind == audit.Created {
					continue // the test's own AddUser
				}
				if e.ClientIP != m.ClientIP || e.UserAgent != m.UserAgent {
					t.Errorf("event %s without the request's address and browser: %+v", e.Kind, e)
				}
			}
			if kinds[audit.RecoveryRequested] != 2 || kinds[audit.Registered] != 1 || kinds[audit.RegisterExisting] != 2 {
				t.Errorf("events: %v", kinds)
			}
		})
	}
}

// TestRegistrationRaceAcrossNodes: registrations of one address queued on
// two nodes and done by both at once make one account; the loser's task is
// done again and tells the owner.
func TestRegistrationRaceAcrossNodes(t *testing.T) {
	for name, newDSN := range taskDatabases(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dsn := newDSN(t)
			nodes := []*Service{}
			var st storage.Storage
			for range 3 {
				n, s := newNode(t, dsn)
				nodes, st = append(nodes, n), s
			}
			const pw = "kesämökki järven rannalla"
			reg := Registration{Email: "race@example.fi", EmailConfirm: "race@example.fi", Password: pw, PasswordConfirm: pw,
				Profile: Profile{GivenName: "Riikka", FamilyName: "Kilpa"}, AcceptTerms: true}
			for i := range 6 {
				if err := nodes[i%3].Register(context.Background(), reg, Meta{Lang: "fi"}); err != nil {
					t.Fatal(err)
				}
			}
			drain(t, nodes...)
			accounts, err := st.ListAccounts(context.Background(), storage.AccountFilter{EmailPrefix: "race@"})
			if err != nil || len(accounts) != 1 {
				t.Fatalf("%d accounts (%v), want 1", len(accounts), err)
			}
			if ms := mailsTo(t, st, "race@example.fi"); len(ms) < 1 || len(ms) > 4 {
				t.Errorf("%d mails, want 1 to 4 (one, plus at most three notices a day)", len(ms))
			}
		})
	}
}

// TestTaskOfCrashedWorker: a task claimed by a worker that died is done by
// another once the lease has passed, and not before.
func TestTaskOfCrashedWorker(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "portti.db")
	front, st := newNode(t, dsn)
	ctx := context.Background()
	if _, err := front.AddUser(ctx, "known@example.fi", Profile{GivenName: "Known", FamilyName: "Person"}, "kesämökki järven rannalla", Meta{}); err != nil {
		t.Fatal(err)
	}
	if err := front.ForgotPassword(ctx, "known@example.fi", Meta{Lang: "fi"}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	// The dead worker's claim, as DoTasks makes it.
	if claimed, err := st.ClaimAccountTasks(ctx, now, taskLease, taskBatch); err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %d tasks, %v", len(claimed), err)
	}
	other, _ := newNode(t, dsn)
	for _, c := range []struct {
		after time.Duration
		want  int
	}{{taskLease - time.Second, 0}, {taskLease, 1}} {
		other.cfg.Now = func() time.Time { return now.Add(c.after) }
		if n, err := other.DoTasks(ctx); err != nil || n != c.want {
			t.Fatalf("DoTasks %v after the claim: %d tasks, %v; want %d", c.after, n, err, c.want)
		}
	}
	if ms := mailsTo(t, st, "known@example.fi"); len(ms) != 1 {
		t.Errorf("%d mails, want the reset link once", len(ms))
	}
}
