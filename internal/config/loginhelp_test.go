package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestUsernameFormatsAndRegistryDelay(t *testing.T) {
	path := writeYAML(t, `provision:
  registry_delay_text:
    fi: Huomenna.
    en: Tomorrow.
  username_formats:
    - type: staff
      domain: Example.fi
      format: {fi: etunimi.sukunimi@example.fi, en: firstname.lastname@example.fi}
    - type: student
      domain: student.example.fi
      format: username@student.example.fi
`)
	cfg, err := Load(path, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := []UsernameFormat{
		{Type: "staff", Domain: "Example.fi", Format: map[string]string{"fi": "etunimi.sukunimi@example.fi", "en": "firstname.lastname@example.fi"}},
		{Type: "student", Domain: "student.example.fi", Format: map[string]string{"fi": "username@student.example.fi", "sv": "username@student.example.fi", "en": "username@student.example.fi"}},
	}
	if !reflect.DeepEqual(cfg.Provision.UsernameFormats, want) {
		t.Errorf("formats %+v\nwant %+v", cfg.Provision.UsernameFormats, want)
	}
	// A language without its own text falls back to English.
	for lang, want := range map[string]string{"fi": "Huomenna.", "sv": "Tomorrow.", "en": "Tomorrow."} {
		if got := cfg.RegistryDelay(lang); got != want {
			t.Errorf("RegistryDelay(%s) = %q, want %q", lang, got, want)
		}
	}
	if got := cfg.UsernameFormats(); len(got) != 2 || got[1].Text["en"] != "username@student.example.fi" {
		t.Errorf("UsernameFormats() = %+v", got)
	}

	// The environment gives one text for every language.
	cfg, err = Load(writeYAML(t, ""), env(map[string]string{"PORTTI_PROVISION_REGISTRY_DELAY_TEXT": "Usually the next day, after enrolment."}))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.RegistryDelay("sv"); got != "Usually the next day, after enrolment." {
		t.Errorf("from the environment: %q", got)
	}
}

func TestUsernameFormatsInvalid(t *testing.T) {
	path := writeYAML(t, `provision:
  registry_delay_text: {de: Morgen}
  username_formats:
    - type: staff
      domain: "*.example.fi"
      format: {en: x}
    - domain: example.fi
      format: {en: x}
    - type: student
      domain: student.example.fi
      colour: blue
    - just a string
`)
	_, err := Load(path, env(nil))
	if err == nil {
		t.Fatal("accepted")
	}
	msg := err.Error()
	for _, want := range []string{"provision.registry_delay_text.de", "provision.username_formats[0]", "provision.username_formats[1]",
		"provision.username_formats[2].colour", "provision.username_formats[3]"} {
		if !strings.Contains(msg, want) {
			t.Errorf("no problem named %s in:\n%s", want, msg)
		}
	}
	if _, err := Load(writeYAML(t, ""), env(map[string]string{"PORTTI_PROVISION_USERNAME_FORMATS": "x"})); err == nil {
		t.Error("username formats taken from the environment")
	}
}
