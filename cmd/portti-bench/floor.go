package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// The floor: what a bare net/http server costs for the same exchange as
// a client_credentials grant (scenario (a)). It parses the same request
// (form body, HTTP Basic authentication) and answers with a body as long
// as portti's token response, doing nothing else: no client lookup, no
// signature. It runs as a process of its own, loaded and measured like
// portti in the same run, so that the table can give each scenario's
// server CPU per operation as a multiple of this floor, a ratio that other
// work on the machine skews much less than either figure alone.

// floorArg is the hidden first argument that makes portti-bench the floor
// server: portti-bench __floor ADDR BODYLEN.
const floorArg = "__floor"

// runFloor serves the floor on addr until the process is killed.
func runFloor(addr, bodyLen string) error {
	n, err := strconv.Atoi(bodyLen)
	if err != nil || n < 2 {
		return fmt.Errorf("floor: body length %q", bodyLen)
	}
	// A JSON object of the token response's length.
	body := make([]byte, n)
	body[0], body[n-1] = '{', '}'
	for i := 1; i < n-1; i++ {
		body[i] = ' '
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") == "" {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		if _, _, ok := r.BasicAuth(); !ok {
			http.Error(w, "no client", http.StatusUnauthorized)
			return
		}
		hd := w.Header()
		hd.Set("Content-Type", "application/json")
		hd.Set("Cache-Control", "no-store")
		_, _ = w.Write(body)
	})
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	return srv.ListenAndServe()
}

// startFloor runs this program as the floor server on a free port, for a
// token response of bodyLen bytes, and waits until it answers.
func (b *bench) startFloor(ctx context.Context, bodyLen int) (*server, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(filepath.Join(b.tmp, "floor.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, floorArg, addr, strconv.Itoa(bodyLen))
	cmd.Env = serverEnv()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return launch(ctx, cmd, logf, "http://"+addr, 10*time.Second, "the floor server", "listen", func() bool {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// measureFloor loads the floor server with scenario (a)'s request for the
// scenario duration and returns its CPU time per request.
func (b *bench) measureFloor(ctx context.Context, floor *server, req []byte) (time.Duration, error) {
	addr := floor.base[len("http://"):]
	wires := make([]*wire, b.opt.concurrency)
	for i := range wires {
		wires[i] = &wire{addr: addr}
	}
	defer closeWires(wires)
	op := func(ctx context.Context, w int) error {
		_, err := wires[w].expect(ctx, req, "floor", []byte("{"))
		return err
	}
	b.logf("floor (bare net/http): %d workers, warm-up %s, run %s …", b.opt.concurrency, b.opt.warmup, b.opt.duration)
	if b.opt.warmup > 0 {
		load(ctx, b.opt.concurrency, b.opt.warmup, op)
	}
	cpu0, err := floor.cpu()
	if err != nil {
		return 0, err
	}
	st := load(ctx, b.opt.concurrency, b.opt.duration, op)
	cpu1, err := floor.cpu()
	if err != nil {
		return 0, err
	}
	if st.ok == 0 {
		return 0, fmt.Errorf("floor: no successful request (%v)", st.firstErr)
	}
	per := (cpu1 - cpu0) / time.Duration(st.ok)
	b.logf("    %d ok, %d errors, %.0f req/s, server CPU %s per request", st.ok, st.errors, st.rate(), ms(per))
	return per, nil
}
