package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portti/portti/internal/storage"
	"github.com/portti/portti/internal/storage/sqlstore"
)

// TestImportUsers drives `portti import users` through the binary's
// wiring: a dry run changes nothing, the import creates, a bad row is
// reported with its line and exit status 1, Latin-1 is refused with the
// line unless --encoding latin1, and the column map comes from the
// configuration.
func TestImportUsers(t *testing.T) {
	dbURL := clientEnv(t)
	t.Setenv("PORTTI_PROVISION_CSV_COLUMNS", "external_id=opiskelijanumero,given_name=etunimi")
	dir := t.TempDir()
	file := filepath.Join(dir, "students.csv")
	os.WriteFile(file, []byte("opiskelijanumero,email,etunimi,end_date,registry_identifier\n"+
		"1001,aino@student.example.fi,Aino,2099-07-31,010190-123A\n"+
		"1002,bad,Bo,,\n"), 0o600)

	out, err := runCmd(t, "", "import", "users", file, "--dry-run")
	if err == nil || !strings.Contains(out, "would be created 1") || !strings.Contains(out, "line 3") ||
		!strings.Contains(out, `email "bad" is not an e-mail address`) {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	ctx := context.Background()
	store, err := sqlstore.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := store.GetProvisionedByExternalID(ctx, "1001"); err == nil {
		t.Fatal("the dry run created an account")
	}
	out, err = runCmd(t, "", "import", "users", file)
	if err == nil || !strings.Contains(err.Error(), "1 rows rejected") || !strings.Contains(out, "created 1, updated 0, disabled 0, unchanged 0, rejected 1") {
		t.Fatalf("import: %v\n%s", err, out)
	}
	pa, err := store.GetProvisionedByExternalID(ctx, "1001")
	if err != nil || pa.Account.GivenName != "Aino" || pa.Provisioned.Source != storage.ProvisionSourceCSV {
		t.Fatalf("imported: %+v %v", pa, err)
	}
	if _, err := store.GetIdentity(ctx, pa.Account.ID); err != nil {
		t.Errorf("identifier not bound: %v", err)
	}
	if strings.Contains(out, "010190") {
		t.Error("the identifier was printed")
	}

	os.WriteFile(file, []byte("opiskelijanumero,email,etunimi\n1003,j@example.fi,J\xe4rvi\n"), 0o600)
	if out, err := runCmd(t, "", "import", "users", file); err == nil || !strings.Contains(err.Error(), "line 2: the file is not UTF-8") {
		t.Fatalf("Latin-1: %v\n%s", err, out)
	}
	if out, err := runCmd(t, "", "import", "users", file, "--encoding", "latin1"); err != nil || !strings.Contains(out, "created 1") {
		t.Fatalf("--encoding latin1: %v\n%s", err, out)
	}
	if _, err := runCmd(t, "", "import", "users", file, "--encoding", "ebcdic"); err == nil {
		t.Fatal("an unknown encoding was taken")
	}
}
