package mail

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portti/portti/internal/mail/smtptest"
	"github.com/portti/portti/internal/storage"
	"github.com/portti/portti/internal/storage/sqlstore"
)

// The tests in this file put the outbox on the real stores (SQLite and
// PostgreSQL) in front of an SMTP server that fails the way real ones do,
// and check that every message arrives exactly once, and soon.

// backend opens stores on one fresh database: every call of open is
// another node's connection to it.
type backend struct {
	name string
	open func(t *testing.T) storage.Storage
}

// faultBackends returns a fresh SQLite database, and a fresh PostgreSQL
// schema when PORTTI_TEST_POSTGRES_DSN names a database (required in CI).
func faultBackends(t *testing.T) []func(t *testing.T) backend {
	sqlite := func(t *testing.T) backend {
		dsn := "sqlite:" + filepath.Join(t.TempDir(), "portti.db")
		return backend{"SQLite", func(t *testing.T) storage.Storage { return openStore(t, dsn) }}
	}
	dsn := os.Getenv("PORTTI_TEST_POSTGRES_DSN")
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("PORTTI_TEST_POSTGRES_DSN is not set: CI must test PostgreSQL")
		}
		t.Log("PORTTI_TEST_POSTGRES_DSN is not set: SQLite only")
		return []func(t *testing.T) backend{sqlite}
	}
	postgres := func(t *testing.T) backend {
		admin, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = admin.Close() })
		schema := "t_" + strings.ToLower(rand.Text())
		if _, err := admin.ExecContext(t.Context(), `CREATE SCHEMA "`+schema+`"`); err != nil {
			t.Fatalf("create schema: %v", err)
		}
		t.Cleanup(func() {
			if _, err := admin.ExecContext(context.Background(), `DROP SCHEMA "`+schema+`" CASCADE`); err != nil {
				t.Errorf("drop schema %s: %v", schema, err)
			}
		})
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return backend{"PostgreSQL", func(t *testing.T) storage.Storage { return openStore(t, u.String()) }}
	}
	return []func(t *testing.T) backend{sqlite, postgres}
}

func openStore(t *testing.T, dsn string) storage.Storage {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// onEachBackend runs fn on SQLite and PostgreSQL, in parallel.
func onEachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	for _, newBackend := range faultBackends(t) {
		b := newBackend(t)
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			fn(t, b)
		})
	}
}

func mailIn(t *testing.T, st storage.Storage, id int64) storage.Mail {
	t.Helper()
	ms, err := st.ListMail(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.ID == id {
			return m
		}
	}
	t.Fatalf("mail %d not in the outbox", id)
	return storage.Mail{}
}

func enqueueTo(t *testing.T, o *Outbox, to string) {
	t.Helper()
	if err := o.Enqueue(context.Background(), nil, to, "en", Recovery{Name: "Aino", Link: "https://login.example.fi/r/" + to, ExpiresIn: time.Hour}); err != nil {
		t.Fatal(err)
	}
}

func countTo(srv *smtptest.Server, addr string) int {
	n := 0
	for _, m := range srv.Messages() {
		if smtptest.To(addr)(m) {
			n++
		}
	}
	return n
}

// TestSendAcceptedThenDropped: the server replies 250 to DATA and drops
// the connection before RSET/QUIT. The message was delivered: Send says
// so with an *AcceptedError, not an error to retry.
func TestSendAcceptedThenDropped(t *testing.T) {
	srv := smtptest.Start(t)
	srv.DropAfterData(1)
	err := newSender(t, srv.URL()).Send(context.Background(), storage.Mail{ID: 1, To: "aino@example.fi", Subject: "s", Text: "t", CreatedAt: fixedWhen})
	var accepted *AcceptedError
	if !errors.As(err, &accepted) {
		t.Fatalf("Send = %v, want an *AcceptedError", err)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Fatalf("server received %d messages, want 1", n)
	}
	// The next message goes normally.
	if err := newSender(t, srv.URL()).Send(context.Background(), storage.Mail{ID: 2, To: "aino@example.fi", Subject: "s", Text: "t", CreatedAt: fixedWhen}); err != nil {
		t.Fatalf("second Send = %v", err)
	}
}

// TestSendErrorKinds: Send tells a server that cannot be reached from one
// that refuses the message.
func TestSendErrorKinds(t *testing.T) {
	srv := smtptest.Start(t)
	srv.RejectTo("gone@example.fi")
	s := newSender(t, srv.URL())
	err := s.Send(context.Background(), storage.Mail{ID: 1, To: "gone@example.fi", Subject: "s", Text: "t"})
	if err == nil || errors.Is(err, ErrServerUnreachable) || !strings.Contains(err.Error(), "550") {
		t.Errorf("refused recipient: Send = %v, want the 550, not ErrServerUnreachable", err)
	}
	srv.FailNext(1)
	err = s.Send(context.Background(), storage.Mail{ID: 2, To: "aino@example.fi", Subject: "s", Text: "t"})
	if err == nil || errors.Is(err, ErrServerUnreachable) {
		t.Errorf("451 to DATA: Send = %v, want a refusal of this message", err)
	}
	if err := s.Probe(context.Background()); err != nil {
		t.Errorf("Probe of a running server = %v", err)
	}
	srv.Stop()
	err = s.Send(context.Background(), storage.Mail{ID: 3, To: "aino@example.fi", Subject: "s", Text: "t"})
	if !errors.Is(err, ErrServerUnreachable) {
		t.Errorf("stopped server: Send = %v, want ErrServerUnreachable", err)
	}
	if err := s.Probe(context.Background()); !errors.Is(err, ErrServerUnreachable) {
		t.Errorf("Probe of a stopped server = %v, want ErrServerUnreachable", err)
	}
}

// TestAcceptedMailNeverResent: with the server dropping the connection
// right after it accepted a message, the outbox marks the message sent and
// never sends it again, on both databases.
func TestAcceptedMailNeverResent(t *testing.T) {
	onEachBackend(t, func(t *testing.T, b backend) {
		st := b.open(t)
		srv := smtptest.Start(t)
		srv.DropAfterData(2)
		o := newOutbox(t, OutboxConfig{Store: st, Sender: newSender(t, srv.URL()),
			PollInterval: 5 * time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
		startWorker(t, o)
		enqueueTo(t, o, "first@example.fi")
		enqueueTo(t, o, "second@example.fi")
		waitUntil(t, "both are marked sent", func() bool {
			return !mailIn(t, st, 1).SentAt.IsZero() && !mailIn(t, st, 2).SentAt.IsZero()
		})
		time.Sleep(300 * time.Millisecond) // a resend would come within milliseconds
		for id, to := range map[int64]string{1: "first@example.fi", 2: "second@example.fi"} {
			if n := countTo(srv, to); n != 1 {
				t.Errorf("%s received %d copies, want 1", to, n)
			}
			if m := mailIn(t, st, id); m.Attempts != 0 {
				t.Errorf("mail %d: %d failed attempts recorded (%q), want 0", id, m.Attempts, m.LastError)
			}
		}
	})
}

// TestQueueDrainsWhenServerReturns: during an outage the messages back
// off for a minute and more; once the server answers again they all go
// within seconds, not each after its own back-off. A message the server
// refuses (550) keeps its back-off rather than looping.
func TestQueueDrainsWhenServerReturns(t *testing.T) {
	onEachBackend(t, func(t *testing.T, b backend) {
		st := b.open(t)
		srv := smtptest.Start(t)
		srv.RejectTo("poison@example.fi")
		srv.Stop()
		o := newOutbox(t, OutboxConfig{Store: st, Sender: newSender(t, srv.URL()),
			PollInterval: 20 * time.Millisecond, MinBackoff: time.Minute, MaxBackoff: time.Hour})
		startWorker(t, o)
		const n = 5
		for i := range n {
			enqueueTo(t, o, fmt.Sprintf("user%d@example.fi", i))
		}
		enqueueTo(t, o, "poison@example.fi")
		waitUntil(t, "every message has failed once", func() bool {
			for id := int64(1); id <= n+1; id++ {
				if mailIn(t, st, id).Attempts == 0 {
					return false
				}
			}
			return true
		})
		for id := int64(1); id <= n+1; id++ {
			if wait := time.Until(mailIn(t, st, id).NextAttemptAt); wait < 40*time.Second {
				t.Fatalf("mail %d: next attempt in %v, want the minute's back-off", id, wait)
			}
		}

		srv.Restart()
		back := time.Now()
		deadline := back.Add(15 * time.Second)
		for i := range n {
			to := fmt.Sprintf("user%d@example.fi", i)
			for countTo(srv, to) == 0 {
				if time.Now().After(deadline) {
					t.Fatalf("%s not delivered %v after the server came back (back-off would make it wait a minute)", to, time.Since(back))
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		t.Logf("queue drained %v after the server came back", time.Since(back).Round(time.Millisecond))

		// The refused message tried again once at most, and waits out a
		// back-off again.
		time.Sleep(500 * time.Millisecond)
		p := mailIn(t, st, n+1)
		if p.Attempts > 2 || !p.SentAt.IsZero() || time.Until(p.NextAttemptAt) < 40*time.Second {
			t.Errorf("refused message: %d attempts, next in %v, sent %v; want at most 2 attempts and a back-off", p.Attempts, time.Until(p.NextAttemptAt), p.SentAt)
		}
		for i := range n {
			if c := countTo(srv, fmt.Sprintf("user%d@example.fi", i)); c != 1 {
				t.Errorf("user%d received %d copies", i, c)
			}
		}
	})
}

// TestCrashedNodeMailTakenUp: a node claims a message and dies in the
// middle of sending it (its database connection gone, nothing recorded).
// Another node sends it within seconds, not after a one-minute lease.
func TestCrashedNodeMailTakenUp(t *testing.T) {
	onEachBackend(t, func(t *testing.T, b backend) {
		srv := smtptest.Start(t)
		deadStore := b.open(t)
		claimed := make(chan time.Time, 1)
		dying := newOutbox(t, OutboxConfig{Store: deadStore, PollInterval: 5 * time.Millisecond,
			Sender: funcSender(func(ctx context.Context, _ storage.Mail) error {
				claimed <- time.Now()
				deadStore.Close() // the node is gone: no more writes from it
				<-ctx.Done()      // (until the test ends)
				return ctx.Err()
			})})
		startWorker(t, dying)
		enqueueTo(t, dying, "aino@example.fi")
		at := <-claimed

		st := b.open(t)
		survivor := newOutbox(t, OutboxConfig{Store: st, Sender: newSender(t, srv.URL()), PollInterval: 100 * time.Millisecond})
		startWorker(t, survivor)
		srv.WaitFor(t, smtptest.To("aino@example.fi"), 20*time.Second)
		took := time.Since(at)
		t.Logf("taken up %v after the dead node claimed it", took.Round(time.Millisecond))
		if took > 15*time.Second {
			t.Errorf("taken up after %v, want within seconds", took)
		}
		waitUntil(t, "the mail is marked sent", func() bool { return !mailIn(t, st, 1).SentAt.IsZero() })
	})
}

// TestSlowServerSentOnce: a send that takes longer than the lease keeps
// its lease alive (a heartbeat), so a second node does not send the same
// message meanwhile.
func TestSlowServerSentOnce(t *testing.T) {
	onEachBackend(t, func(t *testing.T, b backend) {
		srv := smtptest.Start(t)
		srv.DelayData(1500 * time.Millisecond)
		nodes := make([]*Outbox, 2)
		for i := range nodes {
			nodes[i] = newOutbox(t, OutboxConfig{Store: b.open(t), Sender: newSender(t, srv.URL()),
				PollInterval: 10 * time.Millisecond, Lease: 300 * time.Millisecond,
				MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
		}
		enqueueTo(t, nodes[0], "aino@example.fi")
		for _, o := range nodes {
			startWorker(t, o)
		}
		srv.WaitFor(t, smtptest.To("aino@example.fi"), 10*time.Second)
		st := b.open(t)
		waitUntil(t, "the mail is marked sent", func() bool { return !mailIn(t, st, 1).SentAt.IsZero() })
		time.Sleep(2 * time.Second) // a second copy would arrive within the delay
		if c := countTo(srv, "aino@example.fi"); c != 1 {
			t.Errorf("received %d copies, want 1", c)
		}
	})
}
