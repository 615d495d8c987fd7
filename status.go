package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	quotagov "github.com/claude-bedrock/claude-bedrock/governor"
	"github.com/claude-bedrock/claude-bedrock/internal/gatewayspec"
	"github.com/claude-bedrock/claude-bedrock/quota"
)

// statusRefresh is how often +status --watch redraws.
const statusRefresh = time.Second

// cmdStatus is +status [--json] [--watch]: what the governor knows of each
// quota the user's sessions on this machine use, read from their shared
// ledger (nothing is asked of AWS).
func (a *app) cmdStatus(args []string) (int, error) {
	return 0, status(a.stdout, a.env, args)
}

// status is +status writing to w, with env the launcher's environment.
func status(w io.Writer, env map[string]string, args []string) error {
	jsonOut, watch := false, false
	for _, arg := range args {
		switch arg {
		case "--json":
			jsonOut = true
		case "--watch":
			watch = true
		default:
			return usagef("+status takes --json and --watch, not %q", arg)
		}
	}
	dir := ledgerDir(env)
	if !watch {
		return printStatus(w, dir, jsonOut, time.Now())
	}
	if jsonOut {
		return usagef("+status: --watch redraws a table; for JSON, run +status --json as often as you need")
	}
	fmt.Fprint(w, "\x1b[H\x1b[2J")
	for {
		// Home, then each line cleared to its end and what the last
		// drawing left below: the table is redrawn in place without a flash.
		var frame bytes.Buffer
		if err := printStatus(&frame, dir, false, time.Now()); err != nil {
			return err
		}
		fmt.Fprint(w, "\x1b[H"+strings.ReplaceAll(frame.String(), "\n", "\x1b[K\n")+"\x1b[J")
		time.Sleep(statusRefresh)
	}
}

// ledgerDir is where the user's session gateways keep their shared ledger.
func ledgerDir(env map[string]string) string {
	return gatewayspec.LedgerDir(runtimeDir(env))
}

// printStatus prints the governor's status at now, as a table or as JSON.
func printStatus(w io.Writer, dir string, jsonOut bool, now time.Time) error {
	st, err := quotagov.ReadStatus(dir, now)
	if err != nil {
		return fmt.Errorf("read the governor's ledger in %s: %w", dir, err)
	}
	if jsonOut {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	if len(st.Buckets) == 0 {
		fmt.Fprintf(w, "no governed session is running (%d sessions)\n", st.Sessions)
		return nil
	}
	fmt.Fprintf(w, "%d governed session(s) at %s\n\n", st.Sessions, now.Format("15:04:05"))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REGION\tMODEL\tKIND\tLIMIT (TPM)\tFROM\tUSED 1 MIN\tHELD\tIN FLIGHT\tWAITING\t429 ABSORBED\t429 PASSED ON")
	for _, b := range st.Buckets {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\n",
			b.Bucket.Region, b.Bucket.Model, kindWord(b.Bucket.Kind), limitText(b), sourceText(b.Source),
			quota.Thousands(b.UsedLastMinute), quota.Thousands(b.Held), b.InFlight, b.Waiting, b.Absorbed, b.Passed)
	}
	return tw.Flush()
}

// kindWord shortens quota.Kind's names for a column.
func kindWord(kind string) string {
	switch {
	case strings.HasPrefix(kind, "global"):
		return "global"
	case strings.HasPrefix(kind, "cross-region"):
		return "cross-region"
	case strings.HasPrefix(kind, "on-demand"):
		return "in-region"
	}
	return kind
}

// limitText is the limit admission keeps under, with the quota beside it
// when learning lowered it.
func limitText(b quotagov.BucketStatus) string {
	switch {
	case b.Limit == 0:
		return "unknown"
	case b.Quota > 0 && b.Quota != b.Limit:
		return quota.Thousands(b.Limit) + " of " + quota.Thousands(b.Quota)
	}
	return quota.Thousands(b.Limit)
}

func sourceText(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
