// Package mail is what portti's e-mails say and how they get delivered
// without losing any.
//
// Every message portti sends is a Go type (Activation, Recovery, ...)
// holding the data its templates need. Messages are rendered in the
// recipient's language (Finnish, Swedish or English) when they are
// enqueued: Outbox.Enqueue writes the finished subject and bodies into the
// storage outbox inside the caller's transaction, so an account and its
// activation mail commit together or not at all, and a template change
// cannot alter a message already waiting.
//
// Outbox.Run is the delivery worker. It claims due messages with a lease,
// so several portti nodes sharing a database never send one message at
// the same time, sends them over SMTP and retries failures with
// exponential backoff for as long as it takes; no message is dropped.
// Delivery is at least once: a node that dies between handing a message to
// the SMTP server and recording it leaves it to be sent again when its
// lease runs out.
//
// With no SMTP server configured (dev mode) messages stay in the outbox:
// Enqueue logs each message's links so a developer can follow them from
// the terminal, and a dev page lists the outbox.
package mail
