// Command previews is the preview stack program: one stack per launch,
// `pulumi up -s preview-<launch>` run from this directory.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/apphub/apphub-infra/stacks"
)

func main() {
	pulumi.Run(stacks.Preview)
}
