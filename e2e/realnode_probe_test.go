//go:build e2e && realnode

package e2e

import (
	"fmt"
	"sync"
	"time"
)

// prober sends a request to a preview's host through the ingress every
// probeEvery until stopped, and keeps the tally: what a user of the URL
// saw while the preview was created, rolled out or destroyed.
type prober struct {
	host, path string
	start      time.Time

	mu       sync.Mutex
	codes    map[int]int
	versions map[string]int
	failures []string // after the first 200: anything but 200
	firstOK  time.Time
	last     int // the latest status code (0: no answer)
	firstV   map[string]time.Time
	stop     chan struct{}
	done     chan struct{}
	sampled  chan struct{} // a value after each answer
	once     sync.Once
}

const probeEvery = 10 * time.Millisecond

func startProber(host, path string) *prober {
	p := &prober{host: host, path: path, start: time.Now(), codes: map[int]int{}, versions: map[string]int{},
		firstV: map[string]time.Time{}, stop: make(chan struct{}), done: make(chan struct{}), sampled: make(chan struct{}, 1)}
	go p.run()
	return p
}

func (p *prober) run() {
	defer close(p.done)
	tick := time.NewTicker(probeEvery)
	defer tick.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		code, a, err := viaIngress(p.host, p.path)
		now := time.Now()
		p.mu.Lock()
		p.codes[code]++
		p.last = code
		switch {
		case err == nil && code == 200 && a != nil:
			if p.firstOK.IsZero() {
				p.firstOK = now
			}
			p.versions[a.Version]++
			if _, seen := p.firstV[a.Version]; !seen {
				p.firstV[a.Version] = now
			}
		case !p.firstOK.IsZero():
			p.failures = append(p.failures, fmt.Sprintf("%s: code %d, err %v", now.Sub(p.start).Round(time.Millisecond), code, err))
		}
		p.mu.Unlock()
		select {
		case p.sampled <- struct{}{}:
		default:
		}
	}
}

// waitFor blocks until cond holds after an answer, or timeout passes.
func (p *prober) waitFor(cond func() bool, timeout time.Duration) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-p.sampled:
		case <-deadline.C:
			return cond()
		}
	}
	return true
}

// finish stops the prober (once) and returns it, its tally final.
func (p *prober) finish() *prober {
	p.once.Do(func() { close(p.stop) })
	<-p.done
	return p
}

// tally is a copy of the status codes counted so far.
func (p *prober) tally() map[int]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[int]int, len(p.codes))
	for k, v := range p.codes {
		out[k] = v
	}
	return out
}

// untilOK is the time from start to the first 200 (0: none yet).
func (p *prober) untilOK() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.firstOK.IsZero() {
		return 0
	}
	return p.firstOK.Sub(p.start)
}

// seen reports whether version has answered.
func (p *prober) seen(version string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.firstV[version]
	return ok
}

func (p *prober) lastCode() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

func (p *prober) total() int {
	n := 0
	for _, c := range p.codes {
		n += c
	}
	return n
}
