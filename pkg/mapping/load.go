package mapping

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"github.com/robfig/cron/v3"
	"io"
	"maps"
	"math"
	"os"
	"reflect"
	"regexp"
	"regexp/syntax"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/Masterminds/semver/v3"
	"github.com/xeipuuv/gojsonschema"
	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/argodeploy/argodeploy/pkg/schema"
	"github.com/argodeploy/argodeploy/pkg/yamlnode"
	"github.com/argodeploy/argodeploy/schemas"
)

// Limits the schema does not enforce alone. Names are part of the names
// of generated objects.
const (
	maxMetadataNameLen = 40
	maxServiceNameLen  = 40
	maxRolloutTimeout  = time.Hour
	maxApprovalTimeout = 7 * 24 * time.Hour
)

// Load reads the mapping file at path and parses it with Parse.
func Load(path string) (*ServiceMapping, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse strictly parses the mapping file data, named file in errors, and
// returns it with Default applied. On failure the error is an ErrorList
// of every problem found.
func Parse(file string, data []byte) (*ServiceMapping, error) {
	if len(data) > MaxFileBytes {
		return nil, ErrorList{{File: file, Line: 1, Column: 1, Message: fmt.Sprintf("the file is %d bytes, more than the %d a mapping may have", len(data), MaxFileBytes)}}
	}
	p := &parser{file: file, reported: map[string]bool{}, suggested: map[string]bool{}, patterns: map[string]error{}}
	root := p.parseYAML(bytes.TrimPrefix(data, []byte("\uFEFF")))
	if root != nil {
		p.checkStructure(root, "")
		// One error each for anchors and aliases, however many.
		if p.anchors > 1 {
			p.firstAnchor.Message += fmt.Sprintf(" (the first of %d anchors)", p.anchors)
		}
		if p.aliases > 1 {
			p.firstAlias.Message += fmt.Sprintf(" (the first of %d aliases)", p.aliases)
		}
	}
	if len(p.errs) > 0 {
		return nil, p.errs.normalize()
	}
	value := yamlnode.Plain(root)
	// The schema validation only reads value: run it beside the semantic
	// checks.
	var validation schemaResult
	var wg sync.WaitGroup
	wg.Go(func() { validation = validateSchema(value) })
	p.checkSemantics(root)
	wg.Wait()
	p.schemaErrors(root, validation)
	p.reportMissing()
	if len(p.errs) > 0 {
		return nil, p.errs.normalize()
	}
	// Decoded once the checks passed, when the node tree, the largest
	// part of a parse, is no longer held.
	warnings, line, col := p.warnings.normalize(), root.Line, root.Column
	m, err := decode(value)
	if err != nil {
		return nil, ErrorList{{File: file, Line: line, Column: col, Message: err.Error()}}
	}
	m.Default()
	m.Warnings = warnings
	return m, nil
}

// MaxFileBytes is the largest mapping file Parse reads: room for some
// 50,000 services.
const MaxFileBytes = 8 << 20

// parser collects the errors of one file.
type parser struct {
	file string
	errs ErrorList
	// reported holds the fields the semantic checks reported; schema
	// errors on them are dropped as duplicates.
	reported map[string]bool
	// suggested holds the fields proposed for a misspelled key; their
	// "required" errors are dropped as cascades.
	suggested map[string]bool
	// patterns holds the verdict on each tag pattern parsed.
	patterns map[string]error
	// missing holds what the semantic checks found missing; it is
	// reported after the schema errors, which may explain it.
	missing []missingField
	// warnings are what a team may mean but should know the cost of.
	warnings ErrorList
	// anchors and aliases count the YAML anchors and aliases; only the
	// first of each is reported.
	anchors, aliases        int
	firstAnchor, firstAlias *FieldError
	// topicProject is the project whose gcr topic the pipeline reads
	// (gcp.topicProject, else gcp.project); "" when not a string.
	topicProject string
}

// missingField is a field, or one of several fields, that is missing.
type missingField struct {
	at     *yaml.Node
	field  string
	alts   []string // the fields whose misspelling explains the absence
	format string
	args   []any
}

// require records that the field at path under node at is missing: it is
// reported with reportMissing unless an unknown key was suggested as one
// of alts, a misspelling of it.
func (p *parser) require(at *yaml.Node, path string, alts []string, format string, args ...any) {
	p.missing = append(p.missing, missingField{at, path, alts, format, args})
}

// reportMissing reports the missing fields recorded by require that no
// misspelled key explains.
func (p *parser) reportMissing() {
	for _, m := range p.missing {
		if !slices.ContainsFunc(m.alts, func(f string) bool { return p.suggested[f] }) {
			p.report(loc{m.at, m.field}, m.format, m.args...)
		}
	}
}

// add records an error at node n.
func (p *parser) add(n *yaml.Node, field, format string, args ...any) {
	e := &FieldError{File: p.file, Line: 1, Field: field, Message: fmt.Sprintf(format, args...)}
	if n != nil && n.Line > 0 {
		e.Line, e.Column = n.Line, n.Column
	}
	p.errs = append(p.errs, e)
}

// report records a semantic error at l.
func (p *parser) report(l loc, format string, args ...any) {
	p.reported[l.path] = true
	p.add(l.n, l.path, format, args...)
}

// warn records a warning at l: the mapping is accepted.
func (p *parser) warn(l loc, format string, args ...any) {
	e := &FieldError{File: p.file, Line: 1, Field: l.path, Message: fmt.Sprintf(format, args...)}
	if l.n != nil && l.n.Line > 0 {
		e.Line, e.Column = l.n.Line, l.n.Column
	}
	p.warnings = append(p.warnings, e)
}

// parseYAML returns the root node of the single document in data.
func (p *parser) parseYAML(data []byte) *yaml.Node {
	if line, col, msg := checkChars(data); msg != "" {
		p.errs = append(p.errs, &FieldError{File: p.file, Line: line, Column: col, Message: msg})
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if !errors.Is(err, io.EOF) {
			p.syntaxError(data, err)
			return nil
		}
		msg := "file is empty"
		if len(bytes.TrimSpace(data)) > 0 {
			msg = "file contains no YAML document, only comments"
		}
		p.errs = append(p.errs, &FieldError{File: p.file, Message: msg})
		return nil
	}
	for {
		var next yaml.Node
		err := dec.Decode(&next)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			p.syntaxError(data, err)
			return nil
		}
		if len(next.Content) == 0 || next.Content[0].Tag == "!!null" && next.Content[0].Value == "" {
			continue // a trailing "---" with nothing after it, as kubectl takes it
		}
		p.add(&next, "", "a second YAML document starts here: a mapping file holds exactly one document")
		return nil
	}
	if len(doc.Content) == 0 {
		p.add(&doc, "", "file is empty")
		return nil
	}
	return doc.Content[0]
}

// checkChars finds the first character yaml.v3 refuses to read, as
// yaml.v3 reports no position for it.
func checkChars(data []byte) (line, col int, msg string) {
	line, col = 1, 0
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		col++
		switch {
		case r == utf8.RuneError && size == 1:
			return line, col, fmt.Sprintf("invalid UTF-8 byte 0x%02X: the file must be UTF-8", data[i])
		case r == '\n':
			line, col = line+1, 0
		case r == '\t', r == '\r', r == 0x85:
		case r < 0x20, r >= 0x7F && r < 0xA0, r >= 0xD800 && r < 0xE000, r == 0xFFFE, r == 0xFFFF:
			return line, col, fmt.Sprintf("control character %U is not allowed", r)
		}
		i += size
	}
	return 0, 0, ""
}

var (
	yamlErrorRE   = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)
	unknownAlias  = regexp.MustCompile(`^unknown anchor '(.*)' referenced$`)
	parseProblems = map[string]bool{
		"did not find expected <stream-start>":   true,
		"did not find expected <document start>": true,
		"did not find expected node content":     true,
		"did not find expected '-' indicator":    true,
		"did not find expected key":              true,
		"did not find expected ',' or ']'":       true,
		"did not find expected ',' or '}'":       true,
		"found undefined tag handle":             true,
		"found duplicate %YAML directive":        true,
		"found duplicate %TAG directive":         true,
		"found incompatible YAML document":       true,
	}
)

// syntaxError records a YAML syntax error. yaml.v3 reports no line for
// errors on the first line and reports the lines of parser (not scanner)
// errors 0-based, so data is parsed again behind one extra line and the
// line number corrected.
func (p *parser) syntaxError(data []byte, err error) {
	shifted := firstError(append([]byte("#\n"), data...))
	if shifted == nil {
		shifted = err
	}
	m := yamlErrorRE.FindStringSubmatch(shifted.Error())
	if m == nil {
		p.errs = append(p.errs, &FieldError{File: p.file, Line: 1, Message: shifted.Error()})
		return
	}
	line, msg := 1, m[2]
	if m[1] != "" {
		line, _ = strconv.Atoi(m[1])
		if !parseProblems[msg] {
			line--
		}
		line = problemLine(data, line, msg)
	} else if a := unknownAlias.FindStringSubmatch(msg); a != nil {
		if i := bytes.Index(data, []byte("*"+a[1])); i >= 0 {
			line = bytes.Count(data[:i], []byte("\n")) + 1
		}
	}
	// A problem at the end of the stream is on the last line.
	last := bytes.Count(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) + 1
	p.errs = append(p.errs, &FieldError{File: p.file, Line: max(min(line, last), 1), Message: "invalid YAML: " + msg})
}

// problemLine returns the first line, from line on, where data cut after
// that line fails with problem: yaml.v3 often reports the line where the
// enclosing construct starts instead of the line of the problem. Once cut
// after the problem, data keeps failing with it, so a binary search finds
// that line.
func problemLine(data []byte, line int, problem string) int {
	var ends []int
	for i, b := range data {
		if b == '\n' {
			ends = append(ends, i+1)
		}
	}
	ends = append(ends, len(data))
	fails := func(k int) bool {
		err := firstError(data[:ends[k-1]])
		return err != nil && strings.HasSuffix(err.Error(), ": "+problem)
	}
	lo, hi := max(line, 1), len(ends)
	if lo > hi {
		return line
	}
	for lo < hi {
		if mid := (lo + hi) / 2; fails(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// firstError returns the first error decoding the documents of data.
func firstError(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

var allowedTags = map[string]bool{
	"!!str": true, "!!int": true, "!!float": true, "!!bool": true, "!!null": true,
	"!!timestamp": true, "!!map": true, "!!seq": true,
}

// checkStructure rejects what a plain JSON document cannot hold: aliases,
// custom tags, non-string and duplicate keys.
func (p *parser) checkStructure(n *yaml.Node, path string) {
	if n.Anchor != "" {
		if p.anchors++; p.anchors == 1 {
			p.add(n, path, "YAML anchors (&%s) are not supported: write every value out so the file reads as it is validated", n.Anchor)
			p.firstAnchor = p.errs[len(p.errs)-1]
		}
	}
	if n.Kind == yaml.AliasNode {
		if p.aliases++; p.aliases == 1 {
			p.add(n, path, "YAML aliases (*%s) are not supported: write every value out so the file reads as it is validated", n.Value)
			p.firstAlias = p.errs[len(p.errs)-1]
		}
		return
	}
	if !allowedTags[n.ShortTag()] {
		p.add(n, path, "unsupported YAML tag %s", n.Tag)
		return
	}
	switch n.Kind {
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p.checkStructure(c, index(path, i))
		}
	case yaml.MappingNode:
		seen := map[string]*yaml.Node{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			switch {
			case k.ShortTag() == "!!merge":
				p.add(k, path, "merge keys (<<) are not supported: write every field out")
				continue
			case !isString(k):
				p.add(k, path, "mapping keys must be strings, not %s: quote the key", describe(k))
				continue
			}
			field := child(path, k.Value)
			if first, dup := seen[k.Value]; dup {
				p.add(k, field, "duplicate key %q (first set on line %d)", k.Value, first.Line)
			} else {
				seen[k.Value] = k
			}
			p.checkStructure(v, field)
		}
	}
}

// isString reports whether n is a string scalar. A timestamp-like plain
// scalar stays a string, as yaml.v3 decodes it into an interface.
func isString(n *yaml.Node) bool {
	t := n.ShortTag()
	return n.Kind == yaml.ScalarNode && (t == "!!str" || t == "!!timestamp")
}

// describe names the kind of value n holds.
func describe(n *yaml.Node) string {
	switch v := yamlnode.Plain(n).(type) {
	case nil:
		return "empty"
	case string:
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!float" {
			return "a number"
		}
		return "a string"
	case bool:
		return "a boolean"
	case float64:
		if v == math.Trunc(v) {
			return "an integer"
		}
		return "a number"
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	default:
		return "an integer"
	}
}

// loc is a node, nil when absent, and its field path.
type loc struct {
	n    *yaml.Node
	path string
}

// get returns the value of key when l is a mapping.
func (l loc) get(key string) loc {
	c := loc{path: child(l.path, key)}
	if l.n != nil && l.n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(l.n.Content); i += 2 {
			if l.n.Content[i].Value == key {
				c.n = l.n.Content[i+1]
				break
			}
		}
	}
	return c
}

// key returns the key node of key when l is a mapping, with the path of
// its value.
func (l loc) key(key string) loc {
	c := loc{path: child(l.path, key)}
	if l.n != nil {
		c.n = yamlnode.KeyNode(l.n, key)
	}
	return c
}

// str returns the value of l when it is a string.
func (l loc) str() (string, bool) {
	if l.n == nil || !isString(l.n) {
		return "", false
	}
	return l.n.Value, true
}

// items returns the items of l when it is a list.
func (l loc) items() []loc {
	if l.n == nil || l.n.Kind != yaml.SequenceNode {
		return nil
	}
	items := make([]loc, len(l.n.Content))
	for i, c := range l.n.Content {
		items[i] = loc{c, index(l.path, i)}
	}
	return items
}

// isIdentifier reports whether key matches ^[A-Za-z_][-A-Za-z0-9_]*$,
// so a path can name it after a dot.
func isIdentifier(key string) bool {
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case i > 0 && (c >= '0' && c <= '9' || c == '-'):
		default:
			return false
		}
	}
	return key != ""
}

// child is the path of key under path.
func child(path, key string) string {
	switch {
	case !isIdentifier(key):
		return path + "[" + strconv.Quote(key) + "]"
	case path == "":
		return key
	default:
		return path + "." + key
	}
}

// index is the path of item i under path.
func index(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

// quote quotes s for a message, shortened when long.
func quote(s string) string {
	if utf8.RuneCountInString(s) > 60 {
		s = string([]rune(s)[:57]) + "..."
	}
	return strconv.Quote(s)
}

// checkSemantics checks what the schema cannot express. It runs on the
// node tree, skipping values of the wrong type: the schema reports those.
func (p *parser) checkSemantics(root *yaml.Node) {
	r := loc{n: root}
	p.checkName(r.get("metadata").get("name"), maxMetadataNameLen)
	spec := r.get("spec")
	p.checkName(spec.get("namespace"), 0)
	p.checkSecretRef(spec.get("gcp").get("credentialSecret"))
	for _, key := range []string{"project", "topicProject"} { // the latter wins
		if v, ok := spec.get("gcp").get(key).str(); ok && projectIDRE.MatchString(v) {
			p.topicProject = v
		}
	}
	bus := spec.get("eventBus")
	p.checkName(bus.get("name"), 0)
	p.checkJetStream(bus.get("jetstream"))
	if ns, ok := spec.get("namespace").str(); ok && ns == systemNamespace {
		p.warn(spec.get("namespace"), "the pipeline runs in %s, beside the cluster's own components: give it a namespace of its own", systemNamespace)
	}
	p.checkSchedule(spec.get("reconcile").get("schedule"))
	maxAge := spec.get("reconcile").get("deadLetters").get("maxAge")
	if d, ok := p.duration(maxAge, DefaultDeadLetterMaxAge); ok && d < time.Hour {
		p.report(maxAge, "dead letters must be kept at least 1h, long enough for an operator to see them (argodeploy status)")
	}
	w := spec.get("workflow")
	rollout, maxi := p.checkDurations(w)
	if k := w.key("kubectlImage"); k.n != nil {
		p.report(k, "kubectlImage was replaced by image: the rollout step now runs \"argodeploy rollout\" in argodeploy's own image (default %s); remove kubectlImage, or set image to pin another argodeploy release", DefaultImage)
	}
	p.checkWorkflowImage(w.get("image"))
	res := w.get("resources")
	p.checkQuantities(res.get("requests").get("cpu"), DefaultCPURequest, res.get("limits").get("cpu"), DefaultCPULimit)
	p.checkQuantities(res.get("requests").get("memory"), DefaultMemoryRequest, res.get("limits").get("memory"), DefaultMemoryLimit)
	p.checkFloor(res.get("limits").get("cpu"), minStepCPU, "CPU")
	p.checkFloor(res.get("limits").get("memory"), minStepMemory, "memory")
	chains := p.checkServices(spec.get("services"))
	p.checkNotify(spec)
	p.checkDeadline(w, rollout, maxi, chains)
	p.checkUnsafeText(r)
}

// checkNotify checks that receiver names are unique and their Secret
// references valid, and that every notify list of a service or target
// names receivers of spec.notify.
func (p *parser) checkNotify(spec loc) {
	names := map[string]bool{}
	for _, r := range spec.get("notify").items() {
		name := r.get("name")
		if v, ok := name.str(); ok {
			if names[v] {
				p.report(name, "receiver %s is defined twice", quote(v))
			}
			names[v] = true
		}
		p.checkSecretRef(r.get("urlSecret"))
	}
	for _, s := range spec.get("services").items() {
		lists := []loc{s.get("notify")}
		for _, t := range s.get("targets").items() {
			lists = append(lists, t.get("notify"))
		}
		for _, l := range lists {
			for _, n := range l.items() {
				if v, ok := n.str(); ok && !names[v] {
					p.report(n, "%s is no receiver of spec.notify (%s)", quote(v), orNone(slices.Sorted(maps.Keys(names))))
				}
			}
		}
	}
}

// orNone lists names, or says there are none.
func orNone(names []string) string {
	if len(names) == 0 {
		return "it has none"
	}
	return "receivers: " + strings.Join(names, ", ")
}

// systemNamespace is the cluster's own namespace: a pipeline or target
// there is warned about.
const systemNamespace = "kube-system"

// Bounds of a JetStream claim: below the minimum the stream holds too few
// events to ride out a Sensor outage.
const minJetStreamStorage = "64Mi"

// checkJetStream checks the bus's replicas and storage, and warns about
// the set-ups that can lose events the EventSource already acknowledged
// to Pub/Sub.
func (p *parser) checkJetStream(js loc) {
	if v, ok := js.get("version").str(); ok && strings.EqualFold(v, "latest") {
		p.report(js.get("version"), "version latest moves with the argo-events controller config: pin one it lists, e.g. %s", DefaultJetStreamVersion)
	}
	replicas := js.get("replicas")
	if replicas.n != nil && isNumber(yamlnode.Plain(replicas.n), 2) {
		p.report(replicas, "2 replicas cannot keep a quorum when one fails: use 1, or 3 or more")
	}
	if replicas.n != nil && isNumber(yamlnode.Plain(replicas.n), 1) {
		p.warn(replicas, "one JetStream server: while it restarts, pushes wait in Pub/Sub; if its volume is lost, the events it held are lost and the reconcile loop releases them on its next pass. Use 3 to ride out a node failure")
	}
	st := js.get("storage")
	eph := st.get("ephemeral")
	if eph.n != nil && yamlnode.Plain(eph.n) == true {
		for _, k := range []string{"size", "storageClassName"} {
			if f := st.key(k); f.n != nil {
				p.report(f, "an ephemeral store has no volume claim: drop %s, or ephemeral", k)
			}
		}
		p.warn(eph, "the stream lives in an emptyDir: a rescheduled JetStream pod starts empty, the events it held are lost (the reconcile loop releases them on its next pass), and the Sensor cannot reconnect until it restarts")
	}
	size := st.get("size")
	if q, ok := p.quantity(size, DefaultJetStreamStorage); ok && size.n != nil {
		if min := resource.MustParse(minJetStreamStorage); q.Cmp(min) < 0 {
			p.report(size, "a claim of %s holds too few events: give at least %s", size.n.Value, minJetStreamStorage)
		}
	}
}

// neverATag says why the tag pattern re can match no legal tag (letters,
// digits, '_', '.' and '-'; the pattern is matched whole), or "": an
// anchor ^ or $ inside it, or a character a tag never has where the
// pattern needs one.
func neverATag(re *syntax.Regexp) string {
	branches := []*syntax.Regexp{re}
	if re.Op == syntax.OpAlternate {
		branches = re.Sub
	}
	for _, b := range branches {
		parts := []*syntax.Regexp{b}
		if b.Op == syntax.OpConcat {
			parts = b.Sub
		}
		// ^ at the start and $ at the end of a branch are redundant:
		// tagPattern is matched whole. Anywhere else they can never match.
		for len(parts) > 0 && (parts[0].Op == syntax.OpBeginLine || parts[0].Op == syntax.OpBeginText) {
			parts = parts[1:]
		}
		for len(parts) > 0 && (parts[len(parts)-1].Op == syntax.OpEndLine || parts[len(parts)-1].Op == syntax.OpEndText) {
			parts = parts[:len(parts)-1]
		}
		for _, part := range parts {
			if hasAnchor(part) {
				return "^ or $ inside the pattern can never match: tagPattern is matched against the whole tag; drop them or put them at its ends"
			}
			if r, ok := needsNonTagRune(part); ok {
				return fmt.Sprintf("the pattern needs %q, which no tag has (tags are letters, digits, '_', '.' and '-')", r)
			}
		}
	}
	return ""
}

func isAnchor(op syntax.Op) bool {
	return op == syntax.OpBeginLine || op == syntax.OpEndLine || op == syntax.OpBeginText || op == syntax.OpEndText
}

func hasAnchor(re *syntax.Regexp) bool {
	if isAnchor(re.Op) {
		return true
	}
	for _, s := range re.Sub {
		if hasAnchor(s) {
			return true
		}
	}
	return false
}

// tagRunes are the ranges of the characters a tag may have.
var tagRunes = [][2]rune{{'-', '.'}, {'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}}

// overlapsTagRunes reports whether [lo, hi] holds a character a tag may have.
func overlapsTagRunes(lo, hi rune) bool {
	for _, r := range tagRunes {
		if lo <= r[1] && r[0] <= hi {
			return true
		}
	}
	return false
}

func isTagRune(r rune) bool { return overlapsTagRunes(r, r) }

// needsNonTagRune finds a rune that every match of re (a part of a
// concatenation) contains and no tag does: in a literal, or a character
// class without a tag character.
func needsNonTagRune(re *syntax.Regexp) (rune, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		for _, r := range re.Rune {
			if !isTagRune(r) && !(re.Flags&syntax.FoldCase != 0 && isTagRune(unicode.SimpleFold(r))) {
				return r, true
			}
		}
	case syntax.OpCharClass:
		for i := 0; i+1 < len(re.Rune); i += 2 {
			if overlapsTagRunes(re.Rune[i], re.Rune[i+1]) {
				return 0, false
			}
		}
		if len(re.Rune) > 0 {
			return re.Rune[0], true
		}
	case syntax.OpPlus, syntax.OpCapture:
		return needsNonTagRune(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min > 0 {
			return needsNonTagRune(re.Sub[0])
		}
	case syntax.OpConcat:
		for _, s := range re.Sub {
			if r, ok := needsNonTagRune(s); ok {
				return r, true
			}
		}
	}
	return 0, false
}

// projectIDRE is a GCP project ID that is not domain-scoped (the schema
// reports the others).
var projectIDRE = regexp.MustCompile(`^[a-z][-a-z0-9]{4,28}[a-z0-9]$`)

// The least CPU and memory limit the release steps start and finish in
// (argodeploy, a Go program, and its API calls).
const (
	minStepCPU    = "10m"
	minStepMemory = "32Mi"
)

// checkFloor reports a limit at l below min.
func (p *parser) checkFloor(l loc, min, what string) {
	v, ok := l.str()
	if !ok {
		return
	}
	if q, err := resource.ParseQuantity(v); err == nil && q.Cmp(resource.MustParse(min)) < 0 {
		p.report(l, "a %s limit of %s is too small for the release steps to start: give at least %s", what, v, min)
	}
}

// pinnedImageRE is an image reference pinned by a tag or a digest (the
// schema's pattern of workflow.image).
var pinnedImageRE = regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*(:[A-Za-z0-9_][-.A-Za-z0-9_]{0,127}(@sha256:[a-f0-9]{64})?|@sha256:[a-f0-9]{64})$`)

// checkSchedule checks that the reconcile schedule at l is a five-field
// cron expression, read as Argo Workflows reads a CronWorkflow's
// (cron.ParseStandard, in workflow/validate), that runs at all and at most
// once a minute.
func (p *parser) checkSchedule(l loc) {
	v, ok := l.str()
	if !ok {
		return
	}
	s, err := cron.ParseStandard(v)
	if err != nil {
		p.report(l, "%s is not a five-field cron expression (minute hour day-of-month month day-of-week, e.g. */5 * * * *): %v", quote(v), err)
		return
	}
	switch interval, runs := shortestInterval(s); {
	case !runs:
		p.report(l, "%s never runs: no time in the next five years matches it; to turn the reconcile loop off, set suspend: true", quote(v))
	case interval > 0 && interval < MinReconcileInterval:
		p.report(l, "%s runs a pass every %s: passes must be at least a minute apart (each lists every mapped image in the registry)", quote(v), interval)
	}
}

// checkWorkflowImage checks that the image of the rollout step, at l, is
// pinned: by a digest, or by a tag other than latest.
func (p *parser) checkWorkflowImage(l loc) {
	v, ok := l.str()
	switch {
	case !ok:
	case !pinnedImageRE.MatchString(v):
		if pinnedImageRE.MatchString(v + ":v1") {
			p.report(l, "%s has no tag or digest, so it runs whatever is pushed next: pin a version or a digest, e.g. %s", quote(v), DefaultImage)
		}
	case !strings.Contains(v, "@"):
		if _, tag, _ := strings.Cut(v[strings.LastIndex(v, "/")+1:], ":"); tag == "latest" {
			p.report(l, "%s uses the tag latest, which moves: pin a version or a digest", quote(v))
		}
	}
}

// checkUnsafeText reports template sequences and shell expansion syntax
// in any value. Argo Workflows and Argo Events substitute
// "{{...}}" in the objects they read, so such text could change what the
// pipeline does; metadata values are printed by the rollout step, which
// must never be tempted to evaluate them.
func (p *parser) checkUnsafeText(l loc) {
	switch {
	case l.n == nil:
	case l.n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(l.n.Content); i += 2 {
			p.checkUnsafeText(l.get(l.n.Content[i].Value))
		}
	case l.n.Kind == yaml.SequenceNode:
		for _, item := range l.items() {
			p.checkUnsafeText(item)
		}
	case p.reported[l.path]:
	case strings.Contains(l.n.Value, "{{"):
		p.report(l, "%s contains \"{{\": Argo would read it as a template", quote(l.n.Value))
	case strings.Contains(l.n.Value, "$(") || strings.Contains(l.n.Value, "${") || strings.Contains(l.n.Value, "`"):
		p.report(l, "%s contains shell expansion syntax ($(, ${ or a backquote), which no field needs", quote(l.n.Value))
	}
}

// isNumber reports whether v is the number n.
func isNumber(v any, n int) bool {
	switch v := v.(type) {
	case int:
		return v == n
	case float64:
		return v == float64(n)
	}
	return false
}

// checkName checks that l is a DNS-1123 label of at most maxLen (if not
// zero) characters.
func (p *parser) checkName(l loc, maxLen int) {
	v, ok := l.str()
	if !ok {
		return
	}
	limit := validation.DNS1123LabelMaxLength
	if maxLen > 0 {
		limit = maxLen
	}
	switch {
	case len(validation.IsDNS1123Label(v)) > 0:
		p.report(l, "%s is not a valid name: use at most %d lowercase letters, digits and '-', starting and ending with a letter or digit", quote(v), limit)
	case len(v) > limit:
		p.report(l, "%s is too long: %d characters, at most %d allowed as it is part of generated object names", quote(v), len(v), limit)
	}
}

// checkSecretRef checks the Secret name and key of l.
func (p *parser) checkSecretRef(l loc) {
	if v, ok := l.get("name").str(); ok && len(validation.IsDNS1123Subdomain(v)) > 0 {
		p.report(l.get("name"), "%s is not a valid Secret name: use dot-separated lowercase letters, digits and '-', at most 253 characters", quote(v))
	}
	if v, ok := l.get("key").str(); ok && len(validation.IsConfigMapKey(v)) > 0 {
		p.report(l.get("key"), "%s is not a valid Secret key: use letters, digits, '-', '_' or '.'", quote(v))
	}
}

// checkDurations checks the durations of workflow w and returns its
// rolloutTimeout and retry.backoff.maxDuration, defaults included; a
// duration is 0 when it is invalid.
func (p *parser) checkDurations(w loc) (rolloutTimeout, maxDuration time.Duration) {
	p.duration(w.get("ttl"), DefaultTTL)
	rollout := w.get("rolloutTimeout")
	r, ok := p.duration(rollout, DefaultRolloutTimeout)
	if ok && r > maxRolloutTimeout {
		p.report(rollout, "%s is too long: at most %s", rollout.n.Value, shortDuration(maxRolloutTimeout))
		r = 0
	}
	approval := w.get("approvalTimeout")
	if a, ok := p.duration(approval, DefaultApprovalTimeout); ok && (a < time.Minute || a > maxApprovalTimeout) {
		p.report(approval, "%s is out of range: between 1m and %s", approval.n.Value, shortDuration(maxApprovalTimeout))
	}
	backoff := w.get("retry").get("backoff")
	first, maxi := backoff.get("duration"), backoff.get("maxDuration")
	d, ok1 := p.duration(first, DefaultRetryDuration)
	m, ok2 := p.duration(maxi, DefaultRetryMaxDuration)
	switch {
	case !ok1 || !ok2 || d <= m:
	case first.n != nil:
		p.report(first, "%s is longer than maxDuration %s", first.n.Value, text(maxi, DefaultRetryMaxDuration))
	default:
		p.report(maxi, "%s is shorter than duration %s", maxi.n.Value, text(first, DefaultRetryDuration))
	}
	return r, m
}

// soakUse is a stage chain: a target that waits for links stages, each
// rolling out and then soaking, soaks summing to d, before it rolls out
// itself. l is where the target says after.
type soakUse struct {
	l     loc
	d     time.Duration
	links int
}

// need is how long the chain's step may take with rolloutTimeout rollout,
// as ServiceMapping.LongestStep counts it.
func (s soakUse) need(rollout time.Duration) time.Duration {
	return time.Duration(s.links+1)*rollout + s.d
}

// deadlineReason is why retry.backoff.maxDuration bounds a rollout.
const deadlineReason = "Argo Workflows v3.7 applies maxDuration as a deadline to each retry pod, so a shorter one kills a rollout half-way"

// checkDeadline checks that workflow w's retry.backoff.maxDuration, maxi,
// when written, is at least what the longest-living step needs: its
// rolloutTimeout, rollout, plus, for the longest of the stage chains, a
// rollout and a soak per stage it waits for. (Unwritten, maxDuration
// defaults to that.) Zero durations are invalid ones, already reported.
func (p *parser) checkDeadline(w loc, rollout, maxi time.Duration, chains []soakUse) {
	ml := w.get("retry").get("backoff").get("maxDuration")
	soak := soakUse{}
	for _, c := range chains {
		if c.need(rollout) > soak.need(rollout) {
			soak = c
		}
	}
	if ml.n == nil || rollout == 0 || maxi == 0 || maxi >= soak.need(rollout) {
		return
	}
	why := ""
	if soak.l.n != nil {
		why = fmt.Sprintf(", and the target whose after is on line %d first waits for %d stage(s) to roll out (up to %s each) and soak (%s in all)", soak.l.n.Line, soak.links, shortDuration(rollout), shortDuration(soak.d))
	}
	p.report(ml, "%s is shorter than what a rollout step may take: rolloutTimeout %s%s: %s; use at least %s, or leave maxDuration out to get that", ml.n.Value, text(w.get("rolloutTimeout"), DefaultRolloutTimeout), why, deadlineReason, shortDuration(soak.need(rollout)))
}

// shortDuration is d as a Go duration without zero minutes or seconds:
// 1h, 20m, 1h30m, 90s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// duration parses the duration at l, or def when l is absent, and
// reports whether it is valid.
func (p *parser) duration(l loc, def string) (time.Duration, bool) {
	if l.n == nil {
		d, err := time.ParseDuration(def)
		return d, err == nil
	}
	v, ok := l.str()
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(v)
	switch {
	case err != nil:
		p.report(l, "%s is not a valid duration: use a Go duration such as 30s, 5m or 1h30m", quote(v))
		return 0, false
	case d <= 0:
		p.report(l, "duration must be greater than 0")
		return 0, false
	}
	return d, true
}

// checkQuantities checks a request and a limit and that the request does
// not exceed the limit, defaults included.
func (p *parser) checkQuantities(req loc, reqDef string, limit loc, limitDef string) {
	r, ok1 := p.quantity(req, reqDef)
	l, ok2 := p.quantity(limit, limitDef)
	switch {
	case !ok1 || !ok2 || r.Cmp(l) <= 0:
	case req.n != nil:
		p.report(req, "request %s is more than the limit %s", req.n.Value, text(limit, limitDef))
	default:
		p.report(limit, "limit %s is less than the request %s", limit.n.Value, text(req, reqDef))
	}
}

// quantity parses the quantity at l, or def when l is absent, and reports
// whether it is valid.
func (p *parser) quantity(l loc, def string) (resource.Quantity, bool) {
	if l.n == nil {
		q, err := resource.ParseQuantity(def)
		return q, err == nil
	}
	v, ok := l.str()
	if !ok {
		return resource.Quantity{}, false
	}
	q, err := resource.ParseQuantity(v)
	switch {
	case err != nil:
		p.report(l, "%s is not a valid quantity: use e.g. 250m or 0.5 for CPU, 128Mi or 1Gi for memory", quote(v))
		return q, false
	case q.Sign() < 0:
		p.report(l, "quantity must not be negative")
		return q, false
	}
	return q, true
}

// text is the value at l as written, or def marked as the default.
func text(l loc, def string) string {
	if l.n == nil {
		return def + " (the default)"
	}
	return l.n.Value
}

// service is a service as the semantic checks see it.
type service struct {
	l       loc
	name    string // "" when not a string
	dupName bool   // the name is a duplicate, already reported
	targets []*target
}

// target is a target as the semantic checks see it: an item of a
// service's targets, or a service without targets, its own one target.
type target struct {
	l      loc
	svc    *service
	legacy bool   // l is the service, which gives no targets
	name   string // the name, default included; "" when unknown
	// nameAt is where the name is written or, for a default name, the
	// target (or the service without targets) that takes it.
	nameAt    loc
	defaulted bool
}

// describe names t for a message.
func (t *target) describe() string {
	if t.name == "" {
		return fmt.Sprintf("the target on line %d", t.l.n.Line)
	}
	return fmt.Sprintf("target %q (line %d)", t.name, t.l.n.Line)
}

// secretUse is the kubeconfig Secret key a cluster name first used, and
// the line of that use.
type secretUse struct {
	secret string
	line   int
}

// targetFields are the fields of a target that a service may give only
// when it has no targets.
var targetFields = []string{"namespace", "deployment", "container", "cluster", "approval", "notify"}

// checkServices checks each service and its targets, that service names,
// images and target names are unique, that no two targets roll the same
// container and that stages are well formed. It returns the longest valid
// soak.
func (p *parser) checkServices(services loc) []soakUse {
	names := map[string]int{}
	images := map[string]int{}
	clusters := map[string]secretUse{}
	var all []*service
	for _, s := range services.items() {
		svc := &service{l: s}
		name := s.get("name")
		p.checkName(name, maxServiceNameLen)
		if v, ok := name.str(); ok {
			svc.name = v
			if line, dup := names[v]; dup {
				p.report(name, "duplicate service name %q (first used on line %d)", v, line)
				svc.dupName = true
			} else {
				names[v] = name.n.Line
			}
		}
		image := s.get("image")
		p.checkImage(image)
		if v, ok := image.str(); ok {
			if line, dup := images[v]; dup {
				p.report(image, "image %q already belongs to the service on line %d: two services with one image would start two Workflows on every push; list the Deployments it rolls as targets of that service", v, line)
			} else {
				images[v] = image.n.Line
			}
		}
		p.checkTagPattern(s.get("tagPattern"))
		p.checkSemverRange(s.get("semverRange"))
		if s.n.Kind != yaml.MappingNode {
			continue
		}
		all = append(all, svc)
		if targets := s.get("targets"); targets.n != nil {
			for _, key := range targetFields {
				if k := s.key(key); k.n != nil {
					p.report(k, "a service with targets takes no %s of its own: give it on each target", key)
				}
			}
			items := targets.items()
			for _, t := range items {
				if t.n.Kind != yaml.MappingNode {
					continue
				}
				tg := &target{l: t, svc: svc}
				nl := t.get("name")
				p.checkName(nl, 0)
				switch v, ok := nl.str(); {
				case ok:
					tg.name, tg.nameAt = v, nl
				case nl.n != nil:
				case len(items) == 1:
					tg.name, tg.nameAt, tg.defaulted = svc.name, loc{t.n, nl.path}, true
				default:
					p.require(t.n, nl.path, []string{nl.path}, "required field missing: each target of a service with several targets needs a name")
				}
				svc.targets = append(svc.targets, tg)
			}
		} else {
			if s.get("namespace").n == nil {
				p.require(s.n, s.path, []string{child(s.path, "namespace"), child(s.path, "targets")},
					"neither namespace nor targets: give the namespace of the Deployment to roll, or list targets")
			}
			svc.targets = []*target{{l: s, svc: svc, legacy: true, name: svc.name, nameAt: name, defaulted: true}}
		}
		for _, t := range svc.targets {
			p.checkTarget(t, clusters)
		}
	}
	byName := p.checkTargetNames(all)
	p.checkContainers(all)
	var chains []soakUse
	for _, svc := range all {
		chains = append(chains, p.checkStages(svc, byName)...)
	}
	return chains
}

// checkTarget checks the fields of target t; clusters holds the
// kubeconfig each cluster name used first.
func (p *parser) checkTarget(t *target, clusters map[string]secretUse) {
	for _, key := range []string{"deployment", "namespace", "container"} {
		p.checkName(t.l.get(key), 0)
	}
	if ns, ok := t.l.get("namespace").str(); ok && ns == systemNamespace {
		p.warn(t.l.get("namespace"), "the target is in %s: the rollout account may patch its Deployment there, beside the cluster's own components", systemNamespace)
	}
	if !t.legacy {
		p.checkTagPattern(t.l.get("tagPattern"))
		p.checkSemverRange(t.l.get("semverRange"))
	}
	p.checkCluster(t.l.get("cluster"), clusters)
	p.checkPolicy(t)
}

// checkCluster checks cluster l and that its name always uses the same
// kubeconfig, recorded in clusters.
func (p *parser) checkCluster(l loc, clusters map[string]secretUse) {
	cname, secret := l.get("name"), l.get("kubeconfigSecret")
	p.checkName(cname, 0)
	p.checkSecretRef(secret)
	cn, ok1 := cname.str()
	if ok1 && cn == LocalCluster {
		p.report(cname, "%q names the cluster the pipeline runs in, in locks and logs: give the other cluster another name", cn)
		return
	}
	sn, ok2 := secret.get("name").str()
	sk, ok3 := secret.get("key").str()
	if !ok1 || !ok2 || !ok3 {
		return
	}
	use := secretUse{fmt.Sprintf("Secret %q key %q", sn, sk), cname.n.Line}
	if first, seen := clusters[cn]; !seen {
		clusters[cn] = use
	} else if first.secret != use.secret {
		p.report(cname, "cluster %q already uses the kubeconfig in %s (line %d): one cluster name must always use the same kubeconfig", cn, first.secret, first.line)
	}
}

// checkSemverRange checks that l is a semantic version constraint.
func (p *parser) checkSemverRange(l loc) {
	v, ok := l.str()
	if !ok {
		return
	}
	if _, err := semver.NewConstraint(v); err != nil {
		p.report(l, "%s is not a semver range: use e.g. ^1.2, ~1.4.0 or >=1.0.0 <2.0.0", quote(v))
	}
}

// policyOf is the policy target t follows, the target's else its
// service's else the default, and where it is written (l.n is nil for
// the default); ok is false when the policy written is invalid.
func policyOf(t *target) (policy string, l loc, ok bool) {
	for _, l := range []loc{t.l.get("policy"), t.svc.l.get("policy")} {
		if l.n != nil {
			v, isString := l.str()
			return v, l, isString && (v == PolicyPublishTime || v == PolicySemver)
		}
	}
	return PolicyPublishTime, loc{}, true
}

// checkPolicy checks that the semverRange target t takes, its own or its
// service's, comes with policy semver.
func (p *parser) checkPolicy(t *target) {
	policy, at, ok := policyOf(t)
	if !ok || policy == PolicySemver {
		return
	}
	how := policy + " (the default)"
	if at.n != nil {
		how = fmt.Sprintf("%q (line %d)", policy, at.n.Line)
	}
	if r := t.l.get("semverRange"); r.n != nil {
		if !p.reported[r.path] {
			p.report(r, "semverRange needs policy semver, and the policy here is %s: set policy: semver, or remove semverRange", how)
		}
	} else if r := t.svc.l.get("semverRange"); r.n != nil && !p.reported[r.path] {
		p.report(r, "semverRange needs policy semver, and %s takes it with policy %s: set policy: semver, or give semverRange on the targets that use semver", t.describe(), how)
	}
}

// checkTargetNames checks that target names, default ones included, are
// unique in the mapping, and returns the targets by name.
func (p *parser) checkTargetNames(all []*service) map[string]*target {
	byName := map[string]*target{}
	for _, svc := range all {
		for _, t := range svc.targets {
			if t.name == "" || t.defaulted && svc.dupName {
				continue
			}
			first, dup := byName[t.name]
			if !dup {
				byName[t.name] = t
				continue
			}
			where := fmt.Sprintf("line %d", first.nameAt.n.Line)
			if first.defaulted {
				where += fmt.Sprintf(", by the one target of service %q, named after it", first.svc.name)
			}
			if t.defaulted {
				p.report(t.nameAt, "the one target of service %q is named %q after it, a target name already used (%s): target names are unique in the mapping", svc.name, t.name, where)
			} else {
				p.report(t.nameAt, "duplicate target name %q (first used on %s)", t.name, where)
			}
		}
	}
	return byName
}

// container identifies the container a target rolls.
type container struct {
	cluster, namespace, deployment, name string
}

// containerOf is the container target t rolls, defaults included; ok is
// false when a field is missing or not a string, or when the Deployment
// is named after a service whose name is a duplicate, already reported.
func containerOf(t *target) (c container, ok bool) {
	field := func(key, def string) string {
		l := t.l.get(key)
		if l.n == nil {
			return def
		}
		v, isString := l.str()
		ok = ok && isString
		return v
	}
	ok = true
	c.namespace = field("namespace", "")
	if t.svc.dupName && t.l.get("deployment").n == nil {
		return c, false
	}
	c.deployment = field("deployment", t.svc.name)
	c.name = field("container", c.deployment)
	if cl := t.l.get("cluster"); cl.n != nil {
		name, isString := cl.get("name").str()
		c.cluster, ok = "cluster "+strconv.Quote(name), ok && isString
	} else {
		c.cluster = "the local cluster"
	}
	return c, ok && c.namespace != "" && c.deployment != "" && c.name != ""
}

// checkContainers checks that no two targets roll the same container.
func (p *parser) checkContainers(all []*service) {
	seen := map[container]*target{}
	for _, svc := range all {
		for _, t := range svc.targets {
			c, ok := containerOf(t)
			if !ok {
				continue
			}
			if first, dup := seen[c]; dup {
				p.report(t.l, "rolls container %q of Deployment %q in namespace %q (%s), as %s does: a container runs one image, so only one target may roll it", c.name, c.deployment, c.namespace, c.cluster, first.describe())
			} else {
				seen[c] = t
			}
		}
	}
}

// checkStages checks the after and soak fields of the targets of svc:
// after names another target of svc, without cycles, and soak comes with
// after. byName holds every target of the mapping by name. It returns the
// stage chain of each target that waits, when there is no cycle.
func (p *parser) checkStages(svc *service, byName map[string]*target) []soakUse {
	local := map[string]int{} // the service's targets by name
	var names []string
	for i, t := range svc.targets {
		if _, dup := local[t.name]; t.name != "" && !dup {
			local[t.name] = i
			names = append(names, t.name)
		}
	}
	next := make([]int, len(svc.targets))            // the target each waits for, or -1
	soaks := make([]time.Duration, len(svc.targets)) // and its soak
	for i, t := range svc.targets {
		next[i] = -1
		if t.legacy {
			continue
		}
		after, soak := t.l.get("after"), t.l.get("soak")
		v, ok := after.str()
		j, inService := local[v]
		other, named := byName[v]
		switch {
		case !ok || v == "":
		case v == t.name:
			p.report(after, "a target cannot come after itself: name another target of service %q", svc.name)
		case inService:
			next[i] = j
		case named:
			p.report(after, "%q is a target of service %q (line %d): after names a target of the same service, which receives the same image", v, other.svc.name, other.nameAt.n.Line)
		default:
			msg := fmt.Sprintf("no target %q in service %q: after names another target of the same service", v, svc.name)
			if s := suggest(v, names); s != "" && s != t.name {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			p.report(after, "%s", msg)
		}
		switch {
		case soak.n == nil:
		case after.n == nil:
			p.report(soak, "soak needs after: it is how long the target named by after must have run a digest healthily before this one receives it")
		default:
			if d, ok := p.duration(soak, ""); ok {
				soaks[i] = d
			}
		}
	}
	// Each target waits for at most one: follow the chains, and report a
	// cycle at the after of its last target in the file, which closes it.
	const (
		unvisited = iota
		onPath
		done
	)
	state := make([]int, len(next))
	cycles := false
	for i := range next {
		var path []int
		j := i
		for ; j >= 0 && state[j] == unvisited; j = next[j] {
			state[j] = onPath
			path = append(path, j)
		}
		if j >= 0 && state[j] == onPath {
			cycle := path[slices.Index(path, j):]
			last := slices.Max(cycle)
			p.report(svc.targets[last].l.get("after"), "closes a cycle: %s, so none of them would ever receive an image", cycleText(svc.targets, next, last))
			cycles = true
		}
		for _, k := range path {
			state[k] = done
		}
	}
	if cycles {
		return nil
	}
	var chains []soakUse
	for i := range next {
		if next[i] < 0 {
			continue
		}
		c := soakUse{l: svc.targets[i].l.get("after")}
		for j := i; next[j] >= 0; j = next[j] {
			c.links++
			c.d += soaks[j]
		}
		chains = append(chains, c)
	}
	return chains
}

// cycleText describes the cycle of targets through last: "c waits for
// b, which waits for a, which waits for c".
func cycleText(targets []*target, next []int, last int) string {
	var b strings.Builder
	b.WriteString(targets[last].name)
	for k := last; ; {
		k = next[k]
		fmt.Fprintf(&b, " waits for %s", targets[k].name)
		if k == last {
			return b.String()
		}
		b.WriteString(", which")
	}
}

var (
	imageRE     = regexp.MustCompile(`^(localhost|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+)(:[0-9]+)?(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)+$`)
	imageHostRE = regexp.MustCompile(`^(localhost|[^/]*[.:][^/]*)/`)
)

// checkImage checks that l is a full repository path without tag or
// digest, and that the pushes to it reach the pipeline's topic: an
// Artifact Registry or Container Registry image of the topic's project
// (they publish to the gcr topic of the repository's own project), named
// beyond its repository. Another registry is warned about: nothing
// publishes its pushes unless the team does.
func (p *parser) checkImage(l loc) {
	v, ok := l.str()
	if !ok {
		return
	}
	if imageRE.MatchString(v) {
		p.checkImageRegistry(l, v)
		return
	}
	last := v[strings.LastIndex(v, "/")+1:]
	switch {
	case strings.Contains(v, "@"):
		p.report(l, "%s has a digest: give the repository only, the pushed digest is what gets deployed", quote(v))
	case strings.Contains(last, ":"):
		p.report(l, "%s has a tag: give the repository only and select tags with tagPattern", quote(v))
	case strings.ToLower(v) != v:
		p.report(l, "%s must be lowercase", quote(v))
	case !imageHostRE.MatchString(v):
		p.report(l, "%s has no registry host: give the full path, e.g. us-east1-docker.pkg.dev/my-project/my-repo/app", quote(v))
	default:
		p.report(l, "%s is not a valid repository path, e.g. us-east1-docker.pkg.dev/my-project/my-repo/app", quote(v))
	}
}

// checkImageRegistry checks the registry, project and path of image v at l.
func (p *parser) checkImageRegistry(l loc, v string) {
	parts := strings.Split(v, "/")
	host := parts[0]
	var project string
	minParts := 0
	switch {
	case strings.HasSuffix(host, "-docker.pkg.dev"):
		project, minParts = parts[1], 4 // LOCATION-docker.pkg.dev/PROJECT/REPOSITORY/IMAGE
	case host == "gcr.io" || strings.HasSuffix(host, ".gcr.io"):
		project, minParts = parts[1], 3 // [REGION.]gcr.io/PROJECT/IMAGE
	default:
		p.warn(l, "%s is not in Artifact Registry (LOCATION-docker.pkg.dev) or Container Registry (gcr.io): neither publishes its pushes to the gcr topic, so only the reconcile loop, or a publisher of your own, will find them", host)
		return
	}
	switch {
	case len(parts) < minParts:
		p.report(l, "%s names a repository, not an image: add the image name, e.g. %s/app", quote(v), v)
	case p.topicProject != "" && project != p.topicProject:
		p.report(l, "%s is in project %s, but the pipeline reads the gcr topic of project %s: a registry publishes its pushes to the topic of its own project, so none would arrive (one pipeline per registry project, or gcp.topicProject)", quote(v), project, p.topicProject)
	}
}

// backreference finds a backreference, which Go's regexp parser refuses
// as an invalid escape (\1, \k<name>, \g{1}) or Perl syntax ((?P=name)).
var backreference = regexp.MustCompile(`\\[1-9][0-9]*|\\k[<{'][^>}']*[>}']|\\g\{?-?[0-9]+\}?|\(\?P=[^)]*\)`)

// checkTagPattern checks that l compiles as a Go regexp, alone and
// anchored the way the renderer uses it. Parsing with regexp.Compile's
// flags finds every error it would, without building a matcher; each
// distinct pattern is parsed once.
func (p *parser) checkTagPattern(l loc) {
	v, ok := l.str()
	if !ok {
		return
	}
	if strings.Contains(v, "{{") {
		return // checkUnsafeText says why
	}
	err, seen := p.patterns[v]
	if !seen {
		var re *syntax.Regexp
		re, err = syntax.Parse(v, syntax.Perl)
		if err == nil {
			_, err = syntax.Parse("^(?:"+v+")$", syntax.Perl)
		}
		if err == nil {
			if why := neverATag(re); why != "" {
				err = errors.New(why)
			}
		}
		p.patterns[v] = err
	}
	if err == nil {
		return
	}
	var se *syntax.Error
	if errors.As(err, &se) {
		if ref := backreference.FindString(v); ref != "" && (se.Code == syntax.ErrInvalidEscape || se.Code == syntax.ErrInvalidPerlOp) {
			p.report(l, "`%s` is a backreference: Go regular expressions (RE2) have none, so the pattern never compiles; spell the repeated part out", ref)
			return
		}
		p.report(l, "invalid regular expression: %s: `%s`", se.Code, se.Expr)
		return
	}
	p.report(l, "%s can never match a tag: %v", quote(v), err)
}

var mappingSchema = sync.OnceValues(func() (*gojsonschema.Schema, error) {
	return gojsonschema.NewSchema(gojsonschema.NewBytesLoader(schemas.ServiceMapping))
})

// schemaErrors records the errors of the schema validation r of the
// mapping whose root node is root.
func (p *parser) schemaErrors(root *yaml.Node, r schemaResult) {
	if r.err != nil {
		p.add(root, "", "internal error: schema validation: %v", r.err)
		return
	}
	errs := r.result.Errors()
	// Unknown fields first: their suggestions silence the "required"
	// errors they cause.
	sort.SliceStable(errs, func(i, j int) bool {
		return errs[i].Type() == "additional_property_not_allowed" && errs[j].Type() != "additional_property_not_allowed"
	})
	for _, e := range errs {
		p.schemaError(root, e)
	}
}

// schemaResult is the verdict of the mapping's JSON Schema.
type schemaResult struct {
	result *gojsonschema.Result
	err    error
}

// validateSchema validates value, a mapping decoded from YAML, against the
// mapping's JSON Schema.
func validateSchema(value any) schemaResult {
	s, err := mappingSchema()
	if err != nil {
		return schemaResult{err: err}
	}
	res, err := s.Validate(schema.Loader(value))
	return schemaResult{res, err}
}

// schemaError records e, located in root, in words a person understands.
func (p *parser) schemaError(root *yaml.Node, e gojsonschema.ResultError) {
	segs := strings.Split(e.Context().String("\x00"), "\x00")[1:]
	n, key, path := locate(root, segs)
	prop := fmt.Sprint(e.Details()["property"])
	at := n
	if key != nil && (n.ShortTag() == "!!null" || e.Type() == "required") {
		at = key
	}
	var msg string
	switch e.Type() {
	case "additional_property_not_allowed":
		field := child(path, prop)
		if p.reported[field] {
			return
		}
		msg = fmt.Sprintf("unknown field %q", prop)
		if s := suggest(prop, knownFields(segs)); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
			p.suggested[child(path, s)] = true
		}
		p.add(cmp.Or(yamlnode.KeyNode(n, prop), n), field, "%s", msg)
		return
	case "required":
		field := child(path, prop)
		if !p.suggested[field] && !p.reported[field] {
			p.add(at, field, "required field missing")
		}
		return
	case "invalid_property_name":
		p.add(cmp.Or(yamlnode.KeyNode(n, prop), n), child(path, prop), "invalid key %s: use letters, digits, '-', '_' or '.', starting with a letter or digit, at most 253 characters", quote(prop))
		return
	case "number_all_of", "number_any_of", "number_one_of":
		return
	case "invalid_type":
		msg = typeMessage(n, fmt.Sprint(e.Details()["expected"]))
	case "const", "enum":
		msg = fmt.Sprintf("must be %s, not %s", strings.ReplaceAll(fmt.Sprint(e.Details()["allowed"]), ", ", " or "), quote(n.Value))
	case "array_min_items":
		msg = "must not be empty"
	case "string_gte":
		msg = fmt.Sprintf("must be at least %v characters long", e.Details()["min"])
	case "string_lte":
		msg = fmt.Sprintf("%s is too long: %d characters, at most %v allowed", quote(n.Value), utf8.RuneCountInString(n.Value), e.Details()["max"])
	case "pattern":
		pattern := fmt.Sprint(e.Details()["pattern"])
		help, ok := patternHelp[pattern]
		if !ok {
			help = "must match " + pattern
		}
		msg = quote(n.Value) + " " + help
	case "number_gte":
		msg = fmt.Sprintf("must be at least %v, not %s", e.Details()["min"], n.Value)
	case "number_lte":
		msg = fmt.Sprintf("must be at most %v, not %s", e.Details()["max"], n.Value)
	default:
		msg = e.Description()
	}
	if n.Kind != yaml.ScalarNode && e.Type() != "invalid_type" && e.Type() != "array_min_items" {
		// A constraint on a key (propertyNames), already reported.
		return
	}
	if !p.reported[path] {
		p.add(at, path, "%s", msg)
	}
}

// typeMessage says that n is not of the expected JSON Schema type.
func typeMessage(n *yaml.Node, expected string) string {
	names := map[string]string{
		"object": "a mapping", "array": "a list", "string": "a string",
		"integer": "an integer", "number": "a number", "boolean": "a boolean",
	}
	want := names[expected]
	if want == "" {
		want = expected
	}
	got := describe(n)
	switch {
	case got == "empty":
		return "must be " + want + ", but is empty"
	case expected == "string" && n.Kind == yaml.ScalarNode:
		return fmt.Sprintf("must be a string, not %s: quote it (%q)", got, n.Value)
	case expected == "integer" && isString(n):
		if _, err := strconv.Atoi(n.Value); err == nil {
			return fmt.Sprintf("must be an integer, not a string: remove the quotes (%s)", n.Value)
		}
		return fmt.Sprintf("must be an integer, not a string (%s)", quote(n.Value))
	}
	return fmt.Sprintf("must be %s, not %s", want, got)
}

// patternHelp explains each pattern of the schema.
var patternHelp = map[string]string{
	`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`:                                             "is not a DNS label: lowercase letters, digits and '-', starting and ending with a letter or digit",
	`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`:           "is not a DNS subdomain: dot-separated lowercase letters, digits and '-'",
	`^([a-z][-.a-z0-9]*[a-z0-9]:)?[a-z][-a-z0-9]{4,28}[a-z0-9]$`:                  "is not a GCP project ID: 6 to 30 lowercase letters, digits or '-', starting with a letter and not ending with '-'",
	`^[A-Za-z][-A-Za-z0-9._~%+]{2,254}$`:                                          "is not a Pub/Sub ID: 3 to 255 letters, digits or -._~%+, starting with a letter",
	`^[a-z0-9-]+@[a-z0-9-]+\.iam\.gserviceaccount\.com$`:                          "is not a service account email such as argodeploy@my-project.iam.gserviceaccount.com",
	`^[0-9A-Za-z][-._0-9A-Za-z]*$`:                                                "is not a version such as 2.10.29",
	`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`:                                   "is not a Go duration such as 30s, 5m or 1h30m",
	`^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?$`: "is not a quantity such as 250m, 0.5, 128Mi or 1Gi",
	`^[-._a-zA-Z0-9]+$`:                                                           "must consist of letters, digits, '-', '_' or '.'",
	`^[A-Za-z0-9][-._A-Za-z0-9]*$`:                                                "must consist of letters, digits, '-', '_' or '.', starting with a letter or digit",
	`^[^\n\r]*$`:                                                                  "must be a single line",
	imageRE.String():                                                              "is not a full repository path without tag or digest, e.g. us-east1-docker.pkg.dev/my-project/my-repo/app",
	pinnedImageRE.String():                                                        "is not an image reference pinned by tag or digest, such as " + DefaultImage,
}

// locate follows the JSON path segs from root as far as it exists and
// returns the node reached, its key node if it is a mapping value, and its
// field path.
func locate(root *yaml.Node, segs []string) (n, key *yaml.Node, path string) {
	n, key, followed := yamlnode.Follow(root, segs)
	parent := root
	for _, s := range segs[:followed] {
		if parent.Kind == yaml.SequenceNode {
			i, _ := strconv.Atoi(s)
			parent, path = parent.Content[i], index(path, i)
		} else {
			parent, path = loc{n: parent}.get(s).n, child(path, s)
		}
	}
	return n, key, path
}

// knownFields lists the fields of the struct at the JSON path segs.
func knownFields(segs []string) []string {
	t := reflect.TypeFor[ServiceMapping]()
	for _, s := range segs {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch t.Kind() {
		case reflect.Slice, reflect.Map:
			t = t.Elem()
		case reflect.Struct:
			f, ok := fieldByJSON(t, s)
			if !ok {
				return nil
			}
			t = f.Type
		default:
			return nil
		}
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var names []string
	for f := range t.Fields() {
		names = append(names, jsonName(f))
	}
	return names
}

// fieldByJSON returns the field of struct t named name in JSON.
func fieldByJSON(t reflect.Type, name string) (reflect.StructField, bool) {
	for f := range t.Fields() {
		if jsonName(f) == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// jsonName is the JSON name of f.
func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" {
		return f.Name
	}
	return name
}

// suggest returns the known field closest to name, if it is close enough
// to be a typo.
func suggest(name string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		d := distance(strings.ToLower(name), strings.ToLower(k))
		if d < bestDist && d*3 <= len(k) {
			best, bestDist = k, d
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := range ra {
		cur := make([]int, len(rb)+1)
		cur[0] = i + 1
		for j := range rb {
			cost := 1
			if ra[i] == rb[j] {
				cost = 0
			}
			cur[j+1] = min(prev[j+1]+1, cur[j]+1, prev[j]+cost)
		}
		prev = cur
	}
	return prev[len(rb)]
}

// decode decodes value, already validated, into a ServiceMapping, as
// encoding/json would decode value's JSON (TestDecodeMatchesJSON), but
// without writing it out.
func decode(value any) (*ServiceMapping, error) {
	u, ok := value.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("internal error: decoding the validated mapping: %T is not a mapping", value)
	}
	var m ServiceMapping
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u, &m, true); err != nil {
		return nil, fmt.Errorf("internal error: decoding the validated mapping: %w", err)
	}
	return &m, nil
}
