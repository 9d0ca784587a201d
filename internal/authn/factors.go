package authn

import (
	"slices"
	"time"

	"github.com/portti/portti/internal/storage"
)

// MethodPassword is the password's factor kind; its amr is "pwd".
const MethodPassword = "pwd"

// RFC 8176 values portti uses.
const (
	AMRPassword = "pwd"
	AMRMFA      = "mfa"
)

// ACRMFA is the REFEDS MFA profile: the acr of a sign-in with a second
// factor. ACRPassword is what a password alone gets (REFEDS SFA).
const (
	ACRMFA      = "https://refeds.org/profile/mfa"
	ACRPassword = "https://refeds.org/profile/sfa"
)

// Factor returns a factor of method kind at t.
func Factor(kind string, t time.Time) storage.AuthFactor {
	return storage.AuthFactor{Method: kind, At: t.UTC()}
}

// AMR lists what factors prove, in RFC 8176 terms: each method's values,
// and "mfa" when two independent factors were used. Unknown kinds (a
// method removed from the app) prove nothing.
func (r *Registry) AMR(factors []storage.AuthFactor) []string {
	var out []string
	add := func(v string) {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	for _, f := range factors {
		if f.Method == MethodPassword {
			add(AMRPassword)
			continue
		}
		if m, ok := r.Get(f.Method); ok {
			vals := m.AMR()
			if len(f.AMR) > 0 {
				vals = f.AMR // what this credential proved (a passkey: hwk or swk)
			}
			for _, v := range vals {
				add(v)
			}
		}
	}
	if r.MultiFactor(factors) {
		add(AMRMFA)
	}
	return out
}

// MultiFactor reports whether factors include a second factor: a password
// and a second-factor method, or a passwordless method (a passkey with
// user verification is two factors in one).
func (r *Registry) MultiFactor(factors []storage.AuthFactor) bool {
	return !r.SecondFactorAt(factors).IsZero()
}

// SecondFactorAt is when the newest factor beyond a password was given;
// zero when none was.
func (r *Registry) SecondFactorAt(factors []storage.AuthFactor) time.Time {
	var at time.Time
	for _, f := range factors {
		if f.Method == MethodPassword {
			continue
		}
		m, ok := r.Get(f.Method)
		if !ok || !(m.SecondFactor() || m.Passwordless()) {
			continue
		}
		if f.At.After(at) {
			at = f.At
		}
	}
	return at
}

// FirstAt is when the sign-in the factors belong to began: the time of the
// oldest factor (the session's auth_time).
func FirstAt(factors []storage.AuthFactor) time.Time {
	var at time.Time
	for _, f := range factors {
		if at.IsZero() || f.At.Before(at) {
			at = f.At
		}
	}
	return at
}

// ACRNames name the two authentication context classes portti tells
// (mfa.acr_mfa, mfa.acr_password): a sign-in with a second factor and one
// without. Empty fields take the REFEDS names.
type ACRNames struct {
	MFA, Password string
}

func (n ACRNames) withDefaults() ACRNames {
	if n.MFA == "" {
		n.MFA = ACRMFA
	}
	if n.Password == "" {
		n.Password = ACRPassword
	}
	return n
}

// ACRNames returns the configured names.
func (s *Service) ACRNames() ACRNames { return s.cfg.ACR.withDefaults() }

// ACR is the configured name of factors' authentication context class:
// the MFA class only when a second factor was used in the sign-in (a
// remembered browser is not one).
func (s *Service) ACR(factors []storage.AuthFactor) string {
	n := s.ACRNames()
	if s.cfg.Registry.MultiFactor(factors) {
		return n.MFA
	}
	return n.Password
}

// WantsMFA reads acr_values (in order of preference, OIDC Core 3.1.2.1):
// met is false when none of them is a class portti can meet; mfa is true
// when the first one it can meet is the MFA class.
func (s *Service) WantsMFA(acrValues []string) (mfa, met bool) {
	if len(acrValues) == 0 {
		return false, true
	}
	n := s.ACRNames()
	i := slices.IndexFunc(acrValues, func(v string) bool { return v == n.MFA || v == n.Password })
	if i < 0 {
		return false, false
	}
	return acrValues[i] == n.MFA, true
}

// ACR is the authentication context class of factors under the default
// (REFEDS) names.
func (r *Registry) ACR(factors []storage.AuthFactor) string {
	if r.MultiFactor(factors) {
		return ACRMFA
	}
	return ACRPassword
}
