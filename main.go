// Command apphub-infra is the platform stack program that `pulumi up -s dev`
// and `pulumi up -s prod` run.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/apphub/apphub-infra/stacks"
)

func main() {
	pulumi.Run(stacks.Platform)
}
