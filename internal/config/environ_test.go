package config

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// base is an environment that loads on its own.
var base = []string{"HOME=/root", "PATH=/usr/bin", "PORTTI_LOG_LEVEL=warn"}

func TestUnknownEnv(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		environ []string
		want    []string // substrings of the error, in order; none: loads
	}{
		{name: "typo", environ: []string{"PORTTI_DATABSE_URL=postgres://db/portti"},
			want: []string{"unknown variable PORTTI_DATABSE_URL (did you mean PORTTI_DATABASE_URL?)", "[environment]"}},
		{name: "nested typo", environ: []string{"PORTTI_ARGON2_MEMROY=65536"},
			want: []string{"did you mean PORTTI_ARGON2_MEMORY?"}},
		{name: "far off: no guess", environ: []string{"PORTTI_FROBNICATE=1"},
			want: []string{"unknown variable PORTTI_FROBNICATE; unset it"}},
		{name: "empty value counts too", environ: []string{"PORTTI_LOCKOUT_TRESHOLD="},
			want: []string{"PORTTI_LOCKOUT_TRESHOLD (did you mean PORTTI_LOCKOUT_THRESHOLD?)"}},
		{name: "reported with the other problems",
			environ: []string{"PORTTI_LOCKOUT_THRESHOLD=abc", "PORTTI_SMTP_ULR=smtp://mail:25"},
			want:    []string{"2 problems", "PORTTI_LOCKOUT_THRESHOLD (lockout_threshold): must be", "PORTTI_SMTP_ULR (did you mean PORTTI_SMTP_URL?)"}},
		{name: "the file-only key keeps its own message", environ: []string{"PORTTI_CLIENTS=x"},
			want: []string{"PORTTI_CLIENTS is set, but clients can only be given in the configuration file"}},
		{name: "settings", environ: []string{"PORTTI_DATABASE_URL=sqlite:x.db", "PORTTI_ARGON2_MEMORY=19456", "PORTTI_DEV_MAIL=true"}},
		{name: "not portti's", environ: []string{"PORTTIX=1", "MY_PORTTI_URL=x", "portti_listen=x"}},
		{name: "test tooling", environ: []string{"PORTTI_TEST_POSTGRES_DSN=postgres://x", "PORTTI_TEST_ARTIFACTS=/tmp/a", "PORTTI_TEST_ANYTHING=1"}},
		{name: "pprof", environ: []string{"PORTTI_PPROF=127.0.0.1:6060"}},
		{name: "kubernetes service links", environ: []string{
			"PORTTI_PORT=tcp://10.0.0.7:80", "PORTTI_SERVICE_HOST=10.0.0.7", "PORTTI_SERVICE_PORT=80",
			"PORTTI_SERVICE_PORT_HTTP=80", "PORTTI_PORT_80_TCP=tcp://10.0.0.7:80", "PORTTI_PORT_80_TCP_PROTO=tcp",
			"PORTTI_PORT_80_TCP_PORT=80", "PORTTI_PORT_80_TCP_ADDR=10.0.0.7",
			"PORTTI_DB_SERVICE_HOST=10.0.0.8", "PORTTI_DB_PORT_5432_TCP_ADDR=10.0.0.8", "PORTTI_DB_PORT=tcp://10.0.0.8:5432"}},
		{name: "a client's secret_env",
			file:    "clients:\n  - id: reports\n    grants: [client_credentials]\n    secret_env: PORTTI_REPORTS_SECRET\n",
			environ: []string{"PORTTI_REPORTS_SECRET=Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFy"}},
		{name: "another secret-like name is not",
			file:    "clients:\n  - id: reports\n    grants: [client_credentials]\n    secret_env: PORTTI_REPORTS_SECRET\n",
			environ: []string{"PORTTI_REPORTS_SECRET=Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFy", "PORTTI_REPORT_SECRET=x"},
			want:    []string{"unknown variable PORTTI_REPORT_SECRET"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = writeYAML(t, tt.file)
			}
			_, err := LoadEnviron(path, append(append([]string{}, base...), tt.environ...))
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("loaded; want an error with %q", tt.want)
			}
			problemsOf(t, err)
			rest := err.Error()
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("error lacks %q (in order):\n%v", w, err)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}

// TestUnknownEnvFollowsSettings shows how a variable becomes known: its
// key is in the settings table, nothing else.
func TestUnknownEnvFollowsSettings(t *testing.T) {
	const name = "PORTTI_REFRESH_REUSE_GRACE_EXAMPLE"
	environ := append(append([]string{}, base...), name+"=5s")
	if _, err := LoadEnviron("", environ); err == nil || !strings.Contains(err.Error(), "unknown variable "+name) {
		t.Fatalf("before the key exists: %v", err)
	}
	saved := settings
	t.Cleanup(func() { settings = saved })
	settings = append(append([]setting{}, saved...), stringSetting("refresh_reuse_grace_example", func(c *Config) *string { return new(string) }))
	if _, err := LoadEnviron("", environ); err != nil {
		t.Fatalf("after adding the key to the settings table: %v", err)
	}
}

// TestLoadEnvironMatchesLoad: both read the same values.
func TestLoadEnvironMatchesLoad(t *testing.T) {
	vars := map[string]string{"PORTTI_LOCKOUT_THRESHOLD": "7", "PORTTI_TRUSTED_PROXIES": "10.0.0.0/8,192.168.1.1", "PORTTI_LISTEN": "127.0.0.1:9000"}
	var environ []string
	for k, v := range vars {
		environ = append(environ, k+"="+v)
	}
	a, errA := Load("", env(vars))
	b, errB := LoadEnviron("", environ)
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if a.LockoutThreshold != 7 || b.LockoutThreshold != 7 || b.Listen != a.Listen || len(b.TrustedProxies) != 2 {
		t.Errorf("Load %+v\nLoadEnviron %+v", a, b)
	}
}

// TestDocumentedEnvKnown: every PORTTI_* name the documentation or the
// code mentions is known, so nothing portti tells operators to set is
// refused.
func TestDocumentedEnvKnown(t *testing.T) {
	check := func(path string) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		name := regexp.MustCompile(`()(PORTTI_[A-Z0-9_]*[A-Z0-9])`)
		if strings.HasSuffix(path, ".go") {
			// String literals only: comments may show a misspelt one.
			name = regexp.MustCompile(`(")(PORTTI_[A-Z0-9_]*[A-Z0-9])["=]`)
		}
		text := string(data)
		for _, loc := range name.FindAllStringSubmatchIndex(text, -1) {
			n, before, after := text[loc[4]:loc[5]], text[:loc[4]], text[loc[5]:]
			if strings.HasPrefix(after, "_*") || strings.HasSuffix(before, "unknown variable ") {
				continue // a family (PORTTI_TEST_*), or the example of a refused one
			}
			if !KnownEnv(n) {
				t.Errorf("%s mentions %s, which LoadEnviron refuses as unknown", path, n)
			}
		}
	}
	check("../../README.md")
	check("../../portti.example.yaml")
	check("../../scripts/test.sh")
	// Variables the code reads (os.Getenv("PORTTI_…") and the like),
	// outside tests, which may set any to see it refused.
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && path != "../.." {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			check(path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
