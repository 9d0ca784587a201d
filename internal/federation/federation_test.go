package federation

import (
	"testing"
	"time"

	"github.com/portti/portti/internal/authn"
	"github.com/portti/portti/internal/proofing"
	"github.com/portti/portti/internal/storage"
)

func testService(t *testing.T) *Service { return testServiceF(t) }

func testServiceF(t testing.TB) *Service {
	t.Helper()
	s, err := New(Config{PublicURL: "https://portti.example", Providers: []Provider{
		{Provider: proofing.Provider{ID: "tuni", Name: map[string]string{"fi": "Tampereen yliopisto", "sv": "Tammerfors universitet", "en": "Tampere University"},
			TokenEndpointAuth: proofing.AuthClientSecretBasic}},
		{Provider: proofing.Provider{ID: "abo", Name: map[string]string{"fi": "Åbo Akademi", "sv": "Åbo Akademi", "en": "Åbo Akademi University"},
			TokenEndpointAuth: proofing.AuthClientSecretBasic}},
		{Provider: proofing.Provider{ID: "oulu", Name: map[string]string{"fi": "Oulun yliopisto", "sv": "Uleåborgs universitet", "en": "University of Oulu"},
			TokenEndpointAuth: proofing.AuthClientSecretBasic}, TrustMFA: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func ids(cs []Choice) string {
	out := ""
	for _, c := range cs {
		out += c.ID + " "
	}
	return out
}

func TestSearch(t *testing.T) {
	s := testService(t)
	for _, tc := range []struct{ q, lang, want string }{
		{"", "fi", "oulu tuni abo "}, // Finnish collation: Å after O and T
		{"", "en", "abo tuni oulu "}, // English: Å with A
		{"yliopisto", "en", "tuni oulu "},
		{"UNIVERSITET", "fi", "oulu tuni "},    // Swedish names, any case
		{"uleåborg", "fi", "oulu "},            // NFC å
		{"ule\u0061\u030aborg", "fi", "oulu "}, // a decomposed å typed
		{"åbo akad", "en", "abo "},             // every word
		{"tuni", "sv", "tuni "},                // the id
		{"harvard", "en", ""},
	} {
		if got := ids(s.Search(tc.q, tc.lang)); got != tc.want {
			t.Errorf("Search(%q, %s) = %q, want %q", tc.q, tc.lang, got, tc.want)
		}
	}
	if got := s.Search("oulu", "sv"); len(got) != 1 || got[0].Name != "Uleåborgs universitet" {
		t.Errorf("names are in the page's language: %+v", got)
	}
}

func TestNewRefusesDuplicatesAndMissingKeys(t *testing.T) {
	p := Provider{Provider: proofing.Provider{ID: "x", TokenEndpointAuth: proofing.AuthClientSecretBasic}}
	if _, err := New(Config{Providers: []Provider{p, p}}); err == nil {
		t.Error("a provider given twice was accepted")
	}
	p.TokenEndpointAuth = proofing.AuthPrivateKeyJWT
	if _, err := New(Config{Providers: []Provider{p}}); err == nil {
		t.Error("private_key_jwt without keys was accepted")
	}
}

func TestFactors(t *testing.T) {
	s := testService(t)
	s.cfg.Now = func() time.Time { return time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC) }
	reg := authn.NewRegistry(Methods()...)
	plainSignIn := s.factors(Upstream{Provider: "tuni", AMR: []string{"pwd", "mfa", "fed"}})
	if plainSignIn[0].Method != MethodFed || reg.MultiFactor(plainSignIn) {
		t.Fatalf("a sign-in without MFA at home: %+v", plainSignIn)
	}
	if amr := reg.AMR(plainSignIn); len(amr) != 2 || amr[0] != "fed" || amr[1] != "pwd" {
		t.Fatalf("amr = %v: an untrusted upstream's own mfa claim must not count", amr)
	}
	mfa := s.factors(Upstream{Provider: "oulu", MFA: true})
	if mfa[0].Method != MethodFedMFA || !reg.MultiFactor(mfa) {
		t.Fatalf("MFA at a trusted home: %+v", mfa)
	}
	if Local(mfa) || !Local(append(mfa, storage.AuthFactor{Method: authn.MethodPassword})) {
		t.Fatal("Local")
	}
}

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{
		"/account": "/account", "/oauth2/authorize?x=1": "/oauth2/authorize?x=1",
		"//evil.example": "", "/\\evil.example": "", "https://evil.example/": "", "": "", "/a\nb": "",
	} {
		if got := localPath(in); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPlain(t *testing.T) {
	long := make([]byte, 256)
	for i := range long {
		long[i] = 'a'
	}
	for in, want := range map[string]bool{"s1": true, "": false, "a\x00b": false, string(long): false, "\xff": false, "248289761001": true} {
		if plain(in) != want {
			t.Errorf("plain(%q) = %v", in, !want)
		}
	}
}
