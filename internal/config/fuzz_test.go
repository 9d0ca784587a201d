package config

import (
	"os"
	"testing"
)

// FuzzLoadYAML feeds arbitrary bytes to Load as a config file. Load must
// never panic, and whatever it accepts must be valid and usable.
func FuzzLoadYAML(f *testing.F) {
	for _, path := range []string{"testdata/portti.yaml", "../../portti.example.yaml"} {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"",
		"~",
		"listen: 127.0.0.1:8080\n---\nlisten: x\n",
		"a: &a {b: *a}\nargon2: *a\n",
		"&r {argon2: *r, trusted_proxies: [*r]}",
		"argon2: {memory: 8, threads: 1, time: 1}\n",
		"trusted_proxies: 10.0.0.0/8,::1\npublic_url: https://x.example/\n",
		"lockout_threshold: 9223372036854775808\n",
		"? [a, b]\n: c\n",
		"<<: {listen: ':1'}\n",
		"public_url: 'http://[::1]:8080/'\n",
		"password_max_age: 0\ndev_mail: false\npublic_url: https://a.example\n",
		"clients:\n  - {id: a, public: true, redirect_uris: [fi.example.app:/cb]}\n",
		"clients:\n  - id: a\n    grants: client_credentials\n    secret_sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n",
		"clients: [~, 5, [a], {id: &i x, name: *i, redirect_uris: [[x]]}]\n",
		"clients:\n  - &c {id: a, public: true, redirect_uris: fi.example.app:/cb}\n  - *c\n",
	} {
		f.Add([]byte(s))
	}

	dir := f.TempDir() // one directory, not one per input: much faster
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := os.CreateTemp(dir, "portti-*.yaml")
		if err != nil {
			t.Fatal(err)
		}
		path := file.Name()
		defer os.Remove(path)
		_, werr := file.Write(data)
		if cerr := file.Close(); werr != nil || cerr != nil {
			t.Fatal(werr, cerr)
		}
		c, err := Load(path, env(nil))
		if err != nil {
			if _, ok := err.(Problems); !ok {
				t.Fatalf("error is %T, want Problems: %v", err, err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Load accepted a config that Validate rejects: %v", err)
		}
		if c.Dialect() == "" {
			t.Fatalf("accepted database_url %q has no dialect", c.DatabaseURL)
		}
		if n := len(c.TrustedProxyPrefixes()); n != len(c.TrustedProxies) {
			t.Fatalf("%d of %d trusted proxies parse", n, len(c.TrustedProxies))
		}
		// Every accepted client is one SyncClients takes.
		for i, spec := range c.ClientSpecs() {
			if ps := spec.Validate(); len(ps) != 0 || (!spec.Public && spec.SecretHash == "") {
				t.Fatalf("accepted client %d is not registrable: %v %+v", i, ps, spec)
			}
		}
		_ = c.SecureCookies()
	})
}
