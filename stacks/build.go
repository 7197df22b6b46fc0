package stacks

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/apphub/apphub-infra/components"
	"github.com/apphub/apphub-infra/internal/validate"
)

// BuildProject is the Pulumi project of build stacks (builds/).
const BuildProject = "apphub-build"

// InputsTagPrefix starts the tag a build also pushes its image under: the
// hash of its inputs, so an equal build can find the image in the
// registry itself. No caller may choose such a tag.
const InputsTagPrefix = "apphub-inputs-"

// buildBudget reserves room for the "build-" prefix and Pulumi's
// 9-character auto-name suffix (more than the Job controller's 6-character
// pod suffix), keeping the Job name a DNS label, as its job-name label needs.
const buildBudget = len(components.BuildNamePrefix) + 9

// BuildStackConfig is what the catalog passes for one build.
type BuildStackConfig struct {
	// PlatformOutputs or PlatformStack, as for previews.
	PlatformOutputs string `key:"platformOutputs"`
	PlatformStack   string `key:"platformStack"`
	BuildID         string `key:"buildId"`
	// GitURL (https) with GitRef and ContextDir, or ContextURL (a tarball).
	GitURL          string `key:"gitUrl"`
	GitRef          string `key:"gitRef"`
	ContextDir      string `key:"contextDir"`
	ContextURL      string `key:"contextUrl"`
	Dockerfile      string `key:"dockerfile" default:"Dockerfile"`
	ImageRepository string `key:"imageRepository"`
	ImageTag        string `key:"imageTag"`
	// BuildArgs is a JSON object of strings.
	BuildArgs    string `key:"buildArgs"`
	BackoffLimit int    `key:"backoffLimit" default:"1"`
	// GitCommit is the commit gitRef pointed to when the Manager resolved
	// it: the build fetches exactly that commit.
	GitCommit string `key:"gitCommit"`
	// InputsTag is a second tag the image is pushed under: the hash of
	// the build's inputs, which an equal build looks up.
	InputsTag string `key:"inputsTag"`
	// ReuseDigest is the image an equal build already pushed (by digest in
	// imageRepository): no Job runs, the build is that image.
	ReuseDigest   string `key:"reuseDigest"`
	CPURequest    string `key:"cpuRequest" default:"500m"`
	MemoryRequest string `key:"memoryRequest" default:"1Gi"`
	CPULimit      string `key:"cpuLimit" default:"2"`
	MemoryLimit   string `key:"memoryLimit" default:"4Gi"`

	buildArgs map[string]string
}

func checkBuildID(p *validate.Problems, id string) { p.DNSLabelBudget("buildId", id, buildBudget) }

// ValidateBuildID checks a build id alone, by the build stack's rule.
func ValidateBuildID(id string) error {
	var p validate.Problems
	checkBuildID(&p, id)
	return p.Err()
}

// BuildConfigKeys lists the build project's keys.
func BuildConfigKeys() []ConfigKey { return keysOf(&BuildStackConfig{}) }

// ParseBuildConfig reads and validates a build stack's own config.
func ParseBuildConfig(src ConfigSource) (*BuildStackConfig, error) {
	var p validate.Problems
	c := &BuildStackConfig{}
	loadInto(c, src, nil, &p)
	refuseUnknownKeys(&p, src, BuildConfigKeys(), "build stack")
	c.validate(&p)
	if err := p.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *BuildStackConfig) validate(p *validate.Problems) {
	checkPlatformSource(p, c.PlatformStack, c.PlatformOutputs)
	checkBuildID(p, c.BuildID)
	switch {
	case c.GitURL == "" && c.ContextURL == "":
		p.Add("gitUrl", "gitUrl or contextUrl is required")
	case c.GitURL != "" && c.ContextURL != "":
		p.Add("contextUrl", "set gitUrl or contextUrl, not both")
	case c.GitURL != "":
		p.HTTPSURL("gitUrl", c.GitURL)
		p.GitRef("gitRef", c.GitRef)
		p.RelativePath("contextDir", c.ContextDir)
	default:
		p.HTTPSURL("contextUrl", c.ContextURL)
		if c.GitRef != "" || c.ContextDir != "" {
			p.Add("contextUrl", "gitRef and contextDir apply to gitUrl only")
		}
	}
	if c.GitCommit != "" && (c.GitURL == "" || !CommitID.MatchString(c.GitCommit)) {
		p.Add("gitCommit", "must be the full commit id gitRef of gitUrl resolved to, got %q", c.GitCommit)
	}
	if c.InputsTag != "" {
		p.ImageTag("inputsTag", c.InputsTag)
		if !strings.HasPrefix(c.InputsTag, InputsTagPrefix) {
			p.Add("inputsTag", "must start with %s", InputsTagPrefix)
		}
	}
	if c.ReuseDigest != "" && !imageDigestRE.MatchString(c.ReuseDigest) {
		p.Add("reuseDigest", "must be a sha256 digest, got %q", c.ReuseDigest)
	}
	if p.Required("dockerfile", c.Dockerfile) {
		p.RelativePath("dockerfile", c.Dockerfile)
	}
	p.Repository("imageRepository", c.ImageRepository)
	p.ImageTag("imageTag", c.ImageTag)
	if strings.HasPrefix(c.ImageTag, InputsTagPrefix) {
		// Only a build's own push may write the tag an equal build trusts.
		p.Add("imageTag", "must not start with %s: that prefix is reserved for the tag of a build's inputs", InputsTagPrefix)
	}
	c.buildArgs = p.StringMap("buildArgs", c.BuildArgs, validate.EnvName)
	p.Range("backoffLimit", c.BackoffLimit, 0, 5)
	p.RequestWithinLimit("cpuRequest", c.CPURequest, "cpuLimit", c.CPULimit)
	p.RequestWithinLimit("memoryRequest", c.MemoryRequest, "memoryLimit", c.MemoryLimit)
}

var (
	// CommitID is a full git commit id (SHA-1 or SHA-256): a ref that
	// cannot move.
	CommitID      = regexp.MustCompile(`^[0-9a-f]{40}([0-9a-f]{24})?$`)
	imageDigestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
)

// BuildContext is the context BuildKit fetches: URL#ref:dir for git, with
// the resolved commit in place of the ref when there is one.
func (c *BuildStackConfig) BuildContext() string {
	if c.ContextURL != "" {
		return c.ContextURL
	}
	ref := c.GitRef
	if c.GitCommit != "" {
		ref = c.GitCommit
	}
	if ref == "" && c.ContextDir == "" {
		return c.GitURL
	}
	frag := ref
	if c.ContextDir != "" {
		frag += ":" + strings.Trim(c.ContextDir, "/")
	}
	return c.GitURL + "#" + frag
}

// Build is the build stack program (`pulumi up -s build-<id>` in builds/,
// or inline through the Automation API).
func Build(ctx *pulumi.Context) error {
	cfg, err := ParseBuildConfig(PulumiConfig(ctx))
	if err != nil {
		return fmt.Errorf("build stack %q: invalid config: %w", ctx.Stack(), err)
	}
	res, err := NewBuild(ctx, cfg)
	if err != nil {
		return fmt.Errorf("build stack %q: %w", ctx.Stack(), err)
	}
	for k, v := range res {
		ctx.Export(k, v)
	}
	return nil
}

// Build stack outputs.
const (
	OutImage   = "image"
	OutPushRef = "pushRef"
	OutJobName = "jobName"
	OutBuildID = "buildId"
	// OutCommit is the commit built, when gitRef was resolved.
	OutCommit = "commit"
	// OutReusedDigest is set when an equal build's image was reused.
	OutReusedDigest = "reusedDigest"
)

// NewBuild reads the platform and creates the build Job; the update returns
// when the Job has completed, or fails with its reason.
func NewBuild(ctx *pulumi.Context, cfg *BuildStackConfig) (pulumi.Map, error) {
	pv, err := LoadPlatform(ctx, cfg.PlatformStack, cfg.PlatformOutputs)
	if err != nil {
		return nil, err
	}
	if pv.BuildTimeoutSeconds <= 0 || pv.BuildJobTTLSeconds <= 0 {
		return nil, fmt.Errorf("platform: build timeout and TTL must be positive")
	}
	if cfg.ReuseDigest != "" {
		return reusedBuild(cfg, pv), nil
	}
	k8s, err := pv.Provider(ctx)
	if err != nil {
		return nil, err
	}
	suffix := "/" + cfg.ImageRepository + ":" + cfg.ImageTag
	pushRefs := pv.RegistryPushAddress + suffix
	if cfg.InputsTag != "" {
		pushRefs += "," + pv.RegistryPushAddress + "/" + cfg.ImageRepository + ":" + cfg.InputsTag
	}
	job, err := components.NewBuildJob(ctx, "build", &components.BuildJobArgs{
		BuildID:             cfg.BuildID,
		Namespace:           pv.BuildNamespace,
		BuilderImage:        pv.BuilderImage,
		BuilderAddress:      pv.BuilderAddress,
		BuilderClientSecret: pv.BuilderClientSecret,
		ServiceAccount:      pv.BuilderServiceAccount,
		Context:             cfg.BuildContext(),
		Dockerfile:          cfg.Dockerfile,
		BuildArgs:           cfg.buildArgs,
		PushRef:             pushRefs,
		ImageRef:            pv.RegistryPullAddress + suffix,
		InsecureRegistry:    pv.RegistryInsecure,
		RegistrySecret:      pv.RegistrySecret,
		CAConfigMap:         pv.BuildCAConfigMap,
		TimeoutSeconds:      pv.BuildTimeoutSeconds,
		TTLSeconds:          pv.BuildJobTTLSeconds,
		BackoffLimit:        cfg.BackoffLimit,
		Resources: components.ContainerResources{
			CPURequest: cfg.CPURequest, MemoryRequest: cfg.MemoryRequest,
			CPULimit: cfg.CPULimit, MemoryLimit: cfg.MemoryLimit,
		},
	}, pulumi.Provider(k8s))
	if err != nil {
		return nil, err
	}
	out := pulumi.Map{
		OutImage:     job.ImageRef,
		OutPushRef:   pulumi.String(pv.RegistryPushAddress + suffix),
		OutJobName:   job.JobName,
		OutNamespace: pulumi.String(pv.BuildNamespace),
		OutBuildID:   pulumi.String(cfg.BuildID),
	}
	if cfg.GitCommit != "" {
		out[OutCommit] = pulumi.String(cfg.GitCommit)
	}
	return out, nil
}

// reusedBuild is a build whose inputs an earlier build had: its image
// (which the Manager tagged as asked), pinned, and no Job (an earlier Job
// of this build, if any, goes).
func reusedBuild(cfg *BuildStackConfig, pv *PlatformValues) pulumi.Map {
	repo := "/" + cfg.ImageRepository + ":" + cfg.ImageTag + "@" + cfg.ReuseDigest
	out := pulumi.Map{
		OutImage:        pulumi.String(pv.RegistryPullAddress + repo),
		OutPushRef:      pulumi.String(pv.RegistryPushAddress + repo),
		OutNamespace:    pulumi.String(pv.BuildNamespace),
		OutBuildID:      pulumi.String(cfg.BuildID),
		OutReusedDigest: pulumi.String(cfg.ReuseDigest),
	}
	if cfg.GitCommit != "" {
		out[OutCommit] = pulumi.String(cfg.GitCommit)
	}
	return out
}
