package release

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"debug/macho"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const version = "v9.8.7-test"

// TestReleaseArchives runs release.sh for real: both binaries for four
// platforms, a SHA256SUMS that matches, a filled-in Homebrew formula, and an
// archive that installs with install.sh where there is no Go and no git.
func TestReleaseArchives(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dist := t.TempDir()
	cmd := exec.Command("bash", filepath.Join(root, "release.sh"), version)
	cmd.Env = append(os.Environ(), "DIST="+dist, "URL=https://example.com/dl/"+version)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("release.sh: %v\n%s", err, out)
	}

	platforms := []string{"darwin_amd64", "darwin_arm64", "linux_amd64", "linux_arm64"}
	var wantFiles, wantSums []string
	for _, p := range platforms {
		wantFiles = append(wantFiles, "claude-bedrock_"+version+"_"+p+".tar.gz")
	}
	wantFiles = append(wantFiles, "SHA256SUMS", "claude-bedrock.rb")
	sort.Strings(wantFiles)
	entries, err := os.ReadDir(dist)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if diff := cmp.Diff(wantFiles, got); diff != "" {
		t.Fatalf("files in the output folder (-want +got):\n%s", diff)
	}

	// SHA256SUMS, checked by hashing here.
	sums := map[string]string{}
	for _, p := range platforms {
		name := "claude-bedrock_" + version + "_" + p + ".tar.gz"
		b, err := os.ReadFile(filepath.Join(dist, name))
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(b)
		sums[p] = hex.EncodeToString(h[:])
		wantSums = append(wantSums, sums[p]+"  "+name)
	}
	b, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(strings.Join(wantSums, "\n")+"\n", string(b)); diff != "" {
		t.Errorf("SHA256SUMS (-want +got):\n%s", diff)
	}

	// Each archive: one folder with both binaries for its platform, install.sh and the README.
	for _, p := range platforms {
		dir := filepath.Join(t.TempDir(), "x")
		top := unpack(t, filepath.Join(dist, "claude-bedrock_"+version+"_"+p+".tar.gz"), dir)
		if want := "claude-bedrock_" + version + "_" + p; top != want {
			t.Errorf("%s: the archive's folder is %q, want %q", p, top, want)
		}
		goos, goarch, _ := strings.Cut(p, "_")
		for _, bin := range []string{"claude-bedrock", "claude-bedrock-doctor"} {
			if got := platformOf(t, filepath.Join(dir, top, bin)); got != goos+"/"+goarch {
				t.Errorf("%s/%s is built for %s", p, bin, got)
			}
		}
		for _, f := range []string{"install.sh", "README.md"} {
			if _, err := os.Stat(filepath.Join(dir, top, f)); err != nil {
				t.Errorf("%s: %v", p, err)
			}
		}
	}

	// The formula names each archive with its sum.
	b, err = os.ReadFile(filepath.Join(dist, "claude-bedrock.rb"))
	if err != nil {
		t.Fatal(err)
	}
	formula := string(b)
	for _, want := range []string{`version "9.8.7-test"`,
		`url "https://example.com/dl/` + version + `/claude-bedrock_` + version + `_darwin_arm64.tar.gz"` + "\n      sha256 \"" + sums["darwin_arm64"] + `"`,
		`url "https://example.com/dl/` + version + `/claude-bedrock_` + version + `_linux_amd64.tar.gz"` + "\n      sha256 \"" + sums["linux_amd64"] + `"`,
	} {
		if !strings.Contains(formula, want) {
			t.Errorf("the formula has no %q:\n%s", want, formula)
		}
	}

	// install.sh from the unpacked archive of this machine: no Go, no git.
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		return
	}
	dir := t.TempDir()
	top := unpack(t, filepath.Join(dist, "claude-bedrock_"+version+"_"+runtime.GOOS+"_"+runtime.GOARCH+".tar.gz"), dir)
	home, prefix := t.TempDir(), t.TempDir()
	install := exec.Command("bash", filepath.Join(dir, top, "install.sh"))
	install.Dir = t.TempDir()
	install.Env = []string{"HOME=" + home, "PREFIX=" + prefix, "PATH=" + noGo(t), "SHELL=/bin/bash"}
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("install.sh from the archive: %v\n%s", err, out)
	}
	out, err := exec.Command(filepath.Join(prefix, "bin", "claude-bedrock"), "+version").CombinedOutput()
	if err != nil || string(out) != "claude-bedrock "+version+"\n" {
		t.Errorf("the installed claude-bedrock +version: %q, %v", out, err)
	}
	if fi, err := os.Stat(filepath.Join(prefix, "bin", "claude-bedrock-doctor")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("the installed doctor: %v, %v", fi, err)
	}
}

// unpack extracts a .tar.gz into dir and returns the one top folder in it.
func unpack(t *testing.T, archive, dir string) string {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tops := map[string]bool{}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s: %s owned by %d:%d, want 0:0", archive, h.Name, h.Uid, h.Gid)
		}
		name := filepath.Clean(h.Name)
		if strings.HasPrefix(name, "..") || filepath.IsAbs(name) {
			t.Fatalf("%s: entry %q leaves the folder", archive, h.Name)
		}
		tops[strings.Split(name, "/")[0]] = true
		path := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(path, 0o755); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			w, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode).Perm())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(w, tr); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
		default:
			t.Errorf("%s: %s is of type %c, want files and folders only", archive, h.Name, h.Typeflag)
		}
	}
	if len(tops) != 1 {
		t.Fatalf("%s: top-level entries %v, want one folder", archive, tops)
	}
	for top := range tops {
		return top
	}
	return ""
}

// platformOf reads the GOOS/GOARCH an executable is for from its header.
func platformOf(t *testing.T, path string) string {
	t.Helper()
	if f, err := elf.Open(path); err == nil {
		defer f.Close()
		arch := map[elf.Machine]string{elf.EM_X86_64: "amd64", elf.EM_AARCH64: "arm64"}[f.Machine]
		if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
			return "linux/not an executable"
		}
		return "linux/" + arch
	}
	f, err := macho.Open(path)
	if err != nil {
		t.Fatalf("%s is neither ELF nor Mach-O: %v", path, err)
	}
	defer f.Close()
	if f.Type != macho.TypeExec {
		return "darwin/not an executable"
	}
	return "darwin/" + map[macho.Cpu]string{macho.CpuAmd64: "amd64", macho.CpuArm64: "arm64"}[f.Cpu]
}

// noGo returns a PATH of the tools install.sh needs, linked into a folder
// with neither go nor git.
func noGo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, tool := range []string{"bash", "sh", "mkdir", "mktemp", "cp", "chmod", "mv", "rm", "dirname", "uname", "grep", "sed", "printf", "id"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			continue // a shell builtin on this machine, or not needed
		}
		if err := os.Symlink(p, filepath.Join(dir, tool)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tool := range []string{"go", "git"} {
		if _, err := os.Stat(filepath.Join(dir, tool)); err == nil {
			t.Fatalf("%s in %s", tool, dir)
		}
	}
	return dir
}
