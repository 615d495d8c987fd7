package doctor

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/claude-bedrock/claude-bedrock/incidents"
	"github.com/claude-bedrock/claude-bedrock/internal/claudesettings"
)

// PinnedClaudeVersion is the Claude Code version the models table and the
// reference facts were measured with.
const PinnedClaudeVersion = "2.1.328"

// ClaudeTimeout bounds `claude --version`. It runs beside the network
// checks, so it does not add to the doctor's run time; a first start of the
// native binary can take a second or two on a busy machine.
const ClaudeTimeout = 5 * time.Second

// checkClaude reports the claude binary that would run and its version.
func checkClaude(ctx context.Context, in Input) Check {
	c := Check{Name: "claude"}
	if in.ClaudePath == "" {
		c.Status = Fail
		c.Summary = "no claude binary found"
		if in.ClaudeErr != nil {
			c.Summary += ": " + in.ClaudeErr.Error()
		}
		c.Fix = "npm install -g @anthropic-ai/claude-code"
		return c
	}
	ctx, cancel := context.WithTimeout(ctx, ClaudeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, in.ClaudePath, "--version")
	cmd.Env = envList(in.Env)
	cmd.WaitDelay = time.Second // a grandchild holding the pipe must not hold us
	out, err := cmd.Output()
	path := tilde(in, in.ClaudePath)
	if err != nil {
		c.Status = Fail
		if ctx.Err() != nil {
			c.Summary = fmt.Sprintf("%s --version did not answer within %s", path, ClaudeTimeout)
		} else {
			c.Summary = fmt.Sprintf("%s --version failed: %v", path, err)
		}
		c.Fix = "npm install -g @anthropic-ai/claude-code"
		return c
	}
	version, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	c.Status = OK
	c.Summary = fmt.Sprintf("%s, %s", path, version)
	if v, _, _ := strings.Cut(version, " "); v != PinnedClaudeVersion {
		c.Details = append(c.Details, fmt.Sprintf("model defaults and ceilings here were measured with Claude Code %s", PinnedClaudeVersion))
	}
	return c
}

// envList turns the env map into the KEY=VALUE list exec wants, sorted so a
// run is reproducible.
func envList(env map[string]string) []string {
	list := make([]string, 0, len(env))
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	sort.Strings(list)
	return list
}

// checkProfile reports which profile applies, why, and every value's source.
func checkProfile(in Input) Check {
	c := Check{Name: "profile", Status: OK}
	c.Summary = fmt.Sprintf("%q, chosen by %s", in.Profile, in.ChosenBy)
	width := 0
	for _, v := range in.Values {
		width = max(width, len(v.Key)+3+len(v.Value))
	}
	for _, v := range in.Values {
		kv := v.Key + " = " + v.Value
		c.Details = append(c.Details, fmt.Sprintf("%-*s  (%s)", width, kv, v.Source))
	}
	if in.ConfigPath != "" {
		line := "config " + tilde(in, in.ConfigPath)
		if !in.ConfigExists {
			line += " (none yet)"
		}
		c.Details = append(c.Details, line)
	}
	if in.SystemConfig != "" {
		c.Details = append(c.Details, "system config "+in.SystemConfig)
	}
	if in.ConfigWarn != "" {
		c.Status = Warn
		c.Details = append(c.Details, in.ConfigWarn)
	}
	if in.ProjectFile != "" {
		file := tilde(in, in.ProjectFile)
		switch in.ProjectTrust {
		case "not trusted", "changed since +allow":
			c.Status = Warn
			c.Details = append(c.Details, fmt.Sprintf("project file %s is ignored: %s", file, in.ProjectTrust))
			c.Fix = fmt.Sprintf("cd %s && claude-bedrock +allow", shellPath(in, filepath.Dir(in.ProjectFile)))
		case "denied":
			c.Details = append(c.Details, fmt.Sprintf("project file %s is ignored: denied with +deny", file))
		default:
			c.Details = append(c.Details, fmt.Sprintf("project file %s: %s", file, in.ProjectTrust))
		}
	}
	return c
}

// settingsFile is what the doctor reads of a Claude settings file.
type settingsFile struct {
	Env   map[string]any `json:"env"`
	Model any            `json:"model"`
}

// checkSettings finds Claude settings files that set what the launcher
// manages. Measured with Claude Code 2.1.328: a settings file's env block
// beats the process environment, and --settings (which the launcher passes)
// beats the user and project files; managed policy settings beat everything.
func checkSettings(in Input) Check {
	c := Check{Name: "settings", Status: OK}
	files := claudesettings.Files(in.Env["CLAUDE_CONFIG_DIR"], in.Home, in.Cwd, in.ManagedSettingsPath)
	read, overridden := 0, false
	var fixes []string
	for _, f := range files {
		data, err := os.ReadFile(f.Path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		name := tilde(in, f.Path)
		if err != nil {
			c.Status = worse(c.Status, Warn)
			c.Details = append(c.Details, fmt.Sprintf("%s: cannot read: %v", name, err))
			continue
		}
		read++
		var s settingsFile
		if err := json.Unmarshal(data, &s); err != nil {
			c.Status = worse(c.Status, Warn)
			c.Details = append(c.Details, fmt.Sprintf("%s is not valid JSON: %v", name, err))
			fixes = append(fixes, "repair the JSON in "+name)
			continue
		}
		var keys []string
		for _, k := range in.ManagedEnv {
			if v, ok := s.Env[k]; ok {
				keys = append(keys, fmt.Sprintf("env.%s = %v", k, v))
			}
		}
		if s.Model != nil {
			keys = append(keys, fmt.Sprintf("model = %v", s.Model))
		}
		if len(keys) == 0 {
			continue
		}
		for _, k := range keys {
			c.Details = append(c.Details, fmt.Sprintf("%s sets %s", name, k))
		}
		if f.Managed {
			c.Status = Fail
			c.Details = append(c.Details, "managed settings beat the launcher's --settings: the profile's values cannot take effect")
			fixes = append(fixes, "ask the administrator who manages "+name+" to remove these keys")
			continue
		}
		c.Status = worse(c.Status, Warn)
		overridden = true
		var del []string
		for _, k := range keys {
			key, _, _ := strings.Cut(k, " ")
			del = append(del, "."+key)
		}
		sp := shellPath(in, f.Path)
		fixes = append(fixes, fmt.Sprintf("jq 'del(%s)' %s > %s.tmp && mv %s.tmp %s",
			strings.Join(del, ", "), sp, sp, sp, sp))
	}
	if overridden {
		c.Details = append(c.Details,
			"claude-bedrock overrides these for its runs (it passes --settings with the profile's values, which beats these files)",
			"plain claude, without the launcher, still gets the files' values")
	}
	switch {
	case c.Status == OK && read == 0:
		c.Summary = "no Claude settings files"
	case c.Status == OK:
		c.Summary = fmt.Sprintf("%s, none sets a key the launcher manages", plural(read, "settings file"))
	case c.Status == Fail:
		c.Summary = "managed settings override the profile"
	default:
		c.Summary = "settings files set keys the launcher manages"
	}
	c.Fix = strings.Join(fixes, "; ")
	return c
}

// HistoryWindow is how far back the history check looks.
const HistoryWindow = 7 * 24 * time.Hour

// checkHistory counts the throttling incidents of the last HistoryWindow in
// the incident record, by cap.
func checkHistory(in Input) Check {
	c := Check{Name: "history", Status: OK}
	if in.IncidentsPath == "" {
		c.Summary = "no incident record configured"
		return c
	}
	f, err := os.Open(in.IncidentsPath)
	if errors.Is(err, os.ErrNotExist) {
		c.Summary = "no incidents recorded"
		return c
	}
	if err != nil {
		c.Status = Warn
		c.Summary = fmt.Sprintf("cannot read %s: %v", tilde(in, in.IncidentsPath), err)
		return c
	}
	defer func() { _ = f.Close() }() // read-only: nothing to lose on close

	now := in.Now()
	byCap := map[int]map[string]int{}
	total, others, bad := 0, 0, 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var inc incidents.Record
		if json.Unmarshal([]byte(line), &inc) != nil || inc.Time.IsZero() {
			bad++
			continue
		}
		if now.Sub(inc.Time) > HistoryWindow || inc.Time.After(now.Add(time.Hour)) {
			continue
		}
		if inc.Profile != in.Profile {
			others++
			continue
		}
		if byCap[inc.Cap] == nil {
			byCap[inc.Cap] = map[string]int{}
		}
		byCap[inc.Cap][inc.Kind]++
		total++
	}
	if err := sc.Err(); err != nil {
		c.Status = Warn
		c.Details = append(c.Details, fmt.Sprintf("stopped reading %s: %v", tilde(in, in.IncidentsPath), err))
	}
	caps := make([]int, 0, len(byCap))
	for k := range byCap {
		caps = append(caps, k)
	}
	slices.SortFunc(caps, func(a, b int) int { return b - a })
	current := in.MaxOutputTokens
	highTPM := false
	for _, k := range caps {
		kinds := make([]string, 0, len(byCap[k]))
		n := 0
		for kind, cnt := range byCap[k] {
			kinds = append(kinds, fmt.Sprintf("%s ×%d", strings.ReplaceAll(kind, "_", " "), cnt))
			n += cnt
		}
		sort.Strings(kinds)
		c.Details = append(c.Details, fmt.Sprintf("%s at cap %s: %s", plural(n, "incident"), num(k), strings.Join(kinds, ", ")))
		if byCap[k]["tokens_per_minute"] > 0 && (current == 0 || k <= current) {
			highTPM = true
		}
	}
	if total == 0 {
		c.Summary = fmt.Sprintf("no incidents for %q in the last 7 days", in.Profile)
	} else {
		c.Summary = fmt.Sprintf("%s for %q in the last 7 days", plural(total, "incident"), in.Profile)
	}
	if others > 0 {
		c.Details = append(c.Details, fmt.Sprintf("%s with other profiles", plural(others, "incident")))
	}
	if bad > 0 {
		c.Details = append(c.Details, fmt.Sprintf("%s of %s could not be read", plural(bad, "line"), tilde(in, in.IncidentsPath)))
	}
	if highTPM {
		c.Status = Warn
		c.Details = append(c.Details, "tokens-per-minute throttling at or below the current cap: a lower cap or fewer parallel requests would help")
		if current > 0 {
			c.Fix = fmt.Sprintf("CLAUDE_BEDROCK_MAX_OUTPUT_TOKENS=%d claude-bedrock", max(current/2, 1024))
		}
	}
	return c
}

// tilde shortens a path under the home directory to ~/...: shorter to read,
// and the same on every machine.
func tilde(in Input, p string) string {
	if in.Home == "" || p == "" {
		return p
	}
	home := filepath.Clean(in.Home)
	if p == home {
		return "~"
	}
	if rest, ok := strings.CutPrefix(p, home+string(filepath.Separator)); ok {
		return "~/" + rest
	}
	return p
}

// shellPath writes p for a shell command: ~/... when it is under the home
// directory and needs no quoting, quoted otherwise.
func shellPath(in Input, p string) string {
	if t := tilde(in, p); strings.HasPrefix(t, "~/") && shellQuote(t[2:]) == t[2:] {
		return t
	}
	return shellQuote(p)
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@%+,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
