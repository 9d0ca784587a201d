package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// wire is one load worker's own keep-alive HTTP/1.1 connection: requests
// go out as prepared bytes and answers are read with net/http's own
// parser (http.ReadResponse), one at a time, as wrk does.
//
// Why not http.Client: its Transport hands every request to a
// connection's writer and reader goroutines and the answer back, which
// costs goroutine switches and futex wake-ups per request. On a 2-core
// machine shared with the server, that load generator took 60–80 µs of
// CPU per request, about as much as the server spent answering; this one
// takes a fraction, so the figures measure portti rather than the client.
// The browser flow (c) keeps http.Client, cookie jar and all.
type wire struct {
	addr string
	conn net.Conn
	br   *bufio.Reader
	body bytes.Buffer
	// header is the last answer's header (for the sign-in scenarios'
	// cookies and redirects), valid until the next call.
	header http.Header
}

// roundTrip sends req (a whole serialised request) and returns the status
// and body of the answer; the body is valid until the next call. There
// are no retries: a request that may have reached the server (a refresh
// token rotation, say) must not be sent twice. A failed connection is
// closed and the next call dials a new one.
func (w *wire) roundTrip(ctx context.Context, req []byte) (status int, body []byte, err error) {
	if w.conn == nil {
		d := net.Dialer{Timeout: 5 * time.Second}
		if w.conn, err = d.DialContext(ctx, "tcp", w.addr); err != nil {
			return 0, nil, err
		}
		w.br = bufio.NewReaderSize(w.conn, 16<<10)
	}
	// A server that stops answering fails the request instead of
	// hanging the benchmark.
	_ = w.conn.SetDeadline(time.Now().Add(requestTimeout))
	if _, err := w.conn.Write(req); err != nil {
		w.close()
		return 0, nil, err
	}
	resp, err := http.ReadResponse(w.br, nil)
	if err != nil {
		w.close()
		return 0, nil, err
	}
	w.header = resp.Header
	w.body.Reset()
	_, err = w.body.ReadFrom(resp.Body)
	resp.Body.Close()
	if err != nil {
		w.close()
		return 0, nil, err
	}
	if resp.Close {
		w.close()
	}
	return resp.StatusCode, w.body.Bytes(), nil
}

// requestTimeout bounds one request on a wire.
const requestTimeout = 30 * time.Second

func (w *wire) close() {
	if w.conn != nil {
		w.conn.Close()
		w.conn, w.br = nil, nil
	}
}

// expect sends req on w and checks that the answer has status 200 and
// contains want.
func (w *wire) expect(ctx context.Context, req []byte, what string, want []byte) ([]byte, error) {
	status, body, err := w.roundTrip(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if status != http.StatusOK {
		return nil, &statusError{what, status, string(body)}
	}
	if !bytes.Contains(body, want) {
		return nil, fmt.Errorf("%s: no %s in %.300s", what, want, body)
	}
	return body, nil
}

// rawRequest serialises a request to the benchmark's server, with the
// headers given as name, value pairs.
func (b *bench) rawRequest(method, path, body string, header ...string) []byte {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, b.base+path, r)
	if err != nil {
		panic(err) // the benchmark's own constant requests
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	var buf bytes.Buffer
	if err := req.Write(&buf); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// newWires returns n connections, each dialled on first use; closeWires
// closes them.
func (b *bench) newWires(n int) []*wire {
	ws := make([]*wire, n)
	for i := range ws {
		ws[i] = &wire{addr: b.listen}
	}
	return ws
}

func closeWires(ws []*wire) {
	for _, w := range ws {
		w.close()
	}
}
