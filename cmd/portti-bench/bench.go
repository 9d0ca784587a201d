package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

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
	base      string // http://listen
	secret    string // the bench client's
	transport *http.Transport
	client    *http.Client // no cookies, no redirects
	srv       *server
	peak      int64 // VmHWM over the whole run, bytes
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
	unit      string  // "grants/s", "logins/s", "req/s"
	target    float64 // minimum rate; 0: see the hash limit
	conc      int
	setup     func(ctx context.Context) error
	op        func(ctx context.Context, worker int) error
}

// row is a measured scenario.
type row struct {
	scenario
	stats
	cpu      time.Duration
	peak     int64 // VmHWM during the scenario (whole run if it could not be reset)
	peakKind string
}

// results is everything the table shows.
type results struct {
	opt               options
	loadStart         string
	loadEnd           string
	startups          []time.Duration
	startup           time.Duration
	idleRSS           int64
	rows              []row
	hashRate          float64
	hashWorkers       int
	hashParams        password.Params
	loginRate         float64
	peak              int64
	concurrency       int
	loginConcurrency  int
	profileDir        string
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
	b.base = "http://" + b.listen
	env := serverEnv("PORTTI_LISTEN="+b.listen, "PORTTI_DATABASE_URL=sqlite:"+filepath.Join(b.tmp, "bench.db"))
	serveEnv := env
	if b.opt.profileDir != "" {
		if b.pprof, err = freePort(); err != nil {
			return nil, err
		}
		serveEnv = append(slices.Clip(env), "PORTTI_PPROF="+b.pprof)
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
	if err := b.cli(ctx, env, b.secret+"\n", "client", "add", "--id", benchClient, "--name", "portti-bench",
		"--redirect-uri", benchRedirect, "--grant", "authorization_code", "--grant", "refresh_token",
		"--grant", "client_credentials", "--secret-stdin"); err != nil {
		return nil, err
	}

	// 3. Start-up on the existing database; the last start stays up.
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
	sorted := slices.Clone(res.startups)
	slices.Sort(sorted)
	res.startup = sorted[len(sorted)/2]
	b.logf("start-up to serving: %v (median %s)", res.startups, res.startup.Round(time.Millisecond))
	time.Sleep(time.Second)
	if res.idleRSS, b.peak, err = srv.memory(); err != nil {
		return nil, err
	}
	b.logf("idle RSS: %s", mb(res.idleRSS))

	maxConc := max(b.opt.concurrency, b.opt.loginConc)
	b.transport = &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
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

	// Per-scenario state.
	var chains []string    // (b): the newest refresh token of each worker's chain
	var userToken string   // (d), (e)
	var introspectBody string

	conc := b.opt.concurrency
	scenarios := []scenario{
		{key: "a", name: "client_credentials", unit: "grants/s", target: 5000, conc: conc,
			op: func(ctx context.Context, _ int) error { return b.clientCredentials(ctx) }},
		{key: "b", name: "refresh (rotation)", unit: "grants/s", target: 2000, conc: conc,
			setup: func(ctx context.Context) error {
				// One chain per worker, each from its own code flow;
				// one browser, so only the first flow asks the password.
				browser := b.newBrowser()
				for range conc {
					tr, err := b.codeFlow(ctx, browser, offlineScopes)
					if err != nil {
						return fmt.Errorf("seed refresh chains: %w", err)
					}
					if tr.RefreshToken == "" {
						return fmt.Errorf("seed refresh chains: no refresh token for offline_access")
					}
					chains = append(chains, tr.RefreshToken)
				}
				return nil
			},
			op: func(ctx context.Context, w int) error { return b.refresh(ctx, &chains[w]) }},
		{key: "c", name: "password login (full flow)", unit: "logins/s", conc: b.opt.loginConc,
			setup: func(ctx context.Context) error {
				b.logf("measuring the password-hash limit for %s …", b.opt.hashDuration)
				res.hashParams = password.DefaultParams
				res.hashWorkers = runtime.GOMAXPROCS(0)
				res.hashRate = hashLimit(ctx, res.hashWorkers, b.opt.hashDuration)
				b.logf("  %.1f hashes/s", res.hashRate)
				return nil
			},
			op: func(ctx context.Context, _ int) error { return b.login(ctx) }},
		{key: "d", name: "userinfo", unit: "req/s", target: 10000, conc: conc,
			setup: func(ctx context.Context) error {
				if userToken != "" {
					return nil
				}
				tr, err := b.codeFlow(ctx, b.newBrowser(), loginScopes)
				userToken = tr.AccessToken
				introspectBody = "token=" + userToken + "&token_type_hint=access_token"
				return err
			},
			op: func(ctx context.Context, _ int) error { return b.userinfo(ctx, userToken) }},
		{key: "e", name: "introspection", unit: "req/s", target: 10000, conc: conc,
			setup: func(ctx context.Context) error {
				if userToken != "" {
					return nil
				}
				tr, err := b.codeFlow(ctx, b.newBrowser(), loginScopes)
				userToken = tr.AccessToken
				introspectBody = "token=" + userToken + "&token_type_hint=access_token"
				return err
			},
			op: func(ctx context.Context, _ int) error { return b.introspect(ctx, introspectBody) }},
		{key: "f", name: "JWKS", unit: "req/s", target: 20000, conc: conc,
			op: func(ctx context.Context, _ int) error { return b.jwks(ctx) }},
	}

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
		if sc.key == "c" {
			res.loginRate = r.rate()
		}
		res.rows = append(res.rows, r)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
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
	r.stats = load(ctx, sc.conc, b.opt.duration, sc.op)
	cpu1, err := b.srv.cpu()
	if err != nil {
		return row{}, err
	}
	r.cpu = cpu1 - cpu0
	if _, r.peak, err = b.srv.memory(); err != nil {
		return row{}, err
	}
	b.peak = max(b.peak, r.peak)
	profile.Wait()
	b.logf("    %d ok, %d errors, %.0f %s, p50 %s, p99 %s, server CPU %.2f s, peak RSS %s",
		r.ok, r.errors, r.rate(), sc.unit, r.percentile(0.5), r.percentile(0.99), r.cpu.Seconds(), mb(r.peak))
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

// hashLimit is how many password hashes per second this machine computes
// with the server's default parameters on workers goroutines.
func hashLimit(ctx context.Context, workers int, d time.Duration) float64 {
	h := password.NewHasher(password.DefaultParams)
	var mu sync.Mutex
	n := 0
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for range workers {
		wg.Go(func() {
			k := 0
			for ctx.Err() == nil && time.Now().Before(deadline) {
				if _, err := h.Hash(benchPassword); err == nil {
					k++
				}
			}
			mu.Lock()
			n += k
			mu.Unlock()
		})
	}
	wg.Wait()
	// Every hash begun before the deadline is counted, and the time runs
	// until the last one ended.
	return float64(n) / time.Since(start).Seconds()
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
