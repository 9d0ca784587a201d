package mail

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"path"
	"strings"
	texttemplate "text/template"
	"time"
	_ "time/tzdata" // Europe/Helsinki must load in minimal containers too
	"unicode"
)

//go:embed templates
var templateFS embed.FS

// Languages are the languages every message is written in. Render falls
// back to English for any other.
var Languages = []string{"fi", "sv", "en"}

const fallbackLang = "en"

// helsinki is the zone of every time shown in a message.
var helsinki = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Helsinki")
	if err != nil {
		panic("mail: " + err.Error()) // cannot happen: time/tzdata is embedded
	}
	return loc
}()

// RendererConfig brands the messages.
type RendererConfig struct {
	// Product is the service's name as people know it, shown in every
	// subject and body. Empty means "portti".
	Product string
	// Support, if set, is where people should turn when something happened
	// that they did not do and no reset link can help (an e-mail address,
	// a phone number or a URL), e.g. "helpdesk@example.fi".
	Support string
	// TermsURL and PrivacyURL give, for a language, where the terms of
	// use and the privacy notice can be read; each message's foot links
	// them. Nil or "": no link.
	TermsURL, PrivacyURL func(lang string) string
}

// Renderer turns a Message into a subject, a plain-text body and an HTML
// body. It is safe for concurrent use.
type Renderer struct {
	cfg     RendererConfig
	product string
	sets    map[string]map[string]*templateSet // kind → lang → templates
}

type templateSet struct {
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

// NewRenderer parses every template. A missing or broken template is an
// error, so a bad build fails at start-up rather than when a mail is due.
func NewRenderer(cfg RendererConfig) (*Renderer, error) {
	if cfg.Product == "" {
		cfg.Product = "portti"
	}
	if strings.IndexFunc(cfg.Product+cfg.Support, unicode.IsControl) >= 0 {
		return nil, errors.New("mail: Product and Support must not contain control characters")
	}
	r := &Renderer{cfg: cfg, product: cfg.Product, sets: make(map[string]map[string]*templateSet)}
	layout, err := fs.ReadFile(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("mail: %w", err)
	}
	var errs []error
	for _, msg := range allMessages {
		kind := msg.Kind()
		r.sets[kind] = make(map[string]*templateSet)
		for _, lang := range Languages {
			set, err := parseSet(kind, lang, string(layout), funcs(lang, cfg))
			if err != nil {
				errs = append(errs, err)
				continue
			}
			r.sets[kind][lang] = set
		}
	}
	// A template directory no message uses is a typo in a message's Kind or
	// in the directory's name.
	dirs, _ := fs.ReadDir(templateFS, "templates")
	for _, d := range dirs {
		if _, ok := r.sets[d.Name()]; d.IsDir() && !ok {
			errs = append(errs, fmt.Errorf("templates/%s: no message of that kind", d.Name()))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("mail: templates: %w", err)
	}
	return r, nil
}

func parseSet(kind, lang, layout string, fm map[string]any) (*templateSet, error) {
	dir := path.Join("templates", kind, lang)
	read := func(name string) (string, error) {
		b, err := fs.ReadFile(templateFS, path.Join(dir, name))
		return string(b), err
	}
	subject, err1 := read("subject.txt")
	text, err2 := read("body.txt")
	html, err3 := read("body.html")
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, err
	}
	var set templateSet
	set.subject, err1 = texttemplate.New(dir + "/subject.txt").Option("missingkey=error").Funcs(fm).Parse(subject)
	set.text, err2 = texttemplate.New(dir + "/body.txt").Option("missingkey=error").Funcs(fm).Parse(text)
	set.html, err3 = htmltemplate.New("layout").Option("missingkey=error").Funcs(fm).Parse(layout)
	if err3 == nil {
		_, err3 = set.html.New("content").Parse(html)
	}
	// shared.txt, when a message has one, holds {{define}}s its subject and
	// both bodies use (a sentence that depends on the data, written once).
	if shared, err := read("shared.txt"); err == nil && err1 == nil && err2 == nil && err3 == nil {
		_, err1 = set.subject.New("shared").Parse(shared)
		_, err2 = set.text.New("shared").Parse(shared)
		_, err3 = set.html.New("shared").Parse(shared)
	}
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, err
	}
	return &set, nil
}

// Render renders msg in lang ("fi", "sv" or "en"; a region such as "sv-FI"
// is ignored, and any other language gets English).
func (r *Renderer) Render(lang string, msg Message) (subject, text, html string, err error) {
	if msg == nil {
		return "", "", "", errors.New("mail: nil message")
	}
	if err := msg.check(); err != nil {
		return "", "", "", fmt.Errorf("mail: %s: %w", msg.Kind(), err)
	}
	set := r.sets[msg.Kind()][normLang(lang)]
	if set == nil {
		return "", "", "", fmt.Errorf("mail: no templates for %q", msg.Kind())
	}
	var b bytes.Buffer
	if err := set.subject.Execute(&b, msg); err != nil {
		return "", "", "", fmt.Errorf("mail: %w", err)
	}
	// A subject is one header line, whatever the template did.
	subject = strings.Join(strings.Fields(b.String()), " ")
	b.Reset()
	if err := set.text.Execute(&b, msg); err != nil {
		return "", "", "", fmt.Errorf("mail: %w", err)
	}
	text = b.String()
	// The documents' addresses at the foot of the plain text too.
	if links := legalLinks(normLang(lang), r.cfg); len(links) > 0 {
		text = strings.TrimRight(text, "\n") + "\n\n"
		for _, l := range links {
			text += l.Label + ": " + l.URL + "\n"
		}
	}
	b.Reset()
	if err := set.html.ExecuteTemplate(&b, "layout", msg); err != nil {
		return "", "", "", fmt.Errorf("mail: %w", err)
	}
	html = b.String()
	return subject, text, html, nil
}

// normLang maps a language tag to one of Languages.
func normLang(tag string) string {
	tag = strings.ToLower(strings.TrimSpace(tag))
	if i := strings.IndexAny(tag, "-_"); i >= 0 {
		tag = tag[:i]
	}
	for _, l := range Languages {
		if tag == l {
			return l
		}
	}
	return fallbackLang
}

// button is what the "button" and "url" HTML templates take; the "link"
// function makes one.
type button struct {
	URL   string
	Label string
}

// funcs are the template functions for one language.
func funcs(lang string, cfg RendererConfig) map[string]any {
	return map[string]any{
		"product":  func() string { return cfg.Product },
		"support":  func() string { return cfg.Support },
		"lang":     func() string { return lang },
		"when":     func(t time.Time) string { return formatTime(lang, t) },
		"date":     func(t time.Time) string { return formatDate(lang, t) },
		"day":      func(t time.Time) string { return formatDay(lang, t) },
		"duration": func(d time.Duration) string { return formatDuration(lang, d) },
		"times":    func(n int) string { return formatTimes(lang, n) },
		"link":     func(url, label string) button { return button{url, label} },
		"legal":    func() []button { return legalLinks(lang, cfg) },
	}
}

// formatTime shows t in Helsinki time the way the language writes it.
func formatTime(lang string, t time.Time) string {
	t = t.In(helsinki)
	switch lang {
	case "fi":
		// "klo 9.05": no leading zero on the hour.
		return fmt.Sprintf("%s klo %d.%02d", t.Format("2.1.2006"), t.Hour(), t.Minute())
	case "sv":
		// Finland-Swedish usage, like Finnish: "kl. 9.05".
		return fmt.Sprintf("%s kl. %d.%02d", t.Format("2.1.2006"), t.Hour(), t.Minute())
	default:
		return t.Format("2 January 2006") + " at " + t.Format("15:04") + " (Helsinki time)"
	}
}

// formatDay shows the day of t in Helsinki: "31.7.2027", "31 July 2027".
func formatDay(lang string, t time.Time) string {
	t = t.In(helsinki)
	if lang == "fi" || lang == "sv" {
		return t.Format("2.1.2006")
	}
	return t.Format("2 January 2006")
}

// formatDuration writes a link's validity as it reads after "valid for":
// whole days (from two days up), whole hours, or minutes rounded up.
func formatDuration(lang string, d time.Duration) string {
	var n int
	unit := "minute"
	switch {
	case d >= 48*time.Hour && d%(24*time.Hour) == 0:
		n, unit = int(d/(24*time.Hour)), "day"
	case d >= time.Hour && d%time.Hour == 0:
		n, unit = int(d/time.Hour), "hour"
	default:
		n = int((d + time.Minute - 1) / time.Minute)
	}
	// [one, many]. Finnish takes the genitive for one ("voimassa tunnin")
	// and the partitive after a numeral ("voimassa 2 tuntia").
	words := map[string]map[string][2]string{
		"fi": {"minute": {"minuutin", "minuuttia"}, "hour": {"tunnin", "tuntia"}, "day": {"päivän", "päivää"}},
		"sv": {"minute": {"en minut", "minuter"}, "hour": {"en timme", "timmar"}, "day": {"en dag", "dagar"}},
		"en": {"minute": {"one minute", "minutes"}, "hour": {"one hour", "hours"}, "day": {"one day", "days"}},
	}
	w, ok := words[lang]
	if !ok {
		w = words[fallbackLang]
	}
	if n == 1 {
		return w[unit][0]
	}
	return fmt.Sprintf("%d %s", n, w[unit][1])
}

// formatTimes writes "n times".
func formatTimes(lang string, n int) string {
	switch lang {
	case "fi":
		if n == 1 {
			return "kerran"
		}
		return fmt.Sprintf("%d kertaa", n)
	case "sv":
		if n == 1 {
			return "en gång"
		}
		return fmt.Sprintf("%d gånger", n)
	default:
		if n == 1 {
			return "once"
		}
		return fmt.Sprintf("%d times", n)
	}
}

// legalNames name the documents in each language.
var legalNames = map[string][2]string{
	"fi": {"Käyttöehdot", "Tietosuojaseloste"},
	"sv": {"Användarvillkor", "Dataskyddsbeskrivning"},
	"en": {"Terms of use", "Privacy notice"},
}

// legalLinks are the terms of use and the privacy notice for lang, those
// configured.
func legalLinks(lang string, cfg RendererConfig) []button {
	names := legalNames[lang]
	if names[0] == "" {
		names = legalNames[fallbackLang]
	}
	var out []button
	for i, f := range []func(string) string{cfg.TermsURL, cfg.PrivacyURL} {
		if f == nil {
			continue
		}
		if u := f(lang); u != "" {
			out = append(out, button{URL: u, Label: names[i]})
		}
	}
	return out
}
