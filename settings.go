package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"

	"github.com/claude-bedrock/claude-bedrock/profiles"
)

// withSettings returns the arguments for claude: the user's, in order, with
// the profile's values passed in --settings, which beats the env blocks of
// Claude's own settings files. Claude Code keeps only the last --settings it
// is given, so every --settings the user gave (--settings X and
// --settings=X, files and inline JSON) is merged, in order, over the
// profile's (the user's own keys win, as a --model they type does), and
// the merge takes the place of the first: claude sees one.
//
// When a --settings of the user's named a file, the merged settings go to a
// new private file that save writes (returning its path), never onto
// claude's command line: what the file held, tokens included, would be
// there for any local user to read with ps.
func withSettings(p profiles.Profile, args []string, save func(json string) (string, error)) ([]string, error) {
	ours := p.Settings()
	var out, users []string
	at := -1 // where the merged --settings goes in out
	for _, a := range parseClaudeArgs(args) {
		if a.name == "--settings" && len(a.values) == 1 {
			if at < 0 {
				at = len(out) + 1
				out = append(out, "--settings", "")
			}
			users = append(users, a.values[0])
			continue
		}
		out = append(out, a.words...)
	}
	if at < 0 {
		return append([]string{"--settings", ours}, args...), nil
	}
	merged, fromFile, err := mergeSettings(ours, users)
	if err != nil {
		return nil, err
	}
	if fromFile {
		if merged, err = save(merged); err != nil {
			return nil, fmt.Errorf("--settings: %w", err)
		}
	}
	out[at] = merged
	return out, nil
}

// mergeSettings overlays the user's --settings values (JSON objects or the
// paths of files holding one), in order, on the profile's settings JSON.
// A later value wins a key; objects are merged key by key and lists
// joined, so that two files' permissions both apply. fromFile says a value
// was a file.
func mergeSettings(ours string, users []string) (merged string, fromFile bool, err error) {
	u := map[string]any{}
	for _, user := range users {
		text := user
		if !strings.HasPrefix(strings.TrimSpace(user), "{") {
			b, err := os.ReadFile(user)
			if err != nil {
				return "", false, fmt.Errorf("--settings: %w", err)
			}
			text, fromFile = string(b), true
		}
		var m map[string]any
		dec := json.NewDecoder(strings.NewReader(text))
		dec.UseNumber() // a number passes as written
		if err := dec.Decode(&m); err != nil || m == nil {
			if err == nil {
				err = errors.New("null")
			}
			return "", false, fmt.Errorf("--settings %s: not a JSON object: %w", user, err)
		}
		mergeJSON(u, m)
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

// mergeJSON merges src into dst: objects key by key, lists joined (without
// repeating an item), anything else replaced.
func mergeJSON(dst, src map[string]any) {
	for k, v := range src {
		switch sv := v.(type) {
		case map[string]any:
			if dv, ok := dst[k].(map[string]any); ok {
				mergeJSON(dv, sv)
				continue
			}
		case []any:
			if dv, ok := dst[k].([]any); ok {
				for _, item := range sv {
					if !slices.ContainsFunc(dv, func(x any) bool { return reflect.DeepEqual(x, item) }) {
						dv = append(dv, item)
					}
				}
				dst[k] = dv
				continue
			}
		}
		dst[k] = v
	}
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
