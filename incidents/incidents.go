// Package incidents owns the incident record: one JSON line for each
// throttling incident the launcher saw, with what the user chose, appended
// to $XDG_STATE_HOME/claude-bedrock/incidents.jsonl and read by the doctor.
// It never holds a prompt, an answer or a credential.
package incidents

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// FileName is the record's name in the state folder.
const FileName = "incidents.jsonl"

// Record is one line of the record.
type Record struct {
	Time    time.Time `json:"time"`
	Profile string    `json:"profile"`
	Model   string    `json:"model"`
	Region  string    `json:"region"`
	Cap     int       `json:"cap"`    // the cap in force when it happened
	Kind    string    `json:"kind"`   // tokens_per_minute, requests_per_minute, tokens_per_day, service_unavailable, cap_too_low
	Choice  string    `json:"choice"` // relaunch, keep, dismiss, or none (nothing was offered)
	// NotKept says why k could not save the new cap in the profile; the
	// choice is then relaunch, which is what happened.
	NotKept string `json:"not_kept,omitempty"`
}

// Path is the record's path in the state folder.
func Path(stateDir string) string { return filepath.Join(stateDir, FileName) }

// Append adds r to the record at path. The line goes out in one write to a
// file opened for appending, so launchers running side by side never
// interleave their lines, and what was there is never rewritten.
func Append(path string, r Record) error {
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("incident record: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("incident record: %w", err)
	}
	_, err = f.Write(append(line, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("incident record: %w", err)
	}
	return nil
}
