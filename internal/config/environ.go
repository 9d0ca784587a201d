package config

import (
	"regexp"
	"strings"
)

// Unknown PORTTI_* variables are refused, as unknown keys in the file are:
// PORTTI_DATABSE_URL set by mistake would otherwise leave portti on the
// default SQLite file while the operator believes it uses PostgreSQL, and
// PORTTI_LOCKOUT_TRESHOLD would silently keep the default. A variable is
// known when
//
//   - it is EnvName of a key in the settings table (load.go): a key added
//     there is known with nothing else to do, and a file-only key's
//     variable (PORTTI_CLIENTS) gets its own, better message from
//     loader.env;
//   - it is one of otherEnv, the few variables portti reads that are not
//     settings;
//   - it starts with PORTTI_TEST_, the test suite's own
//     (PORTTI_TEST_POSTGRES_DSN, PORTTI_TEST_ARTIFACTS);
//   - a client of the configuration file names it in secret_env;
//   - it is one that Kubernetes (and Docker's legacy links) put into every
//     container for a service whose name starts with "portti", such as
//     PORTTI_PORT=tcp://10.0.0.7:80 or PORTTI_SERVICE_HOST: naming the
//     Service "portti" must not stop portti from starting.

// otherEnv are the variables portti reads that are not settings.
var otherEnv = []string{
	"PORTTI_PPROF", // serve: opt-in pprof listener (portti-bench --profile)
}

// testEnvPrefix starts the variables of portti's own test suite.
const testEnvPrefix = "PORTTI_TEST_"

// serviceLinkEnv matches the variables Kubernetes sets for a Service named
// portti or portti-SOMETHING (docs: "Environment variables" under
// Services), which Docker's --link also used.
var serviceLinkEnv = regexp.MustCompile(`^PORTTI(_[A-Z0-9_]+)?_(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT(_[0-9]+_(TCP|UDP|SCTP)(_(PROTO|PORT|ADDR))?)?)$`)

// envNames returns the variables of the settings that have one.
func envNames() []string {
	var names []string
	for _, s := range settings {
		if s.set != nil {
			names = append(names, EnvName(s.key))
		}
	}
	return names
}

// KnownEnv reports whether name, a PORTTI_* variable, is one portti knows
// (see above). secretEnvs are the names the file's clients give in
// secret_env.
func KnownEnv(name string, secretEnvs ...string) bool {
	for _, s := range settings {
		if EnvName(s.key) == name {
			return true
		}
	}
	for _, n := range otherEnv {
		if n == name {
			return true
		}
	}
	for _, n := range secretEnvs {
		if n == name {
			return true
		}
	}
	return strings.HasPrefix(name, testEnvPrefix) || serviceLinkEnv.MatchString(name)
}

// unknownEnv reports every PORTTI_* name in environ ("NAME=value", as
// os.Environ returns) that is not known, with the nearest known one.
func (l *loader) unknownEnv(environ []string) {
	var secretEnvs []string
	for _, c := range l.cfg.Clients {
		if c.SecretEnv != "" {
			secretEnvs = append(secretEnvs, c.SecretEnv)
		}
	}
	seen := map[string]bool{}
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "PORTTI_") || seen[name] || KnownEnv(name, secretEnvs...) {
			continue
		}
		seen[name] = true
		msg := "unknown variable " + name
		if guess := closest(name, append(envNames(), otherEnv...)); guess != "" {
			msg += " (did you mean " + guess + "?)"
		}
		l.problem("", "environment", "%s; unset it (portti.example.yaml lists every setting, the README every variable)", msg)
	}
}
