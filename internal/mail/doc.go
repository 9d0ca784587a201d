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
// Outbox.Run is the delivery worker. It claims due messages with a short
// lease, which it renews while it works, so several portti nodes sharing a
// database never send one message at the same time and the mail of a node
// that crashed is taken up by another within seconds. It sends them over
// SMTP and retries failures with exponential backoff for as long as it
// takes; no message is dropped. A message the server accepted (250 to
// DATA) counts as sent whatever the connection does afterwards. A failure
// to reach the server at all marks the message as waiting for the server:
// as soon as the server answers again (a cheap probe, or any message
// going through) all such messages are due at once, while a message the
// server refuses keeps its back-off. Delivery is still at least once in
// one case: a node that dies between the server's 250 and recording it
// leaves the message to be sent again when its lease runs out; the
// Message-ID stays the same, so mail clients can tell the copies apart.
//
// With no SMTP server configured (dev mode) messages stay in the outbox:
// Enqueue logs each message's links so a developer can follow them from
// the terminal, and a dev page lists the outbox.
package mail
