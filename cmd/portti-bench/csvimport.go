package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Scenario (k): a registry's CSV export of csvRows people imported with
// `portti import users` (issue 11): the wall time of the whole command
// and its peak RSS (the child's ru_maxrss). Not in the default set:
// --scenarios k. Every row is a new account, each its own transaction.

const (
	csvRows      = 100_000
	targetCSV    = 60 * time.Second
	targetCSVRSS = 150_000_000
)

type csvResult struct {
	rows int
	wall time.Duration
	peak int64 // bytes
}

func (b *bench) csvImport(ctx context.Context, env []string) (*csvResult, error) {
	file := filepath.Join(b.tmp, "registry.csv")
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "external_id,email,given_name,family_name,user_type,start_date,end_date")
	for i := range csvRows {
		fmt.Fprintf(w, "r%06d,opiskelija%06d@student.bench.example.fi,Etunimi,Sukunimi %d,student,2026-08-01,2099-07-31\n", i, i, i)
	}
	if err := w.Flush(); err != nil {
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	b.logf("(k) importing %d CSV rows …", csvRows)
	cmd := exec.CommandContext(ctx, b.bin, "import", "users", file)
	cmd.Env = env
	out, err := os.CreateTemp(b.tmp, "import-*.out")
	if err != nil {
		return nil, err
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	start := time.Now()
	err = cmd.Run()
	wall := time.Since(start)
	if err != nil {
		tail, _ := os.ReadFile(out.Name())
		if len(tail) > 2000 {
			tail = tail[len(tail)-2000:]
		}
		return nil, fmt.Errorf("(k) portti import users: %w\n%s", err, tail)
	}
	res := &csvResult{rows: csvRows, wall: wall}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.peak = ru.Maxrss << 10 // KiB on Linux
	}
	return res, nil
}

// csvSummary is (k)'s lines in the summary table.
func (res *results) csvSummary() [][]string {
	k := res.csv
	if k == nil {
		return nil
	}
	return [][]string{
		{fmt.Sprintf("(k) CSV import of %d rows", k.rows), fmt.Sprintf("%.1f s", k.wall.Seconds()), fmt.Sprintf("< %.0f s", targetCSV.Seconds()),
			fmt.Sprintf("portti import users, every row a new account; %.0f rows/s", float64(k.rows)/k.wall.Seconds()), verdict(k.wall < targetCSV)},
		{"(k) CSV import peak RSS", mb(k.peak), "< " + mb(targetCSVRSS), "ru_maxrss of the command", verdict(k.peak < targetCSVRSS)},
	}
}
