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
	Lease        time.Duration // how long a claimed message is reserved; 1 min
	BatchSize    int           // messages claimed at a time; 20
	MinBackoff   time.Duration // delay after the first failure; 5 s
	MaxBackoff   time.Duration // longest delay between attempts; 30 min
}

// Outbox enqueues rendered messages and delivers them.
type Outbox struct {
	store    storage.Storage
	renderer *Renderer
	sender   Sender
	log      *slog.Logger
	now      func() time.Time

	poll       time.Duration
	lease      time.Duration
	batch      int
	minBackoff time.Duration
	maxBackoff time.Duration

	wake chan struct{}
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
		store:      cfg.Store,
		renderer:   cfg.Renderer,
		sender:     cfg.Sender,
		log:        cfg.Logger,
		now:        cfg.Now,
		poll:       orDefault(cfg.PollInterval, 2*time.Second),
		lease:      orDefault(cfg.Lease, time.Minute),
		batch:      cfg.BatchSize,
		minBackoff: orDefault(cfg.MinBackoff, 5*time.Second),
		maxBackoff: orDefault(cfg.MaxBackoff, 30*time.Minute),
		wake:       make(chan struct{}, 1),
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
		timer.Reset(next)
	}
}

// deliverBatch claims due mail and sends it. It reports whether it claimed a
// full batch.
func (o *Outbox) deliverBatch(ctx context.Context) bool {
	claimed := o.now()
	mails, err := o.store.ClaimMail(ctx, claimed, o.lease, o.batch)
	if err != nil {
		if ctx.Err() == nil {
			o.log.ErrorContext(ctx, "mail worker: cannot claim mail", "error", err)
		}
		return false
	}
	for i, m := range mails {
		// Send only well within the lease: past it another worker may claim
		// the same message. Give the rest back for an immediate retry.
		if ctx.Err() != nil || o.now().Sub(claimed) > o.lease/2 {
			o.release(ctx, mails[i:])
			return false
		}
		o.deliver(ctx, m)
	}
	return len(mails) == o.batch
}

// deliver sends one claimed message and records the outcome.
func (o *Outbox) deliver(ctx context.Context, m storage.Mail) {
	sendCtx, cancel := context.WithTimeout(ctx, o.lease/2)
	err := o.sender.Send(sendCtx, m)
	cancel()
	// Record the outcome even when ctx was cancelled during the send: a
	// message that went out must be marked sent.
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer rcancel()
	now := o.now()
	if err == nil {
		_, uerr := o.store.UpdateMail(rctx, m.ID, func(m storage.Mail) (storage.Mail, error) {
			m.SentAt = now
			return m, nil
		})
		if uerr != nil {
			// It will be sent again when the lease runs out.
			o.log.ErrorContext(ctx, "mail sent but not marked sent", "mail_id", m.ID, "error", uerr)
			return
		}
		o.log.InfoContext(ctx, "mail sent", "mail_id", m.ID, "to", m.To, "attempts", m.Attempts+1)
		return
	}
	if ctx.Err() != nil {
		// Shutting down: not the message's fault. Let the next worker have it.
		o.release(ctx, []storage.Mail{m})
		return
	}
	var next time.Time
	updated, uerr := o.store.UpdateMail(rctx, m.ID, func(m storage.Mail) (storage.Mail, error) {
		m.Attempts++
		m.LastError = truncate(err.Error(), 1000)
		next = now.Add(o.backoff(m.Attempts))
		m.NextAttemptAt = next
		return m, nil
	})
	if uerr != nil {
		o.log.ErrorContext(ctx, "mail not sent and failure not recorded", "mail_id", m.ID, "error", err, "update_error", uerr)
		return
	}
	level := slog.LevelWarn
	if updated.Attempts >= errorAttempts {
		level = slog.LevelError
	}
	o.log.Log(ctx, level, "mail not sent, will retry",
		"mail_id", m.ID, "to", m.To, "attempts", updated.Attempts,
		"next_attempt", next, "error", err)
}

// release hands claimed but unsent messages back for an immediate retry,
// without counting an attempt.
func (o *Outbox) release(ctx context.Context, mails []storage.Mail) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	now := o.now()
	for _, m := range mails {
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
