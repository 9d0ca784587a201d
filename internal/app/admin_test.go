package app_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/admin"
	"github.com/portti/portti/internal/app/apptest"
	"github.com/portti/portti/internal/storage"
)

var cliActor = admin.Actor{Name: "cli", Admin: true}

// grant gives email a staff role as the operator does at the command line.
func grant(t testing.TB, env *apptest.Env, email, role string) {
	t.Helper()
	if _, err := env.App.Admin.Grant(context.Background(), cliActor, email, role, account.Meta{ClientIP: "cli"}); err != nil {
		t.Fatalf("grant %s to %s: %v", role, email, err)
	}
}

// staffConsole signs staff in with a password and their authenticator
// app (enrolling one first, as the console demands), and returns the
// browser on the console's search page with the TOTP secret.
func staffConsole(t *testing.T, env *apptest.Env, email string) (*http.Client, string) {
	t.Helper()
	c := newBrowser(t)
	// Another browser signed in before the second factor was set up.
	early := newBrowser(t)
	for _, b := range []*http.Client{c, early} {
		if a := send(t, b, http.MethodPost, env.URL+"/login", url.Values{"email": {email}, "password": {goodPassword}}); a.Status != http.StatusOK {
			t.Fatalf("login %s: %d at %s", email, a.Status, a.URL)
		}
	}
	// No second factor yet: the console sends staff to set one up.
	a := send(t, c, http.MethodGet, env.URL+"/admin", nil)
	if a.URL.Path != "/account/mfa" || a.URL.Query().Get("return") != "/admin" {
		t.Fatalf("staff without a second factor: %d at %s, want /account/mfa?return=/admin", a.Status, a.URL)
	}
	secret, _ := enrolTOTP(t, env, c)
	// Setting it up proved it in this browser; the other browser's
	// session has the password alone, and must sign in again.
	a = send(t, early, http.MethodGet, env.URL+"/admin", nil)
	if a.URL.Path != "/login" || a.URL.Query().Get("mfa") != "fresh" || a.URL.Query().Get("return") != "/admin" {
		t.Fatalf("staff signed in without a second factor: %d at %s, want a fresh sign-in", a.Status, a.URL)
	}
	env.Clock.Advance(31 * time.Second) // a new TOTP step: the enrolment's code is spent
	page := passwordStep(t, env, early, email, goodPassword, "return", "/admin", "mfa", "fresh")
	if a = secondStep(t, env, early, page, totpCode(t, env, secret)); a.Status != http.StatusOK || a.URL.Path != "/admin" {
		t.Fatalf("console after the second step: %d at %s\n%s", a.Status, a.URL, a.Body)
	}
	a = send(t, c, http.MethodGet, env.URL+"/admin", nil)
	if a.Status != http.StatusOK || a.URL.Path != "/admin" {
		t.Fatalf("console after enrolling: %d at %s\n%s", a.Status, a.URL, a.Body)
	}
	mustContainText(t, a.Body, enText("admin.title"), enText("admin.signed_in_as", "Email", email))
	return c, secret
}

// lastEvent returns the newest event of kind about accountID.
func lastEvent(t testing.TB, env *apptest.Env, accountID, kind string) storage.Event {
	t.Helper()
	events, err := env.App.Store.ListEvents(context.Background(), accountID, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if e.Kind == kind {
			return e
		}
	}
	t.Fatalf("no %s event for %s in %+v", kind, accountID, events)
	return storage.Event{}
}

var refRE = regexp.MustCompile(`[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}`)

// TestAdminConsole walks the console over HTTP: the staff gate (second
// factor, idle timeout, staff only), search by name and by the reference
// code from a problem page, the explanation panel, an action's rules, its
// audit event and its e-mail, and the audit trail.
func TestAdminConsole(t *testing.T) {
	env := apptest.Start(t, nil)
	addUser(t, env, "tuki@example.fi", goodPassword)
	person := addUser(t, env, "maija@example.fi", goodPassword)
	boss := addUser(t, env, "pomo@example.fi", goodPassword)
	grant(t, env, "tuki@example.fi", storage.RoleHelpdesk)
	grant(t, env, "pomo@example.fi", storage.RoleAdmin)

	// A signed-in person without a role is refused.
	outsider := newBrowser(t)
	signIn(t, env, outsider, "maija@example.fi", goodPassword, false)
	if a := send(t, outsider, http.MethodGet, env.URL+"/admin", nil); a.Status != http.StatusForbidden {
		t.Fatalf("non-staff: %d at %s", a.Status, a.URL)
	}

	c, _ := staffConsole(t, env, "tuki@example.fi")

	// Five wrong passwords lock the account for browsers its owner has
	// not used; the panel says so, with how many and from where.
	for range 5 {
		loginRefused(t, env, "maija@example.fi", "wrong password entirely")
	}
	found := send(t, c, http.MethodGet, env.URL+"/admin?q=MAIJA", nil)
	mustContainText(t, found.Body, "maija@example.fi")
	if !strings.Contains(found.Body, `href="/admin/people/`+person.ID+`"`) {
		t.Fatalf("search lacks the link to the person:\n%s", found.Body)
	}
	page := send(t, c, http.MethodGet, env.URL+"/admin/people/"+person.ID, nil)
	locked, _ := env.App.Store.GetAccount(context.Background(), person.ID)
	mustContainText(t, page.Body, enText("admin.why.title"), "after 5 wrong passwords", enText("admin.reason.wrong_password"))
	if locked.LockedUntil.IsZero() {
		t.Fatal("five wrong passwords did not lock the account")
	}

	// An action needs a reason; the form says so and nothing happens.
	a := send(t, c, http.MethodPost, env.URL+"/admin/people/"+person.ID+"/action", url.Values{"action": {"unlock"}, "reason": {"  "}})
	if a.Status != http.StatusUnprocessableEntity {
		t.Fatalf("unlock without a reason: %d", a.Status)
	}
	mustContainText(t, a.Body, enText("admin.error.reason_required"))
	if still, _ := env.App.Store.GetAccount(context.Background(), person.ID); still.LockedUntil.IsZero() {
		t.Fatal("unlocked without a reason")
	}
	// With one: unlocked, audited with the staff member, the owner told.
	a = send(t, c, http.MethodPost, env.URL+"/admin/people/"+person.ID+"/action", url.Values{"action": {"unlock"}, "reason": {"ticket 4711, called from her own number"}})
	if a.Status != http.StatusOK || a.URL.Query().Get("done") != "unlock" {
		t.Fatalf("unlock: %d at %s\n%s", a.Status, a.URL, a.Body)
	}
	mustContainText(t, a.Body, enText("admin.done.unlock"), enText("admin.why.nothing"))
	if e := lastEvent(t, env, person.ID, "helpdesk.unlock"); e.Reason != "by tuki@example.fi: ticket 4711, called from her own number" || e.ClientIP == "" {
		t.Fatalf("audit event %+v", e)
	}
	lastEvent(t, env, person.ID, "account.unlocked")
	m := env.Mail(t, "maija@example.fi", "unlocked")
	if !strings.Contains(m.Text, "The helpdesk unlocked your portti account") || !strings.Contains(m.Text, "/password/forgot?email=maija%40example.fi") {
		t.Fatalf("unlock e-mail:\n%s", m.Text)
	}

	// Disable: the person's right password now ends on a page with a
	// reference code; the code opens the event that produced it.
	a = send(t, c, http.MethodPost, env.URL+"/admin/people/"+person.ID+"/action", url.Values{"action": {"disable"}, "reason": {"reported stolen"}})
	if a.URL.Query().Get("done") != "disable" {
		t.Fatalf("disable: %d at %s\n%s", a.Status, a.URL, a.Body)
	}
	env.Mail(t, "maija@example.fi", "disabled")
	refused := loginRefused(t, env, "maija@example.fi", goodPassword)
	ref := refRE.FindString(refused.Body)
	if ref == "" {
		t.Fatalf("no reference code on the disabled page:\n%s", refused.Body)
	}
	ev := send(t, c, http.MethodGet, env.URL+"/admin?"+url.Values{"q": {strings.ToLower(ref)}}.Encode(), nil)
	mustContainText(t, ev.Body, enText("admin.event.title", "Ref", ref), enText("admin.reason.disabled"), "login.failure", "127.0.0.1")
	if !strings.Contains(ev.Body, `href="/admin/people/`+person.ID+`"`) {
		t.Fatalf("the event does not lead to the person:\n%s", ev.Body)
	}
	page = send(t, c, http.MethodGet, env.URL+"/admin/people/"+person.ID, nil)
	mustContainText(t, page.Body, "by tuki@example.fi", "Reason given: reported stolen")
	if unknown := send(t, c, http.MethodGet, env.URL+"/admin?q=ZZZZ-ZZZZ", nil); !strings.Contains(unknown.Body, "ZZZZ-ZZZZ") {
		t.Fatalf("unknown code:\n%s", unknown.Body)
	}

	// The audit trail, newest first.
	trail := send(t, c, http.MethodGet, env.URL+"/admin/people/"+person.ID+"/events", nil)
	if i, j := strings.Index(trail.Body, "helpdesk.disable"), strings.Index(trail.Body, "helpdesk.unlock"); i < 0 || j < 0 || i > j {
		t.Fatalf("audit trail not newest first:\n%s", trail.Body)
	}

	// A helpdesk member cannot act on an admin, nor on their own account.
	page = send(t, c, http.MethodGet, env.URL+"/admin/people/"+boss.ID, nil)
	mustContainText(t, page.Body, enText("admin.error.protected"))
	a = send(t, c, http.MethodPost, env.URL+"/admin/people/"+boss.ID+"/action", url.Values{"action": {"disable"}, "reason": {"x"}})
	if a.Status != http.StatusUnprocessableEntity {
		t.Fatalf("helpdesk disabling an admin: %d", a.Status)
	}
	if b, _ := env.App.Store.GetAccount(context.Background(), boss.ID); b.Disabled {
		t.Fatal("helpdesk disabled an admin")
	}
	staff, _ := env.App.Accounts.Find(context.Background(), "tuki@example.fi")
	a = send(t, c, http.MethodPost, env.URL+"/admin/people/"+staff.ID+"/action", url.Values{"action": {"reset_mfa"}, "reason": {"x"}})
	if a.Status != http.StatusUnprocessableEntity || len(credentials(t, env, staff.ID)) == 0 {
		t.Fatalf("helpdesk resetting their own second factor: %d", a.Status)
	}
	// Roles and other admin pages are for admins.
	if a := send(t, c, http.MethodPost, env.URL+"/admin/roles", url.Values{"email": {"maija@example.fi"}, "role": {"admin"}}); a.Status != http.StatusForbidden {
		t.Fatalf("helpdesk granting a role: %d", a.Status)
	}

	// A cross-site post is refused before it does anything.
	a = send(t, c, http.MethodPost, env.URL+"/admin/people/"+person.ID+"/action", url.Values{"action": {"enable"}, "reason": {"x"}},
		"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	if a.Status != http.StatusForbidden {
		t.Fatalf("cross-site post: %d", a.Status)
	}
	if p, _ := env.App.Store.GetAccount(context.Background(), person.ID); !p.Disabled {
		t.Fatal("a cross-site post enabled the account")
	}

	// Fifteen minutes without a console page: sign in again.
	env.Clock.Advance(16 * time.Minute)
	a = send(t, c, http.MethodGet, env.URL+"/admin/people/"+person.ID, nil)
	if a.URL.Path != "/login" || a.URL.Query().Get("mfa") != "fresh" || a.URL.Query().Get("return") != "/admin/people/"+person.ID {
		t.Fatalf("idle console: %d at %s, want a fresh sign-in", a.Status, a.URL)
	}
	// Still idle: the refused request did not count as use.
	if a := send(t, c, http.MethodGet, env.URL+"/admin", nil); a.URL.Path != "/login" {
		t.Fatalf("second idle request: at %s", a.URL)
	}
}

// TestAdminActionsMail: every action that changes the account tells the
// owner, and each is audited as helpdesk.<action> with the staff member.
func TestAdminActionsMail(t *testing.T) {
	env := apptest.Start(t, nil)
	addUser(t, env, "tuki@example.fi", goodPassword)
	grant(t, env, "tuki@example.fi", storage.RoleHelpdesk)
	person := addUser(t, env, "maija@example.fi", goodPassword)
	owner := newBrowser(t)
	signIn(t, env, owner, "maija@example.fi", goodPassword, false)
	enrolTOTP(t, env, owner)
	c, _ := staffConsole(t, env, "tuki@example.fi")
	act := func(action, reason string) answer {
		t.Helper()
		a := send(t, c, http.MethodPost, env.URL+"/admin/people/"+person.ID+"/action", url.Values{"action": {action}, "reason": {reason}})
		if a.URL.Query().Get("done") != action {
			t.Fatalf("%s: %d at %s\n%s", action, a.Status, a.URL, a.Body)
		}
		if e := lastEvent(t, env, person.ID, "helpdesk."+action); e.Reason != "by tuki@example.fi: "+reason {
			t.Fatalf("%s audited as %+v", action, e)
		}
		return a
	}
	act("end_sessions", "lost laptop")
	env.Mail(t, "maija@example.fi", "signed out everywhere")
	signedInAs(t, env, owner, "")

	act("reset_mfa", "lost phone, identity checked with a video call")
	// The owner reads that the helpdesk did it (not "an administrator").
	if m := env.Mail(t, "maija@example.fi", "two-step verification"); !strings.Contains(m.Text, "The helpdesk removed") {
		t.Fatalf("reset message:\n%s", m.Text)
	}
	if n := len(credentials(t, env, person.ID)); n != 0 {
		t.Fatalf("%d credentials left after the reset", n)
	}
	if e := lastEvent(t, env, person.ID, "mfa.reset"); !strings.Contains(e.Reason, "tuki@example.fi") {
		t.Fatalf("mfa.reset event %+v", e)
	}

	act("send_reset", "forgot the password")
	env.Mail(t, "maija@example.fi", "password")

	act("disable", "left the organisation")
	env.Mail(t, "maija@example.fi", "disabled")
	act("enable", "came back")
	env.Mail(t, "maija@example.fi", "enabled again")

	// Not applicable: resend activation to an active account.
	a := send(t, c, http.MethodPost, env.URL+"/admin/people/"+person.ID+"/action", url.Values{"action": {"resend_activation"}, "reason": {"x"}})
	if a.Status != http.StatusUnprocessableEntity {
		t.Fatalf("resend activation to an active account: %d", a.Status)
	}
	mustContainText(t, a.Body, enText("admin.error.not_applicable"))
}

// TestAdminExplainsStates: the panel's words for a not-activated account
// (link sent, then expired) and a required second factor not set up.
func TestAdminExplainsStates(t *testing.T) {
	env := apptest.Start(t, map[string]string{"PORTTI_MFA_POLICY": "required"})
	// A staff member must enrol anyway; MFA required does not change that.
	addUser(t, env, "tuki@example.fi", goodPassword)
	grant(t, env, "tuki@example.fi", storage.RoleHelpdesk)
	c, _ := staffConsole(t, env, "tuki@example.fi")

	// Registration through the form: the activation link goes out.
	send(t, newBrowser(t), http.MethodPost, env.URL+"/register", registration("uusi@example.fi", goodPassword))
	env.Settle(t)
	fresh, err := env.App.Accounts.Find(context.Background(), "uusi@example.fi")
	if err != nil {
		t.Fatalf("registration: %v", err)
	}
	page := send(t, c, http.MethodGet, env.URL+"/admin/people/"+fresh.ID, nil)
	mustContainText(t, page.Body, "The account is not activated: the activation link was sent")
	mustContainText(t, page.Body, enText("admin.action.resend_activation"))
	env.Mail(t, "uusi@example.fi", "Confirm your email address")
	a := send(t, c, http.MethodPost, env.URL+"/admin/people/"+fresh.ID+"/action", url.Values{"action": {"resend_activation"}, "reason": {"the first link went to spam"}})
	if a.URL.Query().Get("done") != "resend_activation" {
		t.Fatalf("resend activation: %d at %s\n%s", a.Status, a.URL, a.Body)
	}
	env.Settle(t)
	waitFor := time.Now().Add(10 * time.Second)
	for activations := 0; activations < 2; {
		activations = 0
		for _, m := range env.SMTP.Messages() {
			if strings.Contains(m.Subject, "Confirm your email address") && strings.Contains(strings.Join(m.To, ","), "uusi@example.fi") {
				activations++
			}
		}
		if time.Now().After(waitFor) {
			t.Fatalf("%d activation e-mails after the resend, want 2", activations)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if e := lastEvent(t, env, fresh.ID, "helpdesk.resend_activation"); e.Reason != "by tuki@example.fi: the first link went to spam" {
		t.Fatalf("audit %+v", e)
	}
	env.Clock.Advance(2 * time.Hour)
	// Two hours later the link has expired; the console asks again for a
	// fresh sign-in first (idle).
	page = send(t, c, http.MethodGet, env.URL+"/admin/people/"+fresh.ID, nil)
	if page.URL.Path != "/login" {
		t.Fatalf("after two idle hours: at %s", page.URL)
	}
	x, err := env.App.Admin.Explain(context.Background(), fresh.ID)
	if err != nil || len(x.Problems) == 0 || x.Problems[0].Code != admin.ProblemActivationExpired {
		t.Fatalf("expired activation: %+v, %v", x.Problems, err)
	}
	other := addUser(t, env, "ilman@example.fi", goodPassword)
	x, err = env.App.Admin.Explain(context.Background(), other.ID)
	if err != nil || len(x.Problems) != 1 || x.Problems[0].Code != admin.ProblemMFANotEnrolled || !x.MFARequired {
		t.Fatalf("required second factor not set up: %+v, %v", x, err)
	}
}

// TestAdminNotices: a notice shows on the login page and every page in
// the reader's language between its times, and not after.
func TestAdminNotices(t *testing.T) {
	env := apptest.Start(t, nil)
	now := env.Clock.Now()
	n, err := env.App.Admin.AddNotice(context.Background(), cliActor, admin.NoticeInput{
		From: now.Add(-time.Minute), Until: now.Add(time.Hour),
		TextFI: "Huoltokatko lauantaina 8–12", TextSV: "Underhåll på lördag 8–12", TextEN: "Maintenance on Saturday 8–12",
	}, account.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	c := newBrowser(t)
	for lang, want := range map[string]string{"en": n.TextEN, "fi": n.TextFI, "sv": n.TextSV} {
		a := send(t, c, http.MethodGet, env.URL+"/login", nil, "Accept-Language", lang)
		mustContainText(t, a.Body, want)
		if !strings.Contains(a.Body, `class="banner"`) {
			t.Fatalf("no banner region:\n%s", a.Body)
		}
	}
	mustContainText(t, send(t, c, http.MethodGet, env.URL+"/password/forgot", nil, "Accept-Language", "en").Body, n.TextEN)
	env.Clock.Advance(2 * time.Hour)
	if a := send(t, c, http.MethodGet, env.URL+"/login", nil, "Accept-Language", "en"); strings.Contains(a.Body, n.TextEN) {
		t.Fatal("the notice still shows after its end")
	}
}
