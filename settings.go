package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/claude-bedrock/claude-bedrock/internal/gatewayspec"
	"github.com/claude-bedrock/claude-bedrock/launcher"
	"github.com/claude-bedrock/claude-bedrock/profiles"
)

// withSettings returns the arguments for claude: the user's, in order, with
// the profile's values passed in --settings, which beats the env blocks of
// Claude's own settings files. Claude Code keeps only the last --settings it
// is given, so every --settings the user gave (--settings X and
// --settings=X, files and inline JSON) is merged, in order, and the
// profile's values last: the variables a profile manages (its model, region
// and cap, profiles.ManagedKeys) are the profile's whatever a --settings
// says, for a --settings may well carry the env of Claude's own settings
// files (an editor's, a script's); the user's other keys are kept. The merge
// takes the place of the first: claude sees one. (A --model typed on the
// command line still wins over the profile's model: claude ranks it above
// every settings file.)
//
// When a --settings of the user's named a file, the merged settings go to a
// new private file that save writes (returning its path), never onto
// claude's command line: what the file held, tokens included, would be
// there for any local user to read with ps.
//
// ours is the launcher's settings JSON: the profile's (Profile.Settings),
// marked as not started by a launcher (clearStarted), with what the
// governor adds (governor.settings).
func withSettings(ours string, args []string, save func(json string) (string, error)) ([]string, error) {
	users, err := readUserSettings(args)
	if err != nil {
		return nil, err
	}
	return withUserSettings(ours, args, users, save)
}

// userSetting is the value of one --settings on claude's command line:
// inline JSON, or a file's name and what it held, read once for both the
// merge and the governor (readClaudeSettings).
type userSetting struct {
	file string // "" for inline JSON
	text string
}

// name is how messages name the value: the file, or the JSON itself.
func (u userSetting) name() string {
	if u.file != "" {
		return u.file
	}
	return u.text
}

// settingsValues are the values of every --settings in claude's
// arguments, in order, up to "--".
func settingsValues(args []string) []string {
	var vals []string
	for _, a := range parseClaudeArgs(args) {
		if a.name == "--settings" && len(a.values) == 1 {
			vals = append(vals, a.values[0])
		}
	}
	return vals
}

// readUserSettings reads the user's --settings values, the files they name
// included.
func readUserSettings(args []string) ([]userSetting, error) {
	var users []userSetting
	for _, v := range settingsValues(args) {
		if strings.HasPrefix(strings.TrimSpace(v), "{") {
			users = append(users, userSetting{text: v})
			continue
		}
		b, err := os.ReadFile(v)
		if err != nil {
			return nil, fmt.Errorf("--settings: %w", err)
		}
		users = append(users, userSetting{file: v, text: string(b)})
	}
	return users, nil
}

// withUserSettings is withSettings with the user's --settings values
// (readUserSettings of args) already read.
func withUserSettings(ours string, args []string, users []userSetting, save func(json string) (string, error)) ([]string, error) {
	if len(users) == 0 {
		return append([]string{"--settings", ours}, args...), nil
	}
	var out []string
	at := -1 // where the merged --settings goes in out
	for _, a := range parseClaudeArgs(args) {
		if a.name == "--settings" && len(a.values) == 1 {
			if at < 0 {
				at = len(out) + 1
				out = append(out, "--settings", "")
			}
			continue
		}
		out = append(out, a.words...)
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

// clearStarted adds launcher.StartedVar, empty, to the env block of the
// profile's settings JSON: Claude Code applies that block to what it runs,
// so a launcher started from inside its session is told apart from one
// that a wrapper named claude started (see launcher.StartedVar).
func clearStarted(settings string) string {
	return strings.TrimSuffix(settings, "}}") + `,"` + launcher.StartedVar + `":""}}`
}

// mergeSettings overlays the user's --settings values, in order, on the
// profile's settings JSON. A later value wins a key; objects are merged key
// by key and lists joined, so that two files' permissions both apply.
// fromFile says a value was a file.
func mergeSettings(ours string, users []userSetting) (merged string, fromFile bool, err error) {
	u := map[string]any{}
	for _, user := range users {
		fromFile = fromFile || user.file != ""
		var m map[string]any
		dec := json.NewDecoder(strings.NewReader(user.text))
		dec.UseNumber() // a number passes as written
		if err := dec.Decode(&m); err != nil || m == nil {
			if err == nil {
				err = errors.New("null")
			}
			return "", false, fmt.Errorf("--settings %s: not a JSON object: %w", user.name(), err)
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
			if _, ours := env[k]; ours && slices.Contains(profiles.ManagedKeys, k) {
				continue // the profile's values come last: its model, region and cap reach the wire
			}
			env[k] = v
		}
	}
	u["env"] = env
	for k, v := range o {
		if _, ok := u[k]; !ok {
			u[k] = v // the launcher's statusLine, when the user's has none
		}
	}
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
// read and returns its path. The file goes to the launcher's private
// runtime folder (runtimeDir: in memory, the user's alone, emptied at
// logout, where there is one), else, as a last resort, to the temp folder
// itself. The launch removes it after claude has ended (a.removeTemps); the
// launcher's pid in its name lets the next launch remove it when this
// launcher was killed first (removeStaleSettings).
func (a *app) privateSettings(text string) (string, error) {
	name := fmt.Sprintf("settings-%d-*.json", os.Getpid())
	dir, pattern := a.runtimeDir(), name
	if err := gatewayspec.PrepareDir(dir); err != nil {
		a.log.Printf("not keeping settings in %s: %v", dir, err)
		dir, pattern = os.TempDir(), "claude-bedrock-"+name
		removeStale(dir, "claude-bedrock-settings-")
	}
	f, err := os.CreateTemp(dir, pattern) // mode 0600
	if err != nil {
		return "", err
	}
	a.temps = append(a.temps, f.Name())
	_, err = f.WriteString(text)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return f.Name(), err
}

// runtimeDir is claude-bedrock's one folder for files that live as long as
// a session (gatewayspec.RuntimeDir): merged settings files here, the
// gateway's ledger and status snapshots (the Spec's RuntimeDir), and what
// +status and +statusline read. The user's runtime directory comes from the
// xdg package (profiles.PathsFrom), as every base directory does.
func runtimeDir(env map[string]string) string {
	return gatewayspec.RuntimeDir(profiles.PathsFrom(env).RuntimeDir)
}

// runtimeDir is runtimeDir(a.env), found once for the launch.
func (a *app) runtimeDir() string {
	if a.runtime == "" {
		a.runtime = runtimeDir(a.env)
	}
	return a.runtime
}

// removeStaleSettings removes the settings files of launchers that are
// gone: killed (kill -9, a crash, a closed terminal) before they could
// remove their own. It is a look at a folder that usually does not exist.
func (a *app) removeStaleSettings() {
	removeStale(a.runtimeDir(), "settings-")
}

// removeStale removes the files in dir named prefix+"<pid>-…" whose
// process no longer exists.
func removeStale(dir, prefix string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return // no folder, nothing left
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		pid, err := strconv.Atoi(strings.SplitN(rest, "-", 2)[0])
		if !ok || err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if syscall.Kill(pid, 0) == syscall.ESRCH {
			_ = os.Remove(filepath.Join(dir, e.Name())) // best effort: tried again next time
		}
	}
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
