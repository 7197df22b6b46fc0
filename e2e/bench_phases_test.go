//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apphub/apphub-infra/automation"
)

// phases splits one operation's wall time by its engine events, stamped as
// the Manager receives them: before the engine (our checks, the CLI's
// start, stack selection, config, engine start), the provider (plugin
// start and configure), each Kubernetes resource's apply and await, the
// checkpoint's close, and after the engine (CLI exit, outputs read, our
// bookkeeping).
type phases struct {
	mu     sync.Mutex
	start  time.Time
	events []automation.Event
}

func (p *phases) sink(e automation.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, e)
}

// run times fn with the recorder attached to its operations.
func (p *phases) run(ctx context.Context, fn func(context.Context) error) (map[string]time.Duration, error) {
	p.events, p.start = nil, time.Now()
	err := fn(automation.WithEvents(ctx, p.sink))
	end := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	return split(p.start, end, p.events), err
}

// split names where the time went. Resources run in parallel, so their
// spans overlap; "resources" is the wall time from the provider's end to
// the last resource's end.
func split(start, end time.Time, evs []automation.Event) map[string]time.Duration {
	out := map[string]time.Duration{"total": end.Sub(start)}
	if len(evs) == 0 {
		return out
	}
	began := map[string]time.Time{}
	var providerDone, lastDone, summary time.Time
	for _, e := range evs {
		short := e.Resource[strings.LastIndex(e.Resource, ":")+1:]
		switch e.Type {
		case "resource-start":
			began[e.URN] = e.Time
		case "resource-done":
			if b, ok := began[e.URN]; ok && short != "Stack" {
				out["resource "+short] += e.Time.Sub(b)
			}
			if strings.HasPrefix(e.Resource, "pulumi:providers:") {
				providerDone = e.Time
			}
			lastDone = e.Time
		case "summary":
			summary = e.Time
		}
	}
	out["before engine"] = evs[0].Time.Sub(start)
	if !providerDone.IsZero() && lastDone.After(providerDone) {
		out["resources (wall)"] = lastDone.Sub(providerDone)
	}
	if !summary.IsZero() {
		if !lastDone.IsZero() {
			out["checkpoint close"] = summary.Sub(lastDone)
		}
		out["after engine"] = end.Sub(summary)
	}
	return out
}

// medians reduces runs of phases to each phase's median.
func medians(runs []map[string]time.Duration) map[string]time.Duration {
	all := map[string][]time.Duration{}
	for _, r := range runs {
		for k, v := range r {
			all[k] = append(all[k], v)
		}
	}
	out := map[string]time.Duration{}
	for k, vs := range all {
		sort.Slice(vs, func(i, j int) bool { return vs[i] < vs[j] })
		out[k] = vs[len(vs)/2]
	}
	return out
}

// logPhases prints a breakdown as a Markdown table row set, longest first.
func logPhases(b testing.TB, what string, m map[string]time.Duration) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] })
	var s strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&s, "| %s | %s | %.2f s |\n", what, k, m[k].Seconds())
	}
	b.Logf("breakdown, medians:\n%s", s.String())
}
