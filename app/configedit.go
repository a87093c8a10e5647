package app

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

var (
	tableLine   = regexp.MustCompile(`^\s*\[`)
	blobsTable  = regexp.MustCompile(`^\s*\[\s*blobs\s*\]\s*(#.*)?$`)
	backendLine = regexp.MustCompile(`^\s*backend\s*=`)
)

// SetBlobsBackend rewrites the config file at path so that
// blobs.backend is backend, touching nothing else: the backend line of
// its [blobs] table is replaced, or one is added (with the table when it
// has none). The file is replaced whole (a temporary file, fsynced, then
// renamed), once what it would say is checked by loading it.
func SetBlobsBackend(path, backend string) error {
	text, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	lines := strings.Split(string(text), "\n")
	setting := fmt.Sprintf("backend = %q", backend)
	table := -1
	for i, l := range lines {
		if table < 0 {
			if blobsTable.MatchString(l) {
				table = i
			}
			continue
		}
		if tableLine.MatchString(l) {
			break
		}
		if backendLine.MatchString(l) {
			lines[i] = setting
			table = -2 // done
			break
		}
	}
	switch {
	case table >= 0:
		lines = append(lines[:table+1], append([]string{setting}, lines[table+1:]...)...)
	case table == -1:
		if n := len(lines); n > 0 && lines[n-1] == "" {
			lines = lines[:n-1]
		}
		lines = append(lines, "", "[blobs]", setting, "")
	}
	out := strings.Join(lines, "\n")
	perm := os.FileMode(0o600)
	if info, err := os.Stat(path); err == nil {
		perm = info.Mode().Perm()
	}
	var cfg Config
	err = WriteFileAtomic(path, perm, func(w io.Writer) error {
		_, err := io.WriteString(w, out)
		return err
	}, func(tmp string) error {
		var err error
		if cfg, err = LoadConfig(tmp); err != nil {
			return fmt.Errorf("%s with blobs.backend set: %w", path, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if cfg.Blobs.Backend != backend {
		return fmt.Errorf("%s now says blobs.backend = %q, but the environment's FERRY_BLOBS_BACKEND says %q: change it too", path, backend, cfg.Blobs.Backend)
	}
	return nil
}

// WriteFileAtomic writes path whole or not at all: write fills a
// temporary file beside it (mode perm), which is fsynced, then given to
// check (nil: none) by its name, then renamed over path.
func WriteFileAtomic(path string, perm os.FileMode, write func(io.Writer) error, check func(tmp string) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	err = tmp.Chmod(perm)
	if err == nil {
		err = write(tmp)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil && check != nil {
		err = check(tmp.Name())
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
