package main

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// The targets that are not rates.
const (
	targetPeakRSS   = 100e6 // bytes, through the whole run
	targetIdleRSS   = 40e6  // bytes, after start
	targetStartup   = 300 * time.Millisecond
	targetLoginFrac = 0.90 // of the password-hash limit
	targetTOTPFrac  = 0.85 // (g), of the password-hash limit (issue 8)
)

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

func ms(d time.Duration) string {
	switch {
	case d >= 100*time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d)/1e6)
	case d >= time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.0f µs", float64(d)/1e3)
}

func rateStr(r float64) string {
	if r >= 100 {
		return fmt.Sprintf("%.0f", r)
	}
	return fmt.Sprintf("%.1f", r)
}

// cells are one scenario's columns.
func (res *results) cells(r row) []string {
	rate := r.rate()
	var target string
	var ok bool
	if r.key == "c" || r.key == "g" {
		frac := targetLoginFrac
		if r.key == "g" {
			frac = targetTOTPFrac
		}
		limit := res.hashRate * frac
		target = fmt.Sprintf("≥ %s (%.0f %% of %s hashes/s)", rateStr(limit), frac*100, rateStr(res.hashRate))
		ok = res.hashRate > 0 && rate >= limit
	} else if r.key == "i" {
		limit := res.rsaRate * targetSAMLFrac
		target = fmt.Sprintf("≥ %s (%.0f %% of %s RSA-2048 signatures/s)", rateStr(limit), targetSAMLFrac*100, rateStr(res.rsaRate))
		ok = res.rsaRate > 0 && rate >= limit
	} else if r.target == 0 {
		// (j): issue 11 sets no rate for SCIM; the row is a measurement.
		target, ok = "none set", r.errors == 0
	} else {
		target = "≥ " + rateStr(r.target)
		ok = rate >= r.target
	}
	if r.scenario.p99 > 0 {
		target += ", p99 < " + ms(r.scenario.p99)
		ok = ok && r.percentile(0.99) < r.scenario.p99
	}
	cpuPerOp, genPerOp, floor, ratio := "-", "-", "-", "-"
	if r.ok > 0 {
		cpuPerOp = ms(r.cpu / time.Duration(r.ok))
		genPerOp = ms(r.genCPU / time.Duration(r.ok))
		// The floor is one request; a sign-in (c, g, h) is a whole flow
		// of pages and redirects, which it does not measure.
		if res.floor > 0 && !strings.Contains("cgh", r.key) {
			floor = ms(res.floor)
			ratio = fmt.Sprintf("%.2f×", (r.cpu/time.Duration(r.ok)).Seconds()/res.floor.Seconds())
			if r.key == "a" || r.key == "e" {
				ratio += " (≤ 2.5×)"
			}
		}
	}
	others := "?"
	if r.others >= 0 {
		others = fmt.Sprintf("%.2f / %.2f", r.others.Seconds(), r.idle.Seconds())
	}
	peak := mb(r.peak)
	if r.peakKind != "scenario" {
		peak += "*"
	}
	return []string{
		fmt.Sprintf("(%s) %s", r.key, r.name), fmt.Sprint(r.conc), fmt.Sprint(r.ok + r.errors),
		rateStr(rate) + " " + r.unit, target, ms(r.percentile(0.5)), ms(r.percentile(0.99)),
		fmt.Sprint(r.errors), fmt.Sprintf("%.2f", r.cpu.Seconds()), cpuPerOp, floor, ratio, genPerOp, others, peak, verdict(ok && r.errors == 0),
	}
}

var header = []string{"scenario", "workers", "requests", "rate", "target", "p50", "p99", "errors", "server CPU s", "server CPU/op", "floor CPU/op", "÷ floor", "load gen. CPU/op", "others / idle CPU s", "peak RSS", "result"}

func (res *results) print(w io.Writer, markdown bool) {
	fmt.Fprintf(w, "portti-bench: %d CPUs, GOMAXPROCS %d, %s per scenario (warm-up %s); database %s; load average %s at start, %s at end\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), res.opt.duration, res.opt.warmup, res.database, res.loadStart, res.loadEnd)
	if markdown {
		fmt.Fprintln(w)
	}

	var rows [][]string
	for _, r := range res.rows {
		rows = append(rows, res.cells(r))
	}
	var starts []string
	for _, d := range res.startups {
		starts = append(starts, ms(d))
	}
	summary := [][]string{
		{"start-up to serving (existing database)", ms(res.startup), "< " + ms(targetStartup),
			"median of " + strings.Join(starts, ", "), verdict(res.startup < targetStartup)},
		{"idle RSS after start", mb(res.idleRSS), "< " + mb(targetIdleRSS), "VmRSS 1 s after the first 200", verdict(res.idleRSS < targetIdleRSS)},
		{"peak RSS through the run", mb(res.peak), "< " + mb(targetPeakRSS), "VmHWM", verdict(res.peak < targetPeakRSS)},
	}
	if res.hashRate > 0 {
		ratio := res.loginRate / res.hashRate
		var each []string
		for _, h := range res.hashRates {
			each = append(each, rateStr(h))
		}
		summary = append(summary, []string{
			"password-hash limit", rateStr(res.hashRate) + " hashes/s", "",
			fmt.Sprintf("argon2id m=%d KiB t=%d p=%d on %d goroutines; mean of %s (before and after (c))",
				res.hashParams.Memory, res.hashParams.Time, res.hashParams.Threads, res.hashWorkers, strings.Join(each, " and ")), "",
		})
		if res.loginRate > 0 {
			summary = append(summary, []string{
				"(c) login rate / hash limit", fmt.Sprintf("%.2f", ratio), fmt.Sprintf("≥ %.2f", targetLoginFrac),
				fmt.Sprintf("%s logins/s ÷ %s hashes/s", rateStr(res.loginRate), rateStr(res.hashRate)), verdict(ratio >= targetLoginFrac),
			})
		}
		if res.totpRate > 0 {
			ratio := res.totpRate / res.hashRate
			summary = append(summary, []string{
				"(g) password + TOTP login rate / hash limit", fmt.Sprintf("%.2f", ratio), fmt.Sprintf("≥ %.2f", targetTOTPFrac),
				fmt.Sprintf("%s logins/s ÷ %s hashes/s", rateStr(res.totpRate), rateStr(res.hashRate)), verdict(ratio >= targetTOTPFrac),
			})
		}
	}
	if res.rsaRate > 0 {
		var each []string
		for _, h := range res.rsaRates {
			each = append(each, rateStr(h))
		}
		summary = append(summary, []string{
			"RSA-2048 signature limit", rateStr(res.rsaRate) + " signatures/s", "",
			fmt.Sprintf("PKCS #1 v1.5 SHA-256 on %d goroutines, %s CPU each; mean of %s (before and after (i))",
				runtime.GOMAXPROCS(0), ms(res.rsaCPU), strings.Join(each, " and ")), "",
		})
		if res.samlRate > 0 {
			ratio := res.samlRate / res.rsaRate
			summary = append(summary, []string{
				"(i) SAML SSO rate / RSA-2048 limit", fmt.Sprintf("%.2f", ratio), fmt.Sprintf("≥ %.2f", targetSAMLFrac),
				fmt.Sprintf("%s responses/s ÷ %s signatures/s", rateStr(res.samlRate), rateStr(res.rsaRate)), verdict(ratio >= targetSAMLFrac),
			})
		}
	}
	if len(res.hashCPU) > 0 {
		// The same comparison in CPU time, which other work on the
		// machine skews much less than rates: the CPU one hash takes,
		// against the CPU (server and load generator) one login takes.
		var hashCPU time.Duration
		for _, c := range res.hashCPU {
			hashCPU += c / time.Duration(len(res.hashCPU))
		}
		for _, r := range res.rows {
			if (r.key != "c" && r.key != "g") || r.ok == 0 {
				continue
			}
			login := (r.cpu + r.genCPU) / time.Duration(r.ok)
			summary = append(summary, []string{
				"(" + r.key + ") CPU per hash / CPU per login", fmt.Sprintf("%.2f", hashCPU.Seconds()/login.Seconds()), "",
				fmt.Sprintf("%s ÷ %s (server %s + load generator %s); the ratio above, with other work taken out",
					ms(hashCPU), ms(login), ms(r.cpu/time.Duration(r.ok)), ms(r.genCPU/time.Duration(r.ok))), "",
			})
		}
	}
	summary = append(summary, res.csvSummary()...)
	if len(res.floors) > 0 {
		var each []string
		for _, f := range res.floors {
			each = append(each, ms(f))
		}
		summary = append(summary, []string{
			"floor: bare net/http server CPU per request", ms(res.floor), "",
			fmt.Sprintf("(a)'s request, form parsed, a body as long as portti's answer; mean of %s (before the first scenario and after the last)", strings.Join(each, " and ")), "",
		})
	}
	var others, idle time.Duration
	known := true
	for _, r := range res.rows {
		if r.others < 0 {
			known = false
		}
		others += r.others
		idle += r.idle
	}
	if known && len(res.rows) > 0 {
		note := "near 0 on an otherwise idle machine"
		if res.opt.database != "" {
			note = "PostgreSQL's among them, when it runs on this machine"
		}
		summary = append(summary, []string{
			"other processes' CPU during the scenarios", fmt.Sprintf("%.2f s", others.Seconds()), "",
			fmt.Sprintf("idle %.2f s; %s", idle.Seconds(), note), "",
		})
	}
	sumHeader := []string{"measure", "value", "target", "note", "result"}

	if markdown {
		mdTable(w, header, rows)
		fmt.Fprintln(w)
		mdTable(w, sumHeader, summary)
	} else {
		textTable(w, header, rows)
		fmt.Fprintln(w)
		textTable(w, sumHeader, summary)
	}
	for _, r := range res.rows {
		if r.peakKind != "scenario" {
			fmt.Fprintln(w, "* peak RSS of the run so far (VmHWM could not be reset per scenario)")
			break
		}
	}
	if markdown {
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "Server CPU s: utime+stime of the portti process during the scenario (/proc/PID/stat); per op: divided by the successful operations;")
	fmt.Fprintln(w, "floor CPU/op: the same for a bare net/http server answering (a)'s request with a body of the same length, measured in the same run; ÷ floor: the ratio;")
	fmt.Fprintln(w, "load gen. CPU/op: the same for this process, which shares the machine; others / idle CPU s: CPU time of every other process on the")
	fmt.Fprintln(w, "machine and idle time during the scenario (/proc/stat; other work skews every figure); peak RSS: the server's VmHWM, reset at each scenario's start.")
	if res.profileDir != "" {
		fmt.Fprintf(w, "CPU profiles: %s/<scenario>.pprof (server), %[1]s/<scenario>-loadgen.pprof (load generator)\n", res.profileDir)
	}
}

func textTable(w io.Writer, header []string, rows [][]string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
}

func mdTable(w io.Writer, header []string, rows [][]string) {
	fmt.Fprintln(w, "| "+strings.Join(header, " | ")+" |")
	sep := make([]string, len(header))
	for i := range sep {
		sep[i] = "---"
	}
	fmt.Fprintln(w, "|"+strings.Join(sep, "|")+"|")
	for _, r := range rows {
		fmt.Fprintln(w, "| "+strings.Join(r, " | ")+" |")
	}
}
