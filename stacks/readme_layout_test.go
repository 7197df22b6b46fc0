package stacks

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The README's layout section names every folder that holds Go code, so a
// newcomer's map matches the tree (and test support stays under
// internal/testing/).
func TestReadmeLayoutMatchesTheTree(t *testing.T) {
	readme := string(projectFile(t, "README.md"))
	start := strings.Index(readme, "## Layout")
	require.GreaterOrEqual(t, start, 0)
	layout := readme[start:]
	var missing []string
	for _, dir := range goDirs(t, "..") {
		// A folder is named itself or through its parent's entry
		// ("internal/testing/  … pgtest …").
		parent, base := filepath.Dir(dir), filepath.Base(dir)
		if !strings.Contains(layout, dir+"/") && !(strings.Contains(layout, parent+"/") && strings.Contains(layout, base)) {
			missing = append(missing, dir)
		}
	}
	assert.Empty(t, missing, "README's layout section must name these folders")
}

// goDirs lists the repository's folders with Go files, relative to root,
// skipping the separate tools module and hidden folders.
func goDirs(t *testing.T, root string) []string {
	seen := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && rel != "." || rel == "tools" || rel == "bin") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".go") && filepath.Dir(rel) != "." {
			seen[filepath.Dir(rel)] = true
		}
		return nil
	})
	require.NoError(t, err)
	out := make([]string, 0, len(seen))
	for d := range seen {
		out = append(out, d)
	}
	return out
}
