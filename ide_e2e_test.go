package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/claude-bedrock/claude-bedrock/internal/claudetest"
)

// TestRealClaudeStreamJSONThroughTheLauncher is an editor's use: no
// terminal, stream-JSON both ways. What the launcher writes is byte for
// byte what claude wrote (a tee between them records claude's side), the
// end of input reaches claude (else it would wait forever), and the
// answer has the same shape as claude alone gives.
func TestRealClaudeStreamJSONThroughTheLauncher(t *testing.T) {
	w := newRealWorld(t)
	input := `{"type":"user","message":{"role":"user","content":[{"type":"text","text":"say hi"}]}}` + "\n"
	args := []string{"-p", "--input-format", "stream-json", "--output-format", "stream-json", "--verbose"}

	teeOut := filepath.Join(t.TempDir(), "claude-stdout")
	env := append(append([]string{}, w.env...),
		fakeEnv+"=tee", "TEE_TARGET="+claudetest.Binary(t), "TEE_OUT="+teeOut,
		"CLAUDE_BEDROCK_CLAUDE="+filepath.Join(fakeDir, "claude"))
	out, stderr, code := runLauncher(t, env, w.dir, input, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	claudeSide, err := os.ReadFile(teeOut)
	if err != nil {
		t.Fatal(err)
	}
	if out != string(claudeSide) {
		t.Errorf("the launcher changed claude's bytes:\nclaude wrote   %q\nlauncher wrote %q", claudeSide, out)
	}
	if turns := w.fake.Turns(); len(turns) != 1 || turns[0].MaxTokens != 4096 {
		t.Errorf("turns %v, want one at the profile's cap 4096", len(turns))
	}

	// claude alone, same input: the same sequence of message types.
	alone := exec.Command(claudetest.Binary(t), args...)
	alone.Env, alone.Dir = w.env, w.dir
	alone.Stdin = strings.NewReader(input)
	var aloneOut bytes.Buffer
	alone.Stdout = &aloneOut
	done := make(chan error, 1)
	if err := alone.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- alone.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("claude alone: %v", err)
		}
	case <-time.After(60 * time.Second):
		_ = alone.Process.Kill() // failing anyway
		t.Fatal("claude alone did not finish")
	}
	if a, b := messageTypes(t, aloneOut.String()), messageTypes(t, out); a != b {
		t.Errorf("message types: claude alone %s, through the launcher %s", a, b)
	}
}

// messageTypes lists the type (and subtype) of each stream-JSON line.
func messageTypes(t *testing.T, s string) string {
	t.Helper()
	var types []string
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m struct{ Type, Subtype string }
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not JSON: %q", sc.Text())
		}
		types = append(types, m.Type+"/"+m.Subtype)
	}
	return strings.Join(types, " ")
}
