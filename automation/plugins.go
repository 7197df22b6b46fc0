package automation

import (
	"fmt"
	"runtime/debug"
	"sync"
)

// pluginModules maps each provider plugin the programs use to the Go SDK
// module they are compiled against. go.mod pins the SDK; the plugin must be
// the same version, so it is read from the binary's build information
// rather than written down a second time.
var pluginModules = []struct{ Name, Module string }{
	{"kubernetes", "github.com/pulumi/pulumi-kubernetes/sdk/v4"},
	{"random", "github.com/pulumi/pulumi-random/sdk/v4"},
	{"command", "github.com/pulumi/pulumi-command/sdk"},
}

var defaultPlugins = sync.OnceValues(func() ([]Plugin, error) {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return nil, fmt.Errorf("this binary carries no module information: build it with module support to know its plugin versions")
	}
	return pluginsFrom(info.Deps)
})

// pluginsFrom picks the plugin versions out of a binary's dependencies.
func pluginsFrom(deps []*debug.Module) ([]Plugin, error) {
	versions := map[string]string{}
	for _, d := range deps {
		if d.Replace != nil {
			d = d.Replace
		}
		versions[d.Path] = d.Version
	}
	out := make([]Plugin, 0, len(pluginModules))
	for _, pm := range pluginModules {
		v := versions[pm.Module]
		if v == "" || v == "(devel)" {
			return nil, fmt.Errorf("plugin %s: module %s is not in this binary's build information", pm.Name, pm.Module)
		}
		out = append(out, Plugin{Name: pm.Name, Version: v})
	}
	return out, nil
}

// DefaultPlugins are the provider plugins the preview, build and platform
// programs use, at the versions of their SDKs in go.mod.
func DefaultPlugins() ([]Plugin, error) { return defaultPlugins() }
