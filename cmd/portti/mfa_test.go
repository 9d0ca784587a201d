package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/portti/portti/internal/storage"
	"github.com/portti/portti/internal/storage/sqlstore"
)

func TestClientRequireMFAFlag(t *testing.T) {
	dbURL := clientEnv(t)
	if out, err := runCmd(t, "", "client", "add", "--id", "strict", "--public", "--redirect-uri", "com.example.app:/cb", "--require-mfa"); err != nil {
		t.Fatalf("add: %v\n%s", err, out)
	}
	if out, err := runCmd(t, "", "client", "list"); err != nil || !strings.Contains(out, "public,mfa") {
		t.Errorf("list: %v\n%s", err, out)
	}
	get := func() storage.Client {
		store, err := sqlstore.Open(context.Background(), dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		c, err := store.GetClient(context.Background(), "strict")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if !get().RequireMFA {
		t.Fatal("--require-mfa not stored")
	}
	if out, err := runCmd(t, "", "client", "update", "--id", "strict", "--name", "Strict"); err != nil || !get().RequireMFA {
		t.Fatalf("an update without the flag lifted it: %v\n%s", err, out)
	}
	if out, err := runCmd(t, "", "client", "update", "--id", "strict", "--require-mfa=false"); err != nil || get().RequireMFA {
		t.Fatalf("--require-mfa=false: %v\n%s", err, out)
	}
}

func TestUserMFA(t *testing.T) {
	dbURL := clientEnv(t)
	if out, err := runCmd(t, "kesämökki järven rannalla\n", "user", "add", "--email", "aino@example.fi", "--given-name", "Aino", "--family-name", "V", "--password-stdin"); err != nil {
		t.Fatalf("add: %v\n%s", err, out)
	}
	store, err := sqlstore.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, _ := store.GetAccountByEmail(ctx, "aino@example.fi")
	now := time.Now().UTC()
	for _, c := range []storage.Credential{
		{ID: "t1", AccountID: a.ID, Kind: "totp", Name: "work phone", Secret: []byte("SECRETVALUE"), CreatedAt: now, LastUsedAt: now},
		{ID: "r1", AccountID: a.ID, Kind: "recovery", Secret: []byte(`["h1","h2","h3"]`), CreatedAt: now},
	} {
		if err := store.CreateCredential(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.CreateSession(ctx, storage.Session{ID: "s1", AccountID: a.ID, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	store.Close()

	out, err := runCmd(t, "", "user", "show", "aino@example.fi")
	if err != nil || !strings.Contains(out, "two-step:         on") || !strings.Contains(out, "work phone") || !strings.Contains(out, "3 codes left") {
		t.Fatalf("show: %v\n%s", err, out)
	}
	if strings.Contains(out, "SECRETVALUE") || strings.Contains(out, "h1") {
		t.Fatalf("show printed a secret:\n%s", out)
	}
	if out, err := runCmd(t, "", "user", "mfa", "reset", "aino@example.fi"); err == nil {
		t.Fatalf("reset without a reason: %s", out)
	}
	if out, err := runCmd(t, "", "user", "mfa", "reset", "nobody@example.fi", "--reason", "x"); err == nil || !strings.Contains(err.Error(), "no account") {
		t.Fatalf("reset of nobody: %v %s", err, out)
	}
	out, err = runCmd(t, "", "user", "mfa", "reset", "aino@example.fi", "--reason", "ticket 4711: lost phone")
	if err != nil || !strings.Contains(out, "removed 2") {
		t.Fatalf("reset: %v\n%s", err, out)
	}
	store, err = sqlstore.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if cs, _ := store.ListCredentials(ctx, a.ID); len(cs) != 0 {
		t.Errorf("credentials left: %+v", cs)
	}
	if ss, _ := store.ListSessions(ctx, a.ID); len(ss) != 0 {
		t.Errorf("sessions left: %+v", ss)
	}
	events, _ := store.ListEvents(ctx, a.ID, 20)
	found := false
	for _, e := range events {
		found = found || (e.Kind == "mfa.reset" && e.Reason == "ticket 4711: lost phone")
	}
	if !found {
		t.Errorf("no mfa.reset event with the reason: %+v", events)
	}
	mail, _ := store.ListMail(ctx, 10)
	if len(mail) == 0 || !strings.Contains(mail[0].Subject, "reset") {
		t.Errorf("no notification queued: %+v", mail)
	}
}
