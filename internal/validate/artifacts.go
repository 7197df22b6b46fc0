package validate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/distribution/reference"
	"k8s.io/apimachinery/pkg/util/validation"
)

// ImageRef checks a pullable image reference that names a tag or digest:
// an untagged reference means "latest", which changes under a running
// preview and makes updates non-repeatable.
func (p *Problems) ImageRef(field, value string) {
	if !p.Required(field, value) {
		return
	}
	ref, err := reference.ParseNormalizedNamed(value)
	if err != nil {
		p.Add(field, "must be an image reference such as registry.example.com/team/app:1.2.3: %v", err)
		return
	}
	if reference.IsNameOnly(ref) {
		p.Add(field, "must name a tag or digest (%q would mean :latest)", value)
	}
}

// Repository checks an image repository path such as "apps/web" (no
// registry host, tag or digest: the platform supplies the registry).
func (p *Problems) Repository(field, value string) {
	if !p.Required(field, value) {
		return
	}
	ref, err := reference.ParseNamed("registry.invalid/" + value)
	if err != nil || !reference.IsNameOnly(ref) {
		p.Add(field, "must be a lowercase repository path such as apps/web, without registry, tag or digest")
	}
}

// ImageTag checks a tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}.
func (p *Problems) ImageTag(field, value string) {
	if !p.Required(field, value) {
		return
	}
	if m := reference.TagRegexp.FindString(value); m != value || len(value) > 128 {
		p.Add(field, "must be a tag of letters, digits, '_', '.', '-' (at most 128, not starting with '.' or '-'), got %q", value)
	}
}

// shellMeta are characters a shell gives meaning to. Build inputs reach
// the Job as environment variables and arguments, never through a shell,
// but a URL, ref or path holding one is a mistake or an attack either way.
const shellMeta = "`$;|&<>()'\"\\*!{}"

// unsafeChar returns the first space, control character or shell
// metacharacter of value, or "" when there is none.
func unsafeChar(value string) string {
	for _, r := range value {
		if r <= 0x20 || r == 0x7f || strings.ContainsRune(shellMeta, r) {
			return string(r)
		}
	}
	return ""
}

// HTTPSURL checks a URL BuildKit can fetch anonymously: https, a valid
// host and port, no credentials (they would sit in plaintext config and in
// the Job spec), no spaces or shell metacharacters.
func (p *Problems) HTTPSURL(field, value string) *url.URL {
	if !p.Required(field, value) {
		return nil
	}
	u, rule := httpsURL(value)
	if rule != "" {
		p.Add(field, "%s", rule)
		return nil
	}
	return u
}

func httpsURL(value string) (*url.URL, string) {
	if c := unsafeChar(value); c != "" {
		return nil, fmt.Sprintf("must not contain spaces, control characters or shell metacharacters, got %q in %q", c, value)
	}
	u, err := url.Parse(value)
	switch {
	case err != nil:
		return nil, fmt.Sprintf("must be a URL: %v", err)
	case u.Scheme != "https":
		return nil, fmt.Sprintf("must use https://, got %q", value)
	case u.User != nil:
		return nil, "must not carry credentials; use a public repository or a registry-side mirror"
	case u.Hostname() == "":
		return nil, "must name a host"
	case u.Fragment != "" || strings.Contains(value, "#"):
		return nil, "must not carry a #fragment; set the ref and directory separately"
	}
	if rule := hostPortRule(u); rule != "" {
		return nil, rule
	}
	return u, ""
}

// hostPortRule checks a URL's host (a DNS name or an IP) and port (1-65535
// when given): url.Parse accepts any digits as a port and any host bytes.
func hostPortRule(u *url.URL) string {
	if strings.HasSuffix(u.Host, ":") {
		return fmt.Sprintf("must not end the host with an empty port, got %q", u.Host)
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Sprintf("port must be 1-65535, got %s", port)
		}
	}
	host := u.Hostname()
	if net.ParseIP(host) != nil {
		return ""
	}
	if msgs := validation.IsDNS1123Subdomain(strings.ToLower(host)); len(msgs) > 0 {
		return fmt.Sprintf("host %q is not a DNS name: %s", host, strings.Join(msgs, "; "))
	}
	return ""
}

// GitRef checks a branch, tag or commit the way `git check-ref-format`
// would reject it, plus characters that would break BuildKit's
// URL#ref:dir syntax.
func (p *Problems) GitRef(field, value string) {
	if value == "" {
		return
	}
	bad := ""
	switch {
	case len(value) > 255:
		bad = "is longer than 255 characters"
	case strings.HasPrefix(value, "-"), strings.HasPrefix(value, "/"), strings.HasSuffix(value, "/"):
		bad = "must not start with '-' or '/', or end with '/'"
	case strings.HasSuffix(value, ".lock"), strings.HasSuffix(value, "."):
		bad = "must not end with '.lock' or '.'"
	case strings.Contains(value, ".."), strings.Contains(value, "//"), strings.Contains(value, "@{"):
		bad = "must not contain '..', '//' or '@{'"
	case strings.ContainsAny(value, " ~^:?*[\\#"):
		bad = "must not contain spaces or any of ~ ^ : ? * [ \\ #"
	case strings.ContainsAny(value, shellMeta):
		bad = "must not contain shell metacharacters (any of " + shellMeta + ")"
	}
	for _, r := range value {
		if r < 0x20 || r == 0x7f {
			bad = "must not contain control characters"
		}
	}
	if bad != "" {
		p.Add(field, "%s (got %q)", bad, value)
	}
}

// RelativePath checks a path inside a build context: relative, clean, not
// escaping the context, made of the characters file names in repositories
// use (no spaces, no shell metacharacters).
func (p *Problems) RelativePath(field, value string) {
	if value == "" {
		return
	}
	clean := path.Clean(value)
	switch {
	case strings.HasPrefix(value, "/") || clean == ".." || strings.HasPrefix(clean, "../") || strings.ContainsAny(value, "\\:#\x00"):
		p.Add(field, "must be a relative path inside the build context, got %q", value)
	case strings.Trim(value, pathChars) != "":
		p.Add(field, "must consist of letters, digits and any of . _ - + @ = , / (no spaces or shell metacharacters), got %q", value)
	}
}

// pathChars are the characters RelativePath accepts.
const pathChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-+@=,/"

// StringMap parses a JSON object of strings (env, build args) and checks
// every key with keyRule. A key given twice is refused: decoding would keep
// the last value without a word.
func (p *Problems) StringMap(field, raw string, keyRule func(string) []string) map[string]string {
	if strings.TrimSpace(raw) == "" {
		return nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		p.Add(field, `must be a JSON object of strings such as {"KEY":"value"}: %v`, err)
		return nil
	}
	if dup := DuplicateKey([]byte(raw)); dup != "" {
		p.Add(field, "key %q is given more than once", dup)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	total := 0
	for _, k := range keys {
		if msgs := keyRule(k); len(msgs) > 0 {
			p.Add(field, "key %q: %s", k, strings.Join(msgs, "; "))
		}
		entry := len(k) + 1 + len(m[k]) // KEY=value, as a process gets it
		total += entry
		switch {
		case strings.ContainsRune(m[k], 0):
			p.Add(field, "key %q: the value contains a NUL character, which no process environment can carry", k)
		case entry >= MaxEnvEntry:
			p.Add(field, "key %q: KEY=value is %d bytes; a process takes at most %d per entry", k, entry, MaxEnvEntry-1)
		}
	}
	switch {
	case len(m) > MaxEnvEntries:
		p.Add(field, "has %d entries; at most %d", len(m), MaxEnvEntries)
	case total > MaxEnvTotal:
		p.Add(field, "holds %d bytes in all; at most %d", total, MaxEnvTotal)
	}
	return m
}

// Bounds of an environment (or build-argument) map: execve refuses a
// KEY=value string of 128 KiB or more (MAX_ARG_STRLEN), and the whole must
// stay far below what a pod spec (an etcd object) can hold.
const (
	MaxEnvEntry   = 128 << 10
	MaxEnvEntries = 200
	MaxEnvTotal   = 256 << 10
)

// DuplicateKey returns a key a JSON object holds twice, or "" (also for
// anything that is not an object).
func DuplicateKey(raw []byte) string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return ""
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		key, _ := tok.(string)
		if seen[key] {
			return key
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return ""
		}
	}
	return ""
}

// EnvName is the rule for environment variable names.
func EnvName(k string) []string { return validation.IsEnvVarName(k) }

// Egress is "CIDR:port" — one allowed destination.
type Egress struct {
	CIDR string
	Port int
}

// EgressList parses "10.0.0.0/8:5432,0.0.0.0/0:443".
func (p *Problems) EgressList(field, raw string) []Egress {
	var out []Egress
	if strings.TrimSpace(raw) == "" {
		return nil
	}
	for n, item := range strings.Split(raw, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			p.Add(field, "entry %d is empty (a stray comma?)", n)
			continue
		}
		i := strings.LastIndex(item, ":")
		if i < 0 {
			p.Add(field, "entry %q must be CIDR:port", item)
			continue
		}
		cidr, portStr := item[:i], item[i+1:]
		_, ipnet, err := net.ParseCIDR(cidr)
		if err != nil {
			p.Add(field, "entry %q: %q is not a CIDR such as 10.0.0.0/8", item, cidr)
			continue
		}
		port, err := strconv.Atoi(portStr)
		if err != nil || port < 1 || port > 65535 {
			p.Add(field, "entry %q: port must be 1-65535", item)
			continue
		}
		out = append(out, Egress{CIDR: ipnet.String(), Port: port})
	}
	return out
}

// RequestWithinLimit checks a request and a limit quantity and that the
// request does not exceed the limit.
func (p *Problems) RequestWithinLimit(reqField, req, limField, lim string) {
	rq, ok1 := p.Quantity(reqField, req)
	lq, ok2 := p.Quantity(limField, lim)
	if ok1 && ok2 {
		p.NotAbove(reqField, rq, limField, lq)
	}
}
