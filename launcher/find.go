package launcher

import (
	"errors"
	"fmt"
	"os"
)

// ErrNotFound means no Claude Code binary could be found.
var ErrNotFound = errors.New("claude not found")

// InstallHint tells how to get Claude Code.
const InstallHint = "install Claude Code with 'npm install -g @anthropic-ai/claude-code' " +
	"(or see https://docs.claude.com/en/docs/claude-code/setup), " +
	"or point CLAUDE_BEDROCK_CLAUDE at the claude binary"

// FindClaude returns the Claude Code binary to run: CLAUDE_BEDROCK_CLAUDE in
// env, else configured (claude_path from the config), else the first "claude"
// on env's PATH that is not this launcher itself — a user who links claude to
// claude-bedrock must not get an endless loop. self is the launcher's own
// executable path ("" to skip that check).
func FindClaude(env map[string]string, configured, self string) (string, error) {
	for _, c := range []struct{ name, path string }{
		{"CLAUDE_BEDROCK_CLAUDE", env["CLAUDE_BEDROCK_CLAUDE"]},
		{"claude_path in the config", configured},
	} {
		if c.path == "" {
			continue
		}
		if err := executable(c.path); err != nil {
			return "", fmt.Errorf("%s: %w", c.name, err)
		}
		if isSelf(c.path, self) {
			return "", fmt.Errorf("%s: %s is claude-bedrock itself: point it at the real claude binary", c.name, c.path)
		}
		return c.path, nil
	}
	if path := onPath(env, self); path != "" {
		return path, nil
	}
	return "", fmt.Errorf("%w on PATH: %s", ErrNotFound, InstallHint)
}

// executable reports why path cannot be run, or nil.
func executable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%w: %s does not exist", ErrNotFound, path)
		}
		return err
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return &NotExecutableError{Path: path}
	}
	return nil
}

// NotExecutableError means a configured claude path is not an executable file.
type NotExecutableError struct{ Path string }

func (e *NotExecutableError) Error() string {
	return e.Path + " is not an executable file"
}

// isSelf reports whether path is the same file as the launcher.
func isSelf(path, self string) bool {
	if self == "" {
		return false
	}
	a, err := os.Stat(path)
	if err != nil {
		return false
	}
	b, err := os.Stat(self)
	if err != nil {
		return false
	}
	// A symlink or hard link to the launcher is caught here; a wrapper script
	// named claude that execs claude-bedrock, or another copy of it, only
	// once it runs (CameBack).
	return os.SameFile(a, b)
}
