package main

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portti/portti/internal/app"
	"github.com/portti/portti/internal/config"
	"github.com/portti/portti/internal/secret"
	"github.com/portti/portti/internal/storage"
)

const (
	svcSecret = "svc-secret-held-in-the-environment-0123456789"
	newSecret = "new-secret-known-only-by-its-hash-0123456789"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines to write
// while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// freeAddr returns a loopback address nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func writeConfig(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// grantStatus asks for a client_credentials token.
func grantStatus(t *testing.T, addr, id, sec string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/oauth2/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(sec))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// eventually polls cond for up to 5 seconds.
func eventually(t *testing.T, what string, cond func() bool, logs *syncBuffer) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5 s\n%s", what, logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startServe runs serve with the config file at path and the given
// reload channel, and waits until the server answers.
func startServe(t *testing.T, path, addr string, reload chan os.Signal) (*syncBuffer, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	logs := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- serve(ctx, []string{"--config", path}, &out, logs, reload) }()
	eventually(t, "serving", func() bool {
		select {
		case err := <-done:
			t.Fatalf("serve ended: %v\n%s", err, logs)
		default:
		}
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	}, logs)
	return logs, func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("serve did not stop")
		}
	}
}

// TestServeReloadsClients: on a reload (SIGHUP) the server re-reads its
// configuration file and syncs the clients, without a restart; other
// changed settings are logged as waiting for one; a broken file changes
// nothing.
func TestServeReloadsClients(t *testing.T) {
	setup(t)
	addr := freeAddr(t)
	t.Setenv("PORTTI_LISTEN", addr)
	t.Setenv("SVC_SECRET", svcSecret)
	path := filepath.Join(t.TempDir(), "portti.yaml")
	writeConfig(t, path, `
lockout_threshold: 5
clients:
  - id: svc
    grants: [client_credentials]
    secret_env: SVC_SECRET
`)
	reload := make(chan os.Signal, 1)
	logs, stop := startServe(t, path, addr, reload)
	defer stop()

	if status := grantStatus(t, addr, "svc", svcSecret); status != http.StatusOK {
		t.Fatalf("svc at start: %d\n%s", status, logs)
	}

	// svc leaves the file, new arrives; one other setting changes.
	writeConfig(t, path, `
lockout_threshold: 7
clients:
  - id: new
    grants: [client_credentials]
    secret_sha256: `+secret.Hash(newSecret)+`
`)
	reload <- os.Interrupt // any value: serve does not look at it
	eventually(t, "reloaded", func() bool { return strings.Contains(logs.String(), "configuration reloaded") }, logs)
	if status := grantStatus(t, addr, "new", newSecret); status != http.StatusOK {
		t.Errorf("new client after the reload: %d", status)
	}
	if status := grantStatus(t, addr, "svc", svcSecret); status != http.StatusUnauthorized {
		t.Errorf("removed client after the reload: %d", status)
	}
	for _, want := range []string{"clients_created=1", "clients_removed=1", "take effect only when portti restarts", "keys=lockout_threshold"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}

	// A file with a problem is not applied at all.
	writeConfig(t, path, `
clients:
  - id: new
    grants: [client_credentials]
    secret_sha256: `+secret.Hash(newSecret)+`
  - id: broken
    redirect_uris: [http://broken.example.org/cb]
`)
	reload <- os.Interrupt
	eventually(t, "refused", func() bool { return strings.Contains(logs.String(), "configuration not reloaded") }, logs)
	if !strings.Contains(logs.String(), "clients[1].redirect_uris[0]") {
		t.Errorf("the problem is not logged by its path:\n%s", logs)
	}
	if status := grantStatus(t, addr, "new", newSecret); status != http.StatusOK {
		t.Errorf("new client after a refused reload: %d", status)
	}
}

// TestClientCommandsAndFileClients: the command lists the file's clients
// as such, refuses to remove them, and, run without the server's
// --config, leaves them alone.
func TestClientCommandsAndFileClients(t *testing.T) {
	setup(t)
	t.Setenv("PORTTI_KEY_ENCRYPTION_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
	path := filepath.Join(t.TempDir(), "portti.yaml")
	writeConfig(t, path, "clients:\n  - {id: from-file, grants: [client_credentials], secret_sha256: "+secret.Hash(newSecret)+"}\n")
	// What serve does at start-up.
	cfg, err := config.Load(path, os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), cfg, slog.New(slog.DiscardHandler), app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	mustCLI(t, "", "client", "add", "--id", "from-cli", "--grant", "client_credentials")

	out := mustCLI(t, "", "client", "list") // no --config: nothing removed
	for _, want := range []string{"FROM", "from-file", "config file", "from-cli", "command"} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}
	_, err = cli(t, "", "client", "remove", "from-file", "--config", path)
	if err == nil || !strings.Contains(err.Error(), "comes from the configuration file") || !strings.Contains(err.Error(), "SIGHUP") {
		t.Errorf("remove of a file client: %v", err)
	}
	mustCLI(t, "", "client", "remove", "from-cli")

	// (openApp would sync the environment's empty list, as serve would.)
	a, err = app.New(context.Background(), cfg, slog.New(slog.DiscardHandler), app.Options{KeepClients: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	c, err := a.Store.GetClient(context.Background(), "from-file")
	if err != nil || c.Source != storage.ClientSourceConfig {
		t.Errorf("file client after the commands: %+v %v", c, err)
	}
}
