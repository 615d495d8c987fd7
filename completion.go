package main

import (
	"fmt"
	"strings"

	"github.com/claude-bedrock/claude-bedrock/profiles"
)

// Shell completion. The scripts stay small and ask the launcher itself, by
// the hidden command +complete-words, for the profile and command names at
// completion time, so a profile added to the config completes at once with
// no script to regenerate. They complete only the launcher's own +words:
// Claude Code ships no completion script of its own (2.1.328 has no
// "completion" command and none in its binary), so every other word is left
// to the shell's default, file names.
//
// Each script registers for both claude-bedrock and claude, because users
// alias claude=claude-bedrock and bash does not expand aliases to find a
// completion; the scripts call the launcher as claude-bedrock either way.

// completionShells are the shells +completion has a script for, in the
// order error messages list them.
var completionShells = []string{"bash", "zsh", "fish"}

// completionScript returns the completion script for shell ("bash", "zsh",
// "fish"), or an error naming the shells.
func completionScript(shell string) (string, error) {
	switch shell {
	case "bash":
		return bashCompletion, nil
	case "zsh":
		return zshCompletion, nil
	case "fish":
		return fishCompletion, nil
	}
	return "", fmt.Errorf("no completion script for shell %q: use one of %s, e.g. claude-bedrock +completion bash",
		shell, strings.Join(completionShells, ", "))
}

// cmdCompletion is +completion SHELL: it prints the script for SHELL.
func (a *app) cmdCompletion(args []string) (int, error) {
	if len(args) != 1 {
		return 0, usagef("+completion takes one shell name (%s), e.g. claude-bedrock +completion bash",
			strings.Join(completionShells, ", "))
	}
	script, err := completionScript(args[0])
	if err != nil {
		return 0, usageError{err}
	}
	fmt.Fprint(a.stdout, script)
	return 0, nil
}

// cmdCompleteWords is the hidden command +complete-words, which the
// completion scripts run at completion time. With no argument it prints,
// one a line, every +word that may come first: "+" and each profile name
// from the user's config (built-ins included), then "+" and each command.
// With the argument "profiles" it prints only the +profile words (the
// scripts strip the "+" where a bare name is wanted, as after +use).
//
// A config that does not load offers just the commands and says nothing:
// completion runs inside the user's shell, where an error message would
// scribble over the command line, and the next real command reports it.
func (a *app) cmdCompleteWords(args []string) (int, error) {
	withCommands := true
	switch {
	case len(args) == 0:
	case len(args) == 1 && args[0] == "profiles":
		withCommands = false
	default:
		return 0, usagef("+complete-words takes no argument or \"profiles\"; the completion scripts run it")
	}
	var words []string
	// The project file is not read: it names a profile, it defines none.
	c, err := profiles.LoadConfig(profiles.PathsFrom(a.env).Config, a.env)
	if err == nil {
		words = c.Names()
	} // else ignored on purpose: a broken config completes to the commands alone (see above)
	if withCommands {
		words = append(words, profiles.Commands...)
	}
	var b strings.Builder
	for _, w := range words {
		b.WriteString("+" + w + "\n")
	}
	fmt.Fprint(a.stdout, b.String())
	return 0, nil
}

// bashCompletion works in bash 3.2 (macOS) and later: no mapfile. With
// -o default an empty COMPREPLY falls back to readline's file names, which
// compopt turns off where only launcher words belong.
const bashCompletion = `# bash completion for claude-bedrock (and the alias claude=claude-bedrock).
# Load it with: eval "$(claude-bedrock +completion bash)"
# or save it as ~/.local/share/bash-completion/completions/claude-bedrock
# with a symlink named claude next to it (bash-completion loads by name).
_claude_bedrock() {
    local cur=${COMP_WORDS[COMP_CWORD]} first=${COMP_WORDS[1]} w strip=
    local -a args
    COMPREPLY=()
    if [[ $COMP_CWORD -eq 1 && $cur == +* ]]; then
        args=()
    elif [[ $COMP_CWORD -ge 2 && $first == +doctor && $cur == +* ]]; then
        args=(profiles)
    elif [[ $COMP_CWORD -eq 2 && ( $first == +env || $first == +use ) ]]; then
        args=(profiles) strip=1
    else
        return 0
    fi
    # No file names where the launcher's words belong (bash 4+; 3.2 offers them).
    compopt +o default 2>/dev/null
    while IFS= read -r w; do
        [[ -n $strip ]] && w=${w#+}
        [[ $w == "$cur"* ]] && COMPREPLY+=("$w")
    done < <(command claude-bedrock +complete-words "${args[@]}" 2>/dev/null)
    return 0
}
complete -o default -F _claude_bedrock claude-bedrock claude
`

// zshCompletion works both from fpath (saved as _claude-bedrock, autoloaded
// by compinit, which reads the #compdef line) and sourced after compinit.
const zshCompletion = `#compdef claude-bedrock claude
# zsh completion for claude-bedrock (and the alias claude=claude-bedrock).
# Save it as _claude-bedrock in a directory on $fpath before compinit runs,
# or load it after compinit with: source <(claude-bedrock +completion zsh)
_claude-bedrock() {
    local -a cands
    if (( CURRENT == 2 )) && [[ $PREFIX == +* ]]; then
        cands=(${(f)"$(command claude-bedrock +complete-words 2>/dev/null)"})
    elif (( CURRENT >= 3 )) && [[ $words[2] == +doctor && $PREFIX == +* ]]; then
        cands=(${(f)"$(command claude-bedrock +complete-words profiles 2>/dev/null)"})
    elif (( CURRENT == 3 )) && [[ $words[2] == (+env|+use) ]]; then
        cands=(${(f)"$(command claude-bedrock +complete-words profiles 2>/dev/null)"})
        cands=(${cands#+})
    else
        _files
        return
    fi
    compadd -a cands
}
if [[ $funcstack[1] == _claude-bedrock ]]; then
    _claude-bedrock "$@"
else
    compdef _claude-bedrock claude-bedrock claude
fi
`

// fishCompletion offers no files where it offers launcher words (-f) and
// leaves fish's default, file names, everywhere else.
const fishCompletion = `# fish completion for claude-bedrock (and the alias claude=claude-bedrock).
# Save it as ~/.config/fish/completions/claude-bedrock.fish (fish's alias
# claude=claude-bedrock wraps claude-bedrock, so the alias finds it too),
# or load it with: claude-bedrock +completion fish | source
function __claude_bedrock_args
    # Prints the +complete-words argument for the word being completed, or fails.
    set -l tokens (commandline -opc)
    set -l cur (commandline -ct)
    if test (count $tokens) -eq 1; and string match -q -- '+*' $cur
        echo all
    else if test (count $tokens) -ge 2; and test $tokens[2] = +doctor; and string match -q -- '+*' $cur
        echo profiles
    else if test (count $tokens) -eq 2; and contains -- $tokens[2] +env +use
        echo bare
    else
        return 1
    end
end
function __claude_bedrock_words
    switch (__claude_bedrock_args)
        case all
            command claude-bedrock +complete-words 2>/dev/null
        case profiles
            command claude-bedrock +complete-words profiles 2>/dev/null
        case bare
            command claude-bedrock +complete-words profiles 2>/dev/null | string replace -r '^\+' ''
    end
end
for c in claude-bedrock claude
    complete -c $c -n '__claude_bedrock_args >/dev/null' -f -a '(__claude_bedrock_words)'
end
`
