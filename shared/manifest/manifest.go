// Package manifest reads functions/manifest.yaml, the single list of Tok's functions that
// the local gateway, the staging script and Terraform all derive from.
package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Kinds of function.
const (
	KindHTTP  = "http"
	KindEvent = "event"
)

// Manifest is the parsed functions/manifest.yaml.
type Manifest struct {
	Runtime   string     `yaml:"runtime"`
	Topics    []Topic    `yaml:"topics"`
	Functions []Function `yaml:"functions"`
}

// Topic is a Pub/Sub topic Tok owns.
type Topic struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Schedule, when set, is the Cloud Scheduler cron line that publishes a tick ("{}") to
	// the topic.
	Schedule string `yaml:"schedule"`
}

var scheduleRE = regexp.MustCompile(`^(\*|\*/([1-9][0-9]?)) \* \* \* \*$`)

// Interval is how often a scheduled topic ticks: every minute ("* * * * *") or every N
// minutes ("*/N * * * *"). Other cron lines are refused by the manifest's validation.
func (t Topic) Interval() (time.Duration, bool) {
	m := scheduleRE.FindStringSubmatch(t.Schedule)
	if m == nil {
		return 0, false
	}
	n := 1
	if m[2] != "" {
		n, _ = strconv.Atoi(m[2])
	}
	return time.Duration(n) * time.Minute, true
}

// Function is one Cloud Run function (2nd gen).
type Function struct {
	Name        string   `yaml:"name"`
	EntryPoint  string   `yaml:"entryPoint"`
	Kind        string   `yaml:"kind"`
	Description string   `yaml:"description"`
	Routes      []string `yaml:"routes"`
	Trigger     string   `yaml:"trigger"`
	Roles       []string `yaml:"roles"`
	Secrets     []string `yaml:"secrets"`
	KMSKeys     []string `yaml:"kmsKeys"`
	// Settings are the deployment settings (environment variables) Terraform gives the
	// function: the ones its code reads.
	Settings []string `yaml:"settings"`
	// Public marks an HTTP function that the load balancer exposes without an API key
	// (the bank callback, the sandbox bank); the function itself still decides.
	Public bool `yaml:"public"`
	// Database is the Firestore database holding the function's own data when it is not
	// Tok's (default) database; Terraform grants the function's Firestore role on that
	// database only, so it cannot read tenants' data (the public sandbox bank).
	Database string `yaml:"database"`
}

var (
	nameRE  = regexp.MustCompile(`^[a-z][a-z0-9]{1,30}$`)
	entryRE = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*$`)
	// databaseRE is a Firestore database ID other than (default).
	databaseRE = regexp.MustCompile(`^[a-z][a-z0-9-]{2,61}[a-z0-9]$`)
	// Path segments of lower-case letters, digits, '-' and '.' (not leading: no "..").
	routeRE = regexp.MustCompile(`^/v1(/[a-z0-9][a-z0-9.-]*)*(/\*)?$|^/[a-z0-9-]+(/[a-z0-9][a-z0-9.-]*)*(/\*)?$`)
)

// Load reads and validates the manifest at path.
func Load(path string) (*Manifest, error) {
	b, err := os.ReadFile(path) //nolint:gosec // G304: the path is the repository's own manifest
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	return Parse(b)
}

// Parse decodes and validates a manifest, rejecting unknown fields.
func Parse(b []byte) (*Manifest, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("parse manifest: %w", err)
	}
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("invalid manifest: %w", err)
	}
	return &m, nil
}

func (m *Manifest) validate() error {
	var errs []error
	if !strings.HasPrefix(m.Runtime, "go") {
		errs = append(errs, fmt.Errorf("runtime %q is not a Go runtime", m.Runtime))
	}
	topics := map[string]bool{}
	for _, t := range m.Topics {
		if topics[t.Name] {
			errs = append(errs, fmt.Errorf("topic %q listed twice", t.Name))
		}
		topics[t.Name] = true
		if _, ok := t.Interval(); t.Schedule != "" && !ok {
			errs = append(errs, fmt.Errorf("topic %q: schedule %q is not \"* * * * *\" or \"*/N * * * *\"", t.Name, t.Schedule))
		}
	}
	names, entries, routes := map[string]bool{}, map[string]bool{}, map[string]string{}
	for _, f := range m.Functions {
		if !nameRE.MatchString(f.Name) {
			errs = append(errs, fmt.Errorf("function name %q must be lower-case letters and digits", f.Name))
		}
		if names[f.Name] {
			errs = append(errs, fmt.Errorf("function %q listed twice", f.Name))
		}
		names[f.Name] = true
		if !entryRE.MatchString(f.EntryPoint) || entries[f.EntryPoint] {
			errs = append(errs, fmt.Errorf("function %q: entry point %q must be an exported, unique Go name", f.Name, f.EntryPoint))
		}
		entries[f.EntryPoint] = true
		if f.Database != "" && !databaseRE.MatchString(f.Database) {
			errs = append(errs, fmt.Errorf("function %q: database %q is not a Firestore database ID", f.Name, f.Database))
		}
		switch f.Kind {
		case KindHTTP:
			if len(f.Routes) == 0 || f.Trigger != "" {
				errs = append(errs, fmt.Errorf("http function %q needs routes and no trigger", f.Name))
			}
			for _, r := range f.Routes {
				if !routeRE.MatchString(r) {
					errs = append(errs, fmt.Errorf("function %q: bad route %q", f.Name, r))
				}
				if other, ok := routes[r]; ok {
					errs = append(errs, fmt.Errorf("route %q owned by both %q and %q", r, other, f.Name))
				}
				routes[r] = f.Name
			}
		case KindEvent:
			if f.Trigger == "" || len(f.Routes) > 0 {
				errs = append(errs, fmt.Errorf("event function %q needs a trigger and no routes", f.Name))
			} else if !topics[f.Trigger] {
				errs = append(errs, fmt.Errorf("event function %q: trigger topic %q is not in topics", f.Name, f.Trigger))
			}
		default:
			errs = append(errs, fmt.Errorf("function %q: kind %q is neither http nor event", f.Name, f.Kind))
		}
	}
	return errors.Join(errs...)
}

// Function returns the function with the given name.
func (m *Manifest) Function(name string) (Function, bool) {
	for _, f := range m.Functions {
		if f.Name == name {
			return f, true
		}
	}
	return Function{}, false
}

// Route returns the HTTP function owning path, as a load balancer URL map would: an exact
// route wins, then the longest "/*" prefix.
func (m *Manifest) Route(path string) (Function, bool) {
	var best Function
	bestLen := -1
	for _, f := range m.Functions {
		for _, r := range f.Routes {
			if r == path {
				return f, true
			}
			if prefix, ok := strings.CutSuffix(r, "/*"); ok && strings.HasPrefix(path, prefix+"/") && len(prefix) > bestLen {
				best, bestLen = f, len(prefix)
			}
		}
	}
	return best, bestLen >= 0
}

// DefaultHTTP is the function the load balancer's URL map sends unrouted paths to (the
// default service in infra/lb.tf): the first authenticated HTTP function by name, whose
// router answers them 404 after authentication.
func (m *Manifest) DefaultHTTP() (Function, bool) {
	var first Function
	for _, f := range m.Functions {
		if f.Kind == KindHTTP && !f.Public && (first.Name == "" || f.Name < first.Name) {
			first = f
		}
	}
	return first, first.Name != ""
}

// FindRoot walks up from the working directory to the module root (the directory holding
// go.mod), so tools and tests find functions/manifest.yaml wherever they run.
func FindRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// LoadDefault loads functions/manifest.yaml from the module root.
func LoadDefault() (*Manifest, string, error) {
	root, err := FindRoot()
	if err != nil {
		return nil, "", err
	}
	m, err := Load(filepath.Join(root, "functions", "manifest.yaml"))
	return m, root, err
}
