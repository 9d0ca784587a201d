package admin

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/portti/portti/internal/storage"
)

func TestCleanReason(t *testing.T) {
	for _, c := range []struct {
		in, want string
		err      error
	}{
		{"ticket 4711", "ticket 4711", nil},
		{"  ticket\n 4711\t checked  ", "ticket 4711 checked", nil},
		{"", "", ErrReasonRequired},
		{" \n\t ", "", ErrReasonRequired},
		{"a\x00b", "", ErrInvalid},
		{"a\x1bb", "", ErrInvalid},
		{strings.Repeat("ä", maxReason), strings.Repeat("ä", maxReason), nil},
		{strings.Repeat("ä", maxReason+1), "", ErrInvalid},
		{"\xff", "", ErrInvalid},
	} {
		got, err := cleanReason(c.in)
		if got != c.want || !errors.Is(err, c.err) {
			t.Errorf("cleanReason(%q) = %q, %v; want %q, %v", c.in, got, err, c.want, c.err)
		}
	}
}

// FuzzCleanReason: whatever a form posts, a reason that is accepted is
// one non-empty line of valid UTF-8 within the limit, with nothing that
// could forge a line of the log or the audit trail.
func FuzzCleanReason(f *testing.F) {
	for _, s := range []string{"ticket 4711", "", "a\nb", "\x00", "ä\u2028b", "\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := cleanReason(s)
		if err != nil {
			return
		}
		if got == "" || !utf8.ValidString(got) || utf8.RuneCountInString(got) > maxReason ||
			strings.ContainsFunc(got, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Fatalf("cleanReason(%q) accepted %q", s, got)
		}
	})
}

func TestNoticeTextFallback(t *testing.T) {
	n := storage.Notice{TextFI: "fi", TextSV: "sv", TextEN: "en"}
	for lang, want := range map[string]string{"fi": "fi", "sv": "sv", "en": "en", "de": "en"} {
		if got := n.Text(lang); got != want {
			t.Errorf("Text(%q) = %q, want %q", lang, got, want)
		}
	}
	if got := (storage.Notice{TextFI: "vain suomeksi"}).Text("sv"); got != "vain suomeksi" {
		t.Errorf("a notice in Finnish only reads %q in Swedish", got)
	}
}

func TestApplies(t *testing.T) {
	active := Explanation{Account: storage.Account{ActivatedAt: time.Unix(1, 0)}}
	disabled := Explanation{Account: storage.Account{ActivatedAt: time.Unix(1, 0), Disabled: true}}
	if applies(ActEnable, active) || !applies(ActDisable, active) || applies(ActResendActivation, active) {
		t.Error("an active account is offered the wrong actions")
	}
	if !applies(ActEnable, disabled) || applies(ActDisable, disabled) || applies(ActSendReset, disabled) {
		t.Error("a disabled account is offered the wrong actions")
	}
	if applies(ActResetMFA, active) || applies(ActEndSessions, active) {
		t.Error("nothing to reset or end, yet offered")
	}
}
