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
func withSettings(p profiles.Profile, args []string) ([]string, error) {
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
		merged, err := mergeSettings(ours, val)
		if err != nil {
			return nil, err
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
// path of a file holding one) on the profile's settings JSON.
func mergeSettings(ours, user string) (string, error) {
	text := user
	if !strings.HasPrefix(strings.TrimSpace(user), "{") {
		b, err := os.ReadFile(user)
		if err != nil {
			return "", fmt.Errorf("--settings: %w", err)
		}
		text = string(b)
	}
	var u map[string]any
	if err := json.Unmarshal([]byte(text), &u); err != nil {
		return "", fmt.Errorf("--settings %s: not a JSON object: %w", user, err)
	}
	var o map[string]any
	if err := json.Unmarshal([]byte(ours), &o); err != nil {
		return "", err
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
		return "", err
	}
	return string(b), nil
}
