// Command linkcache is the -toolexec wrapper of make test's go test: it keeps each linked test
// binary in a cache named by the link's inputs, so that the next link of the same inputs (a
// fresh clone of unchanged code, a second make test) copies it instead of linking again. go
// test caches compiled packages but links every test binary it runs anew; the go command
// caches executables only for go run and go tool.
//
//	go test -toolexec=/path/to/linkcache ./...
//
// Every other tool (compile, asm, vet, cgo, link -V=full) runs unchanged. The key covers all
// a link reads: its arguments, its import configuration (whose archives in the build cache
// are named by their content), the content of every other archive, the linker binary and the
// Go environment, with go's temporary work folder left out of all of them. A failing cache
// never fails a build: the link then just runs. TOK_LINKCACHE names the folder (default:
// the user cache folder's tok/links); it keeps about maxBytes, least recently used first out.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"
)

// maxBytes is about how much the cache keeps: five whole sets of this repository's test
// binaries (one set, 74 binaries, is 1.2 GB), more where code versions share packages.
const maxBytes = 6 << 30

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: linkcache TOOL [ARGS...] (as go's -toolexec)")
		os.Exit(2)
	}
	tool, args := os.Args[1], os.Args[2:]
	l, ok := parseLink(tool, args)
	if !ok {
		// Replace this process with the tool: nothing of the wrapper stays on its path.
		err := syscall.Exec(tool, os.Args[1:], os.Environ()) //nolint:gosec // go's own tool, as go asked
		fmt.Fprintln(os.Stderr, "linkcache:", err)
		os.Exit(1)
	}
	os.Exit(l.run(cacheDir(), os.Environ()))
}

// link is one link of a binary, as go gave it to the wrapper.
type link struct {
	tool, out, importcfg string
	args                 []string
	// work is go's temporary work folder ($WORK), the prefix of out.
	work string
}

// workDir matches the folder of go's temporary work, $WORK, before an action's bNNN folder.
var workDir = regexp.MustCompile(`^(.*)/b\d+/`)

// parseLink reports whether tool is the linker asked to link (with -o and -importcfg), and
// what it is to link.
func parseLink(tool string, args []string) (link, bool) {
	if name := filepath.Base(tool); name != "link" && name != "link.exe" {
		return link{}, false
	}
	l := link{tool: tool, args: args}
	for i := 0; i+1 < len(args); i++ {
		switch args[i] {
		case "-o":
			l.out = args[i+1]
		case "-importcfg":
			l.importcfg = args[i+1]
		}
	}
	m := workDir.FindStringSubmatch(filepath.ToSlash(l.out))
	if l.out == "" || l.importcfg == "" || m == nil {
		return link{}, false
	}
	l.work = filepath.FromSlash(m[1])
	return l, true
}

// cacheDir is where linked binaries are kept.
func cacheDir() string { return userCache("TOK_LINKCACHE", "tok", "links") }

// userCache is the folder the environment variable env names, or else the user cache
// folder's elem ("" where there is none).
func userCache(env string, elem ...string) string {
	if d := os.Getenv(env); d != "" {
		return d
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(append([]string{d}, elem...)...)
}

// run links, from the cache where it holds the key's binary, and returns the exit code.
func (l link) run(dir string, env []string) int {
	key, err := l.key(env)
	if err != nil || dir == "" {
		return l.linkNow()
	}
	cached := filepath.Join(dir, key)
	if copyFile(cached, l.out) == nil {
		now := time.Now()
		_ = os.Chtimes(cached, now, now) // most recently used: the last to be trimmed
		return 0
	}
	if code := l.linkNow(); code != 0 {
		return code
	}
	if os.MkdirAll(dir, 0o750) == nil && copyFile(l.out, cached) == nil {
		trim(dir, maxBytes)
	}
	return 0
}

// linkNow runs the linker as go asked and returns its exit code.
func (l link) linkNow() int {
	cmd := exec.Command(l.tool, l.args...) //nolint:gosec,noctx // go's own linker, as go asked; go ends it
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		if exit, ok := err.(*exec.ExitError); ok {
			return exit.ExitCode()
		}
		fmt.Fprintln(os.Stderr, "linkcache:", err)
		return 1
	}
	return 0
}

// key names the link's output by everything that goes into it. Each archive stands in it by
// its content's SHA-256, which in go's build cache is the file's name, so that the key is the
// same whether go compiled a package just now (into $WORK) or found it in the cache.
func (l link) key(env []string) (string, error) {
	h := sha256.New()
	st, err := os.Stat(l.tool)
	if err != nil {
		return "", err
	}
	_, _ = fmt.Fprintf(h, "tool %s %d %d\n", l.tool, st.Size(), st.ModTime().UnixNano())
	var goEnv []string
	for _, kv := range env {
		if strings.HasPrefix(kv, "GO") || strings.HasPrefix(kv, "CGO_") || strings.HasPrefix(kv, "CC=") || strings.HasPrefix(kv, "CXX=") {
			goEnv = append(goEnv, kv)
		}
	}
	sort.Strings(goEnv)
	for _, kv := range goEnv {
		_, _ = fmt.Fprintf(h, "env %s\n", kv)
	}
	gocache := buildCache()
	last := len(l.args) - 1
	for i, a := range l.args {
		switch {
		case i > 0 && l.args[i-1] == "-o":
			a = filepath.Base(a) // its folder is an action's, numbered as the run goes
		case i > 0 && l.args[i-1] == "-importcfg":
			continue // its content follows
		case i == last:
			if a, err = contentID(gocache, a); err != nil {
				return "", err
			}
		}
		_, _ = fmt.Fprintf(h, "arg %s\n", l.unwork(a))
	}
	cfg, err := os.ReadFile(l.importcfg)
	if err != nil {
		return "", err
	}
	for line := range strings.SplitSeq(string(cfg), "\n") {
		verb, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
		if pkg, file, ok := strings.Cut(rest, "="); ok && (verb == "packagefile" || verb == "packageshlib") {
			id, err := contentID(gocache, file)
			if err != nil {
				return "", err
			}
			line = verb + " " + pkg + "=" + id
		}
		_, _ = fmt.Fprintf(h, "importcfg %s\n", l.unwork(line))
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// cacheFile is the name of a file in go's build cache: its content's SHA-256 and "-d".
var cacheFile = regexp.MustCompile(`^([0-9a-f]{64})-d$`)

// contentID returns the SHA-256 of path's content: read off its name in go's build cache
// gocache, computed for any other file.
func contentID(gocache, path string) (string, error) {
	if gocache != "" && strings.HasPrefix(path, gocache+string(filepath.Separator)) {
		if m := cacheFile.FindStringSubmatch(filepath.Base(path)); m != nil {
			return m[1], nil
		}
	}
	f, err := os.Open(path) //nolint:gosec // an archive go named for this link
	if err != nil {
		return "", err
	}
	defer func() { _ = f.Close() }()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// buildCache is go's build cache folder as go finds it: GOCACHE, or the user cache folder's
// go-build.
func buildCache() string { return userCache("GOCACHE", "go-build") }

// unwork replaces go's temporary work folder in s, so that the key is the same in every run.
func (l link) unwork(s string) string { return strings.ReplaceAll(s, l.work, "$WORK") }

// copyFile copies src to dst through a temporary file beside dst, renamed into place, so that
// no reader ever sees half a binary and a running copy is never overwritten.
func copyFile(src, dst string) error {
	in, err := os.Open(src) //nolint:gosec // the cache's file or go's link output
	if err != nil {
		return err
	}
	defer func() { _ = in.Close() }()
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".linkcache-*")
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(tmp.Name()) }() //nolint:gosec // the temporary file CreateTemp made
	if _, err := io.Copy(tmp, in); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o755); err != nil { //nolint:gosec // an executable
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst) //nolint:gosec // the temporary file CreateTemp made
}

// trim removes the least recently used binaries of dir until it holds at most limit bytes.
func trim(dir string, limit int64) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	type binary struct {
		path string
		size int64
		used time.Time
	}
	var bins []binary
	var total int64
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		bins = append(bins, binary{filepath.Join(dir, e.Name()), info.Size(), info.ModTime()})
		total += info.Size()
	}
	sort.Slice(bins, func(i, j int) bool { return bins[i].used.Before(bins[j].used) })
	for _, b := range bins {
		if total <= limit {
			return
		}
		if os.Remove(b.path) == nil {
			total -= b.size
		}
	}
}
