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

// ACR is the authentication context class of factors.
func (r *Registry) ACR(factors []storage.AuthFactor) string {
	if r.MultiFactor(factors) {
		return ACRMFA
	}
	return ACRPassword
}
