package launcher

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// StartedVar names the mark a launcher leaves in the environment of the
// claude it found and started: "PID:HOPS:PATH", the launcher's pid, how
// many claudes that came back to a launcher were skipped to get there, and
// the claude's path.
//
// Real Claude Code never passes the mark on: the launcher also sets it to
// "" in claude's --settings env block, which Claude Code applies to what
// it runs (its Bash tool, hooks; measured with 2.1.328). So a launcher
// that finds a non-empty mark left by itself or by one of its ancestors
// was started by what another launcher took for claude, with no Claude
// Code in between: a wrapper script named claude that runs claude-bedrock,
// or a link to another copy of it. A launcher run from inside a Claude Code
// session sees "" and launches as usual.
const StartedVar = "CLAUDE_BEDROCK_STARTED"

// Started is the mark of StartedVar.
type Started struct {
	Pid  int    // the launcher that started it
	Hops int    // claudes skipped because they came back to a launcher
	Path string // the claude it started
}

// String is the mark as StartedVar holds it.
func (s Started) String() string {
	return strconv.Itoa(s.Pid) + ":" + strconv.Itoa(s.Hops) + ":" + s.Path
}

// CameBack returns the mark in env when it says that this launcher is what
// a launcher started as claude: the mark is set, and the launcher that
// left it is this process (a script that exec'd it) or one of its
// ancestors.
func CameBack(env map[string]string) (Started, bool) {
	v := env[StartedVar]
	pid, rest, ok1 := strings.Cut(v, ":")
	hops, path, ok2 := strings.Cut(rest, ":")
	s := Started{Path: path}
	var err1, err2 error
	s.Pid, err1 = strconv.Atoi(pid)
	s.Hops, err2 = strconv.Atoi(hops)
	if !ok1 || !ok2 || err1 != nil || err2 != nil || s.Pid <= 0 || path == "" {
		return Started{}, false
	}
	for i, p := 0, os.Getpid(); p > 0 && i < maxAncestors; i++ {
		if p == s.Pid {
			return s, true
		}
		var err error
		if p, err = parentOf(p); err != nil {
			break // not known here: as if it were not an ancestor
		}
	}
	return Started{}, false
}

// NextClaude returns the first claude on env's PATH that is neither the
// launcher itself (self) nor the one that came back to it (back.Path).
func NextClaude(env map[string]string, self string, back Started) (string, error) {
	if path := onPath(env, self, back.Path); path != "" {
		return path, nil
	}
	return "", fmt.Errorf("%s runs claude-bedrock again, and no other claude is on PATH: "+
		"point CLAUDE_BEDROCK_CLAUDE or claude_path in the config at the real claude binary", back.Path)
}

// onPath returns the absolute path of the first executable "claude" on
// env's PATH that is none of the skip files, or "".
func onPath(env map[string]string, skip ...string) string {
	for _, dir := range filepath.SplitList(env["PATH"]) {
		if dir == "" {
			dir = "."
		}
		path := filepath.Join(dir, "claude")
		if executable(path) != nil || isAny(path, skip) {
			continue
		}
		if !filepath.IsAbs(path) {
			abs, err := filepath.Abs(path)
			if err != nil {
				continue
			}
			path = abs
		}
		return path
	}
	return ""
}

// isAny reports whether path is the same file as one of files.
func isAny(path string, files []string) bool {
	for _, f := range files {
		if isSelf(path, f) {
			return true
		}
	}
	return false
}
