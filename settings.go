package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/claude-bedrock/claude-bedrock/profiles"
)

// withSettings returns the arguments for claude: the user's, in order, with
// the profile's values passed in --settings, which beats the env blocks of
// Claude's own settings files. A --settings the user gave is merged with the
// profile's (the user's own keys win, as a --model they type does) and takes
// its place, so claude sees one.
//
// When the user's --settings named a file, the merged settings go to a new
// private file that save writes (returning its path), never onto claude's
// command line: what the file held, tokens included, would be there for
// any local user to read with ps.
func withSettings(p profiles.Profile, args []string, save func(json string) (string, error)) ([]string, error) {
	ours := p.Settings()
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			break // the rest is claude's positional text
		}
		var val string
		switch {
		case arg == "--settings" && i+1 < len(args):
			val = args[i+1]
		case strings.HasPrefix(arg, "--settings="):
			val = strings.TrimPrefix(arg, "--settings=")
		default:
			continue
		}
		merged, fromFile, err := mergeSettings(ours, val)
		if err != nil {
			return nil, err
		}
		if fromFile {
			if merged, err = save(merged); err != nil {
				return nil, fmt.Errorf("--settings %s: %w", val, err)
			}
		}
		out := append([]string{}, args[:i]...)
		out = append(out, "--settings", merged)
		if arg == "--settings" {
			i++
		}
		return append(out, args[i+1:]...), nil
	}
	return append([]string{"--settings", ours}, args...), nil
}

// mergeSettings overlays the user's --settings value (a JSON object or the
// path of a file holding one) on the profile's settings JSON. fromFile
// says the user's value was a file.
func mergeSettings(ours, user string) (merged string, fromFile bool, err error) {
	text := user
	if !strings.HasPrefix(strings.TrimSpace(user), "{") {
		b, err := os.ReadFile(user)
		if err != nil {
			return "", false, fmt.Errorf("--settings: %w", err)
		}
		text, fromFile = string(b), true
	}
	var u map[string]any
	if err := json.Unmarshal([]byte(text), &u); err != nil {
		return "", false, fmt.Errorf("--settings %s: not a JSON object: %w", user, err)
	}
	var o map[string]any
	if err := json.Unmarshal([]byte(ours), &o); err != nil {
		return "", false, err
	}
	env, _ := o["env"].(map[string]any)
	if ue, ok := u["env"].(map[string]any); ok {
		for k, v := range ue {
			env[k] = v
		}
	}
	u["env"] = env
	b, err := json.Marshal(u)
	if err != nil {
		return "", false, err
	}
	return string(b), fromFile, nil
}

// privateSettings writes merged settings to a new file only the user can
// read, in $XDG_RUNTIME_DIR when it can hold one, else in the temp folder,
// and returns its path. The launch removes it after claude has ended
// (a.removeTemps).
func (a *app) privateSettings(text string) (string, error) {
	var dirs []string
	if d := a.env["XDG_RUNTIME_DIR"]; d != "" {
		dirs = append(dirs, d) // may be stale: another user's, after su, or gone
	}
	var err error
	for _, dir := range append(dirs, os.TempDir()) {
		var f *os.File
		if f, err = os.CreateTemp(dir, "claude-bedrock-settings-*.json"); err != nil { // mode 0600
			continue
		}
		a.temps = append(a.temps, f.Name())
		_, err = f.WriteString(text)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return f.Name(), err
	}
	return "", err
}

// removeTemps removes the files the launch wrote for claude.
func (a *app) removeTemps() {
	for _, name := range a.temps {
		if err := os.Remove(name); err != nil {
			a.log.Printf("removing %s: %v", name, err)
		}
	}
	a.temps = nil
}
