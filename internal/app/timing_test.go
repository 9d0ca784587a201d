package app_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/storage"
)

// The forms that take an e-mail address must answer in the same time
// whether or not the address has an account: otherwise a few dozen
// requests tell who has one, however identical the pages are. These tests
// time the real HTTP handler against SQLite, a known and an unknown
// address alternately, and compare the medians.
//
// Each request is timed alone: before it, the work earlier requests handed
// to the background (account tasks, e-mail) is let finish, so that the
// measurement sees the request's own work. A measurement that misses the
// 0.9–1.1 band is repeated (up to five in all), because a loaded machine
// can skew one; a real difference fails all five.

const (
	timingWarmUp  = 10  // pairs not counted
	timingSamples = 101 // pairs counted
	// A measurement that other work on the machine disturbed swings
	// either way (0.7 as often as 1.9); a leak stays on one side in
	// every try. scripts/test.sh runs these tests on their own, after
	// the parallel run, for the same reason.
	timingTries = 5
	timingLow   = 0.9
	timingHigh  = 1.1
)

// idle does the account tasks queued so far (rather than wait for the
// worker's wake-up, which comes a moment after each request) and waits
// until the outbox is empty.
func idle(t *testing.T, env *apptest.Env) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(10 * time.Second)
	for {
		pending := 0
		if p, ok := any(env.App.Accounts).(interface {
			DoTasks(context.Context) (int, error)
			PendingTasks(context.Context) (int, error)
		}); ok {
			if _, err := p.DoTasks(ctx); err != nil {
				t.Fatal(err)
			}
			n, err := p.PendingTasks(ctx)
			if err != nil {
				t.Fatal(err)
			}
			pending += n
		}
		ms, err := env.App.Store.ListMail(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if m.SentAt.IsZero() {
				pending++
			}
		}
		if pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("background work still pending after 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}

// timedPost posts form and returns how long the answer took, reading the
// whole body. It fails the test unless the status is want.
func timedPost(t *testing.T, c *http.Client, u string, form url.Values, want int) time.Duration {
	start := time.Now()
	resp, err := c.PostForm(u, form)
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	if resp.StatusCode != want {
		t.Fatalf("POST %s: %d, want %d", u, resp.StatusCode, want)
	}
	return d
}

func medianOf(ds []time.Duration) time.Duration {
	ds = slices.Clone(ds)
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// timingRequests is how many requests of each kind checkTiming may make:
// the accounts a test creates beforehand, one per request.
const timingRequests = timingTries * (timingWarmUp + timingSamples)

// checkTiming runs the measurement: sample(known, i) times one request, for
// a known or an unknown address, the i-th of its kind. Whatever a sample
// needs (the known addresses' accounts) is created before, so that no
// setup work sits between the requests of one kind and not the other.
func checkTiming(t *testing.T, env *apptest.Env, sample func(known bool, i int) time.Duration) {
	next := map[bool]int{}
	var ratios []string
	for try := 1; try <= timingTries; try++ {
		var known, unknown []time.Duration
		for pair := range timingWarmUp + timingSamples {
			// Alternate which goes first, so that neither always follows
			// the other.
			order := []bool{true, false}
			if pair%2 == 1 {
				order = []bool{false, true}
			}
			for _, k := range order {
				idle(t, env)
				d := sample(k, next[k])
				next[k]++
				if pair < timingWarmUp {
					continue
				}
				if k {
					known = append(known, d)
				} else {
					unknown = append(unknown, d)
				}
			}
		}
		idle(t, env)
		mk, mu := medianOf(known), medianOf(unknown)
		ratio := float64(mk) / float64(mu)
		ratios = append(ratios, fmt.Sprintf("%.3f (known %v, unknown %v)", ratio, mk, mu))
		t.Logf("measurement %d: median known %v, unknown %v, ratio %.3f", try, mk, mu, ratio)
		if ratio >= timingLow && ratio <= timingHigh {
			return
		}
	}
	t.Errorf("the answer's time tells whether the address has an account: median ratio known/unknown outside %.1f–%.1f in all %d measurements: %s",
		timingLow, timingHigh, timingTries, strings.Join(ratios, "; "))
}

// timingEnv starts portti for a timing test, with a client that keeps its
// connection open (so that connecting is not what is measured).
func timingEnv(t *testing.T) (*apptest.Env, *http.Client) {
	env := apptest.Start(t, map[string]string{"PORTTI_THROTTLE_LIMIT": "1000000"})
	c := env.Browser(t)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return env, c
}

// unactivated creates an account awaiting activation.
func unactivated(t *testing.T, env *apptest.Env, email string) {
	t.Helper()
	now := env.Clock.Now()
	if err := env.App.Store.CreateAccount(context.Background(), storage.Account{
		ID: fmt.Sprintf("%026x", sha256.Sum256([]byte(email)))[:26], Email: email, GivenName: "Aino", FamilyName: "Virtanen",
		Locale: "en", CreatedAt: now, UpdatedAt: now,
	}); err != nil {
		t.Fatal(err)
	}
}

// TestForgotPasswordTiming: "forgot password" for an address with an
// account takes as long as for one without.
func TestForgotPasswordTiming(t *testing.T) {
	env, c := timingEnv(t)
	// An account for each request: the per-account hourly limit would
	// otherwise make the known path cheaper after a few.
	for i := range timingRequests {
		addUser(t, env, fmt.Sprintf("known%d@example.fi", i), goodPassword)
	}
	checkTiming(t, env, func(known bool, i int) time.Duration {
		email := fmt.Sprintf("nobody%d@example.fi", i)
		if known {
			email = fmt.Sprintf("known%d@example.fi", i)
		}
		return timedPost(t, c, env.URL+"/password/forgot", url.Values{"email": {email}}, http.StatusOK)
	})
}

// TestResendActivationTiming: "send a new activation link" for an account
// awaiting activation takes as long as for an unknown address.
func TestResendActivationTiming(t *testing.T) {
	env, c := timingEnv(t)
	for i := range timingRequests {
		unactivated(t, env, fmt.Sprintf("waiting%d@example.fi", i))
	}
	checkTiming(t, env, func(known bool, i int) time.Duration {
		email := fmt.Sprintf("nobody%d@example.fi", i)
		if known {
			email = fmt.Sprintf("waiting%d@example.fi", i)
		}
		return timedPost(t, c, env.URL+"/activate/resend", url.Values{"email": {email}}, http.StatusOK)
	})
}

// TestRegistrationTiming: registering an address that has an account takes
// as long as registering a new one.
func TestRegistrationTiming(t *testing.T) {
	env, c := timingEnv(t)
	for i := range timingRequests {
		addUser(t, env, fmt.Sprintf("taken%d@example.fi", i), goodPassword)
	}
	checkTiming(t, env, func(known bool, i int) time.Duration {
		email := fmt.Sprintf("new%d@example.fi", i)
		if known {
			email = fmt.Sprintf("taken%d@example.fi", i)
		}
		return timedPost(t, c, env.URL+"/register", registration(email, "kesämökki järven rannalla"), http.StatusOK)
	})
}

// TestEmailChangeTiming: asking to change the login address to one that
// has an account takes as long as to a free one.
func TestEmailChangeTiming(t *testing.T) {
	env, c := timingEnv(t)
	const own = "aino@example.fi"
	acc := addUser(t, env, own, goodPassword)
	c.CheckRedirect = nil
	signIn(t, env, c, own, goodPassword, false)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for i := range timingRequests {
		addUser(t, env, fmt.Sprintf("taken%d@example.fi", i), goodPassword)
	}
	checkTiming(t, env, func(known bool, i int) time.Duration {
		email := fmt.Sprintf("free%d@example.fi", i)
		if known {
			email = fmt.Sprintf("taken%d@example.fi", i)
		}
		return timedPost(t, c, env.URL+"/account/email", url.Values{
			"form": {"email"}, "account_id": {acc.ID}, "new_email": {email}, "current_password": {goodPassword},
		}, http.StatusSeeOther)
	})
}

// TestLoginTiming: a wrong password for an address with an account takes
// as long as any password for an address without one. A login always
// hashes the password (a dummy hash for an unknown address), so this test
// hashes at a realistic cost (8 MiB, as the account package's timing test
// does) rather than the suite's token 64 KiB: what an attacker times is
// the hash plus the database work, and the unknown address does the same
// reads and writes as a wrong password too.
func TestLoginTiming(t *testing.T) {
	env := apptest.Start(t, map[string]string{"PORTTI_THROTTLE_LIMIT": "1000000", "PORTTI_ARGON2_MEMORY": "8192"})
	c := env.Browser(t)
	for i := range timingRequests {
		addUser(t, env, fmt.Sprintf("known%d@example.fi", i), goodPassword)
	}
	checkTiming(t, env, func(known bool, i int) time.Duration {
		email := fmt.Sprintf("nobody%d@example.fi", i)
		if known {
			email = fmt.Sprintf("known%d@example.fi", i)
		}
		return timedPost(t, c, env.URL+"/login", url.Values{"email": {email}, "password": {"not the password 123"}}, http.StatusUnauthorized)
	})
}
