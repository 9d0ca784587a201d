package main

import (
	"context"
	"strings"
	"testing"

	"github.com/portti/portti/internal/storage/sqlstore"
)

func TestUserLink(t *testing.T) {
	dbURL := clientEnv(t)
	for _, email := range []string{"aino@example.fi", "bert@example.fi"} {
		if out, err := runCmd(t, "kesämökki järven rannalla\n", "user", "add", "--email", email, "--given-name", "A", "--family-name", "V", "--password-stdin"); err != nil {
			t.Fatalf("add: %v\n%s", err, out)
		}
	}
	if _, err := runCmd(t, "", "user", "link", "aino@example.fi", "--idp", "tuni"); err == nil || !strings.Contains(err.Error(), "--subject") {
		t.Fatalf("without --subject: %v", err)
	}
	if _, err := runCmd(t, "", "user", "link", "nobody@example.fi", "--idp", "tuni", "--subject", "s1"); err == nil || !strings.Contains(err.Error(), "no account") {
		t.Fatalf("unknown account: %v", err)
	}
	if out, err := runCmd(t, "", "user", "link", "Aino@Example.fi", "--idp", "tuni", "--subject", "s1"); err != nil || !strings.Contains(out, "linked") {
		t.Fatalf("link: %v\n%s", err, out)
	}
	if out, err := runCmd(t, "", "user", "link", "aino@example.fi", "--idp", "tuni", "--subject", "s1"); err != nil || !strings.Contains(out, "already linked") {
		t.Fatalf("link again: %v\n%s", err, out)
	}
	if _, err := runCmd(t, "", "user", "link", "bert@example.fi", "--idp", "tuni", "--subject", "s1"); err == nil || !strings.Contains(err.Error(), "another account") {
		t.Fatalf("same identity to another account: %v", err)
	}
	if _, err := runCmd(t, "", "user", "link", "bert@example.fi", "--idp", "tuni", "--subject", "bad\x01"); err == nil {
		t.Fatal("a control character in the subject was taken")
	}
	out, err := runCmd(t, "", "user", "links", "aino@example.fi")
	if err != nil || !strings.Contains(out, "tuni\ts1\toperator\t") {
		t.Fatalf("links: %v\n%s", err, out)
	}
	ctx := context.Background()
	store, err := sqlstore.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	l, err := store.GetFederatedLink(ctx, "tuni", "s1")
	store.Close()
	if err != nil || l.LinkedBy != "operator" {
		t.Fatalf("stored link: %+v %v", l, err)
	}
	if out, err := runCmd(t, "", "user", "unlink", "aino@example.fi", "--idp", "tuni", "--subject", "s1"); err != nil || !strings.Contains(out, "removed") {
		t.Fatalf("unlink: %v\n%s", err, out)
	}
	if _, err := runCmd(t, "", "user", "unlink", "aino@example.fi", "--idp", "tuni", "--subject", "s1"); err == nil {
		t.Fatal("unlinking twice succeeded")
	}
}
