package automation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/apphub/apphub-infra/internal/validate"
	"github.com/apphub/apphub-infra/stacks"
)

// resolveTimeout bounds the ref lookup: a git server the Manager cannot
// reach leaves the ref to BuildKit rather than holding the build.
const resolveTimeout = 10 * time.Second

// errRefNotFound is a ref the git server does not advertise.
var errRefNotFound = errors.New("no such branch or tag")

// ResolveGitRef is `git ls-remote`: the commit a branch, tag or HEAD (an
// empty ref) of the repository at url points to now, trusting the system
// roots plus caPEM. A full commit id is returned as it is.
func ResolveGitRef(ctx context.Context, url, ref string, caPEM []byte) (string, error) {
	if stacks.CommitID.MatchString(ref) {
		return ref, nil
	}
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	remote := git.NewRemote(memory.NewStorage(), &gitconfig.RemoteConfig{Name: "origin", URLs: []string{url}})
	refs, err := remote.ListContext(ctx, &git.ListOptions{CABundle: caPEM, PeelingOption: git.AppendPeeled})
	if err != nil {
		return "", fmt.Errorf("listing the refs of %s: %w", url, err)
	}
	byName := map[string]*plumbing.Reference{}
	for _, r := range refs {
		byName[r.Name().String()] = r
	}
	// BuildKit's own order (source/git): refs/<ref> exactly, then a
	// branch, then a tag; an annotated tag resolves to the commit it
	// points at (the peeled ^{} entry).
	names := []string{"HEAD"}
	if ref != "" {
		names = []string{"refs/" + strings.TrimPrefix(ref, "refs/"), "refs/heads/" + strings.TrimPrefix(ref, "refs/heads/"),
			"refs/tags/" + strings.TrimPrefix(ref, "refs/tags/")}
	}
	for _, n := range names {
		for _, candidate := range []string{n + "^{}", n} {
			r, ok := byName[candidate]
			for hops := 0; ok && r.Type() == plumbing.SymbolicReference && hops < 5; hops++ {
				r, ok = byName[r.Target().String()]
			}
			if ok && !r.Hash().IsZero() {
				return r.Hash().String(), nil
			}
		}
	}
	if shortSHA.MatchString(ref) {
		return "", fmt.Errorf("%s at %s: %w (a commit id must be given in full, 40 hex digits)", describeRef(ref), url, errRefNotFound)
	}
	return "", fmt.Errorf("%s at %s: %w", describeRef(ref), url, errRefNotFound)
}

// shortSHA looks like an abbreviated commit id.
var shortSHA = regexp.MustCompile(`^[0-9a-f]{4,39}$`)

func describeRef(ref string) string {
	if ref == "" {
		return "HEAD"
	}
	return "gitRef " + ref
}

// buildInputs is everything that decides what a build produces. Two builds
// with the same inputs produce the same image, so the second need not run.
type buildInputs struct {
	GitURL     string            `json:"gitUrl"`
	Commit     string            `json:"commit"`
	ContextDir string            `json:"contextDir,omitempty"`
	Dockerfile string            `json:"dockerfile"`
	BuildArgs  map[string]string `json:"buildArgs,omitempty"`
	Repository string            `json:"repository"`
	// Builder is the BuildKit image: its version decides the result too.
	Builder string `json:"builder"`
	// Platform is the builder's native platform: builds never ask for
	// another, and a builder image is built for one.
	Platform string `json:"platform"`
}

// tag is the inputs' tag: InputsTagPrefix and a SHA-256 of their JSON
// (map keys sorted by encoding/json).
func (in buildInputs) tag() string {
	b, _ := json.Marshal(in) // strings and maps of strings always encode
	sum := sha256.Sum256(b)
	return stacks.InputsTagPrefix + hex.EncodeToString(sum[:])
}

// canonicalDir is a context directory as BuildKit reads it.
func canonicalDir(dir string) string { return strings.Trim(dir, "/") }

// pinBuild fixes what a build will build before its stack runs: the
// commit its gitRef points to now (so a new commit always builds, and the
// build fetches exactly that one), the tag of its inputs, and, when the
// registry already holds an image under that tag, that image. A ref the
// git server does not have is the caller's error; a git server or
// registry the Manager cannot reach only means no reuse (BuildKit may
// still reach it). A context URL's contents cannot be known in advance,
// so such builds always run.
func (m *Manager) pinBuild(ctx context.Context, spec BuildSpec, cfg map[string]string) error {
	if spec.GitURL == "" {
		return nil
	}
	outs, err := m.platformOutputs(ctx)
	var pv *stacks.PlatformValues
	if err == nil {
		pv, err = stacks.PlatformFromOutputs(outs)
	}
	if err != nil {
		// The stack reports what the platform lacks; nothing to pin by.
		m.opts.Logger.Warn("platform outputs unreadable; building without reuse", "build", spec.ID, "err", err)
		return nil
	}
	commit, err := ResolveGitRef(ctx, spec.GitURL, spec.GitRef, []byte(pv.BuildCABundle))
	switch {
	case errors.Is(err, errRefNotFound):
		var p validate.Problems
		p.Add("gitRef", "%v", err)
		return p.Err()
	case err != nil:
		m.opts.Logger.Warn("git ref not resolved; building it as given, without reuse", "build", spec.ID, "err", err)
		return nil
	}
	cfg["gitCommit"] = commit
	in := buildInputs{
		GitURL: spec.GitURL, Commit: commit, ContextDir: canonicalDir(spec.ContextDir),
		Dockerfile: cfg["dockerfile"], BuildArgs: spec.BuildArgs, Repository: spec.ImageRepository,
		Builder: pv.BuilderImage, Platform: "native",
	}
	if in.Dockerfile == "" {
		in.Dockerfile = "Dockerfile"
	}
	tag := in.tag()
	cfg["inputsTag"] = tag
	// The image, when there is one, gets the tag asked for too: repo:tag
	// is then this build's image, as if it had been built.
	digest, err := retagImage(ctx, m.registryFor(ctx, pv), spec.ImageRepository, tag, spec.ImageTag)
	if err != nil {
		m.opts.Logger.Warn("registry lookup or tag failed; building", "build", spec.ID, "err", err)
		digest = ""
	}
	if digest != "" {
		cfg["reuseDigest"] = digest
	}
	return nil
}
