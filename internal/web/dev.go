package web

import (
	"net/http"
	"regexp"
	"strings"
)

var linkPattern = regexp.MustCompile(`https?://[^\s<>"]+`)

// devMail lists the outbox for a newcomer running portti with no SMTP
// server, so the activation link is one click away. It is only routed in
// dev mode: these messages hold live link secrets.
func (s *Server) devMail(w http.ResponseWriter, r *http.Request) error {
	msgs, err := s.cfg.Store.ListMail(r.Context(), 50)
	if err != nil {
		return err
	}
	type row struct {
		To, Subject, Text, Created string
		Links                      []string
	}
	var rows []row
	for _, m := range msgs {
		rows = append(rows, row{To: m.To, Subject: m.Subject, Text: m.Text, Created: s.formatTime("en", m.CreatedAt), Links: linkPattern.FindAllString(m.Text, -1)})
	}
	p := s.newPage(r, "dev.mail.title")
	p.Data["Mail"] = rows
	s.render(w, r, http.StatusOK, "devmail", p)
	return nil
}

// browserName turns a User-Agent into the few words a person recognises
// in the list of signed-in browsers ("Firefox, Linux").
func browserName(ua string) string {
	browser := "?"
	for _, b := range []struct{ token, name string }{
		// The iOS browsers first: they all end their names with Safari's.
		{"EdgiOS/", "Edge"}, {"CriOS/", "Chrome"}, {"FxiOS/", "Firefox"},
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"}, {"Chrome/", "Chrome"},
		{"Chromium/", "Chromium"}, {"Safari/", "Safari"}, {"curl/", "curl"},
	} {
		if strings.Contains(ua, b.token) {
			browser = b.name
			break
		}
	}
	osName := ""
	for _, o := range []struct{ token, name string }{
		{"Android", "Android"}, {"iPhone", "iPhone"}, {"iPad", "iPad"}, {"Windows", "Windows"},
		{"Mac OS X", "macOS"}, {"CrOS", "ChromeOS"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, o.token) {
			osName = o.name
			break
		}
	}
	if osName == "" {
		return browser
	}
	return browser + ", " + osName
}
