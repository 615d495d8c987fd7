package claudesettings_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/claude-bedrock/claude-bedrock/internal/claudesettings"
)

func TestFiles(t *testing.T) {
	managed := claudesettings.ManagedPath()
	for _, tc := range []struct {
		name                            string
		configDir, home, cwd, managedIn string
		want                            []claudesettings.File
	}{
		{"defaults", "", "/home/u", "/work/p", "", []claudesettings.File{
			{Path: "/home/u/.claude/settings.json"},
			{Path: "/work/p/.claude/settings.json"},
			{Path: "/work/p/.claude/settings.local.json"},
			{Path: managed, Managed: true},
		}},
		{"CLAUDE_CONFIG_DIR and another managed file", "/cfg", "/home/u", "/work/p", "/x/managed.json", []claudesettings.File{
			{Path: "/cfg/settings.json"},
			{Path: "/work/p/.claude/settings.json"},
			{Path: "/work/p/.claude/settings.local.json"},
			{Path: "/x/managed.json", Managed: true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := claudesettings.Files(tc.configDir, tc.home, tc.cwd, tc.managedIn)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Files (-want +got):\n%s", diff)
			}
		})
	}
}
