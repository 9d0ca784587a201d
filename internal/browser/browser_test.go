package browser

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/portti/portti/internal/app/apptest"
)

// start runs a portti for the test and opens a browser tab on it.
func start(t *testing.T) *tab {
	t.Helper()
	startChromium(t) // skip (or fail) before starting portti
	return newTab(t, apptest.Start(t, nil))
}

// person is someone who registers, with every field of the form.
type person struct {
	email, password              string
	given, family, phone         string
	street, postalCode, locality string
}

func maija(email string) person {
	return person{
		email: email, password: "kesämökki järven rannalla",
		given: "Maija", family: "Meikäläinen", phone: "+358 40 123 4567",
		street: "Mannerheimintie 1 A 2", postalCode: "00100", locality: "Helsinki",
	}
}

// fillRegistration fills in every field of the registration form, the
// optional ones too, and ticks the terms.
func (b *tab) fillRegistration(p person) {
	b.t.Helper()
	b.fill("email", p.email)
	b.fill("email_confirm", p.email)
	b.fill("password", p.password)
	b.fill("password_confirm", p.password)
	b.fill("given_name", p.given)
	b.fill("family_name", p.family)
	b.fill("phone_number", p.phone)
	b.fill("street_address", p.street)
	b.fill("postal_code", p.postalCode)
	b.fill("locality", p.locality)
	b.tick("accept_terms")
}

// signUp registers p through the form and activates the account from the
// e-mail. It leaves the tab on the activated page.
func (b *tab) signUp(p person) {
	b.t.Helper()
	b.open("/register", 200)
	b.fillRegistration(p)
	b.submit("/register", 200)
	b.open(b.mailLink(p.email, "/activate"), 200)
}

// logIn fills in the login form on the current page and submits it.
func (b *tab) logIn(email, password string, remember bool, want int) {
	b.t.Helper()
	b.fill("email", email)
	b.fill("password", password)
	if remember {
		b.tick("remember_me")
	}
	b.submit("/login", want)
}

// TestBrowserJourney walks the newcomer's path: register, activate from the
// e-mail, log in with "remember me", see the account, log out.
func TestBrowserJourney(t *testing.T) {
	b := start(t)
	p := maija("maija.meikalainen@example.fi")

	b.open("/", 200)
	b.at("/login")
	if got := b.lang(); got != "en" {
		t.Fatalf("a browser asking for English got <html lang=%q>", got)
	}
	b.click(`main a[href="/register"]`, 200)
	b.at("/register")
	b.heading("Create an account")
	b.fillRegistration(p)
	b.submit("/register", 200)
	b.heading("Check your email")
	b.see(p.email, "noreply@portti.test")

	b.open(b.mailLink(p.email, "/activate"), 200)
	b.heading("Account activated")
	b.see("Your account is now active")

	// The page's button leads to the login form with the address filled in.
	b.click(`main a.button`, 200)
	b.at("/login")
	if got := b.value("email"); got != p.email {
		t.Fatalf("login form after activation has e-mail %q, want %q", got, p.email)
	}
	b.fill("password", p.password)
	b.tick("remember_me")
	b.submit("/login", 200)
	b.at("/account")
	b.see("You are signed in as "+p.email, "(this browser)", "remembered")

	// "Remember me" gives a cookie that outlives the browser session.
	var remembered bool
	for _, c := range b.cookies() {
		if c.Name == "portti-remember" {
			remembered = !c.Session && c.Expires > 0
		}
	}
	if !remembered {
		t.Fatalf("no persistent portti-remember cookie after logging in with remember me: %+v", b.cookies())
	}

	b.submit("/logout", 200)
	b.at("/login")
	if got := b.text(`main .notice[role=status]`); got != "You have signed out." {
		t.Fatalf("logout notice %q", got)
	}
	// Logged out means logged out: the account page sends to the login form.
	b.open("/account", 200)
	b.at("/login")
}

// formField is what the validation test reads about one form control.
type formField struct {
	ID           string   `json:"id"`
	Invalid      string   `json:"invalid"`
	Required     bool     `json:"required"`
	DescribedBy  []string `json:"describedBy"`
	Missing      []string `json:"missing"`     // described-by ids with no element
	Description  string   `json:"description"` // the texts they point at
	ErrorsShown  bool     `json:"errorsShown"` // every error text it points at is visible
	ErrorsLinked bool     `json:"errorsLinked"`
	Value        string   `json:"value"`
}

type formState struct {
	Fields  []formField `json:"fields"`
	Summary *struct {
		Role     string `json:"role"`
		TabIndex int    `json:"tabIndex"`
		Visible  bool   `json:"visible"`
		Links    []struct {
			Href string `json:"href"`
			Text string `json:"text"`
		} `json:"links"`
	} `json:"summary"`
}

// readForm describes the registration form's controls and error summary.
const readForm = `(() => {
  const visible = e => !!e && e.getClientRects().length > 0 && getComputedStyle(e).visibility !== "hidden";
  const form = document.querySelector('form[action="/register"]');
  const fields = [...form.querySelectorAll("input:not([type=hidden])")].map(el => {
    const ids = (el.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
    const targets = ids.map(id => document.getElementById(id)).filter(Boolean);
    const errors = [...el.closest(".field").querySelectorAll(".error")];
    return {
      id: el.id,
      invalid: el.getAttribute("aria-invalid") || "",
      required: el.getAttribute("aria-required") === "true",
      describedBy: ids,
      missing: ids.filter(id => !document.getElementById(id)),
      description: targets.map(e => e.innerText.trim()).join(" | "),
      errorsShown: errors.every(visible),
      errorsLinked: errors.every(e => e.id && ids.includes(e.id)),
      value: el.type === "checkbox" ? String(el.checked) : el.value,
    };
  });
  const s = document.querySelector(".error-summary");
  return {fields, summary: s && {
    role: s.getAttribute("role") || "", tabIndex: s.tabIndex, visible: visible(s),
    links: [...s.querySelectorAll("a")].map(a => ({href: a.getAttribute("href"), text: a.innerText.trim()})),
  }};
})()`

// checkErrors checks that exactly the fields in want are marked invalid,
// each described by its visible error text, and that the error summary
// lists them, links to them, and can take focus.
func (b *tab) checkErrors(want map[string]string) formState {
	b.t.Helper()
	t := b.t
	st := evalJS[formState](b, readForm)
	if st.Summary == nil {
		t.Fatalf("no error summary on %s:\n%s", b.path(), b.mainText())
	}
	if !st.Summary.Visible || st.Summary.Role != "alert" || st.Summary.TabIndex != -1 {
		t.Errorf("error summary: visible %v, role %q, tabindex %d; want visible, alert, -1", st.Summary.Visible, st.Summary.Role, st.Summary.TabIndex)
	}
	var invalid []string
	for _, f := range st.Fields {
		wantText, isWanted := want[f.ID]
		switch {
		case f.Invalid == "true" && !isWanted:
			t.Errorf("#%s is aria-invalid but should be fine (%s)", f.ID, f.Description)
		case f.Invalid != "true" && isWanted:
			t.Errorf("#%s is not aria-invalid; want an error saying %q", f.ID, wantText)
		}
		if f.Invalid == "true" {
			invalid = append(invalid, f.ID)
		}
		if len(f.Missing) > 0 {
			t.Errorf("#%s: aria-describedby names elements that do not exist: %v", f.ID, f.Missing)
		}
		if !f.ErrorsShown || !f.ErrorsLinked {
			t.Errorf("#%s: error texts visible %v, tied to the input by aria-describedby %v (%v)", f.ID, f.ErrorsShown, f.ErrorsLinked, f.DescribedBy)
		}
		if isWanted && !strings.Contains(f.Description, wantText) {
			t.Errorf("#%s is described as %q; want it to say %q", f.ID, f.Description, wantText)
		}
	}
	// The summary links to each invalid field, in the order of the form.
	var linked []string
	for _, l := range st.Summary.Links {
		id, ok := strings.CutPrefix(l.Href, "#")
		if !ok || !slices.Contains(invalid, id) {
			t.Errorf("error summary entry %q links to %q, not to an invalid field", l.Text, l.Href)
		}
		if !slices.Contains(linked, id) {
			linked = append(linked, id)
		}
	}
	if !slices.Equal(linked, invalid) {
		t.Errorf("error summary links to %v; the invalid fields, in the form's order, are %v", linked, invalid)
	}
	// The summary and every invalid field can take focus.
	if !evalJS[bool](b, `(() => { const s = document.querySelector(".error-summary"); s.focus(); return document.activeElement === s; })()`) {
		t.Errorf("the error summary cannot take focus")
	}
	for _, id := range invalid {
		b.do("focus #"+id, chromedp.Focus(chromedp.ID(id)))
		if got := evalJS[string](b, `document.activeElement.id`); got != id {
			t.Errorf("focusing #%s focused %q", id, got)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	return st
}

func fieldValues(st formState) map[string]string {
	m := map[string]string{}
	for _, f := range st.Fields {
		m[f.ID] = f.Value
	}
	return m
}

// TestBrowserValidation submits the registration form wrong and checks
// what a person, and a screen reader, is told.
func TestBrowserValidation(t *testing.T) {
	b := start(t)
	p := maija("maija@example.fi")

	b.open("/register", 200)
	b.checkTabOrder()
	b.submit("/register", 422)
	b.heading("Create an account")
	// Every field marked required says so; the optional ones are fine.
	st := b.checkErrors(map[string]string{
		"email":            "This field is required.",
		"email_confirm":    "This field is required.",
		"password":         "This field is required.",
		"password_confirm": "This field is required.",
		"given_name":       "This field is required.",
		"family_name":      "This field is required.",
		"accept_terms":     "You must accept the terms of use",
	})
	for _, f := range st.Fields {
		optional := slices.Contains([]string{"phone_number", "street_address", "postal_code", "locality"}, f.ID)
		if f.Required == optional {
			t.Errorf("#%s: aria-required %v", f.ID, f.Required)
		}
	}
	b.see("Please correct the following")

	// The summary's links take the person to the field.
	b.do("follow the summary's first link", chromedp.Click(chromedp.CSS(`.error-summary a[href="#email"]`)))
	if got := b.location(); !strings.HasSuffix(got, "#email") {
		t.Fatalf("the summary link to the e-mail field went to %s", got)
	}

	// Everything right but a mistyped confirmation and the terms.
	b.open("/register", 200)
	b.fillRegistration(p)
	b.fill("email_confirm", "maija@exmaple.fi")
	b.do("untick the terms", chromedp.Click(chromedp.ID("accept_terms")))
	b.submit("/register", 422)
	st = b.checkErrors(map[string]string{
		"email_confirm": "The email addresses do not match.",
		"accept_terms":  "You must accept the terms of use",
	})
	b.see("Confirm email address: The email addresses do not match.")
	// What was typed is kept, except the passwords.
	want := map[string]string{
		"email": p.email, "email_confirm": "maija@exmaple.fi", "password": "", "password_confirm": "",
		"given_name": p.given, "family_name": p.family, "phone_number": p.phone,
		"street_address": p.street, "postal_code": p.postalCode, "locality": p.locality, "accept_terms": "false",
	}
	if got := fieldValues(st); !mapsEqual(got, want) {
		t.Fatalf("after a failed submit the form holds\n%v\nwant\n%v", got, want)
	}

	// Correcting the two mistakes (and typing the passwords again) is enough.
	b.fill("email_confirm", p.email)
	b.fill("password", p.password)
	b.fill("password_confirm", p.password)
	b.tick("accept_terms")
	b.submit("/register", 200)
	b.heading("Check your email")
	b.mailLink(p.email, "/activate")
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// focused describes document.activeElement.
type focused struct {
	Desc    string `json:"desc"`
	InForm  bool   `json:"inForm"`
	Visible bool   `json:"visible"`
	Outline string `json:"outline"` // the focus indicator's style
}

const readFocus = `(() => {
  const e = document.activeElement;
  if (!e || e === document.body) return {desc: "body", inForm: false, visible: false};
  let desc = e.id ? "#" + e.id : e.tagName.toLowerCase();
  if (!e.id && e.classList.length) desc += "." + [...e.classList].join(".");
  if (e.tagName === "A") desc += "[href=" + e.getAttribute("href") + "]";
  if (e.tagName === "BUTTON") desc += "[" + e.type + "]";
  const r = e.getBoundingClientRect();
  return {desc, inForm: !!e.closest('form[action="/register"]'),
    visible: r.width > 0 && r.height > 0 && r.right > 0 && r.left < innerWidth,
    outline: getComputedStyle(e).outlineStyle};
})()`

// checkTabOrder presses Tab from the top of the registration page: focus
// goes to the skip link first and then through the form's controls in
// reading order, the e-mail address first and the submit button last.
func (b *tab) checkTabOrder() {
	b.t.Helper()
	t := b.t
	var order []focused
	for range 30 {
		b.do("press Tab", chromedp.KeyEvent("\t"))
		f := evalJS[focused](b, readFocus)
		order = append(order, f)
		if f.Desc == "button[submit]" && f.InForm {
			break
		}
	}
	var all, form []string
	for _, f := range order {
		all = append(all, f.Desc)
		if f.InForm {
			form = append(form, f.Desc)
		}
		if !f.Visible {
			t.Errorf("%s has focus but is not visible", f.Desc)
		}
		if f.Outline == "none" || f.Outline == "" {
			t.Errorf("%s has focus but no focus outline", f.Desc)
		}
	}
	if order[0].Desc != "a.skip[href=#main]" {
		t.Errorf("the first Tab focused %s; want the skip link", order[0].Desc)
	}
	want := []string{"#email", "#email_confirm", "#password", "#password_confirm", "#given_name", "#family_name",
		"#phone_number", "#street_address", "#postal_code", "#locality", "#accept_terms", "button[submit]"}
	if !slices.Equal(form, want) {
		t.Errorf("Tab goes through the form as\n%v\nwant\n%v\n(all stops: %v)", form, want, all)
	}
	if i := slices.Index(all, "#email"); i < 0 || i > 6 {
		t.Errorf("the e-mail field is Tab stop %d; want it among the first few (stops: %v)", i+1, all)
	}
	if t.Failed() {
		t.FailNow()
	}
}

// TestBrowserLockout locks an account with wrong passwords and unlocks it
// the way the locked page offers: a password reset by e-mail.
func TestBrowserLockout(t *testing.T) {
	b := start(t)
	p := maija("lukko@example.fi")
	b.signUp(p)

	b.open("/login", 200)
	for i := range 5 {
		b.logIn(p.email, fmt.Sprintf("wrong password %d", i), false, 401)
		b.see("The email address or password is not correct.")
		if got := b.value("email"); got != p.email {
			t.Fatalf("after a wrong password the e-mail field holds %q", got)
		}
	}
	b.logIn(p.email, p.password, false, 403)
	b.heading("Account locked")
	b.see("Your account has been locked", "after too many wrong passwords")
	// The owner is told by e-mail, with a way to unlock.
	b.mailLink(p.email, "/password/forgot")

	b.click(`main a.button`, 200)
	b.at("/password/forgot")
	if got := b.value("email"); got != p.email {
		t.Fatalf("the reset form from the locked page holds %q, want %q", got, p.email)
	}
	b.submit("/password/forgot", 200)
	b.heading("Check your email")

	const newPassword = "uusi salasana syksyllä"
	b.open(b.mailLink(p.email, "/password/reset"), 200)
	b.heading("Choose a new password")
	b.see("Account: " + p.email)
	b.fill("password", newPassword)
	b.fill("password_confirm", newPassword)
	b.submit("/password/reset", 200)
	b.at("/login")
	b.see("Your password has been changed. Sign in with the new password.")

	b.logIn(p.email, newPassword, false, 200)
	b.at("/account")
	b.see("You are signed in as " + p.email)
}

// TestBrowserForgotPassword is the forgotten-password flow from the login
// page, with a mistake on the way, and the used link explained after.
func TestBrowserForgotPassword(t *testing.T) {
	b := start(t)
	p := maija("unohtaja@example.fi")
	b.signUp(p)

	b.open("/login", 200)
	b.click(`main a[href^="/password/forgot"]`, 200)
	b.heading("Forgot your password?")
	b.fill("email", p.email)
	b.submit("/password/forgot", 200)
	b.heading("Check your email")
	b.see(p.email, "noreply@portti.test")

	link := b.mailLink(p.email, "/password/reset")
	b.open(link, 200)
	b.heading("Choose a new password")
	b.see("Account: " + p.email)

	// Passwords that do not match: told so, and nothing changes.
	const newPassword = "talvella hiihdetään"
	b.fill("password", newPassword)
	b.fill("password_confirm", newPassword+"!")
	b.submit("/password/reset", 422)
	b.see("The passwords do not match.")
	if got := evalJS[string](b, `document.getElementById("password_confirm").getAttribute("aria-invalid")`); got != "true" {
		t.Fatalf("the mismatched confirmation is not aria-invalid (%q)", got)
	}
	b.fill("password", newPassword)
	b.fill("password_confirm", newPassword)
	b.submit("/password/reset", 200)
	b.at("/login")
	b.see("Your password has been changed.")
	if got := b.value("email"); got != p.email {
		t.Fatalf("login form after reset holds %q", got)
	}

	// The old password no longer works; the new one does.
	b.logIn(p.email, p.password, false, 401)
	b.logIn(p.email, newPassword, false, 200)
	b.at("/account")
	b.see("You are signed in as " + p.email)

	// The link was for one use: it now explains, and offers a new one.
	b.open(link, 410)
	b.heading("This link cannot be used")
	b.see("already been used")
	b.click(`main a.button[href="/password/forgot"]`, 200)
	b.heading("Forgot your password?")
}

// languagePage is what the languages test reads from the login page.
type languagePage struct {
	Lang     string   `json:"lang"`
	Current  string   `json:"current"`  // the switcher's entry marked aria-current
	Switches []string `json:"switches"` // the switcher's other entries: lang=name
	Title    string   `json:"title"`
	Heading  string   `json:"heading"`
	Email    string   `json:"email"`
	Password string   `json:"password"`
	Submit   string   `json:"submit"`
	Text     string   `json:"text"`
}

const readLanguagePage = `(() => {
  const t = s => (document.querySelector(s) || {innerText: ""}).innerText.trim();
  const cur = document.querySelector(".langs [aria-current]");
  return {
    lang: document.documentElement.lang,
    current: cur ? cur.getAttribute("lang") + "=" + cur.innerText.trim() : "",
    switches: [...document.querySelectorAll(".langs a")].map(a => a.getAttribute("hreflang") + "=" + a.innerText.trim()),
    title: document.title, heading: t("h1"),
    email: t('label[for="email"]'), password: t('label[for="password"]'),
    submit: t('form[action="/login"] button[type=submit]'),
    text: document.body.innerText,
  };
})()`

// TestBrowserLanguages switches the login page to each language with the
// page's own switcher and checks the page is in that language.
func TestBrowserLanguages(t *testing.T) {
	b := start(t)
	names := map[string]string{"fi": "Suomi", "sv": "Svenska", "en": "English"}

	b.open("/login", 200)
	pages := map[string]languagePage{}
	for _, lang := range []string{"fi", "sv", "en"} {
		resp := b.click(fmt.Sprintf(`header nav a[hreflang=%q]`, lang), 200)
		b.at("/login") // the switcher returns to the same page
		if got := resp.Headers["Content-Language"]; got != lang {
			t.Errorf("%s: Content-Language %v", lang, got)
		}
		pg := evalJS[languagePage](b, readLanguagePage)
		if pg.Lang != lang {
			t.Errorf("switched to %s: <html lang=%q>", lang, pg.Lang)
		}
		if want := lang + "=" + names[lang]; pg.Current != want {
			t.Errorf("%s: the switcher marks %q as current, want %q", lang, pg.Current, want)
		}
		var wantSwitches []string
		for _, l := range []string{"fi", "sv", "en"} {
			if l != lang {
				wantSwitches = append(wantSwitches, l+"="+names[l])
			}
		}
		if !slices.Equal(pg.Switches, wantSwitches) {
			t.Errorf("%s: the switcher offers %v, want %v", lang, pg.Switches, wantSwitches)
		}
		if pg.Heading == "" || pg.Email == "" || pg.Password == "" || pg.Submit == "" {
			t.Errorf("%s: login page lacks texts: %+v", lang, pg)
		}
		pages[lang] = pg

		// The choice holds on the next page.
		b.click(`main a[href="/register"]`, 200)
		if got := b.lang(); got != lang {
			t.Errorf("chose %s, but the registration page is in %q", lang, got)
		}
		b.open("/login", 200)
	}
	for _, pair := range [][2]string{{"fi", "sv"}, {"fi", "en"}, {"sv", "en"}} {
		a, c := pages[pair[0]], pages[pair[1]]
		if a.Text == c.Text {
			t.Errorf("the login page reads the same in %s and %s:\n%s", pair[0], pair[1], a.Text)
			continue
		}
		// Single texts may still await translation; say which.
		for _, f := range [][3]string{{"title", a.Title, c.Title}, {"heading", a.Heading, c.Heading},
			{"e-mail label", a.Email, c.Email}, {"password label", a.Password, c.Password}, {"button", a.Submit, c.Submit}} {
			if f[1] == f[2] {
				t.Logf("note: the login page's %s is %q in both %s and %s", f[0], f[1], pair[0], pair[1])
			}
		}
	}
}

// TestBrowserScreenshots walks every page in each language and saves a
// full-page screenshot of each as <lang>-<page>.png in the artifacts
// folder, for people to look at.
func TestBrowserScreenshots(t *testing.T) {
	startChromium(t) // skip (or fail) before starting portti
	env := apptest.Start(t, nil)
	for _, lang := range []string{"fi", "sv", "en"} {
		t.Run(lang, func(t *testing.T) {
			t.Parallel() // each language in its own browser context
			timeout := testTimeout
			if lang == "en" {
				timeout = 3 * testTimeout // axe-core on every page
			}
			b := newTabFor(t, env, timeout)
			shot := func(page string) {
				t.Helper()
				pg := evalJS[struct {
					Lang    string `json:"lang"`
					Title   string `json:"title"`
					Heading string `json:"heading"`
				}](b, `({lang: document.documentElement.lang, title: document.title, heading: document.querySelector("h1").innerText.trim()})`)
				if pg.Lang != lang {
					t.Fatalf("%s page is in %q, want %s", page, pg.Lang, lang)
				}
				if !strings.HasPrefix(pg.Title, pg.Heading+" – ") {
					t.Logf("note: %s-%s: the window title %q does not name the page's heading %q", lang, page, pg.Title, pg.Heading)
				}
				b.screenshot(lang + "-" + page)
				if lang == "en" {
					// One language is enough for axe-core (the markup is
					// the same), and it takes a second or two a page.
					b.checkAxe(lang + "-" + page)
				}
			}
			p := maija("kuvat." + lang + "@example.fi")

			b.open("/register", 200)
			if lang != "en" {
				b.click(fmt.Sprintf(`header nav a[hreflang=%q]`, lang), 200)
			}
			b.at("/register")
			shot("register")
			b.submit("/register", 422)
			shot("register-errors")
			b.fillRegistration(p)
			b.submit("/register", 200)
			shot("check-mail")
			b.open(b.mailLink(p.email, "/activate"), 200)
			shot("activated")
			b.click(`main a.button`, 200)
			shot("login")
			b.logIn(p.email, p.password, true, 200)
			b.at("/account")
			shot("account")
			b.submit("/logout", 200)
			shot("logged-out")
			b.logIn(p.email, "wrong password", false, 401)
			shot("login-failed")
			for range 4 {
				b.logIn(p.email, "wrong password", false, 401)
			}
			b.logIn(p.email, p.password, false, 403)
			shot("locked")
			b.click(`main a.button`, 200)
			shot("forgot")
			b.submit("/password/forgot", 200)
			shot("forgot-sent")
			link := b.mailLink(p.email, "/password/reset")
			b.open(link, 200)
			shot("reset")
			b.fill("password", "lyhyt")
			b.fill("password_confirm", "pitkä")
			b.submit("/password/reset", 422)
			shot("reset-errors")
		})
	}
}
