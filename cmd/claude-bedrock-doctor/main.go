// Command claude-bedrock-doctor is `claude-bedrock +doctor`: it checks the
// whole Bedrock path for the profile that applies here (or the one named)
// and prints a checklist; exit status 0 when nothing failed, 1 when
// something did, 2 for a usage or config error.
//
// It is a binary of its own because it links the AWS SDK, whose package
// initialisation alone costs milliseconds that every launch of claude would
// otherwise pay. claude-bedrock execs it for +doctor, and starts it as
// `claude-bedrock-doctor +gateway` beside claude for the session's gateway
// (gateway.go; the protocol is in package gatewayspec).
//
//	claude-bedrock +doctor [+NAME] [--json] [--parallel N]
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/claude-bedrock/claude-bedrock/doctor"
	"github.com/claude-bedrock/claude-bedrock/incidents"
	"github.com/claude-bedrock/claude-bedrock/launcher"
	"github.com/claude-bedrock/claude-bedrock/profiles"
	"github.com/claude-bedrock/claude-bedrock/quota"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 1 && args[0] == "+gateway" {
		return gatewayMain(os.Stdin, stderr)
	}
	code, err := doctorMain(args, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "claude-bedrock: %v\n", err)
	}
	return code
}

func doctorMain(args []string, stdout io.Writer) (int, error) {
	name, jsonOut, parallel := "", false, quota.DefaultParallel
	for i := 0; i < len(args); i++ {
		arg := args[i]
		switch {
		case strings.HasPrefix(arg, "+") && name == "":
			name = arg[1:]
		case arg == "--json":
			jsonOut = true
		case arg == "--parallel" && i+1 < len(args), strings.HasPrefix(arg, "--parallel="):
			v := strings.TrimPrefix(arg, "--parallel=")
			if arg == "--parallel" {
				i++
				v = args[i]
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 100 {
				return 2, fmt.Errorf("--parallel takes a number of parallel requests from 1 to 100, not %q", v)
			}
			parallel = n
		default:
			return 2, fmt.Errorf("+doctor takes [+PROFILE] [--json] [--parallel N], not %q", arg)
		}
	}
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	cwd, err := os.Getwd()
	if err != nil {
		return 1, fmt.Errorf("finding the working directory: %w", err)
	}
	s, err := profiles.Load(env, cwd)
	if err != nil {
		return 2, err
	}
	r, err := s.Resolve(name)
	if err != nil {
		return 2, err
	}
	in := doctorInput(env, cwd, s, r)
	in.Parallel = parallel
	ok, err := doctor.Run(context.Background(), in, stdout, jsonOut)
	if err != nil {
		return 1, err
	}
	if !ok {
		return 1, nil
	}
	return 0, nil
}

// doctorInput tells the doctor everything the launcher knows.
func doctorInput(env map[string]string, cwd string, s *profiles.Setup, r *profiles.Resolution) doctor.Input {
	p := r.Profile
	in := doctor.Input{
		Profile:         p.Name,
		ChosenBy:        r.ChosenBy,
		ConfigPath:      s.Paths.Config,
		ConfigExists:    s.Config.Exists,
		ConfigWarn:      s.Config.SystemWarning(),
		Model:           p.Model,
		Region:          p.Region,
		MaxOutputTokens: p.MaxOutputTokens,
		Burndown:        p.Burndown,
		SmallFastModel:  p.SmallFastModel,
		AWSProfile:      p.AWSProfile,
		ManagedEnv:      keys(p.Vars()),
		Env:             env,
		Cwd:             cwd,
		IncidentsPath:   incidents.Path(s.Paths.StateDir),
		CacheDir:        s.Paths.CacheDir,
	}
	for _, k := range []string{"model", "region", "max_output_tokens", "min_output_tokens", "small_fast_model", "aws_profile", "burndown"} {
		if src, ok := r.Sources[k]; ok {
			in.Values = append(in.Values, doctor.Value{Key: k, Value: p.Value(k), Source: src})
		}
	}
	if l := s.Config.System; l != nil && l.Config != nil {
		in.SystemConfig = l.Path
	}
	if pr := s.Project; pr != nil {
		in.ProjectFile, in.ProjectTrust = pr.Path, pr.Trust.String()
	}
	// The claude that would run is never the launcher: claude-bedrock says
	// where it is when it execs the doctor.
	in.ClaudePath, in.ClaudeErr = launcher.FindClaude(env, s.Config.ClaudePath, env["CLAUDE_BEDROCK_LAUNCHER"])
	return in
}

func keys(vars []profiles.Var) []string {
	out := make([]string, len(vars))
	for i, v := range vars {
		out[i] = v.Key
	}
	return out
}
