package mail

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	netmail "net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/portti/portti/internal/storage"
)

// Sender delivers one rendered message. The Outbox calls it from its worker
// only, one message at a time.
//
// Send's error tells the Outbox what to do next: an *AcceptedError means
// the message was delivered (it is never sent again), ErrServerUnreachable
// in the chain means the server could not be reached or talked to at all
// (the message is retried as soon as the server answers again), and any
// other error means the server refused this message (it is retried with
// back-off, so that a message the server will never take does not loop).
type Sender interface {
	Send(ctx context.Context, m storage.Mail) error
}

// Prober is a Sender that can check cheaply whether its server answers.
type Prober interface {
	Probe(ctx context.Context) error
}

// ErrServerUnreachable is in the chain of a Send error when the server
// could not be reached or did not speak SMTP with us (connection refused
// or dropped, a timeout, 421 service not available), as opposed to a reply
// refusing the message itself.
var ErrServerUnreachable = errors.New("mail server unreachable")

// AcceptedError is a failure after the server accepted the message (250
// to the end of DATA), such as the connection dropping before RSET or
// QUIT. The message was delivered and must not be sent again.
type AcceptedError struct{ Err error }

func (e *AcceptedError) Error() string {
	return "accepted by the server, then: " + e.Err.Error()
}

func (e *AcceptedError) Unwrap() error { return e.Err }

// smtpTimeout bounds connecting and each SMTP command.
const smtpTimeout = 10 * time.Second

// SMTPSender sends mail through one SMTP server (a relay or a submission
// service); it does not look up MX records.
type SMTPSender struct {
	from     *netmail.Address
	host     string
	port     int
	ssl      bool
	user     string
	password string
	domain   string // the From address's domain, for Message-IDs
}

var _ Sender = (*SMTPSender)(nil)

// NewSMTPSender parses smtpURL and the From address.
//
//   - smtp://host[:port] (port 25 by default) uses STARTTLS when the server
//     offers it (opportunistic TLS; a server offering STARTTLS with a bad
//     certificate is an error, not a fallback to plain text).
//   - smtps://host[:port] (port 465 by default) uses implicit TLS.
//   - user:password@ in either enables SMTP AUTH, PLAIN or LOGIN as the
//     server offers. Credentials are sent only over TLS or to a loopback
//     server. Percent-encode reserved characters in them (@ as %40).
//
// from is the From header and envelope sender, e.g.
// "portti <noreply@example.fi>".
func NewSMTPSender(smtpURL, from string) (*SMTPSender, error) {
	u, err := url.Parse(smtpURL)
	if err != nil {
		// url.Parse's error quotes the URL, password and all.
		return nil, errors.New("mail: SMTP URL does not parse")
	}
	s := &SMTPSender{host: u.Hostname()}
	switch u.Scheme {
	case "smtp":
		s.port = 25
	case "smtps":
		s.port, s.ssl = 465, true
	default:
		return nil, fmt.Errorf("mail: SMTP URL %s: scheme must be smtp or smtps", u.Redacted())
	}
	if s.host == "" {
		return nil, fmt.Errorf("mail: SMTP URL %s: no host", u.Redacted())
	}
	if p := u.Port(); p != "" {
		if s.port, err = strconv.Atoi(p); err != nil || s.port < 1 || s.port > 65535 {
			return nil, fmt.Errorf("mail: SMTP URL %s: bad port", u.Redacted())
		}
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("mail: SMTP URL %s: unexpected path or query", u.Redacted())
	}
	if u.User != nil {
		s.user = u.User.Username()
		s.password, _ = u.User.Password()
	}
	if s.from, err = netmail.ParseAddress(from); err != nil {
		return nil, fmt.Errorf("mail: From address %q: %w", from, err)
	}
	s.domain = s.from.Address[strings.LastIndexByte(s.from.Address, '@')+1:]
	if _, err := s.client(); err != nil { // check the options once
		return nil, fmt.Errorf("mail: %w", err)
	}
	return s, nil
}

// client makes a go-mail client per message: go-mail clients keep
// per-connection state, and a fresh one costs nothing next to the dial.
func (s *SMTPSender) client() (*gomail.Client, error) {
	opts := []gomail.Option{
		gomail.WithPort(s.port),
		gomail.WithTimeout(smtpTimeout),
	}
	if s.ssl {
		opts = append(opts, gomail.WithSSL())
	} else {
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if s.user != "" {
		opts = append(opts,
			gomail.WithUsername(s.user),
			gomail.WithPassword(s.password),
			// PLAIN or LOGIN, whichever the server offers; go-mail refuses
			// both on an unencrypted connection to anything but loopback.
			gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthPlain, gomail.SMTPAuthLogin),
		)
	}
	return gomail.NewClient(s.host, opts...)
}

// Send delivers m as multipart/alternative (text and HTML).
func (s *SMTPSender) Send(ctx context.Context, m storage.Mail) error {
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	msg.FromMailAddress(s.from)
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("recipient: %w", err)
	}
	msg.Subject(m.Subject)
	date := m.CreatedAt
	if date.IsZero() {
		date = time.Now()
	}
	msg.SetDateWithValue(date)
	msg.SetMessageIDWithValue(s.messageID(m))
	// RFC 3834: no vacation replies or other auto-responses to this.
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	c, err := s.client()
	if err != nil {
		return err
	}
	err = c.DialAndSendWithContext(ctx, msg)
	switch {
	case err == nil:
		return nil
	case msg.IsDelivered():
		// go-mail marks the message delivered once the server replied 250
		// to DATA; what failed came after (RSET, QUIT).
		return &AcceptedError{Err: err}
	case refusedMessage(err):
		return err
	default:
		return fmt.Errorf("%w: %w", ErrServerUnreachable, err)
	}
}

// refusedMessage reports whether err is the server's reply refusing this
// message (to MAIL FROM, RCPT TO or DATA), rather than the server being
// unreachable: a connection that fails, a timeout, or 421 (the server
// closing the session, RFC 5321 §3.8).
func refusedMessage(err error) bool {
	var se *gomail.SendError
	if !errors.As(err, &se) {
		return false
	}
	switch se.Reason {
	case gomail.ErrSMTPMailFrom, gomail.ErrSMTPRcptTo, gomail.ErrSMTPData, gomail.ErrSMTPDataClose:
	default:
		return false
	}
	code := se.ErrorCode()
	return code >= 400 && code < 600 && code != 421
}

// Probe connects to the server, greets it (with STARTTLS and AUTH as a
// message would) and says QUIT: the server answers and would take mail.
func (s *SMTPSender) Probe(ctx context.Context) error {
	c, err := s.client()
	if err != nil {
		return err
	}
	if err := c.DialWithContext(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrServerUnreachable, err)
	}
	_ = c.Close()
	return nil
}

// messageID is stable across retries of one outbox row, so that if a
// message does go out twice (a node died between sending and recording it)
// mail clients can tell the copies are one message.
func (s *SMTPSender) messageID(m storage.Mail) string {
	if m.ID == 0 || m.CreatedAt.IsZero() {
		var b [12]byte
		_, _ = rand.Read(b[:])
		return "portti." + hex.EncodeToString(b[:]) + "@" + s.domain
	}
	return fmt.Sprintf("portti.%d.%d@%s", m.ID, m.CreatedAt.UnixNano(), s.domain)
}
