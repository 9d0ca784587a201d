package provision

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portti/portti/internal/proofing"
	"github.com/portti/portti/internal/storage"
	"github.com/portti/portti/internal/storage/sqlstore"
)

// importClock is the tests' now: 1 December 2026.
var importClock = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func newImportServer(t *testing.T, db dbFunc) (*Server, storage.Storage) {
	t.Helper()
	st, err := sqlstore.Open(t.Context(), db(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	types, _ := NewUserTypes([]UserTypeRule{{Type: TypeStudent, Domains: []string{"*@student.example.fi"}}})
	h, err := proofing.NewHasher([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	srv := New(Config{Store: st, UserTypes: types, BaseURL: "https://id.example.fi", Identifiers: h,
		Now: func() time.Time { return importClock },
		Verify: func(_ context.Context, token string) (string, []string, bool, error) {
			scopes, ok := testTokens[token]
			return "registry", scopes, ok, nil
		}})
	return srv, st
}

func outcomes(sum ImportSummary) map[string]string {
	m := map[string]string{}
	for _, r := range sum.Rows {
		m[r.ExternalID] = r.Outcome + ": " + r.Reason
	}
	return m
}

// TestImportCSV: create, re-import unchanged, update, disable, and each
// kind of bad row rejected with its line while the others are applied.
func TestImportCSV(t *testing.T) { onBackends(t, testImportCSV) }

func testImportCSV(t *testing.T, db dbFunc) {
	srv, st := newImportServer(t, db)
	ctx := t.Context()
	cols, err := ParseColumns([]string{"external_id=hetu_id", "given_name=etunimi", "family_name=sukunimi"})
	if err != nil {
		t.Fatal(err)
	}
	file := "hetu_id,email,etunimi,sukunimi,start_date,end_date,registry_identifier\n" +
		"s1,Maija.Meikalainen@student.example.fi,Maija,Meikäläinen,2027-01-14,2027-07-31,010190-123a\n" +
		"s2,teppo@student.example.fi,Teppo,Testi,,,\n" +
		"s3,bad-address,X,Y,,,\n" +
		"s4,old@student.example.fi,O,L,2020-01-01,2020-06-30,\n" +
		"s5,date@student.example.fi,D,D,14.1.2027,,\n" +
		"s6,dup@student.example.fi,A,A,,,\n" +
		"s6,dup2@student.example.fi,B,B,,,\n" +
		"s7,short@student.example.fi\n"
	opt := ImportOptions{Columns: cols, Actor: "test"}

	// A dry run says the same and changes nothing.
	dry := opt
	dry.DryRun = true
	sum, err := srv.ImportCSV(ctx, []byte(file), dry)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Created != 2 || sum.Rejected != 6 {
		t.Fatalf("dry run: %+v", sum)
	}
	if _, err := st.GetProvisionedByExternalID(ctx, "s1"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("dry run created s1: %v", err)
	}

	sum, err = srv.ImportCSV(ctx, []byte(file), opt)
	if err != nil {
		t.Fatal(err)
	}
	got := outcomes(sum)
	if sum.Created != 2 || sum.Rejected != 6 || sum.Updated != 0 {
		t.Fatalf("import: %+v", sum)
	}
	for ext, want := range map[string]string{
		"s1": "created",
		"s3": `email "bad-address" is not an e-mail address`,
		"s4": "end_date 2020-06-30 is in the past",
		"s5": `start_date "14.1.2027" is not a date in the form YYYY-MM-DD`,
		"s6": "hetu_id \"s6\" is also on line",
		"s7": "2 fields, the header has 7",
	} {
		if !strings.Contains(got[ext], want) {
			t.Errorf("%s: %q, want %q", ext, got[ext], want)
		}
	}
	for _, r := range sum.Rows {
		if r.ExternalID == "s7" && r.Line != 9 {
			t.Errorf("s7 on line %d, want 9", r.Line)
		}
	}
	pa, err := st.GetProvisionedByExternalID(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	p := pa.Provisioned
	if pa.Account.Email != "maija.meikalainen@student.example.fi" || pa.Account.GivenName != "Maija" ||
		p.UserType != TypeStudent || p.State != storage.ProvisionPending || p.Source != storage.ProvisionSourceCSV ||
		!p.StartsAt.Equal(time.Date(2027, 1, 14, 0, 0, 0, 0, time.UTC)) || !p.EndsAt.Equal(time.Date(2027, 8, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("s1: %+v %+v", pa.Account, p)
	}
	if strings.Contains(string(p.Extra), "010190") {
		t.Error("the registry identifier is kept as sent")
	}
	id, err := st.GetIdentity(ctx, pa.Account.ID)
	if err != nil || id.Provider != ProviderRegistry || strings.Contains(id.Identity, "010190") {
		t.Errorf("identity: %+v %v", id, err)
	}
	want, _ := srv.cfg.Identifiers.Hash("010190-123A")
	if id.Identity != want {
		t.Error("the identity is not the keyed hash of the normalised identifier")
	}

	// The same file again: nothing changes (idempotent by external ID).
	sum, err = srv.ImportCSV(ctx, []byte(file), opt)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Created != 0 || sum.Updated != 0 || sum.Unchanged != 2 || sum.Rejected != 6 {
		t.Fatalf("re-import: %+v", sum)
	}
	pa2, _ := st.GetProvisionedByExternalID(ctx, "s1")
	if pa2.Provisioned.Version != p.Version {
		t.Errorf("re-import wrote s1: version %d → %d", p.Version, pa2.Provisioned.Version)
	}

	// A full export without s2 and a changed s1: --disable-missing
	// disables s2; s1 is updated. A column the file lacks stays.
	full := "hetu_id,email,sukunimi\ns1,maija.meikalainen@student.example.fi,Virtanen\n"
	sum, err = srv.ImportCSV(ctx, []byte(full), ImportOptions{Columns: cols, DisableMissing: true})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Updated != 1 || sum.Disabled != 1 {
		t.Fatalf("full export: %+v", sum)
	}
	pa, _ = st.GetProvisionedByExternalID(ctx, "s1")
	if pa.Account.FamilyName != "Virtanen" || pa.Account.GivenName != "Maija" || pa.Provisioned.StartsAt.IsZero() {
		t.Errorf("s1 after update: %+v %+v", pa.Account, pa.Provisioned)
	}
	pa, _ = st.GetProvisionedByExternalID(ctx, "s2")
	if pa.Provisioned.State != storage.ProvisionDisabled || !pa.Account.Disabled {
		t.Errorf("s2 not disabled: %+v", pa.Provisioned)
	}

	// An account a SCIM registry keeps is left alone.
	ts := httptest.NewServer(srv)
	defer ts.Close()
	res := do(t, ts, "POST", "/Users", "registry-token", map[string]any{
		"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": "scim@example.fi", "externalId": "k1"})
	if res.status != 201 {
		t.Fatalf("SCIM create: %d %v", res.status, res.body)
	}
	sum, _ = srv.ImportCSV(ctx, []byte("hetu_id,email\nk1,scim@example.fi\n"), opt)
	if sum.Rejected != 1 || !strings.Contains(sum.Rows[0].Reason, "kept by a SCIM registry") {
		t.Errorf("SCIM account: %+v", sum)
	}
}

// TestImportCSVFile: a file refused whole says why and where, and
// changes nothing; Latin-1 is decoded when asked.
func TestImportCSVFile(t *testing.T) { onBackends(t, testImportCSVFile) }

func testImportCSVFile(t *testing.T, db dbFunc) {
	srv, st := newImportServer(t, db)
	ctx := t.Context()
	latin1 := []byte("external_id,email,given_name\nx1,a@example.fi,Anna\nx2,b@example.fi,J\xe4rvinen\n")
	_, err := srv.ImportCSV(ctx, latin1, ImportOptions{})
	var fe *ErrFile
	if !errors.As(err, &fe) || fe.Line != 3 || !strings.Contains(fe.Reason, "not UTF-8") {
		t.Fatalf("Latin-1: %v", err)
	}
	if _, err := st.GetProvisionedByExternalID(ctx, "x1"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatal("a refused file changed something")
	}
	sum, err := srv.ImportCSV(ctx, latin1, ImportOptions{Latin1: true})
	if err != nil || sum.Created != 2 {
		t.Fatalf("--encoding latin1: %+v %v", sum, err)
	}
	pa, _ := st.GetProvisionedByExternalID(ctx, "x2")
	if pa.Account.GivenName != "Järvinen" {
		t.Errorf("decoded name %q", pa.Account.GivenName)
	}
	for file, want := range map[string]string{
		"":                                  "empty",
		"email\na@example.fi\n":             `no column "external_id"`,
		"external_id,email\nx,\"a@e.fi\n":   "line 2: the file is not valid CSV",
		"external_id,email,email\nx,a,b\n":  "appears twice",
		"external_id,email\nx,a@e.fi\"q\n":  "not valid CSV",
		"\xef\xbb\xbfexternal_id,email\n":   "",
		"external_id,email\n\ny,y@e.fi\n\n": "",
	} {
		_, err := srv.ImportCSV(ctx, []byte(file), ImportOptions{DryRun: true})
		if want == "" {
			if err != nil {
				t.Errorf("%q: %v", file, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", file, err, want)
		}
	}
}

// TestSCIMRegistryIdentifier: the identifier is accepted on create and
// PATCH, bound as a keyed hash, and never returned.
func TestSCIMRegistryIdentifier(t *testing.T) { onBackends(t, testSCIMRegistryIdentifier) }

func testSCIMRegistryIdentifier(t *testing.T, db dbFunc) {
	srv, st := newImportServer(t, db)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	res := do(t, ts, "POST", "/Users", "registry-token", map[string]any{
		"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User", "urn:portti:params:scim:schemas:extension:portti:2.0:User"},
		"userName": "id@example.fi",
		"urn:portti:params:scim:schemas:extension:portti:2.0:User": map[string]any{"registryIdentifier": "010190-123A", "userType": "staff"},
	})
	if res.status != 201 {
		t.Fatalf("create: %d %v", res.status, res.body)
	}
	id := res.body["id"].(string)
	for _, r := range []response{res, do(t, ts, "GET", "/Users/"+id, "registry-token", nil)} {
		ext, _ := r.body["urn:portti:params:scim:schemas:extension:portti:2.0:User"].(map[string]any)
		if _, ok := ext["registryIdentifier"]; ok || ext["userType"] != "staff" {
			t.Errorf("returned: %v", ext)
		}
	}
	first, err := st.GetIdentity(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	res = do(t, ts, "PATCH", "/Users/"+id, "registry-token", map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "replace", "path": "urn:portti:params:scim:schemas:extension:portti:2.0:User:registryIdentifier", "value": "020290-456B"}},
	})
	if res.status != 200 {
		t.Fatalf("PATCH: %d %v", res.status, res.body)
	}
	second, _ := st.GetIdentity(t.Context(), id)
	want, _ := srv.cfg.Identifiers.Hash("020290-456B")
	if second.Identity == first.Identity || second.Identity != want {
		t.Error("PATCH did not bind the new identifier")
	}
	// Without a key to hash with, an identifier is refused, not dropped.
	srv.cfg.Identifiers = nil
	res = do(t, ts, "POST", "/Users", "registry-token", map[string]any{
		"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User", "urn:portti:params:scim:schemas:extension:portti:2.0:User"},
		"userName": "id2@example.fi",
		"urn:portti:params:scim:schemas:extension:portti:2.0:User": map[string]any{"registryIdentifier": "030390-789C"},
	})
	if res.status != 400 || !strings.Contains(res.body["detail"].(string), "key_encryption_key") {
		t.Errorf("no key: %d %v", res.status, res.body)
	}
}

// FuzzReadCSV: any bytes are refused whole or split into rows, never a
// panic, and every accepted row has a line within the file.
func FuzzReadCSV(f *testing.F) {
	f.Add([]byte("external_id,email\nx,a@example.fi\n"), false)
	f.Add([]byte("external_id,email,given_name\nx,a@e.fi,J\xe4rvinen\n"), true)
	f.Add([]byte("\"external_id\",email\r\n\"x\"\"y\",\"a@e.fi\"\r\n"), false)
	f.Add([]byte("external_id,email\nx,a@e.fi\nx,b@e.fi\ny,a@e.fi\n"), false)
	f.Fuzz(func(t *testing.T, data []byte, latin1 bool) {
		rows, err := readCSV(data, nil, latin1)
		if err != nil {
			var fe *ErrFile
			if !errors.As(err, &fe) {
				t.Fatalf("not an ErrFile: %v", err)
			}
			return
		}
		lines := strings.Count(string(data), "\n") + strings.Count(string(data), "\r") + 1
		for _, r := range rows {
			if r.line < 2 || r.line > lines {
				t.Fatalf("row on line %d of %d", r.line, lines)
			}
			if r.reject == "" && (r.cells.get(ColExternalID) == "" || r.cells.get(ColEmail) == "") {
				t.Fatalf("accepted row without key: %+v", r)
			}
		}
	})
}

// BenchmarkImportCSV imports b.N new people on SQLite (portti-bench's
// (k) runs the command on 100,000).
func BenchmarkImportCSV(b *testing.B) {
	st, err := sqlstore.Open(context.Background(), "sqlite:"+b.TempDir()+"/p.db")
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	srv := New(Config{Store: st, Now: func() time.Time { return importClock }})
	var sb strings.Builder
	sb.WriteString("external_id,email,given_name,family_name,user_type,start_date,end_date\n")
	for i := range b.N {
		fmt.Fprintf(&sb, "r%06d,o%06d@student.example.fi,E,S %d,student,2026-08-01,2099-07-31\n", i, i, i)
	}
	b.ResetTimer()
	var sum ImportSummary
	sum, err = srv.ImportCSV(context.Background(), []byte(sb.String()), ImportOptions{})
	if err != nil || sum.Created != b.N {
		b.Fatalf("%+v %v", sum.Created, err)
	}
}
