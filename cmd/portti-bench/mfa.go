package main

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"html"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"

	"github.com/portti/portti/internal/authn"
	"github.com/portti/portti/internal/config"
	"github.com/portti/portti/internal/password"
	"github.com/portti/portti/internal/storage"
	"github.com/portti/portti/internal/storage/sqlstore"
)

// Scenario (g) signs people in with a password and an authenticator-app
// code. A TOTP code is accepted once per time step (the replay guard), and
// the neighbouring steps on either side, so one account can sign in at
// most three times per 30 s (the benchmark uses two): the scenario needs
// many accounts. They are
// written straight into the database before the server starts (one
// password hash for all, each its own TOTP secret, sealed as the server
// would seal it), and each login takes the next account whose next step
// is still accepted.

// totpUsers is how many accounts (g) signs in with: enough for 130
// logins/s (two per account per 30 s).
const totpUsers = 2000

type totpUser struct {
	email, secret string
	last          atomic.Int64 // the last time step used
}

// seedTOTPUsers writes the accounts of (g) into the database at dbURL.
func seedTOTPUsers(ctx context.Context, dbURL string, serverEnv []string) ([]*totpUser, error) {
	kek := ""
	for _, kv := range serverEnv {
		if v, ok := strings.CutPrefix(kv, "PORTTI_KEY_ENCRYPTION_KEY="); ok {
			kek = v
		}
	}
	sealer, err := authn.NewSealer(config.Config{KeyEncryptionKey: kek}.KeyEncryptionKeyBytes(), rand.Reader)
	if err != nil {
		return nil, err
	}
	hash, err := password.NewHasher(password.DefaultParams).Hash(benchPassword)
	if err != nil {
		return nil, err
	}
	st, err := sqlstore.Open(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	now := time.Now().UTC()
	users := make([]*totpUser, totpUsers)
	err = st.InTx(ctx, func(tx storage.Storage) error {
		for i := range users {
			raw := make([]byte, 20)
			_, _ = rand.Read(raw)
			u := &totpUser{email: fmt.Sprintf("totp-%04d@example.fi", i), secret: base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw)}
			a := storage.Account{
				ID: "bench-totp-" + randomString(12), Email: u.email, GivenName: "Penkki", FamilyName: "Testaaja",
				PasswordHash: hash, PasswordChangedAt: now, ActivatedAt: now, CreatedAt: now, UpdatedAt: now,
			}
			if err := tx.CreateAccount(ctx, a); err != nil {
				return err
			}
			id := "totp_" + randomString(16)
			sealed, err := sealer.Seal("totp secret\x00"+id, raw)
			if err != nil {
				return err
			}
			if err := tx.CreateCredential(ctx, storage.Credential{
				ID: id, AccountID: a.ID, Kind: "totp", Secret: sealed, Data: []byte(`{}`), CreatedAt: now,
			}); err != nil {
				return err
			}
			users[i] = u
		}
		return nil
	})
	return users, err
}

var challengeField = regexp.MustCompile(`<input type="hidden" name="challenge" value="([^"]*)">`)

// nextTOTP picks an account and the time step of the code it signs in
// with: the current step or the next one, whichever is newer than the
// account's last. Not the previous step, which the server may no longer
// accept if the step changes while the sign-in is under way.
func (b *bench) nextTOTP() (*totpUser, string, error) {
	cur := time.Now().Unix() / 30
	for range len(b.totp) {
		u := b.totp[int(b.totpNext.Add(1))%len(b.totp)]
		last := u.last.Load()
		step := max(cur, last+1)
		if step > cur+1 || !u.last.CompareAndSwap(last, step) {
			continue
		}
		code, err := hotp.GenerateCodeCustom(u.secret, uint64(step), hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		return u, code, err
	}
	return nil, "", errors.New("every account has used its codes of this time step: more logins/s than (g) has accounts for")
}

// loginTOTP is scenario (g): a whole sign-in with a password and a TOTP
// code in a new browser on the worker's connection.
func (b *bench) loginTOTP(ctx context.Context, w *wire) error {
	u, code, err := b.nextTOTP()
	if err != nil {
		return err
	}
	c := b.newWireBrowser(w)
	_, err = b.signIn(ctx, c, u.email, func(page []byte, ret string) (answer, error) {
		m := challengeField.FindSubmatch(page)
		if m == nil {
			return answer{}, errors.New("no second step after the password")
		}
		a, err := c.post(ctx, "/login/mfa", url.Values{"challenge": {html.UnescapeString(string(m[1]))}, "code": {code}, "return": {ret}})
		if err != nil {
			return answer{}, fmt.Errorf("second step: %w", err)
		}
		return a, nil
	})
	return err
}
