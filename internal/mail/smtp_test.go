package mail

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/portti/portti/internal/mail/smtptest"
	"github.com/portti/portti/internal/storage"
)

func TestNewSMTPSender(t *testing.T) {
	for _, tc := range []struct {
		url      string
		host     string
		port     int
		ssl      bool
		user, pw string
	}{
		{"smtp://mail.example.fi", "mail.example.fi", 25, false, "", ""},
		{"smtp://mail.example.fi:587", "mail.example.fi", 587, false, "", ""},
		{"smtps://mail.example.fi", "mail.example.fi", 465, true, "", ""},
		{"smtps://portti%40example.fi:p%40ss:w0rd@mail.example.fi:465", "mail.example.fi", 465, true, "portti@example.fi", "p@ss:w0rd"},
		{"smtp://user:pw@[::1]:2525/", "::1", 2525, false, "user", "pw"},
	} {
		s, err := NewSMTPSender(tc.url, testFrom)
		if err != nil {
			t.Errorf("NewSMTPSender(%q): %v", tc.url, err)
			continue
		}
		if s.host != tc.host || s.port != tc.port || s.ssl != tc.ssl || s.user != tc.user || s.password != tc.pw {
			t.Errorf("NewSMTPSender(%q) = host %q port %d ssl %v user %q password %q", tc.url, s.host, s.port, s.ssl, s.user, s.password)
		}
	}
}

func TestNewSMTPSenderErrors(t *testing.T) {
	for _, tc := range []struct{ url, from string }{
		{"http://mail.example.fi", testFrom},
		{"mail.example.fi:25", testFrom},
		{"smtp://", testFrom},
		{"smtp://mail.example.fi:0", testFrom},
		{"smtp://mail.example.fi:99999", testFrom},
		{"smtp://mail.example.fi?tls=off", testFrom},
		{"smtp://u:hunter2@mail.example.fi:x", testFrom},
		{"smtp://u:hunter2@mail.example.fi/path", testFrom},
		{"smtp://mail.example.fi", "not an address"},
		{"smtp://mail.example.fi", ""},
	} {
		_, err := NewSMTPSender(tc.url, tc.from)
		if err == nil {
			t.Errorf("NewSMTPSender(%q, %q) succeeded", tc.url, tc.from)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error reveals the password: %v", err)
		}
	}
}

func testMail(to string) storage.Mail {
	return storage.Mail{ID: 7, To: to, Subject: "Hyvää päivää – portti", Text: "Hei!\n", HTML: "<p>Hei!</p>", CreatedAt: time.Now()}
}

func TestSMTPAuth(t *testing.T) {
	srv := smtptest.Start(t, smtptest.WithAuth("portti", "s3cr3t pass"))
	if err := newSender(t, srv.URL()).Send(context.Background(), testMail("a@example.fi")); err != nil {
		t.Fatalf("Send with the right password: %v", err)
	}
	m := srv.WaitFor(t, smtptest.To("a@example.fi"), 5*time.Second)
	if m.Subject != "Hyvää päivää – portti" || m.Text != "Hei!\n" || m.HTML != "<p>Hei!</p>" {
		t.Errorf("received %q %q %q", m.Subject, m.Text, m.HTML)
	}

	bad := "smtp://portti:wrong-pw@" + srv.Addr()
	err := newSender(t, bad).Send(context.Background(), testMail("b@example.fi"))
	if err == nil {
		t.Fatal("Send with a wrong password succeeded")
	}
	if strings.Contains(err.Error(), "wrong-pw") {
		t.Errorf("error reveals the password: %v", err)
	}
	err = newSender(t, "smtp://"+srv.Addr()).Send(context.Background(), testMail("c@example.fi"))
	if err == nil {
		t.Fatal("Send without AUTH to a server requiring it succeeded")
	}
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("received %d messages, want 1", n)
	}
}

func TestSMTPSendRefused(t *testing.T) {
	srv := smtptest.Start(t)
	srv.Stop()
	start := time.Now()
	err := newSender(t, srv.URL()).Send(context.Background(), testMail("a@example.fi"))
	if err == nil {
		t.Fatal("Send to a stopped server succeeded")
	}
	if time.Since(start) > smtpTimeout {
		t.Errorf("refused connection took %v", time.Since(start))
	}
}

func TestMessageIDStable(t *testing.T) {
	s := newSender(t, "smtp://mail.example.fi")
	m := testMail("a@example.fi")
	if a, b := s.messageID(m), s.messageID(m); a != b || !strings.HasSuffix(a, "@example.fi") {
		t.Errorf("messageID = %q, then %q", a, b)
	}
	if a, b := s.messageID(storage.Mail{}), s.messageID(storage.Mail{}); a == b {
		t.Errorf("messageID of unsaved mail repeats: %q", a)
	}
}
