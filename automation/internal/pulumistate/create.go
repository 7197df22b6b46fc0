package pulumistate

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// CreateStack creates an empty stack as `pulumi stack init` does on a file
// backend with the passphrase secrets provider, without a CLI process
// (which costs its start and a key derivation): the checkpoint, its first
// backup and the blob store's .attrs beside each. salt is the encryption
// salt of a stack this backend's CLI created with the same passphrase; the
// new stack's config and state encrypt with it, as that stack's do. The
// caller writes the stack's settings file (encryptionsalt: salt).
// created is false, with nothing written, when only the CLI should do it:
// another backend or layout, a stack that exists, or no usable salt.
func (b Backend) CreateStack(project, stack, cliVersion, salt string, now time.Time) (created bool, err error) {
	root := b.Root()
	if root == "" || !strings.HasPrefix(salt, "v1:") || cliVersion == "" {
		return false, nil
	}
	if exists, known := b.Exists(project, stack); !known || exists {
		return false, nil
	}
	file := filepath.Join(root, ".pulumi", "stacks", project, stack+".json")
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return false, fmt.Errorf("creating stack %s: %w", stack, err)
	}
	// The CLI takes the stack's lock while it creates it, which leaves the
	// (empty) lock directory behind; the tree stays the same as its.
	if err := os.MkdirAll(filepath.Join(root, filepath.FromSlash(lockPrefix(project, stack))), 0o755); err != nil {
		return false, fmt.Errorf("creating stack %s: %w", stack, err)
	}
	ref := "organization/" + project + "/" + stack
	first, err := json.Marshal(map[string]any{"version": 0, "checkpoint": map[string]any{"stack": ref}})
	if err != nil {
		return false, err
	}
	checkpoint, err := emptyCheckpoint(ref, cliVersion, salt, now)
	if err != nil {
		return false, err
	}
	for _, f := range []struct {
		path string
		data []byte
	}{{file + ".bak", first}, {file, checkpoint}} {
		if err := writeBlob(f.path, f.data); err != nil {
			return false, fmt.Errorf("creating stack %s: %w", stack, err)
		}
	}
	return true, nil
}

// emptyCheckpoint is the checkpoint `stack init` writes: a manifest and the
// secrets provider, no resources.
func emptyCheckpoint(ref, cliVersion, salt string, now time.Time) ([]byte, error) {
	cp := map[string]any{"version": 3, "checkpoint": map[string]any{
		"stack": ref,
		"latest": map[string]any{
			"manifest": map[string]any{
				"time":    now.UTC().Format(time.RFC3339Nano),
				"magic":   fmt.Sprintf("%x", sha256.Sum256([]byte(cliVersion))),
				"version": cliVersion,
			},
			"secrets_providers": map[string]any{"type": "passphrase", "state": map[string]any{"salt": salt}},
			"metadata":          map[string]any{},
		},
	}}
	return json.Marshal(cp)
}

// writeBlob writes a file and its .attrs as the CLI's blob store does.
func writeBlob(path string, data []byte) error {
	sum := md5.Sum(data)
	attrs, err := json.Marshal(map[string]any{
		"user.cache_control": "", "user.content_disposition": "", "user.content_encoding": "",
		"user.content_language": "", "user.content_type": "text/plain; charset=utf-8", "user.metadata": nil,
		"md5": base64.StdEncoding.EncodeToString(sum[:]),
	})
	if err != nil {
		return err
	}
	if err := writeFileAtomic(path+".attrs", attrs); err != nil {
		return err
	}
	return writeFileAtomic(path, data)
}
