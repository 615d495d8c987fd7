package main

import (
	"fmt"
	"os"
	"syscall"
)

// doctorName is the doctor's binary, installed beside the launcher.
const doctorName = "claude-bedrock-doctor"

// cmdDoctor runs claude-bedrock-doctor in place of the launcher. The doctor
// is a binary of its own so that the AWS SDK it links costs the launch of
// claude nothing.
func (a *app) cmdDoctor(args []string) (int, error) {
	path, err := a.doctorPath()
	if err != nil {
		return 0, err
	}
	env := setEnv(a.environ, "CLAUDE_BEDROCK_LAUNCHER", a.self())
	err = syscall.Exec(path, append([]string{doctorName}, args...), env)
	return 0, fmt.Errorf("running %s: %w", path, err) // Exec returns only when it failed
}

func executableFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
