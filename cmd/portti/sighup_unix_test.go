//go:build unix

package main

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portti/portti/internal/secret"
)

// TestServeSIGHUP sends the process a real SIGHUP while `portti serve`
// runs: the binary's own signal wiring reloads the clients.
func TestServeSIGHUP(t *testing.T) {
	setup(t)
	addr := freeAddr(t)
	t.Setenv("PORTTI_LISTEN", addr)
	path := filepath.Join(t.TempDir(), "portti.yaml")
	writeConfig(t, path, "clients: []\n")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out bytes.Buffer
	logs := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve", "--config", path}, strings.NewReader(""), &out, logs) }()
	eventually(t, "serving", func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	}, logs)
	if status := grantStatus(t, addr, "new", newSecret); status != http.StatusUnauthorized {
		t.Fatalf("before the file lists it: %d", status)
	}

	writeConfig(t, path, "clients:\n  - {id: new, grants: [client_credentials], secret_sha256: "+secret.Hash(newSecret)+"}\n")
	// run has asked for SIGHUP before serving, so it does not end the process.
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, "reloaded", func() bool { return grantStatus(t, addr, "new", newSecret) == http.StatusOK }, logs)

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
}
