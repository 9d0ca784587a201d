package account

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/portti/portti/internal/storage"
)

// Forms that take an e-mail address (forgot password, resend activation,
// registration) must not tell by their speed whether the address has an
// account. Their requests therefore only store one task, the same single
// insert for any address, and answer; RunTasks does the account-specific
// work (look the address up, issue a link, audit, queue the e-mail) in the
// background. The task is durable before the page answers, so nothing is
// lost if the node stops, and any node's worker may do it.
//
// The worker claims tasks with a lease and deletes each in the
// transaction that does its work, so a task is done once even when two
// nodes got it.

// Task kinds.
const (
	taskRecovery   = "recovery"          // ForgotPassword
	taskActivation = "activation_resend" // ResendActivation
	taskRegister   = "register"          // Register
)

const (
	taskDelay      = 200 * time.Millisecond // from a request's task to the worker's wake-up
	taskPoll       = 2 * time.Second        // how often the worker looks for tasks another node queued
	taskLease      = 15 * time.Second       // a crashed worker's task is taken up after this
	taskBatch      = 20
	taskMinBackoff = 2 * time.Second
	taskMaxBackoff = 10 * time.Minute
)

// taskData is a task's payload: the request's audit fields and language,
// and for a registration the account to create (its password already
// hashed).
type taskData struct {
	ClientIP  string           `json:"client_ip,omitempty"`
	UserAgent string           `json:"user_agent,omitempty"`
	Lang      string           `json:"lang,omitempty"`
	Account   *storage.Account `json:"account,omitempty"`
}

func (d taskData) meta() Meta {
	return Meta{ClientIP: d.ClientIP, UserAgent: d.UserAgent, Lang: d.Lang}
}

// enqueueTask stores a task and wakes the worker.
func (s *Service) enqueueTask(ctx context.Context, kind, email string, m Meta, a *storage.Account) error {
	payload, err := json.Marshal(taskData{ClientIP: m.ClientIP, UserAgent: m.UserAgent, Lang: m.Lang, Account: a})
	if err != nil {
		return fmt.Errorf("%s: %w", kind, err)
	}
	now := s.now()
	if _, err := s.cfg.Store.EnqueueAccountTask(ctx, storage.AccountTask{
		Kind: kind, Email: email, Payload: string(payload), CreatedAt: now, NextAttemptAt: now,
	}); err != nil {
		return fmt.Errorf("%s: %w", kind, err)
	}
	// Wake the worker once the answer is out: work started at once would
	// compete with the rest of this request for the processor and the
	// database, and its extra work for a known address would show in the
	// answer's time. Requests in a burst share one wake-up.
	if s.taskWakeScheduled.CompareAndSwap(false, true) {
		time.AfterFunc(taskDelay, func() {
			s.taskWakeScheduled.Store(false)
			select {
			case s.taskWake <- struct{}{}:
			default:
			}
		})
	}
	return nil
}

// RunTasks does the queued account tasks until ctx is done, then returns
// nil. Errors are logged and the task retried with back-off. Any number of
// workers, on one node or many, may run against one database.
func (s *Service) RunTasks(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.taskWake:
		case <-timer.C:
		}
		next := taskPoll
		if n, _ := s.DoTasks(ctx); n == taskBatch {
			next = 0 // more may be due
		}
		timer.Reset(next)
	}
}

// DoTasks claims the due tasks and does them, returning how many it
// claimed. RunTasks calls it; tests may too.
func (s *Service) DoTasks(ctx context.Context) (int, error) {
	tasks, err := s.cfg.Store.ClaimAccountTasks(ctx, s.now(), taskLease, taskBatch)
	if err != nil {
		if ctx.Err() == nil {
			s.cfg.Logger.ErrorContext(ctx, "account tasks: cannot claim", "error", err)
		}
		return 0, err
	}
	for _, t := range tasks {
		s.doTask(ctx, t)
	}
	return len(tasks), nil
}

// PendingTasks returns how many account tasks wait.
func (s *Service) PendingTasks(ctx context.Context) (int, error) {
	return s.cfg.Store.CountAccountTasks(ctx)
}

// errTaskDone: another worker did the task (its lease ran out here).
var errTaskDone = errors.New("account task already done")

// doTask does one task in one transaction with its deletion.
func (s *Service) doTask(ctx context.Context, t storage.AccountTask) {
	var d taskData
	err := json.Unmarshal([]byte(t.Payload), &d)
	if err == nil {
		err = s.inTx(ctx, func(tx storage.Storage) error {
			if err := tx.DeleteAccountTask(ctx, t.ID); err != nil {
				if errors.Is(err, storage.ErrNotFound) {
					return errTaskDone
				}
				return err
			}
			switch t.Kind {
			case taskRecovery:
				return s.forgotPassword(ctx, tx, t.Email, d.meta())
			case taskActivation:
				return s.resendActivationTx(ctx, tx, t.Email, d.meta())
			case taskActivationRequest:
				return s.activationRequestTx(ctx, tx, t.Email, d.meta())
			case taskRegister:
				if d.Account == nil {
					return errors.New("register task without an account")
				}
				return s.register(ctx, tx, *d.Account, d.meta())
			default:
				return fmt.Errorf("unknown task kind %q", t.Kind)
			}
		})
	}
	switch {
	case err == nil || errors.Is(err, errTaskDone):
		return
	case ctx.Err() != nil:
		return // shutting down: the lease runs out and someone does it
	}
	// A registration racing another one for the same address lost: do it
	// again at once, when it finds the account and tells the owner.
	next := s.now()
	if !errors.Is(err, storage.ErrConflict) {
		next = next.Add(taskBackoff(t.Attempts + 1))
	}
	s.cfg.Logger.ErrorContext(ctx, "account task failed, will retry", "task_id", t.ID, "kind", t.Kind,
		"attempts", t.Attempts+1, "next_attempt", next, "error", err)
	if rerr := s.cfg.Store.RetryAccountTask(ctx, t.ID, next, truncateError(err.Error())); rerr != nil && !errors.Is(rerr, storage.ErrNotFound) {
		s.cfg.Logger.ErrorContext(ctx, "account task: failure not recorded; it waits for its lease", "task_id", t.ID, "error", rerr)
	}
}

// taskBackoff doubles from taskMinBackoff up to taskMaxBackoff.
func taskBackoff(attempts int) time.Duration {
	d := taskMinBackoff
	for i := 1; i < attempts && d < taskMaxBackoff; i++ {
		d *= 2
	}
	return min(d, taskMaxBackoff)
}

func truncateError(s string) string {
	if len(s) > 1000 {
		return strings.ToValidUTF8(s[:1000], "")
	}
	return s
}
