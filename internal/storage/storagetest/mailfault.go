package storagetest

import (
	"testing"
	"time"

	"github.com/portti/portti/internal/storage"
)

// mailFaultTests cover MailDeliveryStorage and AccountTaskStorage.
var mailFaultTests = []conformanceTest{
	{"Mail/RenewLease", testMailRenewLease},
	{"Mail/Resume", testMailResume},
	{"AccountTask/Queue", testAccountTaskQueue},
}

func mailByID(t *testing.T, s storage.Storage, id int64) storage.Mail {
	t.Helper()
	ms, err := s.ListMail(t.Context(), 0)
	must(t, "ListMail", err)
	for _, m := range ms {
		if m.ID == id {
			return m
		}
	}
	t.Fatalf("mail %d not listed", id)
	return storage.Mail{}
}

// testMailRenewLease: only the holder of the current lease renews it, and
// never for a sent message.
func testMailRenewLease(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	id, err := s.EnqueueMail(ctx, sampleMail("a@example.com"))
	must(t, "EnqueueMail", err)
	claimed, err := s.ClaimMail(ctx, at(0), time.Minute, 10)
	must(t, "ClaimMail", err)
	if len(claimed) != 1 {
		t.Fatalf("claimed %d, want 1", len(claimed))
	}
	until := claimed[0].NextAttemptAt
	ok, err := s.RenewMailLease(ctx, id, until.Add(time.Second), at(2*time.Minute))
	must(t, "RenewMailLease", err)
	if ok {
		t.Fatal("RenewMailLease with a lease not held: true")
	}
	ok, err = s.RenewMailLease(ctx, id, until, at(2*time.Minute))
	must(t, "RenewMailLease", err)
	if !ok {
		t.Fatal("RenewMailLease with the lease held: false")
	}
	if got := mailByID(t, s, id).NextAttemptAt; !got.Equal(at(2 * time.Minute).Truncate(time.Microsecond)) {
		t.Errorf("NextAttemptAt after renewal = %v, want %v", got, at(2*time.Minute))
	}
	// Still leased at +1 min; claimable at +2 min.
	if c, err := s.ClaimMail(ctx, at(time.Minute+time.Second), time.Minute, 10); err != nil || len(c) != 0 {
		t.Fatalf("ClaimMail during the renewed lease = %d, %v", len(c), err)
	}
	_, err = s.UpdateMail(ctx, id, func(m storage.Mail) (storage.Mail, error) {
		m.SentAt = at(time.Second)
		return m, nil
	})
	must(t, "UpdateMail", err)
	ok, err = s.RenewMailLease(ctx, id, mailByID(t, s, id).NextAttemptAt, at(3*time.Minute))
	must(t, "RenewMailLease", err)
	if ok {
		t.Error("RenewMailLease of a sent message: true")
	}
}

// testMailResume: ResumeMail makes unreachable, unsent mail due and
// clears the mark; a claim clears it too, so that a message being sent is
// not made due again.
func testMailResume(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	enqueue := func(to string, unreachable bool, sent time.Time) int64 {
		t.Helper()
		m := sampleMail(to)
		m.NextAttemptAt, m.Unreachable, m.SentAt = at(time.Hour), unreachable, sent
		id, err := s.EnqueueMail(ctx, m)
		must(t, "EnqueueMail", err)
		return id
	}
	waiting := enqueue("waiting@example.com", true, time.Time{})
	refused := enqueue("refused@example.com", false, time.Time{})
	sent := enqueue("sent@example.com", true, at(-time.Minute))
	if !mailByID(t, s, waiting).Unreachable {
		t.Fatal("Unreachable not stored")
	}
	n, err := s.ResumeMail(ctx, at(0))
	must(t, "ResumeMail", err)
	if n != 1 {
		t.Errorf("ResumeMail resumed %d, want 1", n)
	}
	if m := mailByID(t, s, waiting); m.Unreachable || !m.NextAttemptAt.Equal(at(0).Truncate(time.Microsecond)) {
		t.Errorf("resumed mail: Unreachable %v, NextAttemptAt %v; want false, %v", m.Unreachable, m.NextAttemptAt, at(0))
	}
	for _, id := range []int64{refused, sent} {
		if m := mailByID(t, s, id); !m.NextAttemptAt.Equal(at(time.Hour).Truncate(time.Microsecond)) {
			t.Errorf("mail %d (%s) was resumed", id, m.To)
		}
	}

	// Mark it unreachable again, due now; a claim clears the mark.
	_, err = s.UpdateMail(ctx, waiting, func(m storage.Mail) (storage.Mail, error) {
		m.Unreachable = true
		return m, nil
	})
	must(t, "UpdateMail", err)
	claimed, err := s.ClaimMail(ctx, at(time.Second), time.Minute, 10)
	must(t, "ClaimMail", err)
	if len(claimed) != 1 || claimed[0].ID != waiting || claimed[0].Unreachable {
		t.Fatalf("ClaimMail = %+v, want the waiting mail without the mark", claimed)
	}
	if n, err := s.ResumeMail(ctx, at(2*time.Second)); err != nil || n != 0 {
		t.Errorf("ResumeMail of claimed mail = %d, %v; want 0", n, err)
	}
	if m := mailByID(t, s, waiting); m.Unreachable || !m.NextAttemptAt.Equal(at(time.Second+time.Minute).Truncate(time.Microsecond)) {
		t.Errorf("claimed mail after ResumeMail: %+v", m)
	}
}

// testAccountTaskQueue: enqueue, claim with a lease, delete once, retry.
func testAccountTaskQueue(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	var want []storage.AccountTask
	for i, kind := range []string{"recovery", "register"} {
		task := storage.AccountTask{Kind: kind, Email: "a@example.com", Payload: `{"lang":"fi"}`,
			CreatedAt: at(time.Duration(i) * time.Second), NextAttemptAt: at(time.Duration(i) * time.Second)}
		id, err := s.EnqueueAccountTask(ctx, task)
		must(t, "EnqueueAccountTask", err)
		task.ID = id
		want = append(want, task)
	}
	if n, err := s.CountAccountTasks(ctx); err != nil || n != 2 {
		t.Fatalf("CountAccountTasks = %d, %v; want 2", n, err)
	}
	got, err := s.ClaimAccountTasks(ctx, at(0), time.Minute, 10)
	must(t, "ClaimAccountTasks", err)
	want[0].NextAttemptAt = at(time.Minute)
	checkRecords(t, "ClaimAccountTasks at t0", got, want[:1])
	got, err = s.ClaimAccountTasks(ctx, at(30*time.Second), time.Minute, 10)
	must(t, "ClaimAccountTasks", err)
	want[1].NextAttemptAt = at(30*time.Second + time.Minute)
	checkRecords(t, "ClaimAccountTasks at +30 s", got, want[1:])

	must(t, "DeleteAccountTask", s.DeleteAccountTask(ctx, want[0].ID))
	checkErrorIs(t, "DeleteAccountTask again", s.DeleteAccountTask(ctx, want[0].ID), storage.ErrNotFound)

	must(t, "RetryAccountTask", s.RetryAccountTask(ctx, want[1].ID, at(time.Hour), "database busy"))
	checkErrorIs(t, "RetryAccountTask of a deleted task", s.RetryAccountTask(ctx, want[0].ID, at(time.Hour), "x"), storage.ErrNotFound)
	if got, err := s.ClaimAccountTasks(ctx, at(time.Hour-time.Second), time.Minute, 10); err != nil || len(got) != 0 {
		t.Fatalf("ClaimAccountTasks before the retry = %+v, %v", got, err)
	}
	got, err = s.ClaimAccountTasks(ctx, at(time.Hour), time.Minute, 10)
	must(t, "ClaimAccountTasks", err)
	want[1].NextAttemptAt, want[1].Attempts, want[1].LastError = at(time.Hour+time.Minute), 1, "database busy"
	checkRecords(t, "ClaimAccountTasks at the retry", got, want[1:])
	if n, err := s.CountAccountTasks(ctx); err != nil || n != 1 {
		t.Fatalf("CountAccountTasks = %d, %v; want 1", n, err)
	}
}
