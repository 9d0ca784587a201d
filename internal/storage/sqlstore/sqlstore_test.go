package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portti/portti/internal/storage"
	"github.com/portti/portti/internal/storage/storagetest"
)

// PostgreSQL tests run when this names a database, e.g.
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable. Each Store gets
// a fresh schema in it, dropped afterwards.
const postgresDSNEnv = "PORTTI_TEST_POSTGRES_DSN"

func TestSQLite(t *testing.T) {
	storagetest.Run(t, openSQLiteForTest)
	runBackendTests(t, openSQLiteForTest, func(t *testing.T) string {
		return "sqlite:" + filepath.Join(t.TempDir(), "portti.db")
	})
}

func TestPostgres(t *testing.T) {
	newURL := postgresForTest(t)
	open := func(t *testing.T) storage.Storage { return openForTest(t, newURL(t)) }
	storagetest.Run(t, open)
	runBackendTests(t, open, newURL)
}

func openSQLiteForTest(t *testing.T) storage.Storage {
	return openForTest(t, "sqlite:"+filepath.Join(t.TempDir(), "portti.db"))
}

func openForTest(t *testing.T, databaseURL string) *Store {
	t.Helper()
	s, err := Open(t.Context(), databaseURL)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// postgresForTest returns a function giving each test a database URL of its
// own: a new schema, set as the search_path. A missing database fails the
// test in CI and skips it elsewhere.
func postgresForTest(t *testing.T) func(t *testing.T) string {
	dsn := os.Getenv(postgresDSNEnv)
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: CI must test PostgreSQL", postgresDSNEnv)
		}
		t.Skipf("%s is not set; set it to a PostgreSQL URL to test PostgreSQL", postgresDSNEnv)
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("open %s: %v", postgresDSNEnv, err)
	}
	t.Cleanup(func() { _ = admin.Close() })
	if err := admin.PingContext(t.Context()); err != nil {
		t.Fatalf("connect to %s: %v", postgresDSNEnv, err)
	}
	return func(t *testing.T) string {
		t.Helper()
		schema := "t_" + strings.ToLower(rand.Text())
		// The name is ours, from rand.Text's base32 alphabet.
		if _, err := admin.ExecContext(t.Context(), `CREATE SCHEMA "`+schema+`"`); err != nil {
			t.Fatalf("create schema: %v", err)
		}
		t.Cleanup(func() {
			// t.Context is cancelled before cleanups run.
			if _, err := admin.ExecContext(context.Background(), `DROP SCHEMA "`+schema+`" CASCADE`); err != nil {
				t.Errorf("drop schema %s: %v", schema, err)
			}
		})
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("parse %s: %v", postgresDSNEnv, err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
}

// runBackendTests runs the tests of this package's own promises, beyond the
// storage.Storage contract, on one backend. newURL returns the URL of a
// fresh, empty database.
func runBackendTests(t *testing.T, open func(t *testing.T) storage.Storage, newURL func(t *testing.T) string) {
	t.Run("Backend/MissingAccount", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := t.Context()
		// Records referring to an account need the account.
		err := s.CreateToken(ctx, storage.Token{Hash: "h", Kind: storage.TokenRecovery, AccountID: "missing"})
		if !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("CreateToken for a missing account: error %v, want ErrNotFound", err)
		}
		err = s.CreateSession(ctx, storage.Session{ID: "s", AccountID: "missing"})
		if !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("CreateSession for a missing account: error %v, want ErrNotFound", err)
		}
		_, err = s.UpsertKnownDevice(ctx, "missing", "d", func(d storage.KnownDevice) (storage.KnownDevice, error) { return d, nil })
		if !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("UpsertKnownDevice for a missing account: error %v, want ErrNotFound", err)
		}
	})

	t.Run("Backend/UpdateMustKeepKey", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := t.Context()
		if err := s.CreateAccount(ctx, storage.Account{ID: "a", Email: "a@example.com"}); err != nil {
			t.Fatal(err)
		}
		_, err := s.UpdateAccount(ctx, "a", func(a storage.Account) (storage.Account, error) {
			a.ID = "b"
			return a, nil
		})
		if err == nil {
			t.Error("UpdateAccount changing the ID succeeded")
		}
		if _, err := s.GetAccount(ctx, "a"); err != nil {
			t.Errorf("GetAccount after the refused update: %v", err)
		}
	})

	t.Run("Backend/MissingClient", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := t.Context()
		if err := s.CreateAccount(ctx, storage.Account{ID: "acc1", Email: "a@example.com"}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateClient(ctx, storage.Client{ID: "app1"}); err != nil {
			t.Fatal(err)
		}
		// Records of a client need the client; those of an account, the
		// account.
		for what, err := range map[string]error{
			"CreateAuthRequest":                   s.CreateAuthRequest(ctx, storage.AuthRequest{ID: "r", ClientID: "missing"}),
			"CreateAuthRequest, missing account":  s.CreateAuthRequest(ctx, storage.AuthRequest{ID: "r", ClientID: "app1", AccountID: "missing"}),
			"CreateRefreshToken":                  s.CreateRefreshToken(ctx, storage.RefreshToken{Hash: "h", ChainID: "c", ClientID: "missing", AccountID: "acc1"}),
			"CreateRefreshToken, missing account": s.CreateRefreshToken(ctx, storage.RefreshToken{Hash: "h", ChainID: "c", ClientID: "app1", AccountID: "missing"}),
			"CreateAccessToken":                   s.CreateAccessToken(ctx, storage.AccessToken{ID: "a", ClientID: "missing"}),
			"CreateAccessToken, missing account":  s.CreateAccessToken(ctx, storage.AccessToken{ID: "a", ClientID: "app1", AccountID: "missing"}),
			"PutConsent":                          s.PutConsent(ctx, storage.Consent{AccountID: "acc1", ClientID: "missing"}),
			"PutConsent, missing account":         s.PutConsent(ctx, storage.Consent{AccountID: "missing", ClientID: "app1"}),
			"AddSessionClient":                    s.AddSessionClient(ctx, storage.SessionClient{SessionID: "s", ClientID: "missing", AccountID: "acc1"}),
			"AddSessionClient, missing account":   s.AddSessionClient(ctx, storage.SessionClient{SessionID: "s", ClientID: "app1", AccountID: "missing"}),
		} {
			if !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("%s for a missing client: error %v, want ErrNotFound", what, err)
			}
		}
		_, err := s.EnqueueLogout(ctx, storage.LogoutDelivery{ClientID: "missing"})
		if !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("EnqueueLogout for a missing client: error %v, want ErrNotFound", err)
		}
		_, err = s.UpdateAuthRequest(ctx, "r", func(r storage.AuthRequest) (storage.AuthRequest, error) { return r, nil })
		if !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("a failed CreateAuthRequest stored the request: UpdateAuthRequest error %v", err)
		}
	})

	// There is no DeleteAccount yet; the foreign keys promise that
	// deleting an account row takes its OpenID Connect records with it,
	// and leaves those of no account (client_credentials) alone.
	t.Run("Backend/AccountDeleteCascade", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := t.Context()
		for _, id := range []string{"gone", "kept"} {
			if err := s.CreateAccount(ctx, storage.Account{ID: id, Email: id + "@example.com"}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.CreateClient(ctx, storage.Client{ID: "app1"}); err != nil {
			t.Fatal(err)
		}
		for _, acc := range []string{"gone", "kept"} {
			for _, err := range []error{
				s.CreateAuthRequest(ctx, storage.AuthRequest{ID: "req-" + acc, ClientID: "app1", AccountID: acc}),
				s.CreateRefreshToken(ctx, storage.RefreshToken{Hash: "rt-" + acc, ChainID: "c-" + acc, ClientID: "app1", AccountID: acc}),
				s.CreateAccessToken(ctx, storage.AccessToken{ID: "at-" + acc, ChainID: "c-" + acc, ClientID: "app1", AccountID: acc}),
				s.PutConsent(ctx, storage.Consent{AccountID: acc, ClientID: "app1"}),
				s.AddSessionClient(ctx, storage.SessionClient{SessionID: "s-" + acc, ClientID: "app1", AccountID: acc}),
			} {
				if err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := s.CreateAuthRequest(ctx, storage.AuthRequest{ID: "req-anon", ClientID: "app1"}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateAccessToken(ctx, storage.AccessToken{ID: "at-cc", ClientID: "app1"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.(*Store).db.ExecContext(ctx, `DELETE FROM accounts WHERE id = 'gone'`); err != nil {
			t.Fatal(err)
		}
		for acc, wantErr := range map[string]error{"gone": storage.ErrNotFound, "kept": nil} {
			_, err1 := s.GetAuthRequest(ctx, "req-"+acc)
			_, err2 := s.GetRefreshToken(ctx, "rt-"+acc)
			_, err3 := s.GetAccessToken(ctx, "at-"+acc)
			_, err4 := s.GetConsent(ctx, acc, "app1")
			for i, err := range []error{err1, err2, err3, err4} {
				if !errors.Is(err, wantErr) {
					t.Errorf("record %d of account %q: error %v, want %v", i+1, acc, err, wantErr)
				}
			}
			scs, err := s.ListSessionClients(ctx, "s-"+acc)
			if err != nil || (len(scs) == 0) != (wantErr != nil) {
				t.Errorf("session clients of account %q: %v, %v", acc, scs, err)
			}
		}
		if _, err := s.GetAuthRequest(ctx, "req-anon"); err != nil {
			t.Errorf("auth request without an account: %v", err)
		}
		if _, err := s.GetAccessToken(ctx, "at-cc"); err != nil {
			t.Errorf("client_credentials access token: %v", err)
		}
	})

	// A refresh or access token with no ExpiresAt does not expire.
	t.Run("Backend/NonExpiringTokensStay", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := t.Context()
		if err := s.CreateAccount(ctx, storage.Account{ID: "acc1", Email: "a@example.com"}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateClient(ctx, storage.Client{ID: "app1"}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateRefreshToken(ctx, storage.RefreshToken{Hash: "rt", ChainID: "c", ClientID: "app1", AccountID: "acc1"}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateAccessToken(ctx, storage.AccessToken{ID: "at", ClientID: "app1"}); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteExpired(ctx, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetRefreshToken(ctx, "rt"); err != nil {
			t.Errorf("GetRefreshToken after DeleteExpired: %v", err)
		}
		if _, err := s.GetAccessToken(ctx, "at"); err != nil {
			t.Errorf("GetAccessToken after DeleteExpired: %v", err)
		}
	})

	t.Run("Backend/CloseInTx", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		err := s.InTx(t.Context(), func(tx storage.Storage) error { return tx.Close() })
		if err == nil {
			t.Error("Close inside a transaction succeeded")
		}
	})

	// Several nodes, or a server and the command line, start at once on a
	// new database: all of them migrate without error.
	t.Run("Backend/ConcurrentOpen", func(t *testing.T) {
		t.Parallel()
		databaseURL := newURL(t)
		const n = 4
		stores := make([]*Store, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { stores[i], errs[i] = Open(t.Context(), databaseURL) })
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Errorf("Open %d: %v", i, errs[i])
				continue
			}
			defer stores[i].Close()
		}
		if t.Failed() {
			return
		}
		if err := stores[0].CreateAccount(t.Context(), storage.Account{ID: "a", Email: "a@example.com"}); err != nil {
			t.Fatal(err)
		}
		if _, err := stores[n-1].GetAccount(t.Context(), "a"); err != nil {
			t.Errorf("another Store does not see the account: %v", err)
		}
	})
}

// TestSQLiteSharedFile: the command line and a running server use one
// database file; each sees the other's writes at once.
func TestSQLiteSharedFile(t *testing.T) {
	ctx := t.Context()
	databaseURL := "sqlite:" + filepath.Join(t.TempDir(), "portti.db")
	server, cli := openForTest(t, databaseURL), openForTest(t, databaseURL)

	if err := cli.CreateAccount(ctx, storage.Account{ID: "a", Email: "a@example.com"}); err != nil {
		t.Fatal(err)
	}
	if _, err := server.GetAccount(ctx, "a"); err != nil {
		t.Fatalf("the server does not see the account the CLI created: %v", err)
	}
	if _, err := server.UpdateAccount(ctx, "a", func(a storage.Account) (storage.Account, error) {
		a.Disabled = true
		return a, nil
	}); err != nil {
		t.Fatal(err)
	}
	a, err := cli.GetAccount(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if !a.Disabled {
		t.Error("the CLI does not see the server's update")
	}
}

// TestSQLiteBusy holds the write lock from another connection for a while:
// a write meanwhile waits for it instead of failing.
func TestSQLiteBusy(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "portti.db")
	s := openForTest(t, "sqlite:"+path)

	other, err := sql.Open("sqlite", sqliteDSN(path))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tx, err := other.BeginTx(ctx, nil) // BEGIN IMMEDIATE: holds the write lock
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO attempts (key, window_start, count) VALUES ('held', 1, 1)`); err != nil {
		t.Fatal(err)
	}
	const hold = 200 * time.Millisecond
	done := make(chan error, 1)
	go func() {
		time.Sleep(hold)
		done <- tx.Commit()
	}()

	start := time.Now()
	if err := s.CreateAccount(ctx, storage.Account{ID: "a", Email: "a@example.com"}); err != nil {
		t.Fatalf("CreateAccount while the database is busy: %v", err)
	}
	if _, err := s.UpdateAccount(ctx, "a", func(a storage.Account) (storage.Account, error) { return a, nil }); err != nil {
		t.Fatalf("UpdateAccount after the busy spell: %v", err)
	}
	waited := time.Since(start)
	if err := <-done; err != nil {
		t.Fatalf("commit of the other connection: %v", err)
	}
	if waited < hold/2 {
		t.Errorf("CreateAccount took %v: it did not wait for the other writer", waited)
	}
	if n, err := s.Attempts(ctx, "held", time.UnixMicro(1), time.Hour); err != nil || n != 1 {
		t.Errorf("Attempts of the other connection's write = %d, %v; want 1", n, err)
	}
}

func TestSQLiteCreatesPrivateFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "dir")
	path := filepath.Join(dir, "portti.db")
	openForTest(t, "sqlite:"+path)
	for p, want := range map[string]os.FileMode{dir: 0o700, path: 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s has mode %v, want %v", p, got, want)
		}
	}
}

func TestOpenRejectsBadURLs(t *testing.T) {
	for _, u := range []string{
		"", "portti.db", "mysql://localhost/portti", "sqlite:", "sqlite::memory:",
		"sqlite://portti.db", "sqlite:file:portti.db", "sqlite:portti.db?mode=ro",
		"postgres:portti", "sqlite:a\x00b",
	} {
		s, err := Open(t.Context(), u)
		if err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", u)
		}
	}
}

func TestOpenErrorHidesPassword(t *testing.T) {
	// Nothing listens on port 1.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, err := Open(ctx, "postgres://portti:s3cr3t-pw@127.0.0.1:1/portti?connect_timeout=2")
	if err == nil {
		t.Fatal("Open succeeded")
	}
	if strings.Contains(err.Error(), "s3cr3t-pw") {
		t.Errorf("the error shows the password: %v", err)
	}
}

func TestPrefixEnd(t *testing.T) {
	for _, tc := range []struct {
		prefix, end string
		ok          bool
	}{
		{"", "", false},
		{"a", "b", true},
		{"al", "am", true},
		{"a%", "a&", true},
		{"ä", "å", true},
		{"a\U0010FFFF", "b", true},
		{"\U0010FFFF\U0010FFFF", "", false},
		{"a\uD7FF", "a\uE000", true}, // skips the surrogates
	} {
		end, ok := prefixEnd(tc.prefix)
		if end != tc.end || ok != tc.ok {
			t.Errorf("prefixEnd(%q) = %q, %v; want %q, %v", tc.prefix, end, ok, tc.end, tc.ok)
		}
	}
}

func TestTimeRoundTrip(t *testing.T) {
	if got := goTime(dbTime(time.Time{})); !got.IsZero() {
		t.Errorf("the zero time reads back as %v", got)
	}
	in := time.Date(2025, 1, 2, 3, 4, 5, 6789, time.FixedZone("X", -5*3600))
	got := goTime(dbTime(in))
	if want := in.Truncate(time.Microsecond); !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("%v reads back as %v, want %v in UTC", in, got, want)
	}
	if fmt.Sprint(dbBool(true), dbBool(false)) != "1 0" {
		t.Error("dbBool")
	}
}
