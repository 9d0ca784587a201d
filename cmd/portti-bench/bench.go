package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/portti/portti/internal/authn/passkey/softkey"
	"github.com/portti/portti/internal/password"
)

// bench is one run of the benchmark.
type bench struct {
	opt    options
	stderr io.Writer
	tmp    string
	bin    string

	listen    string // 127.0.0.1:PORT
	pprof     string // 127.0.0.1:PORT, with --profile
	base      string // http://localhost:PORT
	host      string // localhost:PORT, the Host header
	secret    string // the bench client's
	transport *http.Transport
	client    *http.Client // no cookies, no redirects; for the set-up and (c)
	wires     []*wire      // one per worker, for (a), (b), (d), (e) and (f)
	srv       *server
	peak      int64 // VmHWM over the whole run, bytes

	totp     []*totpUser  // (g)'s accounts
	totpNext atomic.Int64 // the next of them to try
}

// stats is the outcome of one load run.
type stats struct {
	ok, errors int
	elapsed    time.Duration
	latencies  []time.Duration // of the successful operations, sorted
	firstErr   error
}

func (s stats) rate() float64 { return float64(s.ok) / s.elapsed.Seconds() }

func (s stats) percentile(p float64) time.Duration {
	if len(s.latencies) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(s.latencies)))) - 1
	return s.latencies[max(0, min(i, len(s.latencies)-1))]
}

// load runs op on conc workers for d; each worker calls op with its
// index until the time is up.
func load(ctx context.Context, conc int, d time.Duration, op func(ctx context.Context, worker int) error) stats {
	type result struct {
		lat      []time.Duration
		errs     int
		firstErr error
	}
	results := make([]result, conc)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for w := range conc {
		wg.Go(func() {
			r := &results[w]
			r.lat = make([]time.Duration, 0, 4096)
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(deadline) {
					return
				}
				if err := op(ctx, w); err != nil {
					r.errs++
					if r.firstErr == nil {
						r.firstErr = err
					}
					continue
				}
				r.lat = append(r.lat, time.Since(t0))
			}
		})
	}
	wg.Wait()
	s := stats{elapsed: time.Since(start)}
	for _, r := range results {
		s.ok += len(r.lat)
		s.errors += r.errs
		s.latencies = append(s.latencies, r.lat...)
		if s.firstErr == nil {
			s.firstErr = r.firstErr
		}
	}
	slices.Sort(s.latencies)
	return s
}

// scenario is one row of the table.
type scenario struct {
	key, name string
	unit      string        // "grants/s", "logins/s", "req/s"
	target    float64       // minimum rate; 0: see the hash limit
	p99       time.Duration // maximum 99th percentile latency; 0: none
	conc      int
	setup     func(ctx context.Context) error
	op        func(ctx context.Context, worker int) error
	after     func(ctx context.Context)
}

// row is a measured scenario.
type row struct {
	scenario
	stats
	cpu      time.Duration // the server's
	genCPU   time.Duration // the load generator's (this process)
	others   time.Duration // every other process's (-1: unknown)
	idle     time.Duration // no process's
	peak     int64         // VmHWM during the scenario (whole run if it could not be reset)
	peakKind string
}

// results is everything the table shows.
type results struct {
	opt              options
	loadStart        string
	loadEnd          string
	startups         []time.Duration
	startup          time.Duration
	idleRSS          int64
	rows             []row
	hashRate         float64         // the mean of hashRates
	hashRates        []float64       // before and after (c)
	hashCPU          []time.Duration // CPU time per hash, before and after (c)
	hashWorkers      int
	hashParams       password.Params
	loginRate        float64
	floors           []time.Duration // the floor's CPU per request, before and after the scenarios
	floor            time.Duration   // their mean
	totpRate         float64         // (g)
	rsaRate          float64         // RSA-2048 signatures/s, measured around (i)
	rsaRates         []float64       // before and after (i)
	rsaCPU           time.Duration   // CPU per signature (mean)
	samlRate         float64         // (i)
	peak             int64
	concurrency      int
	loginConcurrency int
	profileDir       string
	database         string     // where the server kept its data, without a password
	csv              *csvResult // (k)
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.stderr, format+"\n", args...)
}

func (b *bench) run(ctx context.Context, want map[string]bool) (*results, error) {
	res := &results{opt: b.opt, loadStart: loadavg(), concurrency: b.opt.concurrency, loginConcurrency: b.opt.loginConc, profileDir: b.opt.profileDir}
	var err error
	if b.listen, err = freePort(); err != nil {
		return nil, err
	}
	// The public URL is on localhost: passkeys (h) need a domain name.
	// The transport dials localhost's IPv4 address, where portti listens.
	_, port, _ := strings.Cut(b.listen, ":")
	b.host = "localhost:" + port
	b.base = "http://" + b.host
	dbURL, drop, err := benchDatabase(ctx, b.opt.database, b.tmp)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := drop(); err != nil {
			b.logf("removing the benchmark's database: %v", err)
		}
	}()
	res.database = redactedURL(dbURL)
	env := serverEnv("PORTTI_LISTEN="+b.listen, "PORTTI_PUBLIC_URL="+b.base, "PORTTI_DATABASE_URL="+dbURL)
	serveEnv := append(slices.Clip(env), b.opt.serverEnv...)
	if b.opt.profileDir != "" {
		if b.pprof, err = freePort(); err != nil {
			return nil, err
		}
		serveEnv = append(serveEnv, "PORTTI_PPROF="+b.pprof)
	}

	// 1. Create and migrate the database and the signing keys.
	b.logf("first start: creating the database …")
	srv, err := b.startServer(ctx, serveEnv)
	if err != nil {
		return nil, err
	}
	b.logf("  serving after %s (new database)", srv.ready.Round(time.Millisecond))
	if err := srv.stop(); err != nil {
		return nil, err
	}

	// 2. Seed the user and the client.
	b.secret = randomString(32)
	if err := b.cli(ctx, env, benchPassword+"\n", "user", "add", "--email", benchEmail,
		"--given-name", "Penkki", "--family-name", "Testaaja", "--password-stdin"); err != nil {
		return nil, err
	}
	if want["h"] {
		if err := b.cli(ctx, env, passkeyPassword+"\n", "user", "add", "--email", passkeyEmail,
			"--given-name", "Penkki", "--family-name", "Passkey", "--password-stdin"); err != nil {
			return nil, err
		}
	}
	clientArgs := []string{"client", "add", "--id", benchClient, "--name", "portti-bench",
		"--redirect-uri", benchRedirect, "--grant", "authorization_code", "--grant", "refresh_token",
		"--grant", "client_credentials", "--secret-stdin"}
	if b.opt.idTokenAlg != "" {
		clientArgs = append(clientArgs, "--id-token-alg", b.opt.idTokenAlg)
	}
	if err := b.cli(ctx, env, b.secret+"\n", clientArgs...); err != nil {
		return nil, err
	}

	if want["i"] {
		md, err := samlMetadataFile(b.tmp)
		if err != nil {
			return nil, err
		}
		if err := b.cli(ctx, env, "", "saml", "sp", "add", "--metadata", md); err != nil {
			return nil, fmt.Errorf("(i): %w", err)
		}
	}

	if want["j"] {
		if err := b.cli(ctx, env, b.secret+"\n", "client", "add", "--id", benchRegistry, "--name", "portti-bench registry",
			"--grant", "client_credentials", "--scope", "scim", "--secret-stdin"); err != nil {
			return nil, err
		}
	}
	if want["k"] {
		if res.csv, err = b.csvImport(ctx, env); err != nil {
			return nil, err
		}
	}
	if want["g"] {
		b.logf("seeding %d accounts with an authenticator app for (g) …", totpUsers)
		if b.totp, err = seedTOTPUsers(ctx, dbURL, serveEnv); err != nil {
			return nil, fmt.Errorf("(g): %w", err)
		}
	}

	// 3. The tokens the scenarios start from, from code flows with one
	// password login, on a server that is then stopped: the memory of
	// that password hash is not in the measured server's figures.
	maxConc := max(b.opt.concurrency, b.opt.loginConc, b.opt.passkeyConc)
	b.transport = &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext(ctx, network, b.listen)
		},
		MaxIdleConns:        4 * maxConc,
		MaxIdleConnsPerHost: maxConc,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	b.client = &http.Client{
		Transport:     b.transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if srv, err = b.startServer(ctx, serveEnv); err != nil {
		return nil, err
	}
	var chains []string         // (b): the newest refresh token of each worker's chain
	var userToken string        // (d), (e): a person's access token
	var passkeys []*softkey.Key // (h): one per worker
	var samlCookie string       // (i): a signed-in browser's cookies
	if err := func() error {
		browser := b.newBrowser() // signs in once, then has a session
		if want["d"] || want["e"] {
			tr, err := b.codeFlow(ctx, browser, loginScopes)
			if err != nil {
				return fmt.Errorf("access token for (d) and (e): %w", err)
			}
			userToken = tr.AccessToken
		}
		if want["b"] {
			// One chain per worker, each from its own code flow.
			for range b.opt.concurrency {
				tr, err := b.codeFlow(ctx, browser, offlineScopes)
				if err != nil {
					return fmt.Errorf("refresh chains for (b): %w", err)
				}
				if tr.RefreshToken == "" {
					return errors.New("refresh chains for (b): no refresh token for offline_access")
				}
				chains = append(chains, tr.RefreshToken)
			}
		}
		if want["i"] {
			var err error
			if samlCookie, err = b.samlCookie(ctx); err != nil {
				return fmt.Errorf("a session for (i): %w", err)
			}
		}
		if want["h"] {
			var err error
			if passkeys, err = b.seedPasskeys(ctx, b.opt.passkeyConc); err != nil {
				return fmt.Errorf("passkeys for (h): %w", err)
			}
		}
		return nil
	}(); err != nil {
		srv.stop()
		return nil, err
	}
	b.transport.CloseIdleConnections()
	if err := srv.stop(); err != nil {
		return nil, err
	}
	reqs := b.loadRequests(userToken)

	// 4. Start-up on the existing database; the last start stays up.
	for i := range b.opt.starts {
		if i > 0 {
			if err := srv.stop(); err != nil {
				return nil, err
			}
		}
		if srv, err = b.startServer(ctx, serveEnv); err != nil {
			return nil, err
		}
		res.startups = append(res.startups, srv.ready)
	}
	b.srv = srv
	defer srv.stop()
	b.wires = b.newWires(maxConc)
	defer closeWires(b.wires)
	sorted := slices.Clone(res.startups)
	slices.Sort(sorted)
	res.startup = sorted[len(sorted)/2]
	b.logf("start-up to serving: %v (median %s)", res.startups, res.startup.Round(time.Millisecond))
	time.Sleep(time.Second)
	if res.idleRSS, b.peak, err = srv.memory(); err != nil {
		return nil, err
	}
	b.logf("idle RSS: %s", mb(res.idleRSS))

	// The floor's token-sized body: as long as portti's answer to (a).
	var floor *server
	if want["a"] || want["b"] || want["d"] || want["e"] || want["f"] {
		w := &wire{addr: b.listen}
		status, body, err := w.roundTrip(ctx, reqs.clientCredentials)
		w.close()
		if err != nil || status != http.StatusOK {
			return nil, fmt.Errorf("a token response for the floor's size: %d %v", status, err)
		}
		if floor, err = b.startFloor(ctx, len(body)); err != nil {
			return nil, err
		}
		defer floor.stop()
		f, err := b.measureFloor(ctx, floor, reqs.clientCredentials)
		if err != nil {
			return nil, err
		}
		res.floors = append(res.floors, f)
	}

	conc := b.opt.concurrency
	var scim *scimLoad // (j)
	scenarios := []scenario{
		{key: "a", name: "client_credentials", unit: "grants/s", target: 5000, conc: conc,
			op: func(ctx context.Context, w int) error {
				return b.clientCredentials(ctx, b.wires[w], reqs.clientCredentials)
			}},
		{key: "b", name: "refresh (rotation)", unit: "grants/s", target: 2000, conc: conc,
			op: func(ctx context.Context, w int) error { return b.refresh(ctx, b.wires[w], &chains[w]) }},
		{key: "c", name: "password login (full flow)", unit: "logins/s", conc: b.opt.loginConc,
			setup: func(ctx context.Context) error {
				b.logf("measuring the password-hash limit for %s …", b.opt.hashDuration)
				res.hashParams = password.DefaultParams
				res.hashWorkers = runtime.GOMAXPROCS(0)
				rate, cpu := hashLimit(ctx, res.hashWorkers, b.opt.hashDuration)
				res.hashRates, res.hashCPU = append(res.hashRates, rate), append(res.hashCPU, cpu)
				b.logf("  %.1f hashes/s, %s CPU per hash", rate, ms(cpu))
				return nil
			},
			after: func(ctx context.Context) {
				b.logf("measuring the password-hash limit again …")
				rate, cpu := hashLimit(ctx, res.hashWorkers, b.opt.hashDuration)
				res.hashRates, res.hashCPU = append(res.hashRates, rate), append(res.hashCPU, cpu)
				b.logf("  %.1f hashes/s, %s CPU per hash", rate, ms(cpu))
				res.hashRate = (res.hashRates[0] + res.hashRates[1]) / 2
			},
			op: func(ctx context.Context, w int) error { return b.login(ctx, b.wires[w]) }},
		{key: "g", name: "password + TOTP login (full flow)", unit: "logins/s", conc: b.opt.loginConc,
			setup: func(ctx context.Context) error {
				if len(res.hashRates) > 0 {
					return nil // measured around (c)
				}
				b.logf("measuring the password-hash limit for %s …", b.opt.hashDuration)
				res.hashParams = password.DefaultParams
				res.hashWorkers = runtime.GOMAXPROCS(0)
				rate, cpu := hashLimit(ctx, res.hashWorkers, b.opt.hashDuration)
				res.hashRates, res.hashCPU = append(res.hashRates, rate), append(res.hashCPU, cpu)
				res.hashRate = rate
				b.logf("  %.1f hashes/s, %s CPU per hash", rate, ms(cpu))
				return nil
			},
			op: func(ctx context.Context, w int) error { return b.loginTOTP(ctx, b.wires[w]) }},
		{key: "d", name: "userinfo", unit: "req/s", target: 10000, conc: conc,
			op: func(ctx context.Context, w int) error {
				_, err := b.wires[w].expect(ctx, reqs.userinfo, "userinfo", wantSub)
				return err
			}},
		{key: "e", name: "introspection", unit: "req/s", target: 10000, conc: conc,
			op: func(ctx context.Context, w int) error {
				_, err := b.wires[w].expect(ctx, reqs.introspect, "introspection", wantActive)
				return err
			}},
		{key: "h", name: "passkey sign-in (full flow)", unit: "logins/s", target: 400, p99: 50 * time.Millisecond, conc: b.opt.passkeyConc,
			op: func(ctx context.Context, w int) error { return b.passkeyLogin(ctx, b.wires[w], passkeys[w]) }},
		{key: "i", name: "SAML SSO, signed in (AuthnRequest → signed response)", unit: "req/s", conc: conc,
			setup: func(ctx context.Context) error {
				b.logf("measuring the RSA-2048 signature limit for %s …", b.opt.hashDuration)
				rate, cpu := rsaLimit(ctx, runtime.GOMAXPROCS(0), b.opt.hashDuration)
				res.rsaRates, res.rsaCPU = append(res.rsaRates, rate), cpu
				b.logf("  %.0f signatures/s, %s CPU per signature", rate, ms(cpu))
				return nil
			},
			after: func(ctx context.Context) {
				rate, cpu := rsaLimit(ctx, runtime.GOMAXPROCS(0), b.opt.hashDuration)
				res.rsaRates = append(res.rsaRates, rate)
				res.rsaCPU = (res.rsaCPU + cpu) / 2
				res.rsaRate = (res.rsaRates[0] + res.rsaRates[1]) / 2
				b.logf("  again: %.0f signatures/s", rate)
			},
			op: func(ctx context.Context, w int) error { return b.samlSSO(ctx, b.wires[w], samlCookie) }},
		{key: "j", name: "SCIM create + PATCH", unit: "users/s", conc: conc,
			setup: func(ctx context.Context) (err error) {
				scim, err = b.scimToken(ctx)
				return err
			},
			op: func(ctx context.Context, w int) error { return b.scimCreatePatch(ctx, b.wires[w], scim) }},
		{key: "f", name: "JWKS", unit: "req/s", target: 20000, conc: conc,
			op: func(ctx context.Context, w int) error {
				_, err := b.wires[w].expect(ctx, reqs.jwks, "jwks", wantKeys)
				return err
			}},
	}

	// The login runs last: its password hashes leave tens of megabytes
	// in the server's heap for a while, which would otherwise show in the
	// next scenarios' peak RSS. The table is in the order.
	slices.SortStableFunc(scenarios, func(x, y scenario) int {
		return cmp.Compare(boolInt(x.key == "c" || x.key == "g"), boolInt(y.key == "c" || y.key == "g"))
	})
	for _, sc := range scenarios {
		if !want[sc.key] {
			continue
		}
		if sc.setup != nil {
			if err := sc.setup(ctx); err != nil {
				return nil, fmt.Errorf("(%s) %s: %w", sc.key, sc.name, err)
			}
		}
		r, err := b.measure(ctx, sc)
		if err != nil {
			return nil, err
		}
		if sc.after != nil {
			sc.after(ctx)
		}
		switch sc.key {
		case "c":
			res.loginRate = r.rate()
		case "g":
			res.totpRate = r.rate()
		case "i":
			res.samlRate = r.rate()
		}
		res.rows = append(res.rows, r)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	if floor != nil {
		f, err := b.measureFloor(ctx, floor, reqs.clientCredentials)
		if err != nil {
			return nil, err
		}
		res.floors = append(res.floors, f)
		for _, f := range res.floors {
			res.floor += f / time.Duration(len(res.floors))
		}
	}
	slices.SortFunc(res.rows, func(x, y row) int { return cmp.Compare(x.key, y.key) })
	if _, hwm, err := srv.memory(); err == nil {
		b.peak = max(b.peak, hwm)
	}
	res.peak = b.peak
	res.loadEnd = loadavg()
	return res, nil
}

// measure runs one scenario: a warm-up, then the measured load, with the
// server's CPU time and peak RSS around it.
func (b *bench) measure(ctx context.Context, sc scenario) (row, error) {
	b.logf("(%s) %s: %d workers, warm-up %s, run %s …", sc.key, sc.name, sc.conc, b.opt.warmup, b.opt.duration)
	closeWires(b.wires) // each scenario dials its own connections
	if b.opt.warmup > 0 {
		load(ctx, sc.conc, b.opt.warmup, sc.op)
	}
	_, hwm, err := b.srv.memory()
	if err != nil {
		return row{}, err
	}
	b.peak = max(b.peak, hwm)
	r := row{scenario: sc, peakKind: "scenario"}
	if !b.srv.resetPeak() {
		r.peakKind = "run so far"
	}
	var profile sync.WaitGroup
	if b.pprof != "" {
		profile.Go(func() { b.fetchProfile(ctx, sc.key) })
		time.Sleep(50 * time.Millisecond) // let the profiler start
	}
	cpu0, err := b.srv.cpu()
	if err != nil {
		return row{}, err
	}
	stopSelfProfile := b.profileSelf(sc.key)
	gen0 := selfCPU()
	busy0, idle0, machineErr := machineCPU()
	r.stats = load(ctx, sc.conc, b.opt.duration, sc.op)
	stopSelfProfile()
	r.genCPU = selfCPU() - gen0
	busy1, idle1, err := machineCPU()
	cpu1, err := b.srv.cpu()
	if err != nil {
		return row{}, err
	}
	r.cpu = cpu1 - cpu0
	r.others = -1
	if machineErr == nil && err == nil {
		r.others = max(0, busy1-busy0-r.cpu-r.genCPU)
		r.idle = idle1 - idle0
	}
	if _, r.peak, err = b.srv.memory(); err != nil {
		return row{}, err
	}
	b.peak = max(b.peak, r.peak)
	profile.Wait()
	b.logf("    %d ok, %d errors, %.0f %s, p50 %s, p99 %s, CPU s: server %.2f, load generator %.2f, other processes %.2f, idle %.2f; peak RSS %s",
		r.ok, r.errors, r.rate(), sc.unit, r.percentile(0.5), r.percentile(0.99),
		r.cpu.Seconds(), r.genCPU.Seconds(), r.others.Seconds(), r.idle.Seconds(), mb(r.peak))
	if r.firstErr != nil {
		b.logf("    first error: %v", r.firstErr)
	}
	return r, nil
}

// fetchProfile saves a CPU profile of the server for the scenario's
// duration.
func (b *bench) fetchProfile(ctx context.Context, key string) {
	secs := int(math.Ceil(b.opt.duration.Seconds()))
	c := &http.Client{Timeout: time.Duration(secs+30) * time.Second}
	resp, err := c.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", b.pprof, secs))
	if err != nil {
		b.logf("    profile: %v", err)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.logf("    profile: status %d (does this portti support PORTTI_PPROF?)", resp.StatusCode)
		return
	}
	path := filepath.Join(b.opt.profileDir, key+".pprof")
	f, err := os.Create(path)
	if err != nil {
		b.logf("    profile: %v", err)
		return
	}
	defer f.Close()
	if _, err := io.Copy(f, resp.Body); err != nil {
		b.logf("    profile: %v", err)
	}
}

// profileSelf starts a CPU profile of the load generator (this process)
// with --profile, saved as <key>-loadgen.pprof when the returned function
// is called: its CPU counts too when it shares the machine.
func (b *bench) profileSelf(key string) (stop func()) {
	if b.opt.profileDir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(b.opt.profileDir, key+"-loadgen.pprof"))
	if err != nil {
		b.logf("    load generator profile: %v", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.logf("    load generator profile: %v", err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// hashLimit is how many password hashes per second this machine computes
// with the server's default parameters on workers goroutines.
// It also returns the CPU time one hash took (this process's CPU time
// over the hashes), which depends much less on other work on the machine.
func hashLimit(ctx context.Context, workers int, d time.Duration) (rate float64, cpuPerHash time.Duration) {
	h := password.NewHasher(password.DefaultParams)
	return opLimit(ctx, workers, d, func() bool {
		_, err := h.Hash(benchPassword)
		return err == nil
	})
}

// opLimit runs op on workers goroutines for d and returns how many
// succeeded per second and the CPU time of this process per success:
// the machine's limit for op alone. Every op begun before the deadline is
// counted, and the time runs until the last one ended.
func opLimit(ctx context.Context, workers int, d time.Duration, op func() bool) (rate float64, cpuPerOp time.Duration) {
	cpu0 := selfCPU()
	var mu sync.Mutex
	n := 0
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for range workers {
		wg.Go(func() {
			k := 0
			for ctx.Err() == nil && time.Now().Before(deadline) {
				if op() {
					k++
				}
			}
			mu.Lock()
			n += k
			mu.Unlock()
		})
	}
	wg.Wait()
	rate = float64(n) / time.Since(start).Seconds()
	if n > 0 {
		cpuPerOp = (selfCPU() - cpu0) / time.Duration(n)
	}
	return rate, cpuPerOp
}

// selfCPU is the CPU time of this process (the load generator), user and
// system.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// machineCPU returns the machine's busy and idle time so far, all CPUs
// (the first line of /proc/stat, in USER_HZ ticks).
func machineCPU() (busy, idle time.Duration, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, 0, errors.New("malformed /proc/stat")
	}
	// user nice system idle iowait irq softirq steal (guest time is
	// already in user).
	var v [8]int64
	for i := range v {
		if v[i], err = strconv.ParseInt(f[i+1], 10, 64); err != nil {
			return 0, 0, err
		}
	}
	tick := time.Second / clockTick
	busy = time.Duration(v[0]+v[1]+v[2]+v[5]+v[6]+v[7]) * tick
	idle = time.Duration(v[3]+v[4]) * tick
	return busy, idle, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
