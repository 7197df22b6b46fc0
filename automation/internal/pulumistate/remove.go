package pulumistate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
)

// rootStackType is the one resource an emptied stack keeps.
const rootStackType = "pulumi:pulumi:Stack"

// RemoveStack removes a stack its destroy emptied, as `pulumi stack rm`
// does on a file backend (and without a CLI process, which costs a
// passphrase key derivation on top of its start): the checkpoint becomes
// <stack>.json.bak, the tags file and the history go, backups stay.
// removed is false, with nothing touched, whenever only the CLI should do
// it: another backend or layout, a stack that still has resources, or a
// Pulumi lock someone holds on it.
func (b Backend) RemoveStack(project, stack string) (removed bool, err error) {
	file, err := b.checkpointFile(project, stack)
	if err != nil {
		return false, nil
	}
	dep, err := b.Deployment(project, stack)
	if err != nil || !emptied(dep.Resources) || len(dep.PendingOperations) > 0 {
		return false, nil
	}
	root := b.Root()
	if locks, _ := os.ReadDir(filepath.Join(root, filepath.FromSlash(lockPrefix(project, stack)))); len(locks) > 0 {
		return false, nil
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return false, nil
	}
	// The backup first: a crash between the two steps leaves the stack as
	// it was, with a .bak the next removal overwrites.
	if err := writeFileAtomic(file+".bak", raw); err != nil {
		return false, fmt.Errorf("removing stack %s: %w", stack, err)
	}
	// The blob store keeps each file's attributes beside it (.attrs): they
	// move with the file, as the CLI's copy and delete move them.
	if attrs, err := os.ReadFile(file + ".attrs"); err == nil {
		if err := writeFileAtomic(file+".bak.attrs", attrs); err != nil {
			return false, fmt.Errorf("removing stack %s: %w", stack, err)
		}
	}
	if err := os.Remove(file); err != nil {
		return false, fmt.Errorf("removing stack %s: %w", stack, err)
	}
	if err := os.Remove(file + ".attrs"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return true, fmt.Errorf("removing stack %s: %w", stack, err)
	}
	base := strings.TrimSuffix(strings.TrimSuffix(file, ".gz"), ".json")
	if err := os.Remove(base + ".pulumi-tags"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return true, fmt.Errorf("removing stack %s tags: %w", stack, err)
	}
	if err := os.RemoveAll(filepath.Join(root, ".pulumi", "history", project, stack)); err != nil {
		return true, fmt.Errorf("removing stack %s history: %w", stack, err)
	}
	return true, nil
}

// emptied reports whether a checkpoint holds nothing but the root stack,
// which `stack rm` accepts without --force.
func emptied(resources []apitype.ResourceV3) bool {
	switch len(resources) {
	case 0:
		return true
	case 1:
		return string(resources[0].Type) == rootStackType
	}
	return false
}

func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".apphub-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
