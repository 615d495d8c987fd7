package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/claude-bedrock/claude-bedrock/doctor"
	"github.com/claude-bedrock/claude-bedrock/launcher"
	"github.com/claude-bedrock/claude-bedrock/profiles"
)

// cmdDoctor checks the whole Bedrock path for the profile that applies here
// (or the one named) and prints a checklist: exit 0 when nothing failed.
//
//	claude-bedrock +doctor [+NAME] [--json] [--parallel N]
func (a *app) cmdDoctor(args []string) (int, error) {
	name, jsonOut, parallel := "", false, doctor.DefaultParallel
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
				return 0, usagef("--parallel takes a number of parallel requests from 1 to 100, not %q", v)
			}
			parallel = n
		default:
			return 0, usagef("+doctor takes [+PROFILE] [--json] [--parallel N], not %q", arg)
		}
	}
	s, err := a.setup()
	if err != nil {
		return 0, err
	}
	r, err := a.resolve(s, name)
	if err != nil {
		return 0, err
	}
	in := doctorInput(a, s, r)
	in.Parallel = parallel
	ok, err := doctor.Run(context.Background(), in, a.stdout, jsonOut)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 1, nil
	}
	return 0, nil
}

// doctorInput tells the doctor everything the launcher knows.
func doctorInput(a *app, s *profiles.Setup, r *profiles.Resolution) doctor.Input {
	p := r.Profile
	in := doctor.Input{
		Profile:         p.Name,
		ChosenBy:        r.ChosenBy,
		ConfigPath:      s.Paths.Config,
		Model:           p.Model,
		Region:          p.Region,
		MaxOutputTokens: p.MaxOutputTokens,
		SmallFastModel:  p.SmallFastModel,
		AWSProfile:      p.AWSProfile,
		ManagedEnv:      keys(p.Vars()),
		Env:             a.env,
		Cwd:             a.cwd,
		IncidentsPath:   filepath.Join(s.Paths.StateDir, "incidents.jsonl"),
		CacheDir:        s.Paths.CacheDir,
	}
	for _, k := range []string{"model", "region", "max_output_tokens", "min_output_tokens", "small_fast_model", "aws_profile"} {
		if src, ok := r.Sources[k]; ok {
			in.Values = append(in.Values, doctor.Value{Key: k, Value: p.Value(k), Source: src})
		}
	}
	if pr := s.Project; pr != nil {
		in.ProjectFile, in.ProjectTrust = pr.Path, pr.Trust.String()
	}
	self, err := os.Executable()
	if err != nil {
		self = "" // without it only the loop check is lost
	}
	in.ClaudePath, in.ClaudeErr = launcher.FindClaude(a.env, s.Config.ClaudePath, self)
	return in
}

func keys(vars []profiles.Var) []string {
	out := make([]string, len(vars))
	for i, v := range vars {
		out[i] = v.Key
	}
	return out
}
