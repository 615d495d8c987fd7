package profiles

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// writeFileAtomic replaces path with data so that a reader sees either the old
// or the new content, never a mix, and a crash leaves the old file intact:
// it writes a temporary file in the same folder, syncs it and renames it over
// path. An existing file keeps its permissions. When path is a symbolic link
// (a config kept in a dotfiles repository), the file it points to is replaced
// and the link stays: renaming over the link itself would turn it into a
// regular file and leave the linked copy unedited.
func writeFileAtomic(path string, data []byte, perm fs.FileMode) (err error) {
	path, err = resolveLink(path)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	if fi, err := os.Stat(path); err == nil {
		perm = fi.Mode().Perm()
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp.Name()) // best effort: the original is untouched either way
		}
	}()
	if _, err = tmp.Write(data); err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), perm)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// resolveLink returns the file that path names once symbolic links are
// followed, or path itself when it is no link or does not exist yet. A link to
// nothing is an error: writing would make a file in the link's place, or
// somewhere the user never chose.
func resolveLink(path string) (string, error) {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		return path, nil // not a link; a missing file is made, other errors show when it is written
	}
	real, err := filepath.EvalSymlinks(path)
	if errors.Is(err, fs.ErrNotExist) {
		dest, _ := os.Readlink(path) // it was a link a moment ago; an empty name still reads clearly
		if dest != "" && !filepath.IsAbs(dest) {
			dest = filepath.Join(filepath.Dir(path), dest)
		}
		return "", fmt.Errorf("%s is a symbolic link to %s, which does not exist: create that file or point the link at your config", path, dest)
	}
	if err != nil {
		return "", fmt.Errorf("following the link %s: %w", path, err)
	}
	return real, nil
}
