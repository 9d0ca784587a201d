package browser

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// axe-core (npm, pinned in test/axe/package.json, installed by
// scripts/test.sh) is the accessibility checker a field test ran over
// portti with no findings; the browser tests keep it that way by running
// it on the pages they check.
var axeSource = sync.OnceValues(func() (string, error) {
	b, err := os.ReadFile(filepath.Join("..", "..", "test", "axe", "node_modules", "axe-core", "axe.min.js"))
	return string(b), err
})

// axeViolation is what the tests report of an axe-core finding.
type axeViolation struct {
	ID    string `json:"id"`
	Help  string `json:"help"`
	Nodes []struct {
		Target []string `json:"target"`
	} `json:"nodes"`
}

// checkAxe runs axe-core (WCAG 2.x A and AA rules, and best practices) on
// the current page and fails the test (without stopping it) for each
// violation. Without axe-core installed it skips, or fails under CI=true.
func (b *tab) checkAxe(name string) {
	b.t.Helper()
	src, err := axeSource()
	if err != nil {
		if os.Getenv("CI") == "true" {
			b.t.Fatalf("axe-core is not installed (run scripts/test.sh, or npm ci in test/axe): %v", err)
		}
		b.t.Logf("axe-core not installed (npm ci in test/axe); %s not checked", name)
		return
	}
	started := time.Now()
	defer func() { b.t.Logf("axe-core on %s: %v", name, time.Since(started).Round(time.Millisecond)) }()
	// Evaluated through the DevTools protocol, so the pages' strict
	// Content-Security-Policy does not apply to it.
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[chromedp.Void](src)); err != nil {
		b.t.Fatalf("load axe-core on %s: %v", b.path(), err)
	}
	raw, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]byte](
		`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]}, resultTypes: ["violations"]}).then(r => r.violations)`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("run axe-core on %s: %v", b.path(), err)
	}
	var vs []axeViolation
	if err := json.Unmarshal(raw, &vs); err != nil {
		b.t.Fatalf("axe-core result: %v", err)
	}
	for _, v := range vs {
		var where []string
		for _, n := range v.Nodes {
			where = append(where, strings.Join(n.Target, " "))
		}
		b.t.Errorf("axe-core on %s (%s): %s: %s at %v", name, b.path(), v.ID, v.Help, where)
	}
}

// TestAxeFindsItself: the checker runs at all (a missing or broken
// axe-core must not pass as "no findings").
func TestAxeFindsItself(t *testing.T) {
	b := start(t)
	b.open("/no-such-page", 404)
	src, err := axeSource()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip("axe-core is not installed (npm ci in test/axe)")
	}
	// An image without alternative text is a violation axe must find.
	b.do("add a bad image", chromedp.Evaluate[chromedp.Void](`document.querySelector("main").insertAdjacentHTML("beforeend", '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">')`))
	raw, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]byte](src+`; axe.run(document).then(r => r.violations.map(v => v.id))`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), "image-alt") {
		t.Errorf("axe-core did not find an image without alt text: %s", raw)
	}
}
