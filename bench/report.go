package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"
)

// machine describes where the figures come from.
func machine() string {
	model := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
		_ = f.Close()
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			mem = fmt.Sprintf(", %.0f GiB", float64(kb)/(1<<20))
		}
	}
	return fmt.Sprintf("%d cores (%s)%s, %s, %s/%s", runtime.NumCPU(), model, mem, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func writeAutomationMarkdown(w io.Writer, rep *automationReport) {
	fmt.Fprintf(w, "### Automation overhead — %s\n\nMachine: %s.\n\n", rep.Date, rep.Machine)
	writeSequentialTable(w, rep)
	walls := writeConcurrentTable(w, rep)
	writeRatioTable(w, rep, walls)
	fmt.Fprintln(w, "\nTargets:")
	fmt.Fprintln(w)
	for _, t := range rep.Targets {
		mark := "met"
		if !t.Met {
			mark = "MISSED"
		}
		fmt.Fprintf(w, "- %s: **%s** — %s\n", t.Name, mark, t.Figure)
	}
	for _, l := range allLevels(rep) {
		if l.failed() {
			fmt.Fprintf(w, "\nProblems (%s, %d in flight):\n", l.Driver, l.InFlight)
			for _, p := range l.Phases {
				for _, e := range p.Errors {
					fmt.Fprintf(w, "- %s\n", e)
				}
			}
			for _, e := range l.StateErrors {
				fmt.Fprintf(w, "- %s\n", e)
			}
		}
	}
}

// allLevels is every level the report ran: sequential rounds, then
// concurrency levels.
func allLevels(rep *automationReport) []level {
	return append(append([]level{}, rep.Sequential...), rep.Levels...)
}

// writeSequentialTable compares the drivers' sequential latencies.
func writeSequentialTable(w io.Writer, rep *automationReport) {
	fmt.Fprintf(w, "Sequential (one operation at a time, %d rounds each, medians; max in brackets):\n\n", len(rep.Sequential)/2)
	fmt.Fprintln(w, "| operation | apphub (Manager) | naive (shared workspace) | naive / apphub |")
	fmt.Fprintln(w, "|---|---|---|---|")
	so, sn := sequentialStats(rep, (&ours{}).Name()), sequentialStats(rep, (&naive{}).Name())
	for _, op := range []string{"create", "update", "destroy"} {
		ratio := "-"
		if so[op].Median > 0 {
			ratio = fmt.Sprintf("%.1f×", sn[op].Median.Seconds()/so[op].Median.Seconds())
		}
		fmt.Fprintf(w, "| %s | %s (%s) | %s (%s) | %s |\n", op, secs(so[op].Median), secs(so[op].Max), secs(sn[op].Median), secs(sn[op].Max), ratio)
	}
}

// writeConcurrentTable writes a row a concurrency level and driver, and
// returns each one's wall time of the three phases.
func writeConcurrentTable(w io.Writer, rep *automationReport) map[string]map[int]time.Duration {
	fmt.Fprintln(w, "\nConcurrent (n previews created, then updated, then destroyed, n in flight; throughput = n / phase wall time):")
	fmt.Fprintln(w, "\n| in flight | driver | create ops/s | update ops/s | destroy ops/s | median latency c/u/d | wall c+u+d | peak service RSS | peak CLI RSS (procs) | peak total / in flight | errors | state problems |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|")
	walls := map[string]map[int]time.Duration{(&ours{}).Name(): {}, (&naive{}).Name(): {}}
	for _, l := range rep.Levels {
		var tput, lat []string
		var wall time.Duration
		errs := 0
		for _, p := range l.Phases {
			tput = append(tput, fmt.Sprintf("%.2f", p.Throughput))
			lat = append(lat, fmt.Sprintf("%.1f", summarise(p.Latencies).Median.Seconds()))
			wall += p.Wall
			errs += len(p.Errors)
		}
		for len(tput) < 3 {
			tput, lat = append(tput, "-"), append(lat, "-")
		}
		walls[l.Driver][l.InFlight] = wall
		fmt.Fprintf(w, "| %d | %s | %s | %s | %s | %s s | %s | %.0f MiB | %.0f MiB (%d) | %.0f MiB | %d | %d |\n",
			l.InFlight, l.Driver, tput[0], tput[1], tput[2], strings.Join(lat, " / "), secs(wall),
			mib(l.Memory.Self), mib(l.Memory.Children), l.Memory.Procs, mib(l.Memory.Total)/float64(l.InFlight), errs, len(l.StateErrors))
	}
	return walls
}

// writeRatioTable compares the drivers' wall times at the levels both ran.
func writeRatioTable(w io.Writer, rep *automationReport, walls map[string]map[int]time.Duration) {
	oursName, naiveName := (&ours{}).Name(), (&naive{}).Name()
	fmt.Fprintln(w, "\nRatio naive / apphub, wall time of the three phases:")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| in flight | apphub | naive | ratio |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, l := range rep.Levels {
		if l.Driver != oursName {
			continue
		}
		nw, ok := walls[naiveName][l.InFlight]
		if !ok {
			continue
		}
		ow := walls[oursName][l.InFlight]
		fmt.Fprintf(w, "| %d | %s | %s | %.1f× |\n", l.InFlight, secs(ow), secs(nw), nw.Seconds()/ow.Seconds())
	}
}
