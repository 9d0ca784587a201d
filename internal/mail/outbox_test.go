package mail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portti/portti/internal/mail/smtptest"
	"github.com/portti/portti/internal/storage"
)

const testFrom = "portti <noreply@example.fi>"

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: fixedWhen} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// logBuffer collects slog output; safe for the worker goroutine.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newLogger returns a DEBUG logger into a buffer that is printed if the
// test fails.
func newLogger(t *testing.T) (*slog.Logger, *logBuffer) {
	buf := new(logBuffer)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", buf)
		}
	})
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

func newSender(t *testing.T, url string) *SMTPSender {
	t.Helper()
	s, err := NewSMTPSender(url, testFrom)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newOutbox(t *testing.T, cfg OutboxConfig) *Outbox {
	t.Helper()
	if cfg.Renderer == nil {
		cfg.Renderer = newTestRenderer(t, RendererConfig{})
	}
	if cfg.Logger == nil {
		cfg.Logger, _ = newLogger(t)
	}
	o, err := NewOutbox(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// startWorker runs o.Run until the test ends.
func startWorker(t *testing.T, o *Outbox) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after its context was cancelled")
		}
	})
}

// waitUntil polls cond for up to 10 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func activation(link string) Activation {
	return Activation{Name: "Aino Virtanen", Link: link, ExpiresIn: time.Hour}
}

// TestDeliverEndToEnd: Enqueue → worker → real SMTP server, in Finnish.
func TestDeliverEndToEnd(t *testing.T) {
	srv := smtptest.Start(t)
	store := newMemStore()
	o := newOutbox(t, OutboxConfig{Store: store, Sender: newSender(t, srv.URL())})
	startWorker(t, o)

	link := "https://login.example.fi/activate?token=s3cr3t&lang=fi"
	if err := o.Enqueue(context.Background(), nil, "aino@example.fi", "fi", activation(link)); err != nil {
		t.Fatal(err)
	}
	m := srv.WaitFor(t, smtptest.To("aino@example.fi"), 10*time.Second)

	if want := "Vahvista sähköpostiosoitteesi – portti"; m.Subject != want {
		t.Errorf("Subject = %q, want %q", m.Subject, want)
	}
	if !strings.Contains(m.Header.Get("Subject"), "=?") {
		t.Errorf("raw Subject %q is not RFC 2047 encoded", m.Header.Get("Subject"))
	}
	if m.ContentType != "multipart/alternative" {
		t.Errorf("Content-Type = %q, want multipart/alternative", m.ContentType)
	}
	if !strings.Contains(m.Text, "Hei Aino Virtanen,") || !strings.Contains(m.Text, "Linkki on voimassa tunnin.") {
		t.Errorf("text body:\n%s", m.Text)
	}
	if !strings.Contains(m.HTML, `href="https://login.example.fi/activate?token=s3cr3t&amp;lang=fi"`) {
		t.Errorf("HTML body lacks the link:\n%s", m.HTML)
	}
	if got := smtptest.Links(m); len(got) != 1 || got[0] != link {
		t.Errorf("Links = %q, want [%q]", got, link)
	}
	if m.EnvelopeFrom != "noreply@example.fi" || !strings.Contains(m.From, "noreply@example.fi") {
		t.Errorf("From: envelope %q, header %q", m.EnvelopeFrom, m.From)
	}
	for h, want := range map[string]string{"Auto-Submitted": "auto-generated", "To": "<aino@example.fi>"} {
		if got := m.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if id := m.Header.Get("Message-Id"); !strings.HasPrefix(id, "<portti.1.") || !strings.HasSuffix(id, "@example.fi>") {
		t.Errorf("Message-ID = %q", id)
	}
	if d, err := m.Header.Date(); err != nil || !d.Equal(store.get(1).CreatedAt.Truncate(time.Second)) {
		t.Errorf("Date = %v (%v), want %v", d, err, store.get(1).CreatedAt)
	}
	waitUntil(t, "the mail is marked sent", func() bool { return !store.get(1).SentAt.IsZero() })
}

// TestSMTPDown: the server is down, the message waits with its error, and
// it arrives once (and only once) when the server is back.
func TestSMTPDown(t *testing.T) {
	srv := smtptest.Start(t)
	srv.Stop()
	clock := newFakeClock()
	store := newMemStore()
	o := newOutbox(t, OutboxConfig{
		Store:        store,
		Sender:       newSender(t, srv.URL()),
		Now:          clock.Now,
		PollInterval: 5 * time.Millisecond,
	})
	startWorker(t, o)

	if err := o.Enqueue(context.Background(), nil, "aino@example.fi", "fi", activation("https://login.example.fi/a/1")); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the first attempt fails", func() bool { return store.get(1).Attempts == 1 })
	m := store.get(1)
	if m.LastError == "" || !m.SentAt.IsZero() {
		t.Errorf("after a failed attempt: LastError %q, SentAt %v", m.LastError, m.SentAt)
	}
	// Default backoff: 5 s less up to a fifth.
	if wait := m.NextAttemptAt.Sub(clock.Now()); wait < 4*time.Second || wait > 5*time.Second {
		t.Errorf("first retry in %v, want 4–5 s", wait)
	}

	// Time does not move: no retry however often the worker polls.
	polls := store.claimCount()
	waitUntil(t, "the worker polls", func() bool { return store.claimCount() > polls+5 })
	if a := store.get(1).Attempts; a != 1 {
		t.Fatalf("Attempts = %d before the retry was due", a)
	}

	// Still down at the retry: the delay doubles.
	clock.Advance(5 * time.Second)
	waitUntil(t, "the second attempt fails", func() bool { return store.get(1).Attempts == 2 })
	if wait := store.get(1).NextAttemptAt.Sub(clock.Now()); wait < 8*time.Second || wait > 10*time.Second {
		t.Errorf("second retry in %v, want 8–10 s", wait)
	}

	srv.Restart()
	clock.Advance(10 * time.Second)
	srv.WaitFor(t, smtptest.To("aino@example.fi"), 10*time.Second)
	waitUntil(t, "the mail is marked sent", func() bool { return !store.get(1).SentAt.IsZero() })

	// Nothing more arrives however long the worker runs.
	clock.Advance(time.Hour)
	polls = store.claimCount()
	waitUntil(t, "the worker polls", func() bool { return store.claimCount() > polls+5 })
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("received %d messages, want 1", n)
	}
}

// TestTemporaryRejection: a 451 is retried and the message then arrives once.
func TestTemporaryRejection(t *testing.T) {
	srv := smtptest.Start(t)
	srv.FailNext(1)
	clock := newFakeClock()
	store := newMemStore()
	o := newOutbox(t, OutboxConfig{Store: store, Sender: newSender(t, srv.URL()), Now: clock.Now, PollInterval: 5 * time.Millisecond})
	startWorker(t, o)

	if err := o.Enqueue(context.Background(), nil, "aino@example.fi", "sv", Recovery{Link: "https://login.example.fi/r/1", ExpiresIn: time.Hour}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the first attempt fails", func() bool { return store.get(1).Attempts == 1 })
	if e := store.get(1).LastError; !strings.Contains(e, "451") {
		t.Errorf("LastError = %q, want the server's 451", e)
	}
	clock.Advance(5 * time.Second)
	m := srv.WaitFor(t, smtptest.To("aino@example.fi"), 10*time.Second)
	if m.Subject != "Välj ett nytt lösenord – portti" {
		t.Errorf("Subject = %q", m.Subject)
	}
	waitUntil(t, "the mail is marked sent", func() bool { return !store.get(1).SentAt.IsZero() })
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("received %d messages, want 1", n)
	}
}

// slowSender delays each send so that two workers overlap.
type slowSender struct{ Sender }

func (s slowSender) Send(ctx context.Context, m storage.Mail) error {
	time.Sleep(2 * time.Millisecond)
	return s.Sender.Send(ctx, m)
}

// TestTwoWorkers: two workers on one store deliver every message exactly once.
func TestTwoWorkers(t *testing.T) {
	srv := smtptest.Start(t)
	store := newMemStore()
	sender := slowSender{newSender(t, srv.URL())}
	cfg := OutboxConfig{Store: store, Sender: sender, PollInterval: 5 * time.Millisecond, BatchSize: 3}
	o1, o2 := newOutbox(t, cfg), newOutbox(t, cfg)

	const n = 40
	for i := range n {
		o := o1
		if i%2 == 1 {
			o = o2
		}
		to := fmt.Sprintf("user%d@example.fi", i)
		if err := o.Enqueue(context.Background(), nil, to, "en", activation("https://login.example.fi/a/"+to)); err != nil {
			t.Fatal(err)
		}
	}
	startWorker(t, o1)
	startWorker(t, o2)

	waitUntil(t, "all are marked sent", func() bool {
		mails, _ := store.ListMail(context.Background(), 0)
		for _, m := range mails {
			if m.SentAt.IsZero() {
				return false
			}
		}
		return true
	})
	polls := store.claimCount()
	waitUntil(t, "the workers poll", func() bool { return store.claimCount() > polls+10 })

	got := map[string]int{}
	for _, m := range srv.Messages() {
		got[m.To[0]]++
	}
	for i := range n {
		if to := fmt.Sprintf("user%d@example.fi", i); got[to] != 1 {
			t.Errorf("%s received %d times", to, got[to])
		}
	}
	if len(srv.Messages()) != n {
		t.Errorf("received %d messages, want %d", len(srv.Messages()), n)
	}
}

// funcSender is a Sender for tests that need no SMTP server.
type funcSender func(ctx context.Context, m storage.Mail) error

func (f funcSender) Send(ctx context.Context, m storage.Mail) error { return f(ctx, m) }

// TestLeaseRenewed: a worker renews its leases while it works through a
// slow batch, so that no message of it ever becomes claimable by another
// worker; and it leaves alone a message whose lease another worker took.
func TestLeaseRenewed(t *testing.T) {
	clock := newFakeClock()
	store := newMemStore()
	var sent []int64
	o := newOutbox(t, OutboxConfig{Store: store, Now: clock.Now, Sender: funcSender(func(_ context.Context, m storage.Mail) error {
		// No other unsent message of the batch is claimable.
		for id := int64(1); id <= 5; id++ {
			if x := store.get(id); x.SentAt.IsZero() && id != m.ID && id != 3 && !x.NextAttemptAt.After(clock.Now()) {
				t.Errorf("sending %d: mail %d is claimable by another worker", m.ID, id)
			}
		}
		sent = append(sent, m.ID)
		clock.Advance(20 * time.Second) // a slow server: two leases per message
		if m.ID == 1 {
			// Meanwhile another worker took message 3.
			if _, err := store.UpdateMail(context.Background(), 3, func(m storage.Mail) (storage.Mail, error) {
				m.NextAttemptAt = clock.Now().Add(time.Hour)
				return m, nil
			}); err != nil {
				t.Error(err)
			}
		}
		return nil
	})})
	for i := range 5 {
		if err := o.Enqueue(context.Background(), nil, fmt.Sprintf("u%d@example.fi", i), "en", activation("https://x.example/a")); err != nil {
			t.Fatal(err)
		}
	}
	o.deliverBatch(context.Background())
	if want := []int64{1, 2, 4, 5}; !slices.Equal(sent, want) {
		t.Fatalf("sent %v, want %v (3 belongs to another worker)", sent, want)
	}
	if m := store.get(3); m.Attempts != 0 || !m.SentAt.IsZero() || !m.NextAttemptAt.Equal(fixedWhen.Add(20*time.Second+time.Hour)) {
		t.Errorf("the other worker's mail was touched: %+v", m)
	}
}

// TestNeverDropped: a message that always fails keeps being retried at the
// maximum backoff, logged at ERROR from the tenth attempt on.
func TestNeverDropped(t *testing.T) {
	clock := newFakeClock()
	store := newMemStore()
	logger, logs := newLogger(t)
	o := newOutbox(t, OutboxConfig{Store: store, Now: clock.Now, Logger: logger,
		Sender: funcSender(func(context.Context, storage.Mail) error {
			return errors.New("550 5.1.1 mailbox unavailable")
		})})
	if err := o.Enqueue(context.Background(), nil, "gone@example.fi", "en", activation("https://x.example/a")); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 15; i++ {
		o.deliverBatch(context.Background())
		m := store.get(1)
		if m.Attempts != i {
			t.Fatalf("after attempt %d: Attempts = %d", i, m.Attempts)
		}
		wait := m.NextAttemptAt.Sub(clock.Now())
		if i >= 10 && (wait < 24*time.Minute || wait > 30*time.Minute) {
			t.Errorf("attempt %d: next in %v, want 24–30 min", i, wait)
		}
		clock.Advance(wait)
	}
	if m := store.get(1); !m.SentAt.IsZero() || m.LastError != "550 5.1.1 mailbox unavailable" {
		t.Errorf("mail after 15 failures: %+v", m)
	}
	if n := strings.Count(logs.String(), "level=WARN msg=\"mail not sent"); n != 9 {
		t.Errorf("%d WARN lines, want 9", n)
	}
	if n := strings.Count(logs.String(), "level=ERROR msg=\"mail not sent"); n != 6 {
		t.Errorf("%d ERROR lines, want 6", n)
	}
}

func TestBackoff(t *testing.T) {
	o := newOutbox(t, OutboxConfig{Store: newMemStore()})
	for attempts, base := range map[int]time.Duration{
		1: 5 * time.Second, 2: 10 * time.Second, 3: 20 * time.Second, 9: 1280 * time.Second,
		10: 30 * time.Minute, 11: 30 * time.Minute, 1000: 30 * time.Minute,
	} {
		for range 100 {
			if d := o.backoff(attempts); d > base || d < base*4/5 {
				t.Fatalf("backoff(%d) = %v, want %v less at most a fifth", attempts, d, base)
			}
		}
	}
}

// TestShutdownReleases: a send interrupted by shutdown is not counted as a
// failed attempt, and Run returns.
func TestShutdownReleases(t *testing.T) {
	store := newMemStore()
	started := make(chan struct{})
	o := newOutbox(t, OutboxConfig{Store: store, Sender: funcSender(func(ctx context.Context, _ storage.Mail) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	})})
	if err := o.Enqueue(context.Background(), nil, "a@example.fi", "en", activation("https://x.example/a")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- o.Run(ctx) }()
	<-started
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
	if m := store.get(1); m.Attempts != 0 || m.LastError != "" || m.NextAttemptAt.After(time.Now()) {
		t.Errorf("mail after shutdown: %+v", m)
	}
}

// TestDevMode: with no Sender, mail stays in the outbox and its links are
// logged; Run returns at once.
func TestDevMode(t *testing.T) {
	store := newMemStore()
	logger, logs := newLogger(t)
	o := newOutbox(t, OutboxConfig{Store: store, Logger: logger})
	if !o.DevMode() {
		t.Fatal("DevMode() = false without a Sender")
	}
	link := "https://localhost:8080/activate?token=d3vT0k3n"
	if err := o.Enqueue(context.Background(), nil, "aino@example.fi", "fi", activation(link)); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	for _, want := range []string{"level=INFO", `dev_mail_link="` + link + `"`, "to=aino@example.fi", `subject="Vahvista sähköpostiosoitteesi – portti"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}

	done := make(chan error)
	go func() { done <- o.Run(context.Background()) }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return in dev mode")
	}
	if m := store.get(1); !m.SentAt.IsZero() || m.Attempts != 0 || store.claimCount() != 0 {
		t.Errorf("dev mode touched the outbox: %+v, %d claims", m, store.claimCount())
	}
}

// TestNoSecretsInLogs: with an SMTP server, no link reaches the log, at any
// level, whether delivery fails or succeeds.
func TestNoSecretsInLogs(t *testing.T) {
	srv := smtptest.Start(t)
	srv.FailNext(1)
	store := newMemStore()
	logger, logs := newLogger(t)
	o := newOutbox(t, OutboxConfig{Store: store, Logger: logger, Sender: newSender(t, srv.URL()),
		PollInterval: 5 * time.Millisecond, MinBackoff: time.Millisecond})
	startWorker(t, o)
	if err := o.Enqueue(context.Background(), nil, "aino@example.fi", "en", activation("https://login.example.fi/a?token=T0PS3CR3T")); err != nil {
		t.Fatal(err)
	}
	srv.WaitFor(t, smtptest.To("aino@example.fi"), 10*time.Second)
	waitUntil(t, "the mail is marked sent", func() bool { return !store.get(1).SentAt.IsZero() })
	out := logs.String()
	if strings.Contains(out, "T0PS3CR3T") || strings.Contains(out, "dev_mail_link") {
		t.Errorf("link in the log:\n%s", out)
	}
	if !strings.Contains(out, "mail not sent, will retry") || !strings.Contains(out, "mail sent") {
		t.Errorf("log lacks the failure and the delivery:\n%s", out)
	}
}

// txStore stands for a transaction-bound Storage.
type txStore struct{ *memStore }

func TestEnqueueUsesGivenStorage(t *testing.T) {
	store := newMemStore()
	o := newOutbox(t, OutboxConfig{Store: store})
	tx := txStore{newMemStore()}
	if err := o.Enqueue(context.Background(), tx, "a@example.fi", "en", activation("https://x.example/a")); err != nil {
		t.Fatal(err)
	}
	if len(tx.mails) != 1 || len(store.mails) != 0 {
		t.Errorf("mail went to the wrong storage: tx %d, store %d", len(tx.mails), len(store.mails))
	}
	m := tx.get(1)
	if m.To != "a@example.fi" || m.Subject != "Confirm your email address – portti" || m.Text == "" || m.HTML == "" ||
		m.CreatedAt.IsZero() || !m.NextAttemptAt.Equal(m.CreatedAt) {
		t.Errorf("enqueued %+v", m)
	}
}

func TestEnqueueRejects(t *testing.T) {
	store := newMemStore()
	o := newOutbox(t, OutboxConfig{Store: store})
	for _, to := range []string{"", "not an address", "a@example.fi\r\nBcc: b@example.fi"} {
		if err := o.Enqueue(context.Background(), nil, to, "en", activation("https://x.example/a")); err == nil {
			t.Errorf("Enqueue to %q succeeded", to)
		}
	}
	if err := o.Enqueue(context.Background(), nil, "a@example.fi", "en", Activation{Link: "/relative"}); err == nil {
		t.Error("Enqueue of a message with a relative link succeeded")
	}
	if len(store.mails) != 0 {
		t.Errorf("%d mails enqueued", len(store.mails))
	}
}

func TestNewOutboxNeedsStoreAndRenderer(t *testing.T) {
	if _, err := NewOutbox(OutboxConfig{Store: newMemStore()}); err == nil {
		t.Error("NewOutbox without a Renderer succeeded")
	}
	if _, err := NewOutbox(OutboxConfig{Renderer: newTestRenderer(t, RendererConfig{})}); err == nil {
		t.Error("NewOutbox without a Store succeeded")
	}
}

func TestFindLinks(t *testing.T) {
	got := findLinks("Open https://a.example/x?y=1&z=2.\nOr (http://b.example/c), then stop")
	want := []string{"https://a.example/x?y=1&z=2", "http://b.example/c"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("findLinks = %q, want %q", got, want)
	}
}
