package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/portti/portti/internal/account"
)

// cliErr runs a command as the binary would and returns its standard
// output, its standard error and its error.
func cliErr(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestUnknownEnvironmentVariable(t *testing.T) {
	setup(t)
	t.Setenv("PORTTI_DATABSE_URL", "postgres://db.example.fi/portti")
	for _, args := range [][]string{{"serve"}, {"user", "show", email}, {"client", "list"}, {"keys", "list"}} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := run(ctx, args, strings.NewReader(""), io.Discard, io.Discard)
		cancel()
		if err == nil || !strings.Contains(err.Error(), "unknown variable PORTTI_DATABSE_URL (did you mean PORTTI_DATABASE_URL?)") {
			t.Errorf("portti %s with PORTTI_DATABSE_URL set: %v", strings.Join(args, " "), err)
		}
	}
	// The test tooling's own variables are not the configuration's.
	os.Unsetenv("PORTTI_DATABSE_URL")
	t.Setenv("PORTTI_TEST_POSTGRES_DSN", "postgres://postgres@127.0.0.1:5432/test")
	t.Setenv("PORTTI_TEST_ARTIFACTS", t.TempDir())
	mustCLI(t, "", "client", "list")
}

func TestExtraArgumentsRefused(t *testing.T) {
	setup(t)
	t.Setenv("PORTTI_LISTEN", freeAddr(t))
	mustCLI(t, password+"\n", addArgs(email)...)
	keysBefore := mustCLI(t, "", "keys", "list")
	for _, args := range [][]string{
		{"serve", "portti.yaml"}, // meant --config
		{"serve", "--config", "", "extra"},
		{"client", "list", "moodle"},
		{"client", "add", "--id", "x", "--redirect-uri", "https://x.example.fi/cb", "extra"},
		{"client", "update", "--id", "x", "extra"},
		{"client", "remove", "a", "b"},
		{"keys", "rotate", "now"},
		{"keys", "list", "all"},
		{"user", "show", email, "other@example.fi"},
		{"user", "unlock", email, "--", "other@example.fi"},
		{"--version", "extra"},
		{"version", "extra"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var out bytes.Buffer
		err := run(ctx, args, strings.NewReader(""), &out, io.Discard)
		cancel()
		last := args[len(args)-1]
		if err == nil || !strings.Contains(err.Error(), last) {
			t.Errorf("portti %s: %v, want it refused, naming %q", strings.Join(args, " "), err, last)
		}
	}
	if after := mustCLI(t, "", "keys", "list"); after != keysBefore {
		t.Errorf("a refused keys rotate rotated:\n%s", after)
	}
	// Flags may still come after the argument, and "--" ends the flags.
	mustCLI(t, "", "user", "show", email, "--config", "")
	mustCLI(t, "", "user", "show", "--", email)
}

func TestFlagErrorsOnce(t *testing.T) {
	setup(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"user", "show", "--emial", email}, "flag provided but not defined: --emial"},
		{[]string{"serve", "--config"}, "flag needs an argument: --config"},
		{[]string{"client", "add", "--public=maybe", "--id", "x"}, `invalid boolean value "maybe" for --public`},
		{[]string{"keys", "list", "-configg", "x"}, "flag provided but not defined: --configg"},
	} {
		out, errOut, err := cliErr(t, "", tt.args...)
		if err == nil {
			t.Errorf("portti %s: no error", strings.Join(tt.args, " "))
			continue
		}
		// main prints the error; nothing else may print it or the usage.
		if errOut != "" || out != "" {
			t.Errorf("portti %s also printed:\nstdout %q\nstderr %q", strings.Join(tt.args, " "), out, errOut)
		}
		msg := err.Error()
		if strings.Count(msg, tt.want) != 1 || !strings.Contains(msg, "  --config FILE") || strings.Contains(msg, "\n  -config") {
			t.Errorf("portti %s: error\n%s\nwant %q once and the flags written --config FILE", strings.Join(tt.args, " "), msg, tt.want)
		}
	}
	// --help lists the flags on stdout and succeeds.
	out, errOut, err := cliErr(t, "", "user", "add", "--help")
	if err != nil || errOut != "" || !strings.Contains(out, "--password-stdin") || !strings.Contains(out, "--given-name NAME") {
		t.Errorf("user add --help: %v\nstdout %q\nstderr %q", err, out, errOut)
	}
	// A flag of another command is not silently accepted.
	if _, err := cli(t, "", "user", "show", email, "--password-stdin"); err == nil || !strings.Contains(err.Error(), "--password-stdin") {
		t.Errorf("user show --password-stdin: %v", err)
	}
}

func TestVersion(t *testing.T) {
	setup(t)
	for _, arg := range []string{"--version", "version", "-version"} {
		out := mustCLI(t, "", arg)
		if !strings.HasPrefix(out, "portti ") || !strings.Contains(out, runtime.Version()) {
			t.Errorf("portti %s: %q", arg, out)
		}
	}
	saved := version
	t.Cleanup(func() { version = saved })
	version = "v9.8.7"
	if out := mustCLI(t, "", "--version"); !strings.HasPrefix(out, "portti v9.8.7 (") {
		t.Errorf("with -X main.version=v9.8.7: %q", out)
	}
	if !strings.Contains(usage, "portti --version") {
		t.Error("the usage does not mention --version")
	}
}

// TestVersionOfBuiltBinary builds portti as an operator does and checks
// that the version names the git revision it was built from.
func TestVersionOfBuiltBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "portti")
	build := exec.Command("go", "build", "-ldflags", "-X main.version=v1.2.3", "-o", bin, ".")
	// The toolchain's default, whatever this machine's go env file says.
	build.Env = append(os.Environ(), "GOFLAGS=-buildvcs=auto")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(out), "portti v1.2.3 (") || !strings.Contains(string(out), runtime.Version()) {
		t.Errorf("--version: %q", out)
	}
	// In a git checkout (the source tree of every CI run) the revision is
	// recorded by the toolchain. (Not in a `git worktree`: the toolchain
	// looks for a .git directory, and a worktree has a .git file.)
	gitDir, err := os.Stat("../../.git")
	if err != nil || !gitDir.IsDir() {
		return
	}
	if head, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil {
		if rev := strings.TrimSpace(string(head))[:12]; !strings.Contains(string(out), "revision "+rev) {
			t.Errorf("--version %q does not name revision %s", out, rev)
		}
	}
}

// TestServeTellsVersion: the start-up log line and /healthz carry the
// version, and only serve warns about unencrypted signing keys.
func TestServeTellsVersion(t *testing.T) {
	setup(t)
	addr := freeAddr(t)
	t.Setenv("PORTTI_LISTEN", addr)
	saved := version
	t.Cleanup(func() { version = saved })
	version = "v9.8.7"

	// Operator commands do not warn: their output is their answer.
	for _, args := range [][]string{addArgs(email), {"user", "show", email}, {"client", "list"}, {"keys", "list"}} {
		if _, errOut, err := cliErr(t, password+"\n", args...); err != nil || strings.Contains(errOut, "UNENCRYPTED") {
			t.Errorf("portti %s: %v\nstderr: %s", strings.Join(args, " "), err, errOut)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, strings.NewReader(""), io.Discard, logs) }()
	var health struct{ Status, Version string }
	eventually(t, "healthz", func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&health) == nil
	}, logs)
	if health.Status != "ok" || health.Version != "v9.8.7" {
		t.Errorf("healthz: %+v", health)
	}
	if !regexp.MustCompile(`msg="portti is serving" version="v9\.8\.7 \(`).MatchString(logs.String()) {
		t.Errorf("start-up log line without the version:\n%s", logs)
	}
	if !strings.Contains(logs.String(), "UNENCRYPTED") {
		t.Errorf("serve did not warn about unencrypted keys:\n%s", logs)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestUnlockSaysWhatItDid(t *testing.T) {
	setup(t)
	mustCLI(t, password+"\n", addArgs(email)...)
	a := openApp(t)
	ctx := context.Background()
	stranger := account.Meta{ClientIP: "192.0.2.1"}

	if out := mustCLI(t, "", "user", "unlock", email); !strings.HasPrefix(out, email+" was not locked and had no failed attempts: nothing to clear\n") {
		t.Errorf("unlock of an account in order:\n%s", out)
	}
	for range 2 {
		a.Accounts.Login(ctx, email, "wrong", stranger)
	}
	if out := mustCLI(t, "", "user", "unlock", email); !strings.HasPrefix(out, email+" was not locked; 2 failed attempts cleared\n") {
		t.Errorf("unlock after two failures:\n%s", out)
	}
	for range 5 {
		a.Accounts.Login(ctx, email, "wrong", stranger)
	}
	until := field(t, mustCLI(t, "", "user", "show", email), "locked")
	until = strings.TrimSuffix(strings.TrimPrefix(until, "yes (until "), ")")
	out := mustCLI(t, "", "user", "unlock", email)
	// (The count starts again when the lock is set.)
	if want := "unlocked " + email + ": lock until " + until + " lifted\n"; !strings.HasPrefix(out, want) {
		t.Errorf("unlock of a locked account:\n%s\nwant it to start %q", out, want)
	}
	if field(t, out, "locked") != "no" {
		t.Errorf("unlock no longer shows the state:\n%s", out)
	}

	// The owner's own browser counts its failures apart; unlock clears
	// those too, and says so.
	own := account.Meta{ClientIP: "192.0.2.2", DeviceID: strings.Repeat("ab", 32)}
	if _, err := a.Accounts.Login(ctx, email, password, own); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		a.Accounts.Login(ctx, email, "wrong", own)
	}
	if out := mustCLI(t, "", "user", "unlock", email); !strings.HasPrefix(out, email+" was not locked; failed attempts of 1 of the owner's own browsers cleared\n") {
		t.Errorf("unlock after failures in the owner's browser:\n%s", out)
	}
}

// TestTimesInOrganisationZone: the CLI shows times as the pages do, in
// Helsinki time (with the offset, so that nothing is ambiguous).
func TestTimesInOrganisationZone(t *testing.T) {
	setup(t)
	mustCLI(t, password+"\n", addArgs(email)...)
	helsinki, err := time.LoadLocation("Europe/Helsinki")
	if err != nil {
		t.Fatal(err)
	}
	check := func(what, s string) {
		t.Helper()
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatalf("%s: %q: %v", what, s, err)
		}
		if _, want := tm.In(helsinki).Zone(); func() int { _, off := tm.Zone(); return off }() != want {
			t.Errorf("%s %q is not in Helsinki time", what, s)
		}
		if time.Since(tm).Abs() > time.Hour {
			t.Errorf("%s %q is not now", what, s)
		}
	}
	check("created", field(t, mustCLI(t, "", "user", "show", email), "created"))

	// keys list and keys rotate, which also says when the running nodes
	// publish the new keys and when they sign.
	start := time.Now()
	out := mustCLI(t, "", "keys", "rotate")
	m := regexp.MustCompile(`(?s)new signing keys (\S+), (\S+) stored\.\n` +
		`  in the JWKS of every running portti node by (\S+) \(each reloads the keys every 30 s\)\n` +
		`  in the applications' cached JWKS by (\S+) \(cached for up to 5 min\)\n` +
		`  signing from (\S+);`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("keys rotate:\n%s", out)
	}
	at := func(s string) time.Time {
		check("keys rotate", s)
		tm, _ := time.Parse(time.RFC3339, s)
		return tm
	}
	nodes, caches, signs := at(m[3]), at(m[4]), at(m[5])
	if d := nodes.Sub(start); d < 29*time.Second || d > 32*time.Second {
		t.Errorf("nodes publish %s after the rotation, want 30 s", d)
	}
	if d := caches.Sub(nodes); d != 5*time.Minute {
		t.Errorf("caches hold the keys %s after the nodes, want 5 min", d)
	}
	if d := signs.Sub(start); d < 9*time.Minute || d > 11*time.Minute {
		t.Errorf("new keys sign %s after the rotation, want 10 min", d)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, m[1]+" ") || strings.HasPrefix(line, m[2]+" ") {
			check("keys list", strings.Fields(line)[2])
			if !strings.Contains(line, m[5]) {
				t.Errorf("the table's SIGNS FROM differs from %s: %s", m[5], line)
			}
		}
	}
}
