// Command builds is the build stack program: one stack per build,
// `pulumi up -s build-<id>` run from this directory.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/apphub/apphub-infra/stacks"
)

func main() {
	pulumi.Run(stacks.Build)
}
