package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"tokapi.io/tok/shared/auth"
	"tokapi.io/tok/shared/orgs"
)

const usage = `usage: tokctl COMMAND

  org create --name N --tier free|pro|enterprise [--origin https://host]... [--json]
  org list [--json]
  org set-tier ORG TIER
  key list ORG [--json]
  key create ORG --role admin|developer|read_only [--member MEMBER_ID] [--json]
  key rotate ORG KEYPAIR [--grace DURATION]   (default 24h, at most 7d; e.g. 90m, 2d, 0)
  key revoke ORG KEYPAIR
  member list ORG [--json]
  member add ORG --email E --role owner|admin|developer|viewer [--json]
  member remove ORG MEMBER

Keys are shown once, when created. With --json, org create prints exactly
{"organisationId","liveKey","sandboxKey"}. Uses the emulators when FIRESTORE_EMULATOR_HOST
is set (or .tok/dev.env from make dev sets it), else GOOGLE_CLOUD_PROJECT.
`

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

// cli runs commands against a repository opened on first need, so bad usage needs no
// connection.
type cli struct {
	connect func(ctx context.Context) (*orgs.Repo, func(), error)
	repo    *orgs.Repo
	closer  func()
}

func (c *cli) close() {
	if c.closer != nil {
		c.closer()
	}
}

func (c *cli) get(ctx context.Context) (*orgs.Repo, error) {
	if c.repo == nil {
		r, closer, err := c.connect(ctx)
		if err != nil {
			return nil, err
		}
		c.repo, c.closer = r, closer
	}
	return c.repo, nil
}

// usageError is bad usage: the message, then exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{msg: fmt.Sprintf(format, args...)} }

// run runs one command and returns the exit code.
func (c *cli) run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		_, _ = fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	cmd := args[0]
	if len(args) > 1 {
		cmd += " " + args[1]
	}
	run, ok := commands[cmd]
	if !ok {
		return report(usagef("unknown command %q", strings.Join(args[:min(2, len(args))], " ")), stderr)
	}
	return report(run(c, ctx, args[min(2, len(args)):], stdout), stderr)
}

// commands are tokctl's commands by their two words.
var commands = map[string]func(*cli, context.Context, []string, io.Writer) error{
	"org create": (*cli).orgCreate, "org list": (*cli).orgList, "org set-tier": (*cli).orgSetTier,
	"key list": (*cli).keyList, "key create": (*cli).keyCreate, "key rotate": (*cli).keyRotate, "key revoke": (*cli).keyRevoke,
	"member list": (*cli).memberList, "member add": (*cli).memberAdd, "member remove": (*cli).memberRemove,
}

// flagNames maps repository field names to the flags that set them.
var flagNames = map[string]string{"name": "--name", "tier": "--tier", "email": "--email", "role": "--role", "gracePeriod": "--grace"}

func report(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	var (
		u *usageError
		v *orgs.ValidationError
		c *orgs.ConflictError
	)
	switch {
	case errors.Is(err, flag.ErrHelp):
		_, _ = fmt.Fprint(stderr, usage)
		return exitOK
	case errors.As(err, &u):
		_, _ = fmt.Fprintf(stderr, "tokctl: %s\n\n%s", u.msg, usage)
		return exitUsage
	case errors.As(err, &v):
		name := flagNames[v.Field]
		if strings.HasPrefix(v.Field, "allowedOrigins") {
			name = "--origin"
		}
		if name == "" {
			name = v.Field
		}
		_, _ = fmt.Fprintf(stderr, "tokctl: invalid %s: %s\n", name, v.Message)
		return exitUsage
	case errors.As(err, &c):
		_, _ = fmt.Fprintf(stderr, "tokctl: %s\n", c.Reason)
		return exitFailed
	case errors.Is(err, orgs.ErrNotFound):
		_, _ = fmt.Fprintf(stderr, "tokctl: %v\n", err)
		return exitFailed
	}
	_, _ = fmt.Fprintf(stderr, "tokctl: %v\n", err)
	return exitFailed
}

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(s string) error { *m = append(*m, s); return nil }

func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parse parses flags and positional arguments in any order and checks the number of
// positional ones.
func parse(fs *flag.FlagSet, args []string, positional ...string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usagef("%s: %v", fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) != len(positional) {
		if len(positional) == 0 {
			return nil, usagef("%s takes no arguments, got %q", fs.Name(), strings.Join(pos, " "))
		}
		return nil, usagef("%s needs %s", fs.Name(), strings.Join(positional, " "))
	}
	return pos, nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (c *cli) orgCreate(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("org create")
	name := fs.String("name", "", "organisation name")
	tier := fs.String("tier", "", "free, pro or enterprise")
	asJSON := fs.Bool("json", false, "print JSON")
	var origins multi
	fs.Var(&origins, "origin", "an https origin callback URLs may use (repeatable)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *name == "" {
		return usagef("org create needs --name")
	}
	if *tier == "" {
		return usagef("org create needs --tier (free, pro or enterprise)")
	}
	// Check what can be checked before connecting.
	if err := orgs.ValidateTier(*tier); err != nil {
		return err
	}
	if _, err := orgs.NormalizeOrigins(origins); err != nil {
		return err
	}
	repo, err := c.get(ctx)
	if err != nil {
		return err
	}
	org, pair, err := repo.CreateOrg(ctx, *name, *tier, origins)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(out, struct {
			OrganisationID string `json:"organisationId"`
			LiveKey        string `json:"liveKey"`
			SandboxKey     string `json:"sandboxKey"`
		}{org.ID, pair.LiveKey, pair.SandboxKey})
	}
	_, err = fmt.Fprintf(out, "Organisation %s created (%q, tier %s).\n", org.ID, org.Name, org.Tier)
	if err != nil {
		return err
	}
	return printNewPair(out, pair)
}

func printNewPair(out io.Writer, p orgs.NewKeyPair) error {
	_, err := fmt.Fprintf(out, "Key pair %s (role %s). The keys are shown only now:\n  live:    %s\n  sandbox: %s\n",
		p.ID, p.Role, p.LiveKey, p.SandboxKey)
	return err
}

func (c *cli) orgList(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("org list")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	repo, err := c.get(ctx)
	if err != nil {
		return err
	}
	list, err := repo.ListOrgs(ctx)
	if err != nil {
		return err
	}
	return printList(out, list, *asJSON, "ID\tTIER\tCREATED\tNAME", func(o orgs.Org) string {
		return fmt.Sprintf("%s\t%s\t%s\t%s", o.ID, o.Tier, o.CreatedAt.Format(time.RFC3339), o.Name)
	})
}

// printList prints list as JSON with asJSON, else as a table: header, then row(item) for each.
func printList[T any](out io.Writer, list []T, asJSON bool, header string, row func(T) string) error {
	if asJSON {
		return writeJSON(out, list)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, header)
	for _, item := range list {
		_, _ = fmt.Fprintln(tw, row(item))
	}
	return tw.Flush()
}

func (c *cli) orgSetTier(ctx context.Context, args []string, out io.Writer) error {
	return changeInOrg(ctx, c, "org set-tier", "TIER", args, out, orgs.ValidateTier, (*orgs.Repo).SetTier, func(org, tier string) string {
		return fmt.Sprintf("Organisation %s is now on the %s tier.\n", org, tier)
	})
}

// changeInOrg runs a command of two arguments, ORG and what, and no flags: check (when not
// nil) checks the second before the repository is opened, change makes the change, and done
// says what was done.
func changeInOrg(ctx context.Context, c *cli, name, what string, args []string, out io.Writer,
	check func(string) error, change func(*orgs.Repo, context.Context, string, string) error, done func(org, arg string) string) error {
	pos, err := parse(newFlags(name), args, "ORG", what)
	if err != nil {
		return err
	}
	if check != nil {
		if err := check(pos[1]); err != nil {
			return err
		}
	}
	repo, err := c.get(ctx)
	if err != nil {
		return err
	}
	if err := change(repo, ctx, pos[0], pos[1]); err != nil {
		return err
	}
	_, err = io.WriteString(out, done(pos[0], pos[1]))
	return err
}

func (c *cli) keyList(ctx context.Context, args []string, out io.Writer) error {
	now := time.Now()
	return listInOrg(ctx, c, "key list", args, out, (*orgs.Repo).ListKeyPairs, "ID\tROLE\tSTATUS\tLIVE\tSANDBOX\tCREATED", func(p orgs.KeyPair) string {
		return fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s", p.ID, p.Role, p.Status(now), p.LiveKeyMasked, p.SandboxKeyMasked, p.CreatedAt.Format(time.RFC3339))
	})
}

// listInOrg runs the command name ORG [--json]: it prints with printList what list returns
// for the organisation ORG, which must exist.
func listInOrg[T any](ctx context.Context, c *cli, name string, args []string, out io.Writer,
	list func(*orgs.Repo, context.Context, string) ([]T, error), header string, row func(T) string) error {
	fs := newFlags(name)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args, "ORG")
	if err != nil {
		return err
	}
	repo, err := c.get(ctx)
	if err != nil {
		return err
	}
	if _, err := repo.GetOrg(ctx, pos[0]); err != nil {
		return err
	}
	items, err := list(repo, ctx, pos[0])
	if err != nil {
		return err
	}
	return printList(out, items, *asJSON, header, row)
}

func (c *cli) keyCreate(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("key create")
	role := fs.String("role", "", "admin, developer or read_only")
	member := fs.String("member", "", "the member the key is for; the role may not exceed theirs")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args, "ORG")
	if err != nil {
		return err
	}
	if *role == "" {
		return usagef("key create needs --role (admin, developer or read_only)")
	}
	kr, err := orgs.ValidateKeyRole(*role)
	if err != nil {
		return err
	}
	repo, err := c.get(ctx)
	if err != nil {
		return err
	}
	createdBy := orgs.CreatedByCLI
	if *member != "" {
		m, err := repo.GetMember(ctx, pos[0], *member)
		if err != nil {
			return err
		}
		if ceiling := orgs.MaxKeyRole(m.Role); !ceiling.Covers(kr) {
			return fmt.Errorf("member %s is %s and may create keys with at most the role %s, not %s", m.ID, m.Role, ceiling, kr)
		}
		createdBy = m.ID
	}
	p, err := repo.CreateKeyPair(ctx, pos[0], string(kr), createdBy)
	if err != nil {
		return err
	}
	return printPair(out, p, *asJSON)
}

func printPair(out io.Writer, p orgs.NewKeyPair, asJSON bool) error {
	if asJSON {
		return writeJSON(out, struct {
			ID         string    `json:"id"`
			Role       auth.Role `json:"role"`
			LiveKey    string    `json:"liveKey"`
			SandboxKey string    `json:"sandboxKey"`
			Replaces   string    `json:"replaces,omitempty"`
		}{p.ID, p.Role, p.LiveKey, p.SandboxKey, p.Replaces})
	}
	return printNewPair(out, p)
}

// parseGrace reads a Go duration, also accepting whole days ("2d").
func parseGrace(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil {
			return 0, usagef("--grace %q is not a duration (e.g. 90m, 24h, 2d)", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	g, err := time.ParseDuration(s)
	if err != nil {
		return 0, usagef("--grace %q is not a duration (e.g. 90m, 24h, 2d)", s)
	}
	return g, nil
}

func (c *cli) keyRotate(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("key rotate")
	graceStr := fs.String("grace", "24h", "how long the old pair keeps working (0 to 7d)")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args, "ORG", "KEYPAIR")
	if err != nil {
		return err
	}
	grace, err := parseGrace(*graceStr)
	if err != nil {
		return err
	}
	if err := orgs.ValidateGrace(grace); err != nil {
		return err
	}
	repo, err := c.get(ctx)
	if err != nil {
		return err
	}
	p, err := repo.RotateKeyPair(ctx, pos[0], pos[1], grace)
	if err != nil {
		return err
	}
	if !*asJSON && p.ReplacedExpiresAt != nil {
		if _, err := fmt.Fprintf(out, "Key pair %s keeps working until %s.\n", pos[1], p.ReplacedExpiresAt.Format(time.RFC3339)); err != nil {
			return err
		}
	}
	return printPair(out, p, *asJSON)
}

func (c *cli) keyRevoke(ctx context.Context, args []string, out io.Writer) error {
	return changeInOrg(ctx, c, "key revoke", "KEYPAIR", args, out, nil, (*orgs.Repo).RevokeKeyPair, func(_, pair string) string {
		return fmt.Sprintf("Key pair %s revoked; its keys stop working within %s everywhere.\n", pair, auth.CacheTTL)
	})
}

func (c *cli) memberList(ctx context.Context, args []string, out io.Writer) error {
	return listInOrg(ctx, c, "member list", args, out, (*orgs.Repo).ListMembers, "ID\tROLE\tEMAIL", func(m orgs.Member) string {
		return fmt.Sprintf("%s\t%s\t%s", m.ID, m.Role, m.Email)
	})
}

func (c *cli) memberAdd(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("member add")
	email := fs.String("email", "", "the member's email")
	role := fs.String("role", "", "owner, admin, developer or viewer")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args, "ORG")
	if err != nil {
		return err
	}
	if *email == "" || *role == "" {
		return usagef("member add needs --email and --role")
	}
	if err := orgs.CheckEmail(*email); err != nil {
		return err
	}
	if err := orgs.ValidateMemberRole(*role); err != nil {
		return err
	}
	repo, err := c.get(ctx)
	if err != nil {
		return err
	}
	m, err := repo.AddMember(ctx, pos[0], *email, *role)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(out, m)
	}
	_, err = fmt.Fprintf(out, "Member %s added (%s, %s).\n", m.ID, m.Email, m.Role)
	return err
}

func (c *cli) memberRemove(ctx context.Context, args []string, out io.Writer) error {
	return changeInOrg(ctx, c, "member remove", "MEMBER", args, out, nil, (*orgs.Repo).RemoveMember, func(_, member string) string {
		return fmt.Sprintf("Member %s removed.\n", member)
	})
}
