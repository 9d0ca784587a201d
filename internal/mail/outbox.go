package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	netmail "net/mail"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/portti/portti/internal/storage"
)

// OutboxConfig configures an Outbox. Zero durations and sizes take the
// defaults given.
type OutboxConfig struct {
	Store    storage.Storage // required
	Renderer *Renderer       // required
	Sender   Sender          // nil: dev mode, nothing is sent
	Logger   *slog.Logger    // nil: slog.Default()
	Now      func() time.Time

	PollInterval time.Duration // how often the worker looks for due mail; 2 s
	// Lease is how long a claimed message stays reserved without a sign of
	// life from its worker, which renews it every third of it while it
	// works; a crashed node's mail is taken up once it runs out. 10 s.
	Lease      time.Duration
	BatchSize  int           // messages claimed at a time; 20
	MinBackoff time.Duration // delay after the first failure; 5 s
	MaxBackoff time.Duration // longest delay between attempts; 30 min
	// ProbeInterval is how often, while mail waits because the server
	// could not be reached, the worker checks whether it answers again
	// (when the Sender is a Prober); 5 s.
	ProbeInterval time.Duration
	// SendTimeout bounds one message's delivery; 2 min.
	SendTimeout time.Duration
}

// Outbox enqueues rendered messages and delivers them.
type Outbox struct {
	store    storage.Storage
	renderer *Renderer
	sender   Sender
	log      *slog.Logger
	now      func() time.Time

	poll        time.Duration
	lease       time.Duration
	batch       int
	minBackoff  time.Duration
	maxBackoff  time.Duration
	probeEvery  time.Duration
	sendTimeout time.Duration

	wake chan struct{}

	// Used by the worker goroutine only.
	unreachable bool      // mail may be waiting for the server to answer
	lastProbe   time.Time // monotonic: when the server was last probed
}

// errorAttempts is the number of failed attempts after which each further
// failure is logged at ERROR rather than WARN.
const errorAttempts = 10

// followUp is how soon after a wake-up the worker looks again, for mail
// whose transaction had not committed when Enqueue woke it.
const followUp = 250 * time.Millisecond

// NewOutbox returns an Outbox; it does not start the worker (see Run).
func NewOutbox(cfg OutboxConfig) (*Outbox, error) {
	if cfg.Store == nil || cfg.Renderer == nil {
		return nil, errors.New("mail: OutboxConfig needs Store and Renderer")
	}
	o := &Outbox{
		store:       cfg.Store,
		renderer:    cfg.Renderer,
		sender:      cfg.Sender,
		log:         cfg.Logger,
		now:         cfg.Now,
		poll:        orDefault(cfg.PollInterval, 2*time.Second),
		lease:       orDefault(cfg.Lease, 10*time.Second),
		batch:       cfg.BatchSize,
		minBackoff:  orDefault(cfg.MinBackoff, 5*time.Second),
		maxBackoff:  orDefault(cfg.MaxBackoff, 30*time.Minute),
		probeEvery:  orDefault(cfg.ProbeInterval, 5*time.Second),
		sendTimeout: orDefault(cfg.SendTimeout, 2*time.Minute),
		wake:        make(chan struct{}, 1),
		// Mail left waiting by an earlier run (or another node) for an
		// unreachable server goes as soon as the first probe answers.
		unreachable: true,
	}
	if o.log == nil {
		o.log = slog.Default()
	}
	if o.now == nil {
		o.now = time.Now
	}
	if o.batch <= 0 {
		o.batch = 20
	}
	if o.maxBackoff < o.minBackoff {
		o.maxBackoff = o.minBackoff
	}
	return o, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// DevMode reports whether there is no SMTP server: mail stays in the outbox
// and its links are logged.
func (o *Outbox) DevMode() bool { return o.sender == nil }

// Enqueue renders msg in lang and adds it to the outbox through st, which is
// normally the caller's transaction; nil st means the Outbox's own Store.
// An error (a bad address, a message missing a link) should fail the
// caller's transaction.
//
// Enqueue then wakes the worker. Inside a transaction that wake-up may come
// before the commit; the worker looks again shortly after, and callers
// wanting no delay at all may call Wake once they have committed.
func (o *Outbox) Enqueue(ctx context.Context, st storage.Storage, to, lang string, msg Message) error {
	if st == nil {
		st = o.store
	}
	if _, err := netmail.ParseAddress(to); err != nil || strings.ContainsAny(to, "\r\n") {
		return fmt.Errorf("mail: recipient %q is not an e-mail address", to)
	}
	subject, text, html, err := o.renderer.Render(lang, msg)
	if err != nil {
		return err
	}
	now := o.now()
	id, err := st.EnqueueMail(ctx, storage.Mail{
		To:            to,
		Subject:       subject,
		Text:          text,
		HTML:          html,
		CreatedAt:     now,
		NextAttemptAt: now,
	})
	if err != nil {
		return fmt.Errorf("mail: enqueue: %w", err)
	}
	if o.DevMode() {
		// The links carry secrets (activation, password reset). This is the
		// only place portti logs them, and only in dev mode, when no SMTP
		// server is configured and the terminal is the only way to follow
		// them. Never log a link anywhere else.
		attrs := []any{
			slog.Int64("mail_id", id),
			slog.String("kind", msg.Kind()),
			slog.String("to", to),
			slog.String("subject", subject),
		}
		for _, link := range findLinks(text) {
			attrs = append(attrs, slog.String("dev_mail_link", link))
		}
		o.log.InfoContext(ctx, "dev mode: mail kept in outbox, not sent (no SMTP server configured)", attrs...)
	} else {
		o.log.DebugContext(ctx, "mail enqueued", "mail_id", id, "kind", msg.Kind())
	}
	o.Wake()
	return nil
}

// Wake makes the worker look for due mail now instead of at its next poll.
// It never blocks.
func (o *Outbox) Wake() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// Run delivers mail until ctx is done, then returns nil. In dev mode it
// returns nil at once. Storage and SMTP errors are logged and retried, never
// returned. Any number of workers, in one process or many, may run against
// one database.
func (o *Outbox) Run(ctx context.Context) error {
	if o.DevMode() {
		return nil
	}
	o.log.InfoContext(ctx, "mail worker started")
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		woken := false
		select {
		case <-ctx.Done():
			return nil
		case <-o.wake:
			woken = true
		case <-timer.C:
		}
		next := o.poll
		if full := o.deliverBatch(ctx); full {
			next = 0 // more may be due
		} else if woken {
			next = min(followUp, o.poll)
		}
		if o.probe(ctx) {
			next = 0 // mail that waited for the server is due now
		}
		timer.Reset(next)
	}
}

// probe checks, at most every ProbeInterval while mail may be waiting for
// an unreachable server, whether the server answers again, and if it does
// makes that mail due at once. It reports whether it resumed any.
func (o *Outbox) probe(ctx context.Context) bool {
	prober, ok := o.sender.(Prober)
	if !ok || !o.unreachable || ctx.Err() != nil || time.Since(o.lastProbe) < o.probeEvery {
		return false
	}
	o.lastProbe = time.Now()
	pctx, cancel := context.WithTimeout(ctx, o.sendTimeout)
	err := prober.Probe(pctx)
	cancel()
	if err != nil {
		o.log.DebugContext(ctx, "mail worker: the mail server does not answer yet", "error", err)
		return false
	}
	return o.resume(ctx)
}

// resume makes mail that waited for an unreachable server due now.
func (o *Outbox) resume(ctx context.Context) bool {
	n, err := o.store.ResumeMail(ctx, o.now())
	if err != nil {
		if ctx.Err() == nil {
			o.log.ErrorContext(ctx, "mail worker: cannot resume mail after an outage", "error", err)
		}
		return false
	}
	o.unreachable = false
	if n > 0 {
		o.log.InfoContext(ctx, "mail server answers again: mail that waited for it is due now", "messages", n)
	}
	return n > 0
}

// batch is the messages one deliverBatch call holds leases on. The
// heartbeat renews them while the worker sends; each leaves the batch
// before its outcome is recorded.
type batch struct {
	mu      sync.Mutex
	leases  map[int64]time.Time // id → the NextAttemptAt this worker holds
	lost    map[int64]bool      // leases that could not be renewed
	current int64               // the message being sent
	cancel  context.CancelFunc  // cancels the current send
}

// deliverBatch claims due mail and sends it. It reports whether it claimed a
// full batch.
func (o *Outbox) deliverBatch(ctx context.Context) bool {
	mails, err := o.store.ClaimMail(ctx, o.now(), o.lease, o.batch)
	if err != nil {
		if ctx.Err() == nil {
			o.log.ErrorContext(ctx, "mail worker: cannot claim mail", "error", err)
		}
		return false
	}
	if len(mails) == 0 {
		return false
	}
	b := &batch{leases: make(map[int64]time.Time, len(mails)), lost: make(map[int64]bool)}
	for _, m := range mails {
		b.leases[m.ID] = m.NextAttemptAt
	}
	hbCtx, stopHeartbeat := context.WithCancel(ctx)
	hbDone := make(chan struct{})
	go func() {
		defer close(hbDone)
		o.heartbeat(hbCtx, b)
	}()
	defer func() {
		stopHeartbeat()
		<-hbDone
	}()

	sent := false
	for i, m := range mails {
		if ctx.Err() != nil {
			o.release(ctx, b, mails[i:])
			return false
		}
		// The heartbeat runs on the wall clock; renew here too when the
		// Outbox's clock says the lease is a third gone.
		b.mu.Lock()
		until, lost := b.leases[m.ID], b.lost[m.ID]
		b.mu.Unlock()
		if !lost && !o.now().Before(until.Add(-o.lease*2/3)) {
			o.renew(ctx, b)
			b.mu.Lock()
			until, lost = b.leases[m.ID], b.lost[m.ID]
			b.mu.Unlock()
		}
		if lost {
			// Another worker may have it now: leave it alone.
			o.forget(b, m.ID)
			continue
		}
		if !o.now().Before(until.Add(-o.lease / 3)) {
			// The lease cannot be renewed (the database does not answer)
			// and is nearly gone: stop before another worker takes it.
			o.log.WarnContext(ctx, "mail worker: lease not renewed; leaving the rest of the batch", "mail_id", m.ID)
			return false
		}
		if o.deliver(ctx, b, m) {
			sent = true
		}
	}
	if sent && o.unreachable {
		// The server answers: mail waiting out a back-off because it did
		// not is due now.
		o.resume(ctx)
	}
	return len(mails) == o.batch
}

// heartbeat renews the batch's leases every third of a lease until ctx ends.
func (o *Outbox) heartbeat(ctx context.Context, b *batch) {
	t := time.NewTicker(o.lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			o.renew(ctx, b)
		}
	}
}

// renew moves the leases of the batch's messages to now+Lease. A lease
// found taken is marked lost and, if its message is being sent, the send
// is cancelled.
func (o *Outbox) renew(ctx context.Context, b *batch) {
	b.mu.Lock()
	defer b.mu.Unlock()
	until := roundMicro(o.now().Add(o.lease))
	for id, old := range b.leases {
		if b.lost[id] {
			continue
		}
		ok, err := o.store.RenewMailLease(ctx, id, old, until)
		switch {
		case err != nil:
			if ctx.Err() == nil {
				o.log.WarnContext(ctx, "mail worker: cannot renew lease", "mail_id", id, "error", err)
			}
		case !ok:
			o.log.WarnContext(ctx, "mail worker: lease lost to another worker", "mail_id", id)
			b.lost[id] = true
			if id == b.current && b.cancel != nil {
				b.cancel()
			}
		default:
			b.leases[id] = until
		}
	}
}

// roundMicro is a time as the database stores it, so that the next
// renewal compares equal.
func roundMicro(t time.Time) time.Time { return time.UnixMicro(t.UnixMicro()).UTC() }

// forget takes a message out of the batch: no more renewals.
func (o *Outbox) forget(b *batch, id int64) {
	b.mu.Lock()
	delete(b.leases, id)
	if b.current == id {
		b.current, b.cancel = 0, nil
	}
	b.mu.Unlock()
}

// deliver sends one claimed message and records the outcome. It reports
// whether the server accepted the message.
func (o *Outbox) deliver(ctx context.Context, b *batch, m storage.Mail) bool {
	sendCtx, cancel := context.WithTimeout(ctx, o.sendTimeout)
	b.mu.Lock()
	b.current, b.cancel = m.ID, cancel
	b.mu.Unlock()
	err := o.sender.Send(sendCtx, m)
	cancel()
	o.forget(b, m.ID)
	// Record the outcome even when ctx was cancelled during the send: a
	// message that went out must be marked sent.
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer rcancel()
	now := o.now()
	var accepted *AcceptedError
	if err == nil || errors.As(err, &accepted) {
		// Accepted (250 to DATA) is sent, whatever the connection did
		// afterwards: sending it again would deliver it twice.
		_, uerr := o.store.UpdateMail(rctx, m.ID, func(m storage.Mail) (storage.Mail, error) {
			m.SentAt = now
			return m, nil
		})
		if uerr != nil {
			// It will be sent again when the lease runs out.
			o.log.ErrorContext(ctx, "mail sent but not marked sent", "mail_id", m.ID, "error", uerr)
			return true
		}
		if accepted != nil {
			o.log.InfoContext(ctx, "mail sent; the connection failed after the server accepted it", "mail_id", m.ID, "to", m.To, "attempts", m.Attempts+1, "error", accepted.Err)
		} else {
			o.log.InfoContext(ctx, "mail sent", "mail_id", m.ID, "to", m.To, "attempts", m.Attempts+1)
		}
		return true
	}
	if ctx.Err() != nil {
		// Shutting down: not the message's fault. Let the next worker have it.
		o.release(ctx, nil, []storage.Mail{m})
		return false
	}
	unreachable := errors.Is(err, ErrServerUnreachable)
	if unreachable {
		o.unreachable = true
	}
	var next time.Time
	updated, uerr := o.store.UpdateMail(rctx, m.ID, func(m storage.Mail) (storage.Mail, error) {
		m.Attempts++
		m.LastError = truncate(err.Error(), 1000)
		next = now.Add(o.backoff(m.Attempts))
		m.NextAttemptAt = next
		m.Unreachable = unreachable
		return m, nil
	})
	if uerr != nil {
		o.log.ErrorContext(ctx, "mail not sent and failure not recorded", "mail_id", m.ID, "error", err, "update_error", uerr)
		return false
	}
	level := slog.LevelWarn
	if updated.Attempts >= errorAttempts {
		level = slog.LevelError
	}
	o.log.Log(ctx, level, "mail not sent, will retry",
		"mail_id", m.ID, "to", m.To, "attempts", updated.Attempts,
		"next_attempt", next, "server_unreachable", unreachable, "error", err)
	return false
}

// release hands claimed but unsent messages back for an immediate retry,
// without counting an attempt.
func (o *Outbox) release(ctx context.Context, b *batch, mails []storage.Mail) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	now := o.now()
	for _, m := range mails {
		if b != nil {
			b.mu.Lock()
			lost := b.lost[m.ID]
			b.mu.Unlock()
			o.forget(b, m.ID)
			if lost {
				continue
			}
		}
		_, err := o.store.UpdateMail(rctx, m.ID, func(m storage.Mail) (storage.Mail, error) {
			if m.SentAt.IsZero() {
				m.NextAttemptAt = now
			}
			return m, nil
		})
		if err != nil {
			o.log.WarnContext(ctx, "mail worker: cannot release mail; it waits for its lease", "mail_id", m.ID, "error", err)
		}
	}
}

// backoff is the delay after the given number of failed attempts:
// MinBackoff doubling each time up to MaxBackoff, less up to a fifth at
// random so that many messages failing together do not retry together.
func (o *Outbox) backoff(attempts int) time.Duration {
	d := o.minBackoff
	for i := 1; i < attempts && d < o.maxBackoff; i++ {
		d *= 2
	}
	d = min(d, o.maxBackoff)
	return d - time.Duration(rand.Int64N(int64(d)/5+1))
}

// truncate cuts s to at most n bytes without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// linkRE finds http(s) URLs in a text body.
var linkRE = regexp.MustCompile(`https?://[^\s<>"]+`)

// findLinks returns the URLs in a text body, in order.
func findLinks(text string) []string {
	links := linkRE.FindAllString(text, -1)
	for i, l := range links {
		links[i] = strings.TrimRight(l, ".,;:!?)")
	}
	return links
}
