// Package smtptest runs an in-process SMTP server for tests: it receives
// the mail portti sends, parses it, and lets a test wait for a message and
// follow its links. It can be stopped and restarted on the same port, and
// told to fail in the ways real servers do, to test delivery under faults:
// refuse messages with a temporary error (FailNext), refuse a recipient for
// good (RejectTo), drop the connection right after accepting a message
// (DropAfterData), answer slowly (DelayData). It is for tests only.
//
//	srv := smtptest.Start(t)
//	// configure portti with srv.URL() ...
//	m := srv.WaitFor(t, smtptest.To("anna@example.fi"), 5*time.Second)
//	link := smtptest.Links(m)[0]
package smtptest

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is one received message.
type Message struct {
	EnvelopeFrom string   // MAIL FROM
	To           []string // RCPT TO, in order
	From         string   // the From header, decoded
	Subject      string   // the Subject header, decoded
	ContentType  string   // the top-level media type, e.g. multipart/alternative
	Text         string   // the text/plain part, decoded, with \n line ends
	HTML         string   // the text/html part, decoded, with \n line ends
	Header       mail.Header
	Raw          []byte // the message as received
}

// Server is a running test SMTP server.
type Server struct {
	addr string // fixed at Start; kept across Restart

	mu       sync.Mutex
	srv      *smtp.Server // nil while stopped
	l        net.Listener
	msgs     []Message
	errs     []error // messages that could not be parsed
	tempFail int     // refuse this many more messages with 451
	dropData int     // drop the connection after accepting this many more
	delay    time.Duration
	rejectTo map[string]bool // recipients refused with 550
	user     string
	pass     string
	changed  chan struct{} // closed and replaced when msgs changes
}

// Option configures Start.
type Option func(*Server)

// WithAuth makes the server require SMTP AUTH PLAIN with these credentials
// (offered without TLS, which go-mail allows on loopback).
func WithAuth(user, password string) Option {
	return func(s *Server) { s.user, s.pass = user, password }
}

// Start runs a server on 127.0.0.1 on a free port. It stops when the test
// ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{changed: make(chan struct{})}
	for _, o := range opts {
		o(s)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtptest: %v", err)
	}
	s.addr = l.Addr().String()
	s.serve(l)
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) serve(l net.Listener) {
	srv := smtp.NewServer(&backend{s})
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.MaxMessageBytes = 10 << 20
	srv.ErrorLog = log.New(io.Discard, "", 0)
	s.mu.Lock()
	s.srv, s.l = srv, l
	s.mu.Unlock()
	go func() { _ = srv.Serve(l) }()
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.addr }

// URL is the server's address as an SMTP URL for portti, e.g.
// smtp://127.0.0.1:34567, with the credentials if WithAuth was given.
func (s *Server) URL() string {
	u := url.URL{Scheme: "smtp", Host: s.addr}
	if s.user != "" {
		u.User = url.UserPassword(s.user, s.pass)
	}
	return u.String()
}

// Stop closes the server and its connections, so that senders get
// "connection refused" until Restart. Stopping a stopped server does
// nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	srv, l := s.srv, s.l
	s.srv, s.l = nil, nil
	s.mu.Unlock()
	if srv != nil {
		// Close the listener ourselves too: Serve may not have registered
		// it with the server yet.
		_ = l.Close()
		_ = srv.Close()
	}
}

// Restart starts the server again on the same port, keeping the messages
// received so far. It stops it first if it is running, and panics if the
// port cannot be had again.
func (s *Server) Restart() {
	s.Stop()
	var l net.Listener
	var err error
	// The port is ours until someone else takes it; retry briefly in case
	// the old socket lingers.
	for i := 0; i < 50; i++ {
		if l, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		panic(fmt.Sprintf("smtptest: cannot listen on %s again: %v", s.addr, err))
	}
	s.serve(l)
}

// FailNext makes the server refuse the next n messages with "451 4.3.0"
// (a temporary failure, so a sender should retry) after receiving them.
func (s *Server) FailNext(n int) {
	s.mu.Lock()
	s.tempFail = n
	s.mu.Unlock()
}

// DropAfterData makes the server accept the next n messages (250 to DATA,
// and they count as received) and then drop the connection at once, so
// that the sender's next command (RSET or QUIT) fails.
func (s *Server) DropAfterData(n int) {
	s.mu.Lock()
	s.dropData = n
	s.mu.Unlock()
}

// DelayData makes the server wait d after receiving a message before it
// answers, as an overloaded server does.
func (s *Server) DelayData(d time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
}

// RejectTo makes the server refuse the recipient addr with "550 5.1.1"
// (a permanent failure) from now on.
func (s *Server) RejectTo(addr string) {
	s.mu.Lock()
	if s.rejectTo == nil {
		s.rejectTo = make(map[string]bool)
	}
	s.rejectTo[strings.ToLower(addr)] = true
	s.mu.Unlock()
}

// Messages returns the messages received so far, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Clear forgets the messages received so far.
func (s *Server) Clear() {
	s.mu.Lock()
	s.msgs = nil
	s.mu.Unlock()
}

// WaitFor returns the first received message for which match is true,
// waiting up to timeout for it to arrive. On timeout it fails the test,
// listing what was received.
func (s *Server) WaitFor(t testing.TB, match func(Message) bool, timeout time.Duration) Message {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		changed := s.changed
		for _, m := range s.msgs {
			if match(m) {
				s.mu.Unlock()
				return m
			}
		}
		got := make([]string, 0, len(s.msgs))
		for _, m := range s.msgs {
			got = append(got, fmt.Sprintf("\n  to %v: %q", m.To, m.Subject))
		}
		errs := errors.Join(s.errs...)
		s.mu.Unlock()
		select {
		case <-changed:
		case <-deadline.C:
			if errs != nil {
				t.Fatalf("smtptest: no matching message after %v; received %d:%s\nunparsable messages: %v", timeout, len(got), strings.Join(got, ""), errs)
			}
			t.Fatalf("smtptest: no matching message after %v; received %d:%s", timeout, len(got), strings.Join(got, ""))
		}
	}
}

// To matches messages sent to addr (compared without regard to case).
func To(addr string) func(Message) bool {
	return func(m Message) bool {
		for _, to := range m.To {
			if strings.EqualFold(to, addr) {
				return true
			}
		}
		return false
	}
}

var linkRE = regexp.MustCompile(`https?://[^\s<>"]+`)

// Links returns the http(s) URLs in m's text body, in order.
func Links(m Message) []string {
	links := linkRE.FindAllString(m.Text, -1)
	for i, l := range links {
		links[i] = strings.TrimRight(l, ".,;:!?)")
	}
	return links
}

func (s *Server) add(m Message, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.errs = append(s.errs, err)
	} else {
		s.msgs = append(s.msgs, m)
	}
	close(s.changed)
	s.changed = make(chan struct{})
}

type backend struct{ s *Server }

func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{s: b.s, conn: c}, nil
}

type session struct {
	s      *Server
	conn   *smtp.Conn
	authed bool
	from   string
	to     []string
	drop   bool // drop the connection once the 250 to DATA is written
}

func (ss *session) AuthMechanisms() []string {
	if ss.s.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if ss.s.user == "" || mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != ss.s.user || pass != ss.s.pass {
			return smtp.ErrAuthFailed
		}
		ss.authed = true
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.user != "" && !ss.authed {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.s.mu.Lock()
	reject := ss.s.rejectTo[strings.ToLower(to)]
	ss.s.mu.Unlock()
	if reject {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "smtptest: no such mailbox"}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	fail := ss.s.tempFail > 0
	if fail {
		ss.s.tempFail--
	}
	delay := ss.s.delay
	ss.s.mu.Unlock()
	time.Sleep(delay)
	if fail {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "smtptest: try again later"}
	}
	m, err := parse(raw)
	m.EnvelopeFrom = ss.from
	m.To = append([]string(nil), ss.to...)
	ss.s.add(m, err)
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "smtptest: " + err.Error()}
	}
	ss.s.mu.Lock()
	if ss.s.dropData > 0 {
		ss.s.dropData--
		ss.drop = true
	}
	ss.s.mu.Unlock()
	return nil
}

// Reset is called on RSET and, by go-smtp, right after the reply to DATA
// has been written: the moment to drop a connection after a 250.
func (ss *session) Reset() {
	ss.from, ss.to = "", nil
	if ss.drop {
		ss.drop = false
		// The raw connection: go-smtp holds the Conn's lock here.
		_ = ss.conn.Conn().Close()
	}
}

func (ss *session) Logout() error { return nil }

// parse reads a message's headers and its text and HTML parts.
func parse(raw []byte) (Message, error) {
	m := Message{Raw: raw}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return m, fmt.Errorf("parse message: %w", err)
	}
	m.Header = msg.Header
	dec := new(mime.WordDecoder)
	if m.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return m, fmt.Errorf("decode Subject: %w", err)
	}
	if m.From, err = dec.DecodeHeader(msg.Header.Get("From")); err != nil {
		return m, fmt.Errorf("decode From: %w", err)
	}
	m.ContentType, err = collect(&m, msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
	return m, err
}

// collect stores the text and HTML parts found in one MIME entity and
// returns its media type.
func collect(m *Message, contentType, encoding string, body io.Reader) (string, error) {
	if contentType == "" {
		contentType = "text/plain"
	}
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return "", fmt.Errorf("Content-Type %q: %w", contentType, err)
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			// NextRawPart: decode quoted-printable here, like every other
			// encoding, rather than have the reader drop the header.
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return mediaType, nil
			}
			if err != nil {
				return "", fmt.Errorf("multipart: %w", err)
			}
			if _, err := collect(m, p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p); err != nil {
				return "", err
			}
		}
	}
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, &newlineStripper{r: body})
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return "", fmt.Errorf("%s body: %w", mediaType, err)
	}
	text := strings.ReplaceAll(string(b), "\r\n", "\n")
	switch mediaType {
	case "text/plain":
		if m.Text == "" {
			m.Text = text
		}
	case "text/html":
		if m.HTML == "" {
			m.HTML = text
		}
	}
	return mediaType, nil
}

// newlineStripper drops CR and LF, which base64 bodies are wrapped with.
type newlineStripper struct{ r io.Reader }

func (n *newlineStripper) Read(p []byte) (int, error) {
	for {
		k, err := n.r.Read(p)
		j := 0
		for _, c := range p[:k] {
			if c != '\r' && c != '\n' {
				p[j] = c
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}
