package main

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// memSampler polls /proc for the resident memory of this process and of
// every process below it (the Pulumi CLI and whatever it starts), because
// the CLI's children exit before getrusage could report them one by one.
type memSampler struct {
	stop chan struct{}
	done chan struct{}

	mu           sync.Mutex
	peakSelf     int64 // bytes
	peakChildren int64
	peakTotal    int64
	peakProcs    int
}

func startMemSampler(every time.Duration) *memSampler {
	s := &memSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			s.sample()
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// Stop ends sampling and returns the peaks.
func (s *memSampler) Stop() memPeaks {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return memPeaks{Self: s.peakSelf, Children: s.peakChildren, Total: s.peakTotal, Procs: s.peakProcs}
}

type memPeaks struct {
	Self, Children, Total int64 // bytes
	Procs                 int   // most descendant processes seen at once
}

// max is the larger of two peaks, each figure on its own.
func (p memPeaks) max(q memPeaks) memPeaks {
	return memPeaks{Self: max(p.Self, q.Self), Children: max(p.Children, q.Children), Total: max(p.Total, q.Total), Procs: max(p.Procs, q.Procs)}
}

func (s *memSampler) sample() {
	self := rss(os.Getpid())
	var children int64
	kids := descendants(os.Getpid())
	for _, pid := range kids {
		children += rss(pid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.peakSelf = max(s.peakSelf, self)
	s.peakChildren = max(s.peakChildren, children)
	s.peakTotal = max(s.peakTotal, self+children)
	s.peakProcs = max(s.peakProcs, len(kids))
}

// rss is VmRSS of a process in bytes (0 once it has gone).
func rss(pid int) int64 {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

// descendants lists every process below root.
func descendants(root int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// The command name is in parentheses and may hold spaces: the
		// parent pid is the second field after the last ')'.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], pid)
	}
	var out []int
	queue := []int{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
