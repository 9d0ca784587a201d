package web

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestFocusRingContrast reads the stylesheet: the focus ring's colour must
// have at least 3:1 contrast (WCAG 2.2 1.4.11 non-text contrast, which a
// visible focus indicator under 2.4.11 relies on) against every
// background a focused element can stand on. The ring is drawn outside the
// element (outline-offset), so the backgrounds of buttons themselves do
// not count; those of the page, panels and notices do.
func TestFocusRingContrast(t *testing.T) {
	b, err := staticFiles.ReadFile("static/style.css")
	if err != nil {
		t.Fatal(err)
	}
	css := regexp.MustCompile(`(?s)/\*.*?\*/`).ReplaceAllString(string(b), "")
	vars := map[string]string{}
	for _, m := range regexp.MustCompile(`(--[a-z-]+):\s*(#[0-9a-fA-F]{3,6})`).FindAllStringSubmatch(css, -1) {
		vars[m[1]] = m[2]
	}
	resolve := func(v string) string {
		v = strings.TrimSpace(v)
		if m := regexp.MustCompile(`^var\((--[a-z-]+)\)`).FindStringSubmatch(v); m != nil {
			return vars[m[1]]
		}
		if m := regexp.MustCompile(`^#[0-9a-fA-F]{3,6}`).FindString(v); m != "" {
			return m
		}
		return ""
	}
	rules := regexp.MustCompile(`([^{}]+)\{([^{}]*)\}`).FindAllStringSubmatch(css, -1)
	var rings []string
	backgrounds := map[string]string{} // colour → a selector using it
	for _, r := range rules {
		sel, body := strings.TrimSpace(r[1]), r[2]
		for _, decl := range strings.Split(body, ";") {
			name, value, ok := strings.Cut(decl, ":")
			if !ok {
				continue
			}
			name = strings.TrimSpace(name)
			switch {
			case strings.Contains(sel, ":focus") && name == "outline":
				for _, part := range strings.Fields(value) {
					if c := resolve(part); c != "" {
						rings = append(rings, c)
					}
				}
			case name == "background" || name == "background-color":
				if strings.Contains(sel, "button") || strings.Contains(sel, ":hover") {
					continue
				}
				if c := resolve(value); c != "" {
					backgrounds[c] = sel
				}
			}
		}
	}
	if len(rings) == 0 {
		t.Fatal("no outline colour in the :focus rules")
	}
	backgrounds["#ffffff"] = "the page"
	for _, ring := range rings {
		for bg, sel := range backgrounds {
			if c := contrast(ring, bg); c < 3 {
				t.Errorf("focus ring %s on %s (%s): contrast %.2f:1, want at least 3:1", ring, bg, sel, c)
			}
		}
	}
}

// contrast is the WCAG 2 contrast ratio of two #rrggbb (or #rgb) colours.
func contrast(a, b string) float64 {
	la, lb := luminance(a), luminance(b)
	return (math.Max(la, lb) + 0.05) / (math.Min(la, lb) + 0.05)
}

func luminance(hex string) float64 {
	hex = strings.TrimPrefix(hex, "#")
	if len(hex) == 3 {
		hex = string([]byte{hex[0], hex[0], hex[1], hex[1], hex[2], hex[2]})
	}
	var ch [3]float64
	for i := range ch {
		v, _ := strconv.ParseUint(hex[2*i:2*i+2], 16, 8)
		c := float64(v) / 255
		if c <= 0.04045 {
			ch[i] = c / 12.92
		} else {
			ch[i] = math.Pow((c+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*ch[0] + 0.7152*ch[1] + 0.0722*ch[2]
}

func TestContrastFormula(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want float64
	}{
		{"#000000", "#ffffff", 21}, {"#fff", "#fff", 1}, {"#767676", "#ffffff", 4.54},
	} {
		if got := contrast(tc.a, tc.b); math.Abs(got-tc.want) > 0.01 {
			t.Errorf("contrast(%s, %s) = %.3f, want %.2f", tc.a, tc.b, got, tc.want)
		}
	}
}
