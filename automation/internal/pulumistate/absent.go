package pulumistate

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// Absent reports whether the files show that the stack does not exist (a
// backend never used has no .pulumi at all); false when only the CLI can
// tell.
func (b Backend) Absent(project, stack string) bool {
	if exists, known := b.Exists(project, stack); known {
		return !exists
	}
	if b.dir == "" {
		return false
	}
	_, err := os.Stat(filepath.Join(b.dir, ".pulumi"))
	return errors.Is(err, os.ErrNotExist)
}

// NoStacks reports whether the files show that the project has no stack
// at all; false when only the CLI can tell.
func (b Backend) NoStacks(project string) bool {
	if b.dir == "" {
		return false
	}
	if _, err := os.Stat(filepath.Join(b.dir, ".pulumi")); errors.Is(err, os.ErrNotExist) {
		return true
	}
	root := b.Root()
	if root == "" {
		return false
	}
	entries, err := os.ReadDir(filepath.Join(root, ".pulumi", "stacks", project))
	if errors.Is(err, os.ErrNotExist) {
		return true
	}
	for _, e := range entries {
		if name := e.Name(); strings.HasSuffix(name, ".json") || strings.HasSuffix(name, ".json.gz") {
			return false
		}
	}
	return err == nil
}
