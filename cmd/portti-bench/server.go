package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// goBuild builds ./cmd/portti of the module the benchmark runs in.
func goBuild(ctx context.Context, out string, stderr io.Writer) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/portti")
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build ./cmd/portti (run portti-bench from the repository root, or pass --portti): %w", err)
	}
	return nil
}

// freePort returns a loopback address nobody listens on right now.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// serverEnv is the environment of every portti the benchmark runs: the
// caller's, without any PORTTI_* setting that could point it elsewhere,
// plus the benchmark's own.
func serverEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PORTTI_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// server is a running `portti serve`.
type server struct {
	cmd     *exec.Cmd
	pid     int
	base    string // http://127.0.0.1:PORT
	started time.Time
	ready   time.Duration // exec to the first 200 on /healthz
	done    chan error
	log     *os.File
}

// startServer execs `portti serve` and waits for /healthz to answer 200.
func (b *bench) startServer(ctx context.Context, env []string) (*server, error) {
	logf, err := os.OpenFile(filepath.Join(b.tmp, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(b.bin, "serve")
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	base := "http://" + b.listen
	// The poller is ready before the exec, so the measured time is the
	// server's, not the benchmark's.
	poll := &http.Client{
		Timeout:   time.Second,
		Transport: &http.Transport{DisableKeepAlives: true, DialContext: (&net.Dialer{Timeout: 100 * time.Millisecond}).DialContext},
	}
	return launch(ctx, cmd, logf, base, 30*time.Second, "portti serve", "answer /healthz", func() bool {
		resp, err := poll.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// launch starts cmd (its output going to logf) and polls ready until it
// holds, recording the time from the exec to the first true. It fails if
// the process exits first, ctx ends, or within passes; name and what say
// which process and what it did not do, for the error.
func launch(ctx context.Context, cmd *exec.Cmd, logf *os.File, base string, within time.Duration, name, what string, ready func() bool) (*server, error) {
	s := &server{cmd: cmd, base: base, done: make(chan error, 1), log: logf}
	s.started = time.Now()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	s.pid = cmd.Process.Pid
	go func() { s.done <- cmd.Wait() }()
	deadline := s.started.Add(within)
	for {
		if ready() {
			s.ready = time.Since(s.started)
			return s, nil
		}
		select {
		case err := <-s.done:
			logf.Close()
			return nil, fmt.Errorf("%s exited before it could %s (%v); see %s", name, what, err, logf.Name())
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		default:
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("%s did not %s within %s; see %s", name, what, within, logf.Name())
		}
		time.Sleep(500 * time.Microsecond)
	}
}

// stop sends SIGTERM and waits for the server to end.
func (s *server) stop() error {
	defer s.log.Close()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signaled() {
			return nil
		}
		return err
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
		return errors.New("portti serve did not stop within 15 s of SIGTERM; killed")
	}
}

// clockTick is USER_HZ, the unit of utime and stime in /proc/PID/stat:
// 100 on every Linux architecture Go supports.
const clockTick = 100

// cpu returns the server's CPU time so far (user + system, all threads).
func (s *server) cpu() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// count fields after the last ')'. utime and stime are fields 14 and
	// 15, so 12 and 13 after it (state is field 3).
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc/PID/stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("malformed /proc/PID/stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(ut+st) * time.Second / clockTick, nil
}

// memory returns VmRSS and VmHWM (peak RSS) in bytes.
func (s *server) memory() (rss, hwm int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.pid))
	if err != nil {
		return 0, 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		name, val, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		f := strings.Fields(val) // "12345 kB"
		if len(f) != 2 || f[1] != "kB" {
			return 0, 0, fmt.Errorf("malformed %s line %q", name, line)
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, 0, err
		}
		if name == "VmRSS" {
			rss = n << 10
		} else {
			hwm = n << 10
		}
	}
	if rss == 0 || hwm == 0 {
		return 0, 0, errors.New("no VmRSS/VmHWM in /proc/PID/status")
	}
	return rss, hwm, nil
}

// resetPeak sets VmHWM back to the current RSS (Linux 4.0+), so the next
// reading is the peak of what follows. It reports whether that worked.
func (s *server) resetPeak() bool {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", s.pid), []byte("5"), 0) == nil
}

// cli runs a portti command on the benchmark's database.
func (b *bench) cli(ctx context.Context, env []string, stdin string, args ...string) error {
	cmd := exec.CommandContext(ctx, b.bin, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("portti %s: %w\n%s", strings.Join(args[:2], " "), err, out.String())
	}
	return nil
}
