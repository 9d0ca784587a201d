package app_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/mail/smtptest"
	"github.com/portti/portti/internal/provision"
	"github.com/portti/portti/internal/storage"
)

// TestAccountLifecycle walks one provisioned account through every state
// on the test clock, through the binary's wiring: a CSV import makes it
// pending; the worker makes it active at its start date, e-mails the
// owner 14 and 3 days before the end (once each, in their language),
// moves it to grace at the end (still usable), disables it when the
// grace is over (sessions ended) and deletes it when retention ends,
// keeping its audit events without the address.
func TestAccountLifecycle(t *testing.T) {
	env := apptest.StartWithFile(t, `
provision:
  grace_days: 10
  retention_days: 30
  end_notice_days: [14, 3]
`, nil)
	ctx := context.Background()
	st := env.App.Store
	lc := env.App.Lifecycle
	step := func(want int) {
		t.Helper()
		n, err := lc.Step(ctx)
		if err != nil || n != want {
			t.Fatalf("step at %s: %d changed, %v; want %d", env.Clock.Now(), n, err, want)
		}
	}
	state := func(want string) storage.ProvisionedAccount {
		t.Helper()
		pa, err := st.GetProvisionedByExternalID(ctx, "s1")
		if err != nil {
			t.Fatal(err)
		}
		if pa.Provisioned.State != want {
			t.Fatalf("at %s: state %s, want %s", env.Clock.Now(), pa.Provisioned.State, want)
		}
		return pa
	}
	// The clock starts on 23 November 2026: the studies start on
	// 1 December and end on 31 January (the last day).
	sum, err := env.App.Provision.ImportCSV(ctx, []byte("external_id,email,given_name,language,start_date,end_date\n"+
		"s1,aino@student.example.fi,Aino,sv,2026-12-01,2027-01-31\n"), provision.ImportOptions{Location: helsinki})
	if err != nil || sum.Created != 1 {
		t.Fatalf("import: %+v %v", sum, err)
	}
	step(0)
	state(storage.ProvisionPending)

	env.Clock.Advance(8 * 24 * time.Hour) // 1 December
	step(1)
	pa := state(storage.ProvisionActive)
	ends := pa.Provisioned.EndsAt
	if !ends.Equal(time.Date(2027, 2, 1, 0, 0, 0, 0, helsinki)) {
		t.Fatalf("ends at %s", ends)
	}
	if err := st.CreateSession(ctx, storage.Session{ID: "sess-1", AccountID: pa.Account.ID, CreatedAt: env.Clock.Now(), ExpiresAt: ends.AddDate(1, 0, 0)}); err != nil {
		t.Fatal(err)
	}

	advanceTo := func(at time.Time) {
		env.Clock.Advance(at.Sub(env.Clock.Now()))
	}
	advanceTo(ends.Add(-14*24*time.Hour + time.Hour))
	step(1)
	step(0) // told once
	m := env.SMTP.WaitFor(t, func(m smtptest.Message) bool { return strings.Contains(m.Subject, "upphör") }, 10*time.Second)
	if m.To[0] != "aino@student.example.fi" || !strings.Contains(m.Text, "31.1.2027") || !strings.Contains(m.Text, "10.2.2027") {
		t.Errorf("notice: %s\n%s", m.Subject, m.Text)
	}
	advanceTo(ends.Add(-3*24*time.Hour + time.Hour))
	step(1)
	step(0)
	// The outbox delivers on its own loop: wait for the second.
	for deadline := time.Now().Add(10 * time.Second); countTo(env, "aino@student.example.fi", "upphör") != 2; {
		if time.Now().After(deadline) {
			t.Fatalf("%d notices, want 2", countTo(env, "aino@student.example.fi", "upphör"))
		}
		time.Sleep(20 * time.Millisecond)
	}

	advanceTo(ends.Add(time.Hour))
	step(1)
	pa = state(storage.ProvisionGrace)
	if pa.Account.Disabled {
		t.Fatal("disabled in grace")
	}

	advanceTo(ends.Add(10*24*time.Hour + time.Hour))
	step(1)
	pa = state(storage.ProvisionDisabled)
	if !pa.Account.Disabled {
		t.Fatal("not disabled after grace")
	}
	if ss, _ := st.ListSessions(ctx, pa.Account.ID); len(ss) != 0 {
		t.Errorf("sessions left: %v", ss)
	}

	advanceTo(ends.Add(40*24*time.Hour + time.Hour))
	step(1)
	if _, err := st.GetAccount(ctx, pa.Account.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("account after retention: %v", err)
	}
	if _, err := st.GetAccountByEmail(ctx, "aino@student.example.fi"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatal("the address is still there")
	}
	events, _ := st.ListEvents(ctx, pa.Account.ID, 50)
	kinds := map[string]bool{}
	for _, e := range events {
		kinds[e.Kind] = true
		if e.Email != "" || e.ClientIP != "" {
			t.Errorf("event not pseudonymised: %+v", e)
		}
	}
	for _, k := range []string{provision.EventImported, provision.EventStateChanged, provision.EventEndNotice, provision.EventAccountPurged} {
		if !kinds[k] {
			t.Errorf("no %s event kept: %v", k, kinds)
		}
	}
}

var helsinki, _ = time.LoadLocation("Europe/Helsinki")
