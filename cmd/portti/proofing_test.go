package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/portti/portti/internal/proofing"
	"github.com/portti/portti/internal/storage"
	"github.com/portti/portti/internal/storage/sqlstore"
)

func TestUserSetIdentifier(t *testing.T) {
	dbURL := clientEnv(t)
	if out, err := runCmd(t, "kesämökki järven rannalla\n", "user", "add", "--email", "aino@example.fi", "--given-name", "Aino", "--family-name", "V", "--password-stdin"); err != nil {
		t.Fatalf("add: %v\n%s", err, out)
	}
	if out, err := runCmd(t, "010190-123A\n", "user", "set-identifier", "aino@example.fi"); err == nil || !strings.Contains(err.Error(), "--stdin") {
		t.Fatalf("without --stdin: %v\n%s", err, out)
	}
	if out, err := runCmd(t, "\n", "user", "set-identifier", "aino@example.fi", "--stdin"); err == nil {
		t.Fatalf("an empty identifier was taken\n%s", out)
	}
	if out, err := runCmd(t, "010190-123A\n", "user", "set-identifier", "nobody@example.fi", "--stdin"); err == nil || !strings.Contains(err.Error(), "no account") {
		t.Fatalf("unknown account: %v\n%s", err, out)
	}
	out, err := runCmd(t, "010190-123A\nignored second line\n", "user", "set-identifier", "aino@example.fi", "--stdin")
	if err != nil || strings.Contains(out, "010190") {
		t.Fatalf("set-identifier: %v\n%s", err, out)
	}
	ctx := context.Background()
	store, err := sqlstore.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	a, _ := store.GetAccountByEmail(ctx, "aino@example.fi")
	got, err := store.GetIdentity(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	kek := []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31}
	h, _ := proofing.NewHasher(kek)
	want, _ := h.Hash("010190-123a")
	if got.Identity != want || strings.Contains(got.Identity, "010190") {
		t.Fatalf("stored %q, want the keyed hash %q", got.Identity, want)
	}
	events, _ := store.ListEvents(ctx, a.ID, 10)
	found := false
	for _, e := range events {
		found = found || e.Kind == proofing.EventIdentifier
		if strings.Contains(e.Reason, "010190") {
			t.Fatalf("event holds the identifier: %+v", e)
		}
	}
	if !found {
		t.Fatal("no audit event")
	}

	// user show says an identity is linked, never the identifier.
	if out, err := runCmd(t, "", "user", "show", "--email", "aino@example.fi"); err != nil || !strings.Contains(out, "strong identity:  linked") || strings.Contains(out, "010190") {
		t.Fatalf("user show: %v\n%s", err, out)
	}
	// unset-identifier needs a reason, unlinks, and audits the reason.
	if out, err := runCmd(t, "", "user", "unset-identifier", "aino@example.fi"); err == nil || !strings.Contains(err.Error(), "--reason") {
		t.Fatalf("unset-identifier without a reason: %v\n%s", err, out)
	}
	if out, err := runCmd(t, "", "user", "unset-identifier", "aino@example.fi", "--reason", "wrong identifier, ticket 17"); err != nil {
		t.Fatalf("unset-identifier: %v\n%s", err, out)
	}
	if _, err := store.GetIdentity(ctx, a.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("identity after unset-identifier: %v", err)
	}
	events, _ = store.ListEvents(ctx, a.ID, 10)
	if len(events) == 0 || events[0].Kind != proofing.EventUnbound || events[0].Reason != "wrong identifier, ticket 17" {
		t.Fatalf("newest event after unset-identifier: %+v", events)
	}
	if out, err := runCmd(t, "", "user", "unset-identifier", "aino@example.fi", "--reason", "again"); err == nil || !strings.Contains(err.Error(), "no strong identity") {
		t.Fatalf("unset-identifier twice: %v\n%s", err, out)
	}
	if out, err := runCmd(t, "", "user", "show", "--email", "aino@example.fi"); err != nil || !strings.Contains(out, "strong identity:  none linked") {
		t.Fatalf("user show after unset: %v\n%s", err, out)
	}
}

func TestProofingKeysCommand(t *testing.T) {
	clientEnv(t)
	out, err := runCmd(t, "", "proofing", "keys", "list")
	if err != nil || strings.Count(out, "yes") != 2 || !strings.Contains(out, "RSA-OAEP-256") || !strings.Contains(out, "RS256") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	out, err = runCmd(t, "", "proofing", "keys", "rotate")
	if err != nil || strings.Count(out, "RS256") != 2 || strings.Count(out, "RSA-OAEP-256") != 2 || strings.Count(out, "yes") != 2 {
		t.Fatalf("rotate: %v\n%s", err, out)
	}
	if _, err := runCmd(t, "", "proofing", "keys", "burn"); err == nil {
		t.Fatal("an unknown verb was taken")
	}
}
