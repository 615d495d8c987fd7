package profiles

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ProjectFileName is the per-project profile file, looked up from the working
// directory upwards.
const ProjectFileName = ".claude-bedrock.toml"

// Trust is whether a project file may take effect.
type Trust int

// The trust states of a project file.
const (
	NotTrusted Trust = iota // never allowed
	Trusted                 // allowed with exactly this content
	Changed                 // allowed once, edited since
	Denied                  // the user said +deny
)

func (t Trust) String() string {
	return [...]string{"not trusted", "trusted", "changed since +allow", "denied"}[t]
}

// Project is a project file found above the working directory.
type Project struct {
	Path     string // absolute path of the file
	Profile  string // the profile it names, once parsed (see Err)
	Trust    Trust
	hash     string // identity of path and content, for the trust store
	data     []byte // the content, parsed only once it is trusted or checked
	parsed   bool
	over     tomlProfile
	doc      *tomlDoc
	parseErr error
}

type tomlProject struct {
	Profile *string `toml:"profile"`
	tomlProfile
}

// FindProject looks for ProjectFileName in cwd and each parent up to the root,
// taking regular files only, and reads the nearest. It returns nil when there
// is none. Its trust is known before it is parsed: a file nobody trusted
// is never parsed (Err parses it, for +allow), and one larger than
// MaxFileSize is never read whole; its Err says so.
func FindProject(cwd string, trustDir string) (*Project, error) {
	dir, err := filepath.Abs(cwd)
	if err != nil {
		return nil, fmt.Errorf("finding %s: %w", ProjectFileName, err)
	}
	for {
		path := filepath.Join(dir, ProjectFileName)
		if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() {
			return readProject(path, trustDir)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil, nil
		}
		dir = parent
	}
}

func readProject(path, trustDir string) (*Project, error) {
	p := &Project{Path: path}
	data, err := readLimited(path, "project file", "it is ignored; run 'claude-bedrock +deny' here to stop this notice")
	var tooLarge *tooLargeError
	if errors.As(err, &tooLarge) {
		p.parsed, p.parseErr = true, err
		p.Trust = NotTrusted // its content is unknown, so no +allow can cover it
		if fileExists(filepath.Join(trustDir, "deny", pathHash(path))) {
			p.Trust = Denied
		}
		return p, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	h := sha256.New()
	h.Write([]byte(path + "\n"))
	h.Write(data)
	p.hash, p.data = hex.EncodeToString(h.Sum(nil)), data
	p.Trust = trustOf(trustDir, p)
	if p.Trust == Trusted {
		p.parse()
	}
	return p, nil
}

// parse decodes the file's content, once.
func (p *Project) parse() {
	if p.parsed {
		return
	}
	p.parsed = true
	var tp tomlProject
	p.doc, p.parseErr = decodeStrict(p.Path, p.data, &tp)
	if p.parseErr == nil {
		if tp.Profile == nil || *tp.Profile == "" {
			p.parseErr = fmt.Errorf("%s: no profile: add profile = \"NAME\" (one of your profiles)", p.Path)
		} else {
			p.Profile, p.over = *tp.Profile, tp.tomlProfile
		}
	}
}

// Err returns why the project file cannot be used, or nil. It parses a
// file that was not parsed yet (one not trusted).
func (p *Project) Err() error {
	p.parse()
	return p.parseErr
}

// trust store layout (direnv's model): allow/<sha256 of path and content>
// holds the path; deny/<sha256 of path> holds the path. Editing the file
// changes its hash, so trust must be given again.
func trustOf(dir string, p *Project) Trust {
	if fileExists(filepath.Join(dir, "deny", pathHash(p.Path))) {
		return Denied
	}
	if fileExists(filepath.Join(dir, "allow", p.hash)) {
		return Trusted
	}
	entries, err := os.ReadDir(filepath.Join(dir, "allow"))
	if err != nil {
		return NotTrusted // no trust store yet
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, "allow", e.Name()))
		if err == nil && strings.TrimSpace(string(b)) == p.Path {
			return Changed
		}
	}
	return NotTrusted
}

func pathHash(path string) string {
	sum := sha256.Sum256([]byte(path))
	return hex.EncodeToString(sum[:])
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// Allow trusts the project file as it is now, replacing earlier trust in
// other contents of the same file and any +deny. Allow and Deny hold the
// trust store's lock, so that two at once leave one verdict.
func Allow(trustDir string, p *Project) error {
	if err := p.Err(); err != nil {
		return fmt.Errorf("not allowing a file with errors: %w", err)
	}
	return lockTrust(trustDir, func() error {
		if err := forget(trustDir, p.Path); err != nil {
			return err
		}
		return writeFileAtomic(filepath.Join(trustDir, "allow", p.hash), []byte(p.Path+"\n"), 0o600)
	})
}

// Deny distrusts the project file at its path, whatever its content, until
// the next Allow.
func Deny(trustDir string, p *Project) error {
	return lockTrust(trustDir, func() error {
		if err := forget(trustDir, p.Path); err != nil {
			return err
		}
		return writeFileAtomic(filepath.Join(trustDir, "deny", pathHash(p.Path)), []byte(p.Path+"\n"), 0o600)
	})
}

// forget removes every trust record for path.
func forget(trustDir, path string) error {
	if err := os.Remove(filepath.Join(trustDir, "deny", pathHash(path))); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("updating trust store: %w", err)
	}
	allow := filepath.Join(trustDir, "allow")
	entries, err := os.ReadDir(allow)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading trust store: %w", err)
	}
	for _, e := range entries {
		f := filepath.Join(allow, e.Name())
		if b, err := os.ReadFile(f); err == nil && strings.TrimSpace(string(b)) == path {
			if err := os.Remove(f); err != nil {
				return fmt.Errorf("updating trust store: %w", err)
			}
		}
	}
	return nil
}

// Notice is the one line to print when a project file is present but does
// not take effect, or "" when there is nothing to say.
func (p *Project) Notice() string {
	var tooLarge *tooLargeError
	if p.Trust != Denied && errors.As(p.parseErr, &tooLarge) {
		return p.parseErr.Error()
	}
	switch p.Trust {
	case NotTrusted:
		return fmt.Sprintf("%s is not trusted yet: run 'claude-bedrock +allow' to use it", p.Path)
	case Changed:
		return fmt.Sprintf("%s changed since it was allowed: review it, then run 'claude-bedrock +allow'", p.Path)
	}
	return "" // trusted files act; denied ones are ignored quietly, as asked
}
