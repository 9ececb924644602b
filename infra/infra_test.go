package infra

import (
	"bytes"
	"fmt"
	"go/ast"
	goparser "go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"gopkg.in/yaml.v3"

	"tokapi.io/tok/shared/manifest"
	"tokapi.io/tok/shared/platform"
	"tokapi.io/tok/shared/tenant"
)

// ---- loading ----

type tfFile struct {
	path string // relative to infra/
	src  []byte
	body *hclsyntax.Body
}

// tfConfig is every .tf file under infra/, grouped by Terraform module folder.
type tfConfig struct {
	infraDir string
	files    []*tfFile
}

var (
	loadedCfg  *tfConfig
	loadedMan  *manifest.Manifest
	loadedRoot string
)

func load(t *testing.T) (*tfConfig, *manifest.Manifest, string) {
	t.Helper()
	if loadedCfg != nil {
		return loadedCfg, loadedMan, loadedRoot
	}
	m, root, err := manifest.LoadDefault()
	if err != nil {
		t.Fatalf("load functions/manifest.yaml: %v", err)
	}
	infraDir := filepath.Join(root, "infra")
	parser := hclparse.NewParser()
	cfg := &tfConfig{infraDir: infraDir}
	var diags hcl.Diagnostics
	err = filepath.WalkDir(infraDir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && p != infraDir {
			return filepath.SkipDir // .terraform/
		}
		if d.IsDir() || !strings.HasSuffix(p, ".tf") {
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		f, ds := parser.ParseHCL(src, p)
		diags = append(diags, ds...)
		if ds.HasErrors() {
			return nil
		}
		rel, _ := filepath.Rel(infraDir, p)
		cfg.files = append(cfg.files, &tfFile{path: filepath.ToSlash(rel), src: src, body: f.Body.(*hclsyntax.Body)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diags.HasErrors() {
		t.Fatalf("infra/ does not parse as HCL:\n%s", diags.Error())
	}
	if len(cfg.files) == 0 {
		t.Fatal("no .tf files under infra/")
	}
	loadedCfg, loadedMan, loadedRoot = cfg, m, root
	return cfg, m, root
}

// block is a top-level block with the file it came from.
type block struct {
	file *tfFile
	b    *hclsyntax.Block
}

func (b block) String() string {
	return fmt.Sprintf("%s %s (%s:%d)", b.b.Type, strings.Join(b.b.Labels, "."), b.file.path, b.b.DefRange().Start.Line)
}

// module returns the Terraform module folder of a file: "." or "modules/function".
func (f *tfFile) module() string { return filepath.ToSlash(filepath.Dir(f.path)) }

// blocks returns the top-level blocks of a type in a module folder ("" for every folder),
// optionally with the given first labels.
func (c *tfConfig) blocks(module, typ string, labels ...string) []block {
	var out []block
	for _, f := range c.files {
		if module != "" && f.module() != module {
			continue
		}
		for _, b := range f.body.Blocks {
			if b.Type != typ || len(b.Labels) < len(labels) {
				continue
			}
			ok := true
			for i, l := range labels {
				ok = ok && b.Labels[i] == l
			}
			if ok {
				out = append(out, block{f, b})
			}
		}
	}
	return out
}

// src is the raw source of an expression.
func (f *tfFile) exprSrc(e hclsyntax.Expression) string {
	return string(e.Range().SliceBytes(f.src))
}

// attr returns the raw source of a block attribute, and whether it is set.
func (b block) attr(name string) (string, bool) {
	return attrOf(b.file, b.b.Body, name)
}

func attrOf(f *tfFile, body *hclsyntax.Body, name string) (string, bool) {
	a, ok := body.Attributes[name]
	if !ok {
		return "", false
	}
	return f.exprSrc(a.Expr), true
}

// nested returns the nested blocks of a type, including `dynamic "typ"` blocks' content.
func (b block) nested(typ string) []*hclsyntax.Body {
	var out []*hclsyntax.Body
	for _, nb := range b.b.Body.Blocks {
		switch {
		case nb.Type == typ:
			out = append(out, nb.Body)
		case nb.Type == "dynamic" && len(nb.Labels) == 1 && nb.Labels[0] == typ:
			for _, c := range nb.Body.Blocks {
				if c.Type == "content" {
					out = append(out, c.Body)
				}
			}
		}
	}
	return out
}

// blockSrc is the whole source of a block.
func (b block) src() string { return string(b.b.Range().SliceBytes(b.file.src)) }

// locals maps each local value of a module folder to its expression.
func (c *tfConfig) locals(module string) map[string]struct {
	f *tfFile
	e hclsyntax.Expression
} {
	out := map[string]struct {
		f *tfFile
		e hclsyntax.Expression
	}{}
	for _, lb := range c.blocks(module, "locals") {
		for name, a := range lb.b.Body.Attributes {
			out[name] = struct {
				f *tfFile
				e hclsyntax.Expression
			}{lb.file, a.Expr}
		}
	}
	return out
}

// derivesFrom reports whether expression source expr (in module) mentions needle, directly or
// through the local values it references, transitively.
func (c *tfConfig) derivesFrom(module string, f *tfFile, e hclsyntax.Expression, needle *regexp.Regexp) bool {
	locals := c.locals(module)
	seen := map[string]bool{}
	var walk func(f *tfFile, e hclsyntax.Expression) bool
	walk = func(f *tfFile, e hclsyntax.Expression) bool {
		if needle.MatchString(f.exprSrc(e)) {
			return true
		}
		for _, tr := range e.Variables() {
			if tr.RootName() != "local" || len(tr) < 2 {
				continue
			}
			attr, ok := tr[1].(hcl.TraverseAttr)
			if !ok || seen[attr.Name] {
				continue
			}
			seen[attr.Name] = true
			if l, ok := locals[attr.Name]; ok && walk(l.f, l.e) {
				return true
			}
		}
		return false
	}
	return walk(f, e)
}

func (c *tfConfig) attrDerivesFrom(b block, name string, needle *regexp.Regexp) bool {
	a, ok := b.b.Body.Attributes[name]
	return ok && c.derivesFrom(b.file.module(), b.file, a.Expr, needle)
}

func one(t *testing.T, what string, bs []block) block {
	t.Helper()
	if len(bs) != 1 {
		var names []string
		for _, b := range bs {
			names = append(names, b.String())
		}
		t.Fatalf("want exactly one %s, found %d: %v", what, len(bs), names)
	}
	return bs[0]
}

const functionModule = "modules/function"

// ---- checks ----

func TestTerraformReadsManifest(t *testing.T) {
	cfg, _, root := load(t)
	locals := cfg.locals(".")
	l, ok := locals["manifest"]
	if !ok {
		t.Fatal(`infra/ must define local.manifest = yamldecode(file("${path.module}/../functions/manifest.yaml")) so Terraform reads the same manifest as the gateway and scripts/stage`)
	}
	re := regexp.MustCompile(`^yamldecode\(\s*file\(\s*"\$\{path\.module\}/([^"]+)"\s*\)\s*\)$`)
	mm := re.FindStringSubmatch(l.f.exprSrc(l.e))
	if mm == nil {
		t.Fatalf("local.manifest = %s; want yamldecode(file(\"${path.module}/../functions/manifest.yaml\"))", l.f.exprSrc(l.e))
	}
	got, err := filepath.Abs(filepath.Join(cfg.infraDir, filepath.Dir(l.f.path), mm[1]))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "functions", "manifest.yaml"); got != want {
		t.Fatalf("local.manifest reads %s, want %s", got, want)
	}
}

// runtimeVersion turns "go126" into (1, 26); goLineVersion reads go.mod's "go 1.26.0" as (1, 26).
func runtimeVersion(rt string) (int, int, error) {
	mm := regexp.MustCompile(`^go([0-9])([0-9]+)$`).FindStringSubmatch(rt)
	if mm == nil {
		return 0, 0, fmt.Errorf("runtime %q is not of the form go1NN", rt)
	}
	major, _ := strconv.Atoi(mm[1])
	minor, _ := strconv.Atoi(mm[2])
	return major, minor, nil
}

func goLineVersion(gomod []byte) (string, int, int, error) {
	mm := regexp.MustCompile(`(?m)^go\s+([0-9]+)\.([0-9]+)(\.[0-9]+)?\s*$`).FindSubmatch(gomod)
	if mm == nil {
		return "", 0, 0, fmt.Errorf("go.mod has no go line")
	}
	major, _ := strconv.Atoi(string(mm[1]))
	minor, _ := strconv.Atoi(string(mm[2]))
	return strings.TrimSpace(string(mm[0])), major, minor, nil
}

func TestRuntimeNotOlderThanGoMod(t *testing.T) {
	cfg, m, root := load(t)
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	line, gmaj, gmin, err := goLineVersion(gomod)
	if err != nil {
		t.Fatal(err)
	}
	rmaj, rmin, err := runtimeVersion(m.Runtime)
	if err != nil {
		t.Fatal(err)
	}
	if gmaj > rmaj || (gmaj == rmaj && gmin > rmin) {
		t.Errorf("go.mod says %q but the manifest's runtime is %s: the go line must not be newer than the Cloud Functions runtime (raise runtime to go%d%d or lower the go line)", line, m.Runtime, gmaj, gmin)
	}

	// The module gets the runtime from the manifest; nothing hard-codes one.
	mod := moduleCall(t, cfg)
	if src, _ := mod.attr("runtime"); src != "local.manifest.runtime" {
		t.Errorf("%s: runtime = %q, want local.manifest.runtime", mod, src)
	}
	lit := regexp.MustCompile(`runtime\s*=\s*"go[0-9]+"`)
	for _, f := range cfg.files {
		if lit.Match(f.src) {
			t.Errorf("%s hard-codes a runtime; take it from the manifest", f.path)
		}
	}
}

func moduleCall(t *testing.T, cfg *tfConfig) block {
	t.Helper()
	var calls []block
	for _, b := range cfg.blocks(".", "module") {
		if src, _ := b.attr("source"); src == `"./modules/function"` {
			calls = append(calls, b)
		}
	}
	return one(t, `module using source "./modules/function"`, calls)
}

func TestFunctionsFollowManifest(t *testing.T) {
	cfg, _, _ := load(t)
	mod := moduleCall(t, cfg)
	if !cfg.attrDerivesFrom(mod, "for_each", regexp.MustCompile(`local\.manifest\.functions`)) {
		t.Errorf("%s: for_each must derive from local.manifest.functions", mod)
	}

	// Every input given to the module is declared there; every required input is given.
	declared := map[string]bool{}
	for _, v := range cfg.blocks(functionModule, "variable") {
		_, hasDefault := v.attr("default")
		declared[v.b.Labels[0]] = hasDefault
	}
	meta := map[string]bool{"source": true, "for_each": true, "count": true, "depends_on": true, "providers": true, "version": true}
	for name := range mod.b.Body.Attributes {
		if _, ok := declared[name]; !ok && !meta[name] {
			t.Errorf("%s passes %q, which modules/function does not declare", mod, name)
		}
	}
	for name, hasDefault := range declared {
		if _, ok := mod.b.Body.Attributes[name]; !ok && !hasDefault {
			t.Errorf("%s does not pass required input %q", mod, name)
		}
	}
	for in, re := range map[string]string{
		"entry_point":      `each\.value\.entryPoint`,
		"kind":             `each\.value\.kind`,
		"roles":            `each\.value\.roles`,
		"secrets":          `each\.value\.secrets`,
		"kms_keys":         `each\.value\.kmsKeys`,
		"trigger_topic_id": `each\.value\.trigger`,
		"source_dir":       `each\.key`,
	} {
		if src, _ := mod.attr(in); !regexp.MustCompile(re).MatchString(src) {
			t.Errorf("%s: %s = %q, want it taken from the manifest entry (%s)", mod, in, src, re)
		}
	}
}

func TestOneServiceAccountPerFunction(t *testing.T) {
	cfg, m, _ := load(t)
	sa := one(t, "google_service_account in modules/function", cfg.blocks(functionModule, "resource", "google_service_account"))
	for _, meta := range []string{"count", "for_each"} {
		if _, ok := sa.attr(meta); ok {
			t.Errorf("%s has %s: the module must create exactly one service account per function", sa, meta)
		}
	}
	fn := one(t, "google_cloudfunctions2_function in modules/function", cfg.blocks(functionModule, "resource", "google_cloudfunctions2_function"))
	sc := fn.nested("service_config")
	if len(sc) != 1 {
		t.Fatalf("%s: want one service_config block", fn)
	}
	if src, _ := attrOf(fn.file, sc[0], "service_account_email"); src != "google_service_account."+sa.b.Labels[1]+".email" {
		t.Errorf("%s: service_config.service_account_email = %q, want the module's own service account", fn, src)
	}

	// The account ID the module derives must be valid and unique for every manifest function.
	l, ok := cfg.locals(functionModule)["service_account_id"]
	if !ok {
		t.Fatal("modules/function: local.service_account_id missing")
	}
	if got := l.f.exprSrc(l.e); got != `trimsuffix(substr("fn-${var.name}-sa", 0, 30), "-")` {
		t.Fatalf("modules/function: local.service_account_id = %s; update this test's copy of the formula", got)
	}
	idRE := regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
	seen := map[string]string{}
	for _, f := range m.Functions {
		id := strings.TrimSuffix(truncate("fn-"+f.Name+"-sa", 30), "-")
		if !idRE.MatchString(id) {
			t.Errorf("function %s: service account ID %q is not a valid account ID", f.Name, id)
		}
		if other, dup := seen[id]; dup {
			t.Errorf("functions %s and %s get the same service account ID %q; shorten one name", other, f.Name, id)
		}
		seen[id] = f.Name
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

var projectIAMTypes = regexp.MustCompile(`^google_(project|folder|organization)_iam_(member|binding|policy)$|^google_project_iam_member_remove$`)

// projectLevelGrants returns the project/folder/organisation IAM resources whose source
// mentions a role matching re.
func projectLevelGrants(cfg *tfConfig, re *regexp.Regexp) []block {
	var out []block
	for _, r := range cfg.blocks("", "resource") {
		if projectIAMTypes.MatchString(r.b.Labels[0]) && re.MatchString(r.src()) {
			out = append(out, r)
		}
	}
	return out
}

// checkGrantsPerResource checks that modules/function grants role with one typ resource per
// entry of forEach (one grant per listed secret or key), and that no grant of a role of the
// same service is project-wide.
func checkGrantsPerResource(t *testing.T, cfg *tfConfig, typ, role, forEach string) {
	t.Helper()
	ms := cfg.blocks(functionModule, "resource", typ)
	if len(ms) == 0 {
		t.Fatalf("modules/function must grant %s with %s (one per entry of %s)", role, typ, forEach)
	}
	for _, b := range ms {
		if src, _ := b.attr("role"); src != `"`+role+`"` {
			t.Errorf("%s: role = %s, want %s", b, src, role)
		}
		if src, _ := b.attr("for_each"); src != forEach {
			t.Errorf("%s: for_each = %q, want %s (one grant per entry)", b, src, forEach)
		}
	}
	service, _, _ := strings.Cut(strings.TrimPrefix(role, "roles/"), ".")
	for _, b := range projectLevelGrants(cfg, regexp.MustCompile(regexp.QuoteMeta(service+"."))) {
		t.Errorf("%s grants a %s role project-wide; grant %s per resource", b, service, role)
	}
}

func TestSecretAccessIsPerSecret(t *testing.T) {
	cfg, m, _ := load(t)
	checkGrantsPerResource(t, cfg, "google_secret_manager_secret_iam_member", "roles/secretmanager.secretAccessor", "var.secrets")
	for _, typ := range []string{"google_secret_manager_secret_iam_binding", "google_secret_manager_secret_iam_policy"} {
		for _, b := range cfg.blocks("", "resource", typ) {
			t.Errorf("%s: use google_secret_manager_secret_iam_member (authoritative bindings remove other grants)", b)
		}
	}
	for _, f := range m.Functions {
		for _, r := range f.Roles {
			if strings.HasPrefix(r, "roles/secretmanager.") || strings.HasPrefix(r, "roles/cloudkms.") || r == "roles/owner" || r == "roles/editor" {
				t.Errorf("manifest: function %s lists project role %s; list secrets under secrets: and keys under kmsKeys: instead", f.Name, r)
			}
		}
	}
	// Every secret any function lists is created.
	sec := one(t, `resource "google_secret_manager_secret"`, cfg.blocks(".", "resource", "google_secret_manager_secret"))
	if !cfg.attrDerivesFrom(sec, "for_each", regexp.MustCompile(`\.secrets\b`)) || !cfg.attrDerivesFrom(sec, "for_each", regexp.MustCompile(`local\.manifest\.functions`)) {
		t.Errorf("%s: for_each must derive from the secrets of local.manifest.functions", sec)
	}
	if len(sec.nested("replication")) != 1 {
		t.Errorf("%s: needs a replication block", sec)
	}
}

func TestKMSAccessIsPerKey(t *testing.T) {
	cfg, _, _ := load(t)
	checkGrantsPerResource(t, cfg, "google_kms_crypto_key_iam_member", "roles/cloudkms.cryptoKeyEncrypterDecrypter", "var.kms_keys")
	for _, r := range cfg.blocks("", "resource") {
		if strings.HasPrefix(r.b.Labels[0], "google_kms_key_ring_iam_") {
			t.Errorf("%s grants on the whole key ring; grant per crypto key", r)
		}
	}

	key := one(t, `resource "google_kms_crypto_key"`, cfg.blocks(".", "resource", "google_kms_crypto_key"))
	if !cfg.attrDerivesFrom(key, "for_each", regexp.MustCompile(`"tokens"`)) || !cfg.attrDerivesFrom(key, "for_each", regexp.MustCompile(`kmsKeys`)) {
		t.Errorf("%s: for_each must cover the tokens key and every kmsKeys entry in the manifest", key)
	}
	rot, _ := key.attr("rotation_period")
	if rot != `"7776000s"` {
		v := one(t, `variable "kms_rotation_period"`, cfg.blocks(".", "variable", "kms_rotation_period"))
		if rot != "var.kms_rotation_period" {
			t.Errorf("%s: rotation_period = %q, want 90 days", key, rot)
		} else if d, _ := v.attr("default"); d != `"7776000s"` {
			t.Errorf("%s: default rotation %s, want \"7776000s\" (90 days)", v, d)
		}
	}
	prevent := false
	for _, lc := range key.nested("lifecycle") {
		if src, _ := attrOf(key.file, lc, "prevent_destroy"); src == "true" {
			prevent = true
		}
	}
	if !prevent {
		t.Errorf("%s: needs lifecycle { prevent_destroy = true }; destroying a key loses every token it wrapped", key)
	}
}

func TestTopicsFromManifest(t *testing.T) {
	cfg, m, _ := load(t)
	var found bool
	for _, b := range cfg.blocks(".", "resource", "google_pubsub_topic") {
		if cfg.attrDerivesFrom(b, "for_each", regexp.MustCompile(`local\.manifest\.topics`)) {
			found = true
		}
	}
	if !found {
		t.Errorf("no google_pubsub_topic with for_each over local.manifest.topics; the manifest's %d topics would not be created", len(m.Topics))
	}
}

// TestEventFunctionsTakeOnlyAuthenticatedPushes: every event function is fed by a push
// subscription Terraform owns, with an OIDC token of the push identity, a dead-letter topic
// of its own and retries; only the push identity may invoke it (no allUsers), and its
// ingress is internal.
func TestEventFunctionsTakeOnlyAuthenticatedPushes(t *testing.T) {
	cfg, m, _ := load(t)
	fn := one(t, "google_cloudfunctions2_function in modules/function", cfg.blocks(functionModule, "resource", "google_cloudfunctions2_function"))
	if len(fn.nested("event_trigger")) != 0 {
		t.Errorf("%s: event functions are fed by the module's push subscription, not an Eventarc trigger (its subscription has no Terraform-managed dead-letter policy)", fn)
	}
	sub := one(t, "google_pubsub_subscription in modules/function", cfg.blocks(functionModule, "resource", "google_pubsub_subscription"))
	if src, _ := sub.attr("count"); !strings.Contains(src, "local.is_event") {
		t.Errorf("%s: count = %q, want one per event function (local.is_event)", sub, src)
	}
	if src, _ := sub.attr("topic"); src != "var.trigger_topic_id" {
		t.Errorf("%s: topic = %q, want var.trigger_topic_id", sub, src)
	}
	pcs := sub.nested("push_config")
	if len(pcs) != 1 {
		t.Fatalf("%s: want a push_config", sub)
	}
	var oidc []*hclsyntax.Block
	for _, b := range pcs[0].Blocks {
		if b.Type == "oidc_token" {
			oidc = append(oidc, b)
		}
	}
	if len(oidc) != 1 {
		t.Errorf("%s: push_config needs an oidc_token, so every push is authenticated", sub)
	} else if src, _ := attrOf(sub.file, oidc[0].Body, "service_account_email"); src != "var.push_service_account_email" {
		t.Errorf("%s: oidc_token.service_account_email = %q, want var.push_service_account_email", sub, src)
	}
	dl := sub.nested("dead_letter_policy")
	if len(dl) != 1 {
		t.Errorf("%s: want a dead_letter_policy", sub)
	} else if src, _ := attrOf(sub.file, dl[0], "dead_letter_topic"); src != "var.dead_letter_topic_id" {
		t.Errorf("%s: dead_letter_topic = %q, want var.dead_letter_topic_id", sub, src)
	}
	if len(sub.nested("retry_policy")) != 1 {
		t.Errorf("%s: want a retry_policy (backoff between redeliveries)", sub)
	}
	// The root module gives every event function its own dead-letter topic.
	mod := moduleCall(t, cfg)
	if src, _ := mod.attr("dead_letter_topic_id"); !regexp.MustCompile(`google_pubsub_topic\.dead_letter\[each\.key\]\.id`).MatchString(src) {
		t.Errorf("%s: dead_letter_topic_id = %q, want google_pubsub_topic.dead_letter[each.key].id", mod, src)
	}
	dlt := one(t, "google_pubsub_topic dead_letter", cfg.blocks(".", "resource", "google_pubsub_topic", "dead_letter"))
	if src, _ := dlt.attr("for_each"); src != "local.event_functions" {
		t.Errorf("%s: for_each = %q, want local.event_functions (one per event function)", dlt, src)
	}
	if n := len(m.Functions); n == 0 {
		t.Fatal("no functions in the manifest")
	}
	// Invokers: the push identity on event functions, nobody unauthenticated.
	pushInvoker := false
	for _, b := range cfg.blocks(functionModule, "resource", "google_cloud_run_v2_service_iam_member") {
		role, _ := b.attr("role")
		member, _ := b.attr("member")
		count, _ := b.attr("count")
		if role == `"roles/run.invoker"` && strings.Contains(member, "var.push_service_account_email") && strings.Contains(count, "local.is_event") {
			pushInvoker = true
		}
		if strings.Contains(member, "allUsers") && !strings.Contains(count, "!local.is_event") {
			t.Errorf("%s grants allUsers without excluding event functions", b)
		}
	}
	if !pushInvoker {
		t.Errorf("modules/function: event functions need roles/run.invoker for the push identity on their own service")
	}
	ingress, ok := cfg.locals(functionModule)["ingress_settings"]
	if !ok || !regexp.MustCompile(`local\.is_event\s*\?\s*"ALLOW_INTERNAL_ONLY"`).MatchString(ingress.f.exprSrc(ingress.e)) {
		t.Errorf("modules/function: event functions' ingress must be ALLOW_INTERNAL_ONLY")
	}
	tc := one(t, "google_service_account_iam_member push_token_creator", cfg.blocks(".", "resource", "google_service_account_iam_member", "push_token_creator"))
	if role, _ := tc.attr("role"); role != `"roles/iam.serviceAccountTokenCreator"` {
		t.Errorf("%s: the Pub/Sub service agent needs serviceAccountTokenCreator on the push identity", tc)
	}
}

// TestEventDeadlineUnderFunctionTimeout: an event delivery's deadline (platform.EventTimeout)
// ends before the function's timeout, which is also its push subscription's ack deadline, so
// a stuck delivery fails and is redelivered instead of being cut by Cloud Run; overrides may
// not shorten the timeout below the default.
func TestEventDeadlineUnderFunctionTimeout(t *testing.T) {
	cfg, _, _ := load(t)
	if src, _ := moduleCall(t, cfg).attr("sizing"); !strings.Contains(src, "var.function_overrides[each.key]") {
		t.Fatalf("module sizing = %q, want the function's overrides", src)
	}
	sizing := one(t, "variable sizing in modules/function", cfg.blocks(functionModule, "variable", "sizing"))
	typ, _ := sizing.attr("type")
	m := regexp.MustCompile(`timeout_seconds\s*=\s*optional\(number,\s*([0-9]+)\)`).FindStringSubmatch(typ)
	if m == nil {
		t.Fatalf("%s: type %q, want timeout_seconds = optional(number, default)", sizing, typ)
	}
	def, _ := strconv.Atoi(m[1])
	if time.Duration(def)*time.Second < platform.EventTimeout+10*time.Second {
		t.Errorf("default function timeout %d s leaves event deliveries (%v) no room to answer", def, platform.EventTimeout)
	}
	raw, err := os.ReadFile(filepath.Join(cfg.infraDir, "variables.tf"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), "o.timeout_seconds >= "+m[1]) {
		t.Errorf("variables.tf: function_overrides needs a validation that timeout_seconds >= %s", m[1])
	}
	sub := one(t, "google_pubsub_subscription in modules/function", cfg.blocks(functionModule, "resource", "google_pubsub_subscription"))
	if ack, _ := sub.attr("ack_deadline_seconds"); !strings.Contains(ack, "var.sizing.timeout_seconds") {
		t.Errorf("%s: ack_deadline_seconds = %q, want the function's timeout", sub, ack)
	}
}

func TestLoadBalancerFollowsRoutes(t *testing.T) {
	cfg, _, _ := load(t)
	for _, typ := range []string{"google_compute_region_network_endpoint_group", "google_compute_backend_service"} {
		b := one(t, typ, cfg.blocks(".", "resource", typ))
		if !cfg.attrDerivesFrom(b, "for_each", regexp.MustCompile(`kind\s*==\s*"http"`)) {
			t.Errorf("%s: for_each must cover the manifest's HTTP functions", b)
		}
	}
	um := cfg.blocks(".", "resource", "google_compute_url_map", "api")
	if len(um) != 1 {
		t.Fatal(`want resource "google_compute_url_map" "api"`)
	}
	ok := false
	for _, pm := range um[0].nested("path_matcher") {
		for _, d := range pm.Blocks {
			if d.Type == "dynamic" && len(d.Labels) == 1 && d.Labels[0] == "path_rule" {
				for _, c := range d.Body.Blocks {
					if src, _ := attrOf(um[0].file, c.Body, "paths"); strings.Contains(src, ".routes") {
						ok = true
					}
				}
			}
		}
	}
	if !ok {
		t.Errorf("%s: path rules must come from each HTTP function's routes (dynamic path_rule with paths = ....routes)", um[0])
	}
}

// TestLoadBalancerServesBothHosts: the live and sandbox API hosts each have a host rule, a
// managed certificate and a path matcher that sets X-Tok-Environment (replacing the client's
// value); any other host is redirected, never served.
func TestLoadBalancerServesBothHosts(t *testing.T) {
	cfg, _, _ := load(t)
	v := one(t, `variable "api_domains"`, cfg.blocks(".", "variable", "api_domains"))
	if typ, _ := v.attr("type"); !regexp.MustCompile(`(?s)object\(\{.*live\s*=\s*string.*sandbox\s*=\s*string.*\}\)`).MatchString(typ) {
		t.Errorf("%s: type = %s, want object({ live = string, sandbox = string })", v, typ)
	}
	hosts, ok := cfg.locals(".")["api_hosts"]
	if !ok || !regexp.MustCompile(`live\s*=\s*var\.api_domains\.live`).MatchString(hosts.f.exprSrc(hosts.e)) ||
		!regexp.MustCompile(`sandbox\s*=\s*var\.api_domains\.sandbox`).MatchString(hosts.f.exprSrc(hosts.e)) {
		t.Fatal("infra: want local.api_hosts = { live = var.api_domains.live, sandbox = var.api_domains.sandbox }")
	}
	cert := one(t, "google_compute_managed_ssl_certificate", cfg.blocks(".", "resource", "google_compute_managed_ssl_certificate"))
	if src, _ := cert.attr("for_each"); src != "local.api_hosts" {
		t.Errorf("%s: for_each = %q, want local.api_hosts (one certificate per host)", cert, src)
	}
	proxy := one(t, "google_compute_target_https_proxy", cfg.blocks(".", "resource", "google_compute_target_https_proxy", "api"))
	if !cfg.attrDerivesFrom(proxy, "ssl_certificates", regexp.MustCompile(`local\.api_hosts`)) {
		t.Errorf("%s: ssl_certificates must list every host's certificate", proxy)
	}
	um := one(t, "google_compute_url_map api", cfg.blocks(".", "resource", "google_compute_url_map", "api"))
	if _, ok := um.attr("default_service"); ok || len(um.nested("default_url_redirect")) != 1 {
		t.Errorf("%s: requests for other hosts must be redirected (default_url_redirect), not served", um)
	}
	for _, typ := range []string{"host_rule", "path_matcher"} {
		found := false
		for _, d := range um.b.Body.Blocks {
			if d.Type == "dynamic" && len(d.Labels) == 1 && d.Labels[0] == typ {
				src, _ := attrOf(um.file, d.Body, "for_each")
				found = src == "local.api_hosts"
			}
		}
		if !found {
			t.Errorf("%s: want a dynamic %q per entry of local.api_hosts", um, typ)
		}
	}
	pms := um.nested("path_matcher")
	if len(pms) != 1 {
		t.Fatalf("%s: want one (dynamic) path_matcher", um)
	}
	setsHeader := false
	for _, ha := range pms[0].Blocks {
		if ha.Type != "header_action" {
			continue
		}
		for _, add := range ha.Body.Blocks {
			name, _ := attrOf(um.file, add.Body, "header_name")
			value, _ := attrOf(um.file, add.Body, "header_value")
			replace, _ := attrOf(um.file, add.Body, "replace")
			setsHeader = setsHeader || (add.Type == "request_headers_to_add" && name == strconv.Quote(tenant.EnvironmentHeader) && value == "path_matcher.key" && replace == "true")
		}
	}
	if !setsHeader {
		t.Errorf("%s: each host's path matcher must set %s to its environment with replace = true", um, tenant.EnvironmentHeader)
	}
	mod := moduleCall(t, cfg)
	for _, env := range []string{"TOK_PUBLIC_URL", "TOK_SANDBOX_PUBLIC_URL", "TOK_SANDBOX_BANK_URL"} {
		if !cfg.attrDerivesFrom(mod, "environment_variables", regexp.MustCompile(env+`\s*=`)) {
			t.Errorf("%s: environment_variables must set %s", mod, env)
		}
	}
}

func TestVariablesTypedAndDescribed(t *testing.T) {
	cfg, _, _ := load(t)
	vars := cfg.blocks("", "variable")
	if len(vars) == 0 {
		t.Fatal("no variables found")
	}
	for _, v := range vars {
		if _, ok := v.attr("type"); !ok {
			t.Errorf("%s has no type", v)
		}
		if d, ok := v.attr("description"); !ok || strings.Trim(d, `" `) == "" {
			t.Errorf("%s has no description", v)
		}
	}
	for _, o := range cfg.blocks("", "output") {
		if d, ok := o.attr("description"); !ok || strings.Trim(d, `" `) == "" {
			t.Errorf("%s has no description", o)
		}
	}
}

func TestRequiredAPIsEnabled(t *testing.T) {
	cfg, _, _ := load(t)
	svc := one(t, "google_project_service", cfg.blocks(".", "resource", "google_project_service"))
	if _, ok := svc.attr("for_each"); !ok {
		t.Fatalf("%s: want for_each over the API list", svc)
	}
	for _, api := range []string{"cloudfunctions", "run", "cloudbuild", "artifactregistry", "eventarc", "pubsub", "firestore", "cloudkms", "secretmanager", "cloudscheduler", "compute"} {
		if !cfg.attrDerivesFrom(svc, "for_each", regexp.MustCompile(`"`+api+`\.googleapis\.com"`)) {
			t.Errorf("%s: %s.googleapis.com is not enabled", svc, api)
		}
	}
}

func TestFunctionPackagesMatchManifest(t *testing.T) {
	_, m, root := load(t)
	entries, err := os.ReadDir(filepath.Join(root, "functions"))
	if err != nil {
		t.Fatal(err)
	}
	pkgs := map[string]bool{}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		gos, _ := filepath.Glob(filepath.Join(root, "functions", e.Name(), "*.go"))
		if len(gos) > 0 {
			pkgs[e.Name()] = true
		}
	}
	listed := map[string]bool{}
	for _, f := range m.Functions {
		listed[f.Name] = true
		if !pkgs[f.Name] {
			t.Errorf("functions/manifest.yaml lists %q but functions/%s/ has no Go package", f.Name, f.Name)
		}
	}
	var names []string
	for p := range pkgs {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		if !listed[p] {
			t.Errorf("functions/%s/ is a Go package but functions/manifest.yaml does not list it", p)
		}
	}
}

func TestTerraformFmt(t *testing.T) {
	cfg, _, _ := load(t)
	tf, err := exec.LookPath("terraform")
	if err != nil {
		t.Skip("terraform not installed")
	}
	var out bytes.Buffer
	cmd := exec.Command(tf, "fmt", "-check", "-recursive", "-list=true", cfg.infraDir)
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		t.Errorf("terraform fmt -check -recursive infra failed (%v); run terraform fmt -recursive infra. Files:\n%s", err, out.String())
	}
}

// ---- Firestore indexes ----

type firestoreIndexes struct {
	Indexes []firestoreIndex `yaml:"indexes"`
}

type firestoreIndex struct {
	CollectionGroup string `yaml:"collectionGroup"`
	QueryScope      string `yaml:"queryScope"`
	Fields          []struct {
		FieldPath   string `yaml:"fieldPath"`
		Order       string `yaml:"order"`
		ArrayConfig string `yaml:"arrayConfig"`
	} `yaml:"fields"`
}

var (
	collectionRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]{0,99}$`)
	fieldPathRE  = regexp.MustCompile(`^(__name__|[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*)$`)
)

// parseIndexes decodes and checks firestore-indexes.yaml.
func parseIndexes(b []byte) ([]firestoreIndex, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var doc firestoreIndexes
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	var node yaml.Node
	if err := yaml.Unmarshal(b, &node); err != nil || len(node.Content) == 0 || !hasKey(node.Content[0], "indexes") {
		return nil, fmt.Errorf("needs a top-level indexes: list (indexes: [] when empty)")
	}
	var errs []string
	seen := map[string]int{}
	for i, idx := range doc.Indexes {
		where := fmt.Sprintf("index %d (%s)", i+1, idx.CollectionGroup)
		if !collectionRE.MatchString(idx.CollectionGroup) {
			errs = append(errs, fmt.Sprintf("%s: collectionGroup %q is not a collection ID", where, idx.CollectionGroup))
		}
		if idx.QueryScope != "" && idx.QueryScope != "COLLECTION" && idx.QueryScope != "COLLECTION_GROUP" {
			errs = append(errs, fmt.Sprintf("%s: queryScope %q must be COLLECTION or COLLECTION_GROUP", where, idx.QueryScope))
		}
		if len(idx.Fields) < 2 {
			errs = append(errs, fmt.Sprintf("%s: a composite index needs at least 2 fields (single fields are indexed automatically)", where))
		}
		paths := map[string]bool{}
		var key strings.Builder
		key.WriteString(idx.CollectionGroup + "|" + idx.QueryScope)
		for j, f := range idx.Fields {
			fw := fmt.Sprintf("%s field %d (%s)", where, j+1, f.FieldPath)
			if !fieldPathRE.MatchString(f.FieldPath) {
				errs = append(errs, fmt.Sprintf("%s: bad fieldPath %q", fw, f.FieldPath))
			}
			if paths[f.FieldPath] {
				errs = append(errs, fmt.Sprintf("%s: fieldPath listed twice", fw))
			}
			paths[f.FieldPath] = true
			switch {
			case f.Order != "" && f.ArrayConfig != "":
				errs = append(errs, fmt.Sprintf("%s: set order or arrayConfig, not both", fw))
			case f.Order == "" && f.ArrayConfig == "":
				errs = append(errs, fmt.Sprintf("%s: needs order (ASCENDING/DESCENDING) or arrayConfig (CONTAINS)", fw))
			case f.Order != "" && f.Order != "ASCENDING" && f.Order != "DESCENDING":
				errs = append(errs, fmt.Sprintf("%s: order %q must be ASCENDING or DESCENDING", fw, f.Order))
			case f.ArrayConfig != "" && f.ArrayConfig != "CONTAINS":
				errs = append(errs, fmt.Sprintf("%s: arrayConfig %q must be CONTAINS", fw, f.ArrayConfig))
			}
			if f.FieldPath == "__name__" && j != len(idx.Fields)-1 {
				errs = append(errs, fmt.Sprintf("%s: __name__ may only be the last field", fw))
			}
			key.WriteString("|" + f.FieldPath + ":" + f.Order + f.ArrayConfig)
		}
		if prev, dup := seen[key.String()]; dup {
			errs = append(errs, fmt.Sprintf("%s duplicates index %d", where, prev))
		}
		seen[key.String()] = i + 1
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return doc.Indexes, nil
}

func hasKey(n *yaml.Node, key string) bool {
	if n.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1].Kind == yaml.SequenceNode
		}
	}
	return false
}

func TestFirestoreIndexes(t *testing.T) {
	cfg, _, _ := load(t)
	b, err := os.ReadFile(filepath.Join(cfg.infraDir, "firestore-indexes.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseIndexes(b); err != nil {
		t.Errorf("infra/firestore-indexes.yaml:\n%v", err)
	}
	idx := one(t, "google_firestore_index", cfg.blocks(".", "resource", "google_firestore_index"))
	if !cfg.attrDerivesFrom(idx, "for_each", regexp.MustCompile(`yamldecode\(\s*file\("\$\{path\.module\}/firestore-indexes\.yaml"\)\s*\)`)) {
		t.Errorf("%s: for_each must derive from yamldecode(file(\"${path.module}/firestore-indexes.yaml\"))", idx)
	}
	dbs := cfg.blocks(".", "resource", "google_firestore_database")
	if len(dbs) == 0 {
		t.Fatal("no google_firestore_database")
	}
	for _, db := range dbs {
		if typ, _ := db.attr("type"); typ != `"FIRESTORE_NATIVE"` {
			t.Errorf("%s: type = %s, want FIRESTORE_NATIVE", db, typ)
		}
	}
}

func TestParseIndexesRejectsBadEntries(t *testing.T) {
	good := `indexes:
  - collectionGroup: transactions
    fields:
      - {fieldPath: status, order: ASCENDING}
      - {fieldPath: bookingDate, order: DESCENDING}
  - collectionGroup: accounts
    queryScope: COLLECTION_GROUP
    fields:
      - {fieldPath: tags, arrayConfig: CONTAINS}
      - {fieldPath: __name__, order: ASCENDING}
`
	if _, err := parseIndexes([]byte(good)); err != nil {
		t.Fatalf("good indexes rejected: %v", err)
	}
	for name, tc := range map[string]struct{ yaml, want string }{
		"no list":        {"other: 1\n", "parse"},
		"missing key":    {"# nothing\n{}\n", "top-level indexes"},
		"no collection":  {"indexes:\n  - fields: [{fieldPath: a, order: ASCENDING}, {fieldPath: b, order: ASCENDING}]\n", "not a collection ID"},
		"one field":      {"indexes:\n  - collectionGroup: c\n    fields: [{fieldPath: a, order: ASCENDING}]\n", "at least 2 fields"},
		"no order":       {"indexes:\n  - collectionGroup: c\n    fields: [{fieldPath: a}, {fieldPath: b, order: ASCENDING}]\n", "needs order"},
		"both":           {"indexes:\n  - collectionGroup: c\n    fields: [{fieldPath: a, order: ASCENDING, arrayConfig: CONTAINS}, {fieldPath: b, order: ASCENDING}]\n", "not both"},
		"bad order":      {"indexes:\n  - collectionGroup: c\n    fields: [{fieldPath: a, order: asc}, {fieldPath: b, order: ASCENDING}]\n", "ASCENDING or DESCENDING"},
		"bad scope":      {"indexes:\n  - collectionGroup: c\n    queryScope: ALL\n    fields: [{fieldPath: a, order: ASCENDING}, {fieldPath: b, order: ASCENDING}]\n", "queryScope"},
		"dup field":      {"indexes:\n  - collectionGroup: c\n    fields: [{fieldPath: a, order: ASCENDING}, {fieldPath: a, order: DESCENDING}]\n", "listed twice"},
		"name not last":  {"indexes:\n  - collectionGroup: c\n    fields: [{fieldPath: __name__, order: ASCENDING}, {fieldPath: a, order: DESCENDING}]\n", "last field"},
		"unknown field":  {"indexes:\n  - collectionGroup: c\n    colection: x\n    fields: [{fieldPath: a, order: ASCENDING}, {fieldPath: b, order: ASCENDING}]\n", "parse"},
		"duplicate":      {"indexes:\n  - collectionGroup: c\n    fields: [{fieldPath: a, order: ASCENDING}, {fieldPath: b, order: ASCENDING}]\n  - collectionGroup: c\n    fields: [{fieldPath: a, order: ASCENDING}, {fieldPath: b, order: ASCENDING}]\n", "duplicates index 1"},
		"bad array conf": {"indexes:\n  - collectionGroup: c\n    fields: [{fieldPath: a, arrayConfig: ANY}, {fieldPath: b, order: ASCENDING}]\n", "CONTAINS"},
	} {
		if _, err := parseIndexes([]byte(tc.yaml)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error = %v, want one containing %q", name, err, tc.want)
		}
	}
}

func TestRuntimeVersionParsing(t *testing.T) {
	for _, tc := range []struct {
		rt, gomod string
		ok        bool
	}{
		{"go126", "go 1.26.0\n", true},
		{"go126", "go 1.26\n", true},
		{"go126", "go 1.25.3\n", true},
		{"go125", "go 1.26.0\n", false},
		{"go121", "go 1.9\n", true},
	} {
		_, gmaj, gmin, err := goLineVersion([]byte("module x\n\n" + tc.gomod))
		if err != nil {
			t.Fatal(err)
		}
		rmaj, rmin, err := runtimeVersion(tc.rt)
		if err != nil {
			t.Fatal(err)
		}
		ok := gmaj < rmaj || (gmaj == rmaj && gmin <= rmin)
		if ok != tc.ok {
			t.Errorf("runtime %s vs %q: ok = %v, want %v", tc.rt, tc.gomod, ok, tc.ok)
		}
	}
}

// expiryFields maps every Go type (or function, for map literals) that writes an expiry
// field to Firestore to the collection its documents live in, or to "" with the reason
// they are kept after expiry. TestTTLForEveryExpiryField fails on a field not listed here.
var expiryFields = map[string]struct{ collection, keptBecause string }{
	"orgs.KeyRecord":          {collection: "apiKeys"},
	"orgs.KeyPair":            {keptBecause: "an expired pair stays listed (status expired); its key records are what expire"},
	"authstate.State":         {collection: "oauthStates"},
	"authstate.Outcome":       {collection: "oauthOutcomes"},
	"authstate.Store.Attempt": {collection: "oauthCodeAttempts"},
	"hosted.Session":          {collection: "hostedSessions"},
	"idempotency.record":      {collection: "idempotencyKeys"},
	"banksync.leaseDoc":       {collection: "sync"},
	"banksync.Budget.Reserve": {collection: "syncBudget"},
	"webhooks.Delivery":       {collection: "deliveries"},
	"webhooks.fanoutRecord":   {collection: "webhookFanouts"},
	"webhooks.StoredSecret":   {keptBecause: "an element of the endpoint document's secrets, not a document"},
	"events.LogEntry":         {collection: "events"},
}

// expiryWriters finds, in the Go code of shared/ and functions/ (tests excluded), every
// struct field tagged firestore:"expiresAt"/"expireAt" (as package.Type) and every map
// literal with such a key (as package.Type.Method or package.Func).
func expiryWriters(t *testing.T, root string) map[string]string {
	t.Helper()
	tagRE := regexp.MustCompile(`firestore:"(expiresAt|expireAt)[",]`)
	found := map[string]string{}
	for _, dir := range []string{"shared", "functions"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return err
			}
			f, err := goparser.ParseFile(token.NewFileSet(), p, nil, 0)
			if err != nil {
				return err
			}
			pkg := f.Name.Name
			for _, decl := range f.Decls {
				switch d := decl.(type) {
				case *ast.GenDecl:
					for _, spec := range d.Specs {
						ts, ok := spec.(*ast.TypeSpec)
						if !ok {
							continue
						}
						st, ok := ts.Type.(*ast.StructType)
						if !ok {
							continue
						}
						for _, fld := range st.Fields.List {
							if fld.Tag != nil && tagRE.MatchString(fld.Tag.Value) {
								found[pkg+"."+ts.Name.Name] = tagRE.FindStringSubmatch(fld.Tag.Value)[1]
							}
						}
					}
				case *ast.FuncDecl:
					name := pkg + "." + d.Name.Name
					if d.Recv != nil && len(d.Recv.List) == 1 {
						typ := d.Recv.List[0].Type
						if s, ok := typ.(*ast.StarExpr); ok {
							typ = s.X
						}
						if id, ok := typ.(*ast.Ident); ok {
							name = pkg + "." + id.Name + "." + d.Name.Name
						}
					}
					ast.Inspect(d, func(n ast.Node) bool {
						kv, ok := n.(*ast.KeyValueExpr)
						if !ok {
							return true
						}
						if lit, ok := kv.Key.(*ast.BasicLit); ok && (lit.Value == `"expiresAt"` || lit.Value == `"expireAt"`) {
							found[name] = strings.Trim(lit.Value, `"`)
						}
						return true
					})
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return found
}

// TestTTLForEveryExpiryField: every collection whose documents carry an expiry field in the
// code has a TTL policy on that field, exempt from indexing.
func TestTTLForEveryExpiryField(t *testing.T) {
	cfg, _, root := load(t)
	ttl := one(t, "google_firestore_field ttl", cfg.blocks(".", "resource", "google_firestore_field", "ttl"))
	if src, _ := ttl.attr("for_each"); src != "local.ttl_fields" {
		t.Fatalf("%s: for_each = %q, want local.ttl_fields", ttl, src)
	}
	if len(ttl.nested("ttl_config")) != 1 || len(ttl.nested("index_config")) != 1 {
		t.Errorf("%s: needs ttl_config {} and index_config {}", ttl)
	}
	l, ok := cfg.locals(".")["ttl_fields"]
	if !ok {
		t.Fatal("infra: local.ttl_fields missing")
	}
	obj, ok := l.e.(*hclsyntax.ObjectConsExpr)
	if !ok {
		t.Fatal("local.ttl_fields must be an object literal")
	}
	policies := map[string]string{}
	for _, item := range obj.Items {
		k, _ := item.KeyExpr.Value(nil)
		v, _ := item.ValueExpr.Value(nil)
		if k.Type().FriendlyName() != "string" || v.Type().FriendlyName() != "string" {
			t.Fatalf("local.ttl_fields: want string keys and values")
		}
		policies[k.AsString()] = v.AsString()
	}
	found := expiryWriters(t, root)
	if len(found) < 5 {
		t.Fatalf("found only %d expiry fields in the code: %v", len(found), found)
	}
	for writer, field := range found {
		e, ok := expiryFields[writer]
		switch {
		case !ok:
			t.Errorf("%s writes %s: add it to expiryFields with its collection (and a TTL policy in infra/firestore.tf), or the reason it is kept", writer, field)
		case e.collection == "" && e.keptBecause == "":
			t.Errorf("expiryFields[%s]: neither a collection nor a reason", writer)
		case e.collection != "" && policies[e.collection] != field:
			t.Errorf("%s writes %s in %s, which has no TTL policy on it (local.ttl_fields[%q] = %q)", writer, field, e.collection, e.collection, policies[e.collection])
		}
	}
	for writer := range expiryFields {
		if _, ok := found[writer]; !ok {
			t.Errorf("expiryFields lists %s, which writes no expiry field any more", writer)
		}
	}
}

// TestSandboxBankSeesOnlyItsOwnDatabase: the public sandbox bank keeps its data in a
// database of its own, and its service account's Firestore role is conditioned on that
// database, so it cannot read live tenants' data.
func TestSandboxBankSeesOnlyItsOwnDatabase(t *testing.T) {
	cfg, m, _ := load(t)
	sb, ok := m.Function("sandboxbank")
	if !ok || sb.Database == "" {
		t.Fatal("manifest: sandboxbank needs a database of its own")
	}
	for _, r := range sb.Roles {
		if !strings.HasPrefix(r, "roles/datastore.") {
			t.Errorf("manifest: sandboxbank has %s; it needs its Firestore role only", r)
		}
	}
	db := one(t, "google_firestore_database function", cfg.blocks(".", "resource", "google_firestore_database", "function"))
	if !cfg.attrDerivesFrom(db, "for_each", regexp.MustCompile(`\.database`)) {
		t.Errorf("%s: for_each must cover the manifest functions' databases", db)
	}
	mod := moduleCall(t, cfg)
	if src, _ := mod.attr("firestore_database"); !strings.Contains(src, "each.value.database") {
		t.Errorf("%s: firestore_database = %q, want the manifest entry's database", mod, src)
	}
	role := one(t, "google_project_iam_member role in modules/function", cfg.blocks(functionModule, "resource", "google_project_iam_member", "role"))
	src := role.src()
	if !strings.Contains(src, `dynamic "condition"`) || !strings.Contains(src, "var.firestore_database") || !strings.Contains(src, `resource.name == \"projects/${var.project_id}/databases/${condition.value}\"`) {
		t.Errorf("%s: Firestore roles of a function with its own database must be conditioned on that database's resource name", role)
	}
	env, ok := cfg.locals(functionModule)["environment_variables"]
	if !ok || !strings.Contains(env.f.exprSrc(env.e), "TOK_FIRESTORE_DATABASE") {
		t.Errorf("modules/function: environment_variables must set TOK_FIRESTORE_DATABASE")
	}
}

// TestBuildAccountScoped: the build account holds no project-wide Artifact Registry or
// Storage role: it writes to the functions' own repository and reads the source buckets only.
func TestBuildAccountScoped(t *testing.T) {
	cfg, _, _ := load(t)
	for _, b := range cfg.blocks(".", "resource", "google_project_iam_member") {
		member, _ := b.attr("member")
		if !strings.Contains(member, "google_service_account.build") {
			continue
		}
		role, _ := b.attr("role")
		switch role {
		case `"roles/logging.logWriter"`:
		case `"roles/storage.objectViewer"`:
			conds := b.nested("condition")
			if len(conds) != 1 {
				t.Errorf("%s: storage.objectViewer must be conditioned on the source buckets", b)
				continue
			}
			if expr, _ := attrOf(b.file, conds[0], "expression"); !strings.Contains(expr, "local.source_bucket") || !strings.Contains(expr, "gcf-v2-sources-") {
				t.Errorf("%s: condition %s must allow the source bucket and gcf-v2-sources only", b, expr)
			}
		default:
			t.Errorf("%s grants %s project-wide to the build account", b, role)
		}
	}
	w := one(t, "google_artifact_registry_repository_iam_member", cfg.blocks(".", "resource", "google_artifact_registry_repository_iam_member"))
	if role, _ := w.attr("role"); role != `"roles/artifactregistry.writer"` {
		t.Errorf("%s: role = %s, want roles/artifactregistry.writer on the functions' repository", w, role)
	}
	mod := moduleCall(t, cfg)
	if src, _ := mod.attr("docker_repository"); !strings.Contains(src, "google_artifact_registry_repository.") {
		t.Errorf("%s: docker_repository must be the repository the build account may write", mod)
	}
	fn := one(t, "google_cloudfunctions2_function in modules/function", cfg.blocks(functionModule, "resource", "google_cloudfunctions2_function"))
	bc := fn.nested("build_config")
	if len(bc) != 1 {
		t.Fatalf("%s: want a build_config", fn)
	}
	if src, _ := attrOf(fn.file, bc[0], "docker_repository"); src != "var.docker_repository" {
		t.Errorf("%s: build_config.docker_repository = %q, want var.docker_repository", fn, src)
	}
}
