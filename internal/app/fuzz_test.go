package app_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/portti/portti/internal/app/apptest"
)

// FuzzForm posts arbitrary bodies to the public forms of a real portti: no
// input is a server error, and none panics.
func FuzzForm(f *testing.F) {
	env := apptest.Start(f, nil)
	addUser(f, env, "aino@example.fi", goodPassword)
	h := env.App.Handler()
	paths := []string{"/register", "/login", "/password/forgot", "/password/reset", "/activate/resend", "/email/confirm", "/logout",
		"/activation", "/activation/password"}
	types := []string{"application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=iso-8859-1",
		"multipart/form-data; boundary=x", "text/plain", ""}

	for i := range paths {
		f.Add(uint8(i), uint8(0), "")
	}
	f.Add(uint8(0), uint8(0), registration("maija@example.fi", goodPassword).Encode())
	f.Add(uint8(0), uint8(0), registration("Maija@Example.FI\u0301", goodPassword+"\x00").Encode())
	f.Add(uint8(0), uint8(0), "email=a%40b.c&email=x&email_confirm=&password=%00%ff&given_name="+strings.Repeat("%C3%A4", 300))
	f.Add(uint8(1), uint8(0), url.Values{"email": {"aino@example.fi"}, "password": {goodPassword}, "return": {"//evil.example"}}.Encode())
	f.Add(uint8(1), uint8(0), url.Values{"email": {"aino@example.fi"}, "password": {strings.Repeat("x", 5000)}}.Encode())
	f.Add(uint8(2), uint8(1), "email=%E4%F6@example.fi")
	f.Add(uint8(3), uint8(0), "token="+strings.Repeat("A", 43)+"&password=a&password_confirm=b")
	f.Add(uint8(4), uint8(0), "email=aino@example.fi&token=")
	f.Add(uint8(5), uint8(0), "token=%zz")
	f.Add(uint8(1), uint8(2), "--x\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\naino@example.fi\r\n--x--\r\n")
	f.Add(uint8(0), uint8(0), "a=1;b=2&email=")
	f.Add(uint8(6), uint8(0), "account_id=../../x")
	f.Add(uint8(7), uint8(0), "email=Aino@Student.example.fi.")
	f.Add(uint8(8), uint8(0), "token="+strings.Repeat("A", 43)+"&password=a&password_confirm=a")

	f.Fuzz(func(t *testing.T, path, ctype uint8, body string) {
		p := paths[int(path)%len(paths)]
		req := httptest.NewRequest(http.MethodPost, p, strings.NewReader(body))
		if ct := types[int(ctype)%len(types)]; ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("POST %s %q: %d\n%s", p, body, rec.Code, rec.Body)
		}
	})
}
