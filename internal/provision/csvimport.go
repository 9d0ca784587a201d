package provision

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/provision/scim"
	"github.com/portti/portti/internal/storage"
)

// The CSV import (issue 11, point 2) is for registries that only export
// files. Each row becomes a SCIM User resource and goes through the same
// rules as a SCIM request (userFromResource, createAccount, nextRecord,
// applyAccount), one transaction per row, so that one bad row neither
// stops the rest nor is half-applied. Rows are matched to accounts by
// their external ID, so importing the same file twice changes nothing.

// CSV fields, the names used in provision.csv_columns.
const (
	ColExternalID     = "external_id"
	ColEmail          = "email"
	ColGivenName      = "given_name"
	ColFamilyName     = "family_name"
	ColDisplayName    = "display_name"
	ColTitle          = "title"
	ColLanguage       = "language"
	ColUserType       = "user_type"
	ColStartDate      = "start_date"
	ColEndDate        = "end_date"
	ColActive         = "active"
	ColEmployeeNumber = "employee_number"
	ColOrganization   = "organization"
	ColDepartment     = "department"
	ColIdentifier     = "registry_identifier"
)

// csvFields are the fields in the order a summary names them.
var csvFields = []string{ColExternalID, ColEmail, ColGivenName, ColFamilyName, ColDisplayName, ColTitle,
	ColLanguage, ColUserType, ColStartDate, ColEndDate, ColActive, ColEmployeeNumber, ColOrganization,
	ColDepartment, ColIdentifier}

// Columns maps a field (ColEmail…) to the header of the column that holds
// it. A field without a column in the file is left as it is.
type Columns map[string]string

// ParseColumns reads FIELD=COLUMN entries (provision.csv_columns) over
// the defaults, in which every field's column is named as the field.
func ParseColumns(entries []string) (Columns, error) {
	c := Columns{}
	for _, f := range csvFields {
		c[f] = f
	}
	for _, e := range entries {
		field, col, ok := strings.Cut(e, "=")
		field, col = strings.TrimSpace(field), strings.TrimSpace(col)
		if !ok || col == "" {
			return nil, fmt.Errorf("provision.csv_columns: %q is not FIELD=COLUMN", e)
		}
		if !slices.Contains(csvFields, field) {
			return nil, fmt.Errorf("provision.csv_columns: %q is no field; the fields are %s", field, strings.Join(csvFields, ", "))
		}
		c[field] = col
	}
	return c, nil
}

// ImportOptions say how to import a file.
type ImportOptions struct {
	Columns Columns // nil: the defaults
	// DryRun computes every row's outcome, database checks included, and
	// rolls each row back.
	DryRun bool
	// DisableMissing disables the accounts an earlier CSV import created
	// whose external ID the file does not have: the file is a full
	// export. Skipped when any row is rejected.
	DisableMissing bool
	// Latin1 decodes the file as ISO 8859-1; without it, a file that is
	// not UTF-8 is refused.
	Latin1 bool
	// Location is where a date such as 2027-01-14 begins (at midnight);
	// nil is UTC. An end date is the last day: the account ends at the
	// midnight after it.
	Location *time.Location
	// Actor names who imports, for the audit events.
	Actor string
}

// Row outcomes.
const (
	OutcomeCreated   = "created"
	OutcomeUpdated   = "updated"
	OutcomeDisabled  = "disabled"
	OutcomeUnchanged = "unchanged"
	OutcomeRejected  = "rejected"
)

// RowResult is what became of one row (Line 0: an account missing from
// the file, disabled by DisableMissing).
type RowResult struct {
	Line       int
	ExternalID string
	Email      string
	Outcome    string
	Reason     string // why rejected, or what changed
}

// ImportSummary counts the outcomes; Rows has every row that was not
// unchanged, in file order, then the accounts disabled as missing.
type ImportSummary struct {
	Created, Updated, Disabled, Unchanged, Rejected int
	Rows                                            []RowResult
	// MissingSkipped: DisableMissing was asked for but not done because
	// rows were rejected.
	MissingSkipped bool
}

func (sum *ImportSummary) add(r RowResult) {
	switch r.Outcome {
	case OutcomeCreated:
		sum.Created++
	case OutcomeUpdated:
		sum.Updated++
	case OutcomeDisabled:
		sum.Disabled++
	case OutcomeUnchanged:
		sum.Unchanged++
		return
	case OutcomeRejected:
		sum.Rejected++
	}
	sum.Rows = append(sum.Rows, r)
}

// EventImported is the audit kind of an account the CSV import changed.
const EventImported = "provision.csv_imported"

// rowCells are a row's cells by field (csvFields' order): an array, not
// a map, as a 100,000-row file keeps them all at once.
type rowCells struct {
	v   [15]string
	has uint16
}

var fieldIndex = func() map[string]int {
	m := map[string]int{}
	for i, f := range csvFields {
		m[f] = i
	}
	return m
}()

func (c *rowCells) set(field, v string) {
	i := fieldIndex[field]
	c.v[i], c.has = v, c.has|1<<i
}

func (c *rowCells) lookup(field string) (string, bool) {
	i := fieldIndex[field]
	return c.v[i], c.has&(1<<i) != 0
}

func (c *rowCells) get(field string) string { return c.v[fieldIndex[field]] }

// csvRow is a parsed row: its line and its cells by field.
type csvRow struct {
	line   int
	cells  rowCells
	reject string
}

// ErrFile is a file the import refuses whole, before changing anything:
// wrong encoding, broken CSV syntax, no header or no required column.
type ErrFile struct {
	Line   int
	Reason string
}

func (e *ErrFile) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
	}
	return e.Reason
}

// importWorkers is how many rows are imported at once: sqlstore's
// largest commit group.
const importWorkers = 16

// maxCell bounds one cell; a registry's longest value is far shorter.
const maxCell = 1024

// readCSV parses a whole file into rows, checking what can be checked
// without the database: encoding, syntax, the header, field counts,
// required cells, duplicated external IDs and addresses. It returns an
// *ErrFile for a file it refuses whole. Rows with a reject reason are
// not imported.
func readCSV(data []byte, cols Columns, latin1 bool) ([]csvRow, error) {
	if cols == nil {
		cols, _ = ParseColumns(nil)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if latin1 {
		data = decodeLatin1(data)
	} else if !utf8.Valid(data) {
		off := 0
		for off < len(data) {
			r, n := utf8.DecodeRune(data[off:])
			if r == utf8.RuneError && n == 1 {
				break
			}
			off += n
		}
		return nil, &ErrFile{Line: bytes.Count(data[:off], []byte("\n")) + 1,
			Reason: "the file is not UTF-8 (an older registry's Latin-1 export?): convert it, or give --encoding latin1"}
	}
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.ReuseRecord = false
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, &ErrFile{Reason: "the file is empty: the first line must name the columns"}
	}
	if err != nil {
		return nil, csvSyntax(err)
	}
	index := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(h)
		if _, dup := index[h]; dup && h != "" {
			return nil, &ErrFile{Line: 1, Reason: fmt.Sprintf("column %q appears twice in the header", h)}
		}
		index[h] = i
	}
	at := map[string]int{} // field → column index
	for _, f := range csvFields {
		if i, ok := index[cols[f]]; ok {
			at[f] = i
		}
	}
	for _, f := range []string{ColExternalID, ColEmail} {
		if _, ok := at[f]; !ok {
			return nil, &ErrFile{Line: 1, Reason: fmt.Sprintf("the header has no column %q (%s): it is required", cols[f], f)}
		}
	}
	var (
		rows    []csvRow
		byExt   = map[string]int{} // external ID → first row index
		byEmail = map[string]int{}
	)
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvSyntax(err)
		}
		line, _ := r.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // a blank line
		}
		row := csvRow{line: line}
		if len(rec) != len(header) {
			// Named in the summary by what it has, not imported.
			for _, f := range []string{ColExternalID, ColEmail} {
				if i := at[f]; i < len(rec) {
					row.cells.set(f, strings.TrimSpace(rec[i]))
				}
			}
			row.reject = fmt.Sprintf("%d fields, the header has %d", len(rec), len(header))
			rows = append(rows, row)
			continue
		}
		for f, i := range at {
			v := strings.TrimSpace(rec[i])
			if len(v) > maxCell {
				row.reject = fmt.Sprintf("%s is longer than %d bytes", cols[f], maxCell)
			}
			if strings.IndexFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
				row.reject = fmt.Sprintf("%s holds control characters (a line break inside a cell?)", cols[f])
			}
			row.cells.set(f, v)
		}
		ext, email := row.cells.get(ColExternalID), row.cells.get(ColEmail)
		switch {
		case row.reject != "":
		case ext == "":
			row.reject = fmt.Sprintf("%s is empty: each row needs the registry's identifier", cols[ColExternalID])
		case email == "":
			row.reject = fmt.Sprintf("%s is empty", cols[ColEmail])
		}
		if row.reject == "" {
			if n, err := account.NormalizeEmail(email); err != nil {
				row.reject = fmt.Sprintf("%s %q is not an e-mail address", cols[ColEmail], email)
			} else {
				row.cells.set(ColEmail, n)
			}
		}
		if row.reject == "" {
			// A duplicate rejects every row with the key: which one the
			// registry meant cannot be known.
			if j, dup := byExt[ext]; dup {
				row.reject = fmt.Sprintf("%s %q is also on line %d", cols[ColExternalID], ext, rows[j].line)
				if rows[j].reject == "" {
					rows[j].reject = fmt.Sprintf("%s %q is also on line %d", cols[ColExternalID], ext, line)
				}
			} else if j, dup := byEmail[row.cells.get(ColEmail)]; dup {
				row.reject = fmt.Sprintf("%s %s is also on line %d", cols[ColEmail], row.cells.get(ColEmail), rows[j].line)
				if rows[j].reject == "" {
					rows[j].reject = fmt.Sprintf("%s %s is also on line %d", cols[ColEmail], row.cells.get(ColEmail), line)
				}
			}
			if _, seen := byExt[ext]; !seen {
				byExt[ext] = len(rows)
			}
			if _, seen := byEmail[row.cells.get(ColEmail)]; !seen {
				byEmail[row.cells.get(ColEmail)] = len(rows)
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func csvSyntax(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &ErrFile{Line: pe.Line, Reason: "the file is not valid CSV: " + pe.Err.Error()}
	}
	return &ErrFile{Reason: err.Error()}
}

// decodeLatin1 is ISO 8859-1 to UTF-8: every byte is the code point of
// the same number.
func decodeLatin1(b []byte) []byte {
	out := make([]byte, 0, len(b)+len(b)/8)
	for _, c := range b {
		out = utf8.AppendRune(out, rune(c))
	}
	return out
}

// errRollback ends a dry run's transaction.
var errRollback = errors.New("dry run")

// ImportCSV imports a registry's export. An *ErrFile means nothing was
// changed; any other error is the database's and stops the import
// (rows before it stay imported).
func (s *Server) ImportCSV(ctx context.Context, data []byte, opt ImportOptions) (ImportSummary, error) {
	var sum ImportSummary
	if opt.Columns == nil {
		opt.Columns, _ = ParseColumns(nil)
	}
	if opt.Location == nil {
		opt.Location = time.UTC
	}
	rows, err := readCSV(data, opt.Columns, opt.Latin1)
	if err != nil {
		return sum, err
	}
	data = nil // the rows hold copies: a large file's bytes can go
	seen := make(map[string]bool, len(rows))
	results := make([]RowResult, len(rows))
	for i, row := range rows {
		if ext := row.cells.get(ColExternalID); ext != "" {
			seen[ext] = true
		}
		results[i] = RowResult{Line: row.line, ExternalID: row.cells.get(ColExternalID), Email: row.cells.get(ColEmail)}
		if row.reject != "" {
			results[i].Outcome, results[i].Reason = OutcomeRejected, row.reject
		}
	}
	// Rows are independent (readCSV rejected every row whose external
	// ID or address another row has), so several run at once: on SQLite
	// their transactions then share commits (sqlstore's group commit,
	// each row still undone alone by its savepoint), and on PostgreSQL
	// they use the pool.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range importWorkers {
		wg.Go(func() {
			for i := range next {
				res := &results[i]
				var err error
				res.Outcome, res.Reason, err = s.importRow(ctx, rows[i], opt)
				if err != nil {
					var se *scim.Error
					if !errors.As(err, &se) {
						res.Outcome = ""
						cancel(fmt.Errorf("line %d: %w", rows[i].line, err))
						continue
					}
					res.Outcome, res.Reason = OutcomeRejected, csvReason(se.Detail, opt.Columns)
				}
			}
		})
	}
feed:
	for i := range rows {
		if results[i].Outcome != "" {
			continue
		}
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	rows = nil
	for _, r := range results {
		if r.Outcome != "" {
			sum.add(r)
		}
	}
	if err := context.Cause(ctx); err != nil {
		return sum, err
	}
	if opt.DisableMissing {
		if sum.Rejected > 0 {
			sum.MissingSkipped = true
			return sum, nil
		}
		if err := s.disableMissing(ctx, seen, opt, &sum); err != nil {
			return sum, err
		}
	}
	return sum, nil
}

// csvReason says a SCIM rule's complaint in the file's column names.
func csvReason(detail string, cols Columns) string {
	r := strings.NewReplacer(
		scim.PorttiSchema+":", "",
		"userName", cols[ColEmail], "externalId", cols[ColExternalID],
		"startDate", cols[ColStartDate], "endDate", cols[ColEndDate], "userType", cols[ColUserType],
		"registryIdentifier", cols[ColIdentifier])
	return r.Replace(detail)
}

// importRow applies one row in its own transaction.
func (s *Server) importRow(ctx context.Context, row csvRow, opt ImportOptions) (outcome, reason string, err error) {
	now := s.cfg.Now().UTC()
	err = s.cfg.Store.InTx(ctx, func(tx storage.Storage) error {
		pa, err := tx.GetProvisionedByExternalID(ctx, row.cells.get(ColExternalID))
		exists := err == nil
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		if exists && pa.Provisioned.Source != storage.ProvisionSourceCSV {
			return scim.BadRequest("", "the account of %s is kept by a SCIM registry: the CSV import leaves it alone", row.cells.get(ColEmail))
		}
		base := map[string]any{}
		if exists {
			base = s.userResource(pa, nil)
		}
		res, err := rowResource(base, row, opt, now, !exists)
		if err != nil {
			return err
		}
		f, err := s.userFromResource(res)
		if err != nil {
			return err
		}
		if !exists {
			pa, err = s.createAccount(ctx, tx, f, storage.ProvisionSourceCSV, now)
			if err != nil {
				return err
			}
			outcome = OutcomeCreated
		} else {
			outcome, reason, err = s.importUpdate(ctx, tx, pa, f, now)
			if err != nil || outcome == OutcomeUnchanged {
				return err
			}
		}
		if opt.DryRun {
			return errRollback
		}
		return s.recordImport(ctx, tx, pa.Account.ID, outcome, reason, opt)
	})
	if errors.Is(err, errRollback) {
		err = nil
	}
	return outcome, reason, err
}

// importUpdate writes f over an existing CSV-kept account unless it says
// what the account already is.
func (s *Server) importUpdate(ctx context.Context, tx storage.Storage, pa storage.ProvisionedAccount, f userFields, now time.Time) (outcome, reason string, err error) {
	old, err := s.userFromResource(s.userResource(pa, nil))
	if err != nil {
		return "", "", err
	}
	same := old.email == f.email && old.givenName == f.givenName && old.familyName == f.familyName &&
		(f.locale == "" || old.locale == f.locale) && old.active == f.active &&
		bytes.Equal(old.extra, f.extra) && sameRecord(old.p, f.p)
	if same && f.identifier != "" && s.cfg.Identifiers != nil {
		h, herr := s.cfg.Identifiers.Hash(f.identifier)
		cur, gerr := tx.GetIdentity(ctx, pa.Account.ID)
		same = herr == nil && gerr == nil && cur.Identity == h
	}
	if same {
		return OutcomeUnchanged, "", nil
	}
	id := pa.Account.ID
	var oldState string
	p, err := tx.UpdateProvisioned(ctx, id, func(cur storage.Provisioned) (storage.Provisioned, error) {
		oldState = cur.State
		return s.nextRecord(id, cur, f, storage.ProvisionSourceCSV, now), nil
	})
	if errors.Is(err, storage.ErrConflict) {
		return "", "", conflict("externalId is taken")
	}
	if err != nil {
		return "", "", err
	}
	a, err := s.applyAccount(ctx, tx, id, f, oldState, p.State, now)
	if err != nil {
		return "", "", err
	}
	if err := s.inviteOnChange(ctx, tx, a, p, oldState, p.State); err != nil {
		return "", "", err
	}
	if p.State == storage.ProvisionDisabled && oldState != storage.ProvisionDisabled {
		return OutcomeDisabled, "", nil
	}
	if p.State != oldState {
		reason = "state " + oldState + " → " + p.State
	}
	return OutcomeUpdated, reason, nil
}

// sameRecord compares what a registry says in a record.
func sameRecord(a, b storage.Provisioned) bool {
	return a.ExternalID == b.ExternalID && a.UserType == b.UserType && a.StartsAt.Equal(b.StartsAt) &&
		a.EndsAt.Equal(b.EndsAt) && a.DisplayName == b.DisplayName && a.NickName == b.NickName &&
		a.Title == b.Title && a.EmployeeNumber == b.EmployeeNumber && a.Organization == b.Organization &&
		a.Department == b.Department && a.Manager == b.Manager
}

// rowResource lays a row's cells over base (the account's resource, or
// empty for a new one): a column the file has sets its attribute (an
// empty cell clears it); one it does not have leaves it.
func rowResource(base map[string]any, row csvRow, opt ImportOptions, now time.Time, create bool) (map[string]any, error) {
	cols := opt.Columns
	res := base
	sub := func(k string) map[string]any {
		m, _ := res[k].(map[string]any)
		if m == nil {
			m = map[string]any{}
			res[k] = m
		}
		return m
	}
	set := func(m map[string]any, k, field string) {
		v, ok := row.cells.lookup(field)
		switch {
		case !ok:
		case v == "":
			delete(m, k)
		default:
			m[k] = v
		}
	}
	set(res, "externalId", ColExternalID)
	set(res, "userName", ColEmail)
	name := sub("name")
	set(name, "givenName", ColGivenName)
	set(name, "familyName", ColFamilyName)
	set(res, "displayName", ColDisplayName)
	set(res, "title", ColTitle)
	set(res, "preferredLanguage", ColLanguage)
	ent := sub(scim.EnterpriseSchema)
	set(ent, "employeeNumber", ColEmployeeNumber)
	set(ent, "organization", ColOrganization)
	set(ent, "department", ColDepartment)
	ext := sub(scim.PorttiSchema)
	set(ext, "userType", ColUserType)
	if v := row.cells.get(ColIdentifier); v != "" {
		ext["registryIdentifier"] = v
	}
	if v, ok := row.cells.lookup(ColActive); ok {
		switch strings.ToLower(v) {
		case "", "true", "1", "yes", "kyllä", "ja":
			res["active"] = true
		case "false", "0", "no", "ei", "nej":
			res["active"] = false
		default:
			return nil, scim.BadRequest("", "%s %q is neither true nor false", cols[ColActive], v)
		}
	} else if create {
		res["active"] = true
	}
	var start, end time.Time
	for _, d := range []struct {
		field, attr string
		t           *time.Time
		next        bool
	}{{ColStartDate, "startDate", &start, false}, {ColEndDate, "endDate", &end, true}} {
		v, ok := row.cells.lookup(d.field)
		if !ok {
			continue
		}
		if v == "" {
			delete(ext, d.attr)
			continue
		}
		t, err := time.ParseInLocation(time.DateOnly, v, opt.Location)
		if err != nil {
			return nil, scim.BadRequest("", "%s %q is not a date in the form YYYY-MM-DD (such as 2027-01-14)", cols[d.field], v)
		}
		if d.next {
			t = t.AddDate(0, 0, 1) // the end date is the last day
		}
		*d.t = t
		ext[d.attr] = scim.FormatDateTime(t)
	}
	if create && !end.IsZero() && !end.After(now) {
		return nil, scim.BadRequest("", "%s %s is in the past: the account would have ended before it was created", cols[ColEndDate], row.cells.get(ColEndDate))
	}
	if !start.IsZero() && !end.IsZero() && !end.After(start) {
		return nil, scim.BadRequest("", "%s %s is before %s %s", cols[ColEndDate], row.cells.get(ColEndDate), cols[ColStartDate], row.cells.get(ColStartDate))
	}
	for _, k := range []string{"name", scim.EnterpriseSchema, scim.PorttiSchema} {
		if m, _ := res[k].(map[string]any); len(m) == 0 {
			delete(res, k)
		}
	}
	return res, nil
}

// disableMissing disables the CSV-kept accounts the file does not name.
func (s *Server) disableMissing(ctx context.Context, seen map[string]bool, opt ImportOptions, sum *ImportSummary) error {
	var missing []storage.ProvisionedAccount
	after := ""
	for {
		page, err := s.cfg.Store.ListProvisioned(ctx, after, scanPage)
		if err != nil {
			return err
		}
		for _, pa := range page {
			p := pa.Provisioned
			if p.Source == storage.ProvisionSourceCSV && !seen[p.ExternalID] &&
				p.State != storage.ProvisionDisabled && p.State != storage.ProvisionDeleted {
				missing = append(missing, pa)
			}
		}
		if len(page) < scanPage {
			break
		}
		after = page[len(page)-1].Account.ID
	}
	for _, m := range missing {
		now := s.cfg.Now().UTC()
		err := s.cfg.Store.InTx(ctx, func(tx storage.Storage) error {
			pa, err := tx.GetProvisioned(ctx, m.Account.ID)
			if err != nil {
				return err
			}
			res := s.userResource(pa, nil)
			res["active"] = false
			f, err := s.userFromResource(res)
			if err != nil {
				return err
			}
			outcome, _, err := s.importUpdate(ctx, tx, pa, f, now)
			if err != nil || outcome != OutcomeDisabled {
				return err
			}
			if opt.DryRun {
				return errRollback
			}
			return s.recordImport(ctx, tx, pa.Account.ID, OutcomeDisabled, "missing from the file", opt)
		})
		if err != nil && !errors.Is(err, errRollback) {
			return err
		}
		sum.add(RowResult{ExternalID: m.Provisioned.ExternalID, Email: m.Account.Email, Outcome: OutcomeDisabled, Reason: "missing from the file"})
	}
	return nil
}

func (s *Server) recordImport(ctx context.Context, tx storage.Storage, accountID, outcome, detail string, opt ImportOptions) error {
	if s.cfg.Audit == nil {
		return nil
	}
	reason := "csv import " + outcome
	if opt.Actor != "" {
		reason += " by " + opt.Actor
	}
	if detail != "" {
		reason += ": " + detail
	}
	return s.cfg.Audit.Record(ctx, tx, storage.Event{Kind: EventImported, AccountID: accountID, Reason: reason})
}

// ParseNoticeDays reads provision.end_notice_days: whole numbers of days
// (1…365), largest first in the result.
func ParseNoticeDays(entries []string) ([]int, error) {
	var out []int
	for _, e := range entries {
		n, err := strconv.Atoi(strings.TrimSpace(e))
		if err != nil || n < 1 || n > 365 {
			return nil, fmt.Errorf("%q is not a number of days from 1 to 365", e)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	slices.Reverse(out)
	return out, nil
}
