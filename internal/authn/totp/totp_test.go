package totp

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	ptotp "github.com/pquerna/otp/totp"
)

// TestMatchWindow: the code of the current step and of each neighbour is
// accepted (and the step it belongs to reported, for the replay guard);
// two steps away, a wrong code or a code of the wrong length is not.
// Codes are computed by pquerna/otp's own TOTP, as an app would.
func TestMatchWindow(t *testing.T) {
	secret := []byte("0123456789abcdefghij") // 160 bits
	key := b32.EncodeToString(secret)
	now := time.Unix(1_800_000_015, 0)
	code := func(at time.Time) string {
		c, err := ptotp.GenerateCodeCustom(key, at, ptotp.ValidateOpts{Period: period, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	cur := now.Unix() / period
	for _, skew := range []int64{-1, 0, 1} {
		step, ok := match(secret, code(now.Add(time.Duration(skew*period)*time.Second)), now)
		if !ok || step != cur+skew {
			t.Errorf("skew %d: step %d, %v; want %d", skew, step, ok, cur+skew)
		}
	}
	for _, skew := range []int64{-2, 2} {
		c := code(now.Add(time.Duration(skew*period) * time.Second))
		if c == code(now) || c == code(now.Add(-period*time.Second)) || c == code(now.Add(period*time.Second)) {
			continue // a 1-in-a-million collision with an accepted step
		}
		if _, ok := match(secret, c, now); ok {
			t.Errorf("skew %d accepted", skew)
		}
	}
	right := code(now)
	wrong := []byte(right)
	wrong[0] = '0' + (wrong[0]-'0'+1)%10
	for _, c := range []string{string(wrong), right[:5], right + "0", ""} {
		if _, ok := match(secret, c, now); ok {
			t.Errorf("%q accepted", c)
		}
	}
}

// TestKeyURI: the otpauth URI names issuer and account and carries the
// parameters the codes are made with, so apps that read it agree.
func TestKeyURI(t *testing.T) {
	u, err := url.Parse(KeyURI("Tampere Uni", "aino@example.fi", "JBSWY3DPEHPK3PXP"))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Scheme != "otpauth" || u.Host != "totp" || !strings.HasPrefix(u.Path, "/Tampere Uni:aino@example.fi") ||
		q.Get("secret") != "JBSWY3DPEHPK3PXP" || q.Get("issuer") != "Tampere Uni" ||
		q.Get("digits") != "6" || q.Get("period") != "30" || q.Get("algorithm") != "SHA1" {
		t.Errorf("key URI %s", u)
	}
	k, err := otp.NewKeyFromURL(u.String())
	if err != nil || k.Secret() != "JBSWY3DPEHPK3PXP" || k.AccountName() != "aino@example.fi" || k.Issuer() != "Tampere Uni" {
		t.Errorf("pquerna/otp reads %v: %v", k, err)
	}
}
