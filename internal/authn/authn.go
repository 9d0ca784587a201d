// Package authn is the seam where a way of proving who someone is plugs
// into portti: the second step of a sign-in, the settings page that lists,
// adds and removes credentials (/account/mfa), recovery, and the amr and
// acr an application is told.
//
// The shape is Ory Kratos's strategies, in plain Go and without its
// registry of providers. A Method is a small package (authn/totp,
// authn/recoverycode, later passkeys) that says what it proves (Kind, AMR,
// SecondFactor, Passwordless) and implements the capabilities it has,
// found by interface assertion:
//
//   - CodeVerifier: checks a one-time code typed into the second step's
//     one `code` field (TOTP, recovery codes);
//   - Enroller: adds a credential from /account/mfa/{kind}/new, in two
//     steps whose state travels sealed in the form (no row until the
//     person proved they hold the new credential);
//   - Describer: adds a line of its own to a credential on the list.
//
// The app builds one Registry with a line per method. Every method keeps
// its credentials in the one storage.Credential table (kind, name, sealed
// secret, method data, replay counter, created and last used). A session
// records every factor its sign-in proved and when (storage.AuthFactor),
// and amr, acr and freshness ("a second factor in the last five minutes")
// all derive from that list (factors.go). The rules of the flows —
// when a second step is needed, lockout, notifications, freshness — are
// in Service (service.go); web and oidc ask it, no method knows them.
package authn

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"time"

	"github.com/portti/portti/internal/storage"
)

// Method is one way of proving who someone is.
type Method interface {
	// Kind names the method in storage (credentials.kind, session
	// factors) and in URLs: lower-case letters, stable forever.
	Kind() string
	// TitleKey is the translation key of the method's name for people
	// ("Authenticator app"); its description is TitleKey+".hint".
	TitleKey() string
	// AMR is what using the method proves, as RFC 8176 values ("otp",
	// "hwk", "swk"); "mfa" is added by the factors, never by a method.
	AMR() []string
	// SecondFactor: the method can complete a sign-in begun with a
	// password. Passwordless: it can sign a person in on its own.
	SecondFactor() bool
	Passwordless() bool
}

// CodeVerifier is a method whose proof is a code typed into the second
// step's `code` field.
type CodeVerifier interface {
	Method
	// VerifyCode checks a normalised code (NormalizeCode) against
	// credential c of this kind, and records its use through st (the
	// replay guard, a recovery code spent) in the same transaction:
	// ErrMismatch when it does not fit, ErrReplayed when it did fit but
	// was already used.
	VerifyCode(ctx context.Context, st storage.Storage, c storage.Credential, code string, now time.Time) (storage.Credential, error)
}

// Enroller is a method a person adds on /account/mfa.
type Enroller interface {
	Method
	// Begin starts adding a credential to account a: the page to show
	// (Template, under web's templates) with its data, and the pending
	// state to carry, sealed, in the form.
	Begin(ctx context.Context, a storage.Account) (Enrolment, error)
	// Finish checks the person's answer (form) against the pending
	// state, and returns the credential to store. The credential's ID
	// comes from the pending state, so a form posted twice creates one
	// credential (the second gets ErrAlreadyEnrolled).
	Finish(ctx context.Context, a storage.Account, pending string, form url.Values, now time.Time) (storage.Credential, error)
}

// Enrolment is a page of an enrolment in progress.
type Enrolment struct {
	Template string         // web template name, e.g. "mfa_totp"
	Data     map[string]any // for the template
	Pending  string         // sealed state for the form's hidden `pending` field
}

// Describer is a method that says more about a credential on the list
// (recovery codes: how many are left), as a translation key and args.
type Describer interface {
	Describe(c storage.Credential) (key string, args map[string]any)
}

// Errors a method returns. The pages explain each in the person's language.
var (
	ErrMismatch        = errors.New("authn: the code does not fit")
	ErrReplayed        = errors.New("authn: the code was already used")
	ErrMalformed       = errors.New("authn: not a code")
	ErrPendingInvalid  = errors.New("authn: the enrolment expired or was tampered with")
	ErrAlreadyEnrolled = errors.New("authn: this enrolment was already confirmed")
)

// Registry holds the methods the app offers, in the order registered.
type Registry struct {
	methods []Method
}

// NewRegistry returns a registry of methods; the app calls it with one
// argument per method. Kinds must be unique and not "pwd".
func NewRegistry(methods ...Method) *Registry {
	seen := map[string]bool{MethodPassword: true, MethodRememberedBrowser: true}
	for _, m := range methods {
		if seen[m.Kind()] {
			panic("authn: method kind registered twice: " + m.Kind())
		}
		seen[m.Kind()] = true
	}
	return &Registry{methods: slices.Clone(methods)}
}

// Methods returns the registered methods in order.
func (r *Registry) Methods() []Method { return slices.Clone(r.methods) }

// Get returns the method of a kind.
func (r *Registry) Get(kind string) (Method, bool) {
	for _, m := range r.methods {
		if m.Kind() == kind {
			return m, true
		}
	}
	return nil, false
}
