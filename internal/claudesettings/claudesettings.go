// Package claudesettings knows where Claude Code keeps its settings files:
// one list for the launcher, which reads what concerns the governor there,
// and the doctor, which checks them. It depends on the standard library
// only (the launcher links no AWS SDK).
package claudesettings

import (
	"path/filepath"
	"runtime"
)

// File is one of Claude Code's settings files.
type File struct {
	Path string
	// Managed: the administrator's policy file, which beats every other
	// setting, --settings included.
	Managed bool
}

// ManagedPath is where Claude Code looks for managed-settings.json on this
// platform.
func ManagedPath() string {
	if runtime.GOOS == "darwin" {
		return "/Library/Application Support/ClaudeCode/managed-settings.json"
	}
	return "/etc/claude-code/managed-settings.json"
}

// Files are Claude Code's settings files, lowest precedence first: the
// user's (in configDir, $CLAUDE_CONFIG_DIR, else ~/.claude under home), the
// project's and the project's local one (in cwd/.claude), then the managed
// one (managed; "" for ManagedPath). A --settings given on claude's command
// line ranks between the project's local file and the managed one.
func Files(configDir, home, cwd, managed string) []File {
	if configDir == "" {
		configDir = filepath.Join(home, ".claude")
	}
	if managed == "" {
		managed = ManagedPath()
	}
	return []File{
		{Path: filepath.Join(configDir, "settings.json")},
		{Path: filepath.Join(cwd, ".claude", "settings.json")},
		{Path: filepath.Join(cwd, ".claude", "settings.local.json")},
		{Path: managed, Managed: true},
	}
}
