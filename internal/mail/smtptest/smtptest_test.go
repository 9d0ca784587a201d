package smtptest

import (
	"net/smtp"
	"strings"
	"testing"
	"time"
)

const raw = "From: =?utf-8?q?P=C3=B6rtti?= <noreply@example.fi>\r\n" +
	"To: a@example.fi\r\n" +
	"Subject: =?utf-8?q?Hyv=C3=A4=C3=A4_p=C3=A4iv=C3=A4=C3=A4?=\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/alternative; boundary=b1\r\n" +
	"\r\n" +
	"--b1\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"Hyv=C3=A4=C3=A4: https://login.example.fi/a?b=3D1&c=3D2.\r\n" +
	"--b1\r\n" +
	"Content-Type: text/html; charset=utf-8\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"PHA+SHl2w6TDpDwv\r\ncD4=\r\n" +
	"--b1--\r\n"

func send(s *Server, to string) error {
	return smtp.SendMail(s.Addr(), nil, "noreply@example.fi", []string{to}, []byte(raw))
}

func TestReceive(t *testing.T) {
	s := Start(t)
	if !strings.HasPrefix(s.URL(), "smtp://127.0.0.1:") {
		t.Errorf("URL = %q", s.URL())
	}
	if err := send(s, "a@example.fi"); err != nil {
		t.Fatal(err)
	}
	m := s.WaitFor(t, To("A@example.fi"), 5*time.Second)
	want := Message{
		EnvelopeFrom: "noreply@example.fi",
		To:           []string{"a@example.fi"},
		From:         "Pörtti <noreply@example.fi>",
		Subject:      "Hyvää päivää",
		ContentType:  "multipart/alternative",
		Text:         "Hyvää: https://login.example.fi/a?b=1&c=2.",
		HTML:         "<p>Hyvää</p>",
	}
	if m.EnvelopeFrom != want.EnvelopeFrom || strings.Join(m.To, ",") != "a@example.fi" || m.From != want.From ||
		m.Subject != want.Subject || m.ContentType != want.ContentType || m.Text != want.Text || m.HTML != want.HTML {
		t.Errorf("got %+v\nwant %+v", m, want)
	}
	if l := Links(m); len(l) != 1 || l[0] != "https://login.example.fi/a?b=1&c=2" {
		t.Errorf("Links = %q", l)
	}
}

func TestStopRestart(t *testing.T) {
	s := Start(t)
	addr := s.Addr()
	s.Stop()
	if err := send(s, "a@example.fi"); err == nil {
		t.Fatal("sent to a stopped server")
	}
	s.Restart()
	if s.Addr() != addr {
		t.Errorf("address changed from %s to %s", addr, s.Addr())
	}
	if err := send(s, "a@example.fi"); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Messages()); n != 1 {
		t.Errorf("%d messages", n)
	}
	s.Restart() // while running
	if err := send(s, "b@example.fi"); err != nil {
		t.Fatal(err)
	}
	s.Clear()
	if n := len(s.Messages()); n != 0 {
		t.Errorf("%d messages after Clear", n)
	}
}

func TestFailNext(t *testing.T) {
	s := Start(t)
	s.FailNext(2)
	for range 2 {
		if err := send(s, "a@example.fi"); err == nil || !strings.Contains(err.Error(), "451") {
			t.Fatalf("send = %v, want a 451", err)
		}
	}
	if err := send(s, "a@example.fi"); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Messages()); n != 1 {
		t.Errorf("%d messages, want 1", n)
	}
}

func TestAuth(t *testing.T) {
	s := Start(t, WithAuth("u", "p w"))
	if !strings.Contains(s.URL(), "u:p%20w@127.0.0.1:") {
		t.Errorf("URL = %q", s.URL())
	}
	if err := send(s, "a@example.fi"); err == nil {
		t.Error("sent without AUTH")
	}
	auth := smtp.PlainAuth("", "u", "p w", "127.0.0.1")
	if err := smtp.SendMail(s.Addr(), auth, "x@example.fi", []string{"a@example.fi"}, []byte(raw)); err != nil {
		t.Fatal(err)
	}
}
