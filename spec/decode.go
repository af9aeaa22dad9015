package spec

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"gopkg.in/yaml.v3"
)

// MaxAliasExpansion is how many values aliases may add to a document when
// they are expanded. Beyond it Load fails rather than expanding an alias
// bomb.
const MaxAliasExpansion = 10000

// decoder decodes a yaml.v3 node tree into the model, following the `yaml`
// struct tags, and collects every problem instead of stopping at the
// first. It records the node of every path it decodes so that later
// checks can report positions.
type decoder struct {
	file string
	errs []*Error
	// failed holds the paths whose value could not be decoded; checks on
	// the model skip them and their children.
	failed map[string]bool
	// values and keys map a logical path to the node of its value and of
	// its mapping key.
	values map[string]*yaml.Node
	keys   map[string]*yaml.Node
	// budget is how many more nodes may be decoded, aliases included.
	budget    int
	exhausted bool
	// expanding holds the anchors being expanded, to reject an alias that
	// refers to the node that contains it.
	expanding map[*yaml.Node]bool
}

func newDecoder(file string, root *yaml.Node) *decoder {
	return &decoder{
		file:      file,
		failed:    map[string]bool{},
		values:    map[string]*yaml.Node{},
		keys:      map[string]*yaml.Node{},
		budget:    countNodes(root) + MaxAliasExpansion,
		expanding: map[*yaml.Node]bool{},
	}
}

// countNodes counts the nodes of a tree without following aliases.
func countNodes(n *yaml.Node) int {
	c := 1
	for _, child := range n.Content {
		c += countNodes(child)
	}
	return c
}

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	d.failed[path] = true
	e := &Error{File: d.file, Path: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Col = n.Line, n.Column
	}
	d.errs = append(d.errs, e)
}

// fieldInfo describes a struct field decoded from a mapping key.
type fieldInfo struct {
	index int
	// text fields may hold several lines (file content, a verbatim unit).
	text bool
}

type structInfo struct {
	fields map[string]fieldInfo
	keys   []string
}

var structInfos sync.Map // reflect.Type -> *structInfo

func infoOf(t reflect.Type) *structInfo {
	if si, ok := structInfos.Load(t); ok {
		return si.(*structInfo)
	}
	si := &structInfo{fields: map[string]fieldInfo{}}
	for i := range t.NumField() {
		f := t.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if key == "" || key == "-" {
			continue
		}
		si.fields[key] = fieldInfo{index: i, text: f.Tag.Get("spec") == "text"}
		si.keys = append(si.keys, key)
	}
	structInfos.Store(t, si)
	return si
}

var modeType = reflect.TypeFor[Mode]()

// decode decodes n into v, which is addressable, at the logical path.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string, text bool) {
	if d.budget <= 0 {
		if !d.exhausted {
			d.exhausted = true
			d.errorf(n, path, "aliases expand to more than %d values; write the values out", MaxAliasExpansion)
		}
		d.failed[path] = true
		return
	}
	d.budget--
	if _, ok := d.values[path]; !ok {
		d.values[path] = n
	}
	if n.Kind == yaml.AliasNode {
		target := n.Alias
		if target == nil {
			d.errorf(n, path, "unknown alias *%s", n.Value)
			return
		}
		if d.expanding[target] {
			d.errorf(n, path, "alias *%s refers to a value that contains it", n.Value)
			return
		}
		d.expanding[target] = true
		defer delete(d.expanding, target)
		n = target
	}

	if v.Type() == modeType {
		d.decodeMode(n, v, path)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if isNull(n) {
			v.SetZero()
			return
		}
		p := reflect.New(v.Type().Elem())
		d.decode(n, p.Elem(), path, text)
		v.Set(p)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		d.decodeSlice(n, v, path)
	case reflect.Map:
		d.decodeMap(n, v, path)
	case reflect.String:
		if s, ok := d.scalar(n, path, text); ok {
			v.SetString(s)
		}
	case reflect.Bool:
		d.decodeBool(n, v, path)
	case reflect.Int:
		d.decodeInt(n, v, path)
	default:
		panic(fmt.Sprintf("spec: cannot decode into %s", v.Type()))
	}
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// kindName names the kind of a node for messages.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.DocumentNode:
		return "a document"
	}
	switch n.ShortTag() {
	case "!!null":
		return "null"
	case "!!bool":
		return "a boolean"
	case "!!int", "!!float":
		return "a number"
	}
	return "a string"
}

// scalar returns the text of a scalar as written, so that 0640 stays
// "0640" and 1.10 stays "1.10". Null is the empty string.
func (d *decoder) scalar(n *yaml.Node, path string, text bool) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, path, "expected a string, got %s", kindName(n))
		return "", false
	}
	switch n.ShortTag() {
	case "!!null":
		return "", true
	case "!!str", "!!int", "!!float", "!!bool", "!!timestamp":
	default:
		d.errorf(n, path, "unsupported tag %s", n.Tag)
		return "", false
	}
	s := n.Value
	if len(s) > MaxValueSize {
		d.errorf(n, path, "is longer than %d bytes", MaxValueSize)
		return "", false
	}
	if !text {
		if i := strings.IndexFunc(s, unicode.IsControl); i >= 0 {
			r := []rune(s[i:])[0]
			d.errorf(n, path, "must not contain control character %s", strconv.QuoteRune(r))
			return "", false
		}
	}
	return s, true
}

func (d *decoder) decodeBool(n *yaml.Node, v reflect.Value, path string) {
	d.typedScalar(n, path, "!!bool", "true or false", func(s string) bool {
		b, err := strconv.ParseBool(s)
		v.SetBool(b)
		return err == nil
	})
}

func (d *decoder) decodeInt(n *yaml.Node, v reflect.Value, path string) {
	d.typedScalar(n, path, "!!int", "a whole number", func(s string) bool {
		i, err := strconv.ParseInt(s, 10, 32)
		v.SetInt(i)
		return err == nil
	})
}

// typedScalar decodes a scalar of YAML type tag with set, which reports
// whether the text was valid; null leaves the zero value, and anything
// else is an error saying what was expected.
func (d *decoder) typedScalar(n *yaml.Node, path, tag, what string, set func(string) bool) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, path, "expected %s, got %s", what, kindName(n))
		return
	}
	switch n.ShortTag() {
	case "!!null":
		return
	case tag:
		if set(n.Value) {
			return
		}
	}
	d.errorf(n, path, "must be %s, got %q", what, n.Value)
}

func (d *decoder) decodeMode(n *yaml.Node, v reflect.Value, path string) {
	s, ok := d.scalar(n, path, false)
	if !ok || s == "" {
		return
	}
	m, err := ParseMode(s)
	if err != nil {
		d.errorf(n, path, "%v", err)
		return
	}
	v.SetUint(uint64(m))
}

// pairs returns the key and value nodes of a mapping, reporting keys that
// are not strings, merge keys and duplicate keys, which it leaves out.
func (d *decoder) pairs(n *yaml.Node, path string) (keys []string, knodes, vnodes []*yaml.Node) {
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.AliasNode && k.Alias != nil {
			k = k.Alias
		}
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, path, "mapping keys must be strings, got %s", kindName(k))
			continue
		}
		if k.Tag == "!!merge" {
			d.errorf(k, path, "merge keys (<<) are not supported")
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.errorf(k, joinKey(path, k.Value), "duplicate key %q (first at line %d)", k.Value, first.Line)
			continue
		}
		seen[k.Value] = k
		keys = append(keys, k.Value)
		knodes = append(knodes, k)
		vnodes = append(vnodes, val)
	}
	return keys, knodes, vnodes
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "expected a mapping, got %s", kindName(n))
		return
	}
	si := infoOf(v.Type())
	keys, knodes, vnodes := d.pairs(n, path)
	for i, key := range keys {
		p := joinField(path, key)
		f, ok := si.fields[key]
		if !ok {
			msg := fmt.Sprintf("unknown key %q", key)
			if s := suggest(key, si.keys); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			d.errorf(knodes[i], p, "%s", msg)
			continue
		}
		d.keys[p] = knodes[i]
		if fv := v.Field(f.index); fv.Kind() == reflect.String && !f.text && emptyScalar(vnodes[i]) {
			// An empty name is not "no name": user: "" would run a
			// service as root. Leaving the key out says "default".
			d.errorf(vnodes[i], p, "must not be empty: leave %s out for its default", key)
			continue
		}
		d.decode(vnodes[i], v.Field(f.index), p, f.text)
	}
}

// emptyScalar reports whether n is a scalar with no text: "", ” or null.
func emptyScalar(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n.Kind == yaml.ScalarNode && n.Value == "" && (isNull(n) || n.ShortTag() == "!!str")
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, path string) {
	if isNull(n) {
		v.SetZero()
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, path, "expected a list, got %s", kindName(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		p := indexPath(path, i)
		d.decode(item, s.Index(i), p, false)
		if d.failed[p] && s.Index(i).Kind() == reflect.String {
			// Checks on the list as a whole would see a hole.
			d.failed[path] = true
		}
	}
	v.Set(s)
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if isNull(n) {
		v.SetZero()
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "expected a mapping, got %s", kindName(n))
		return
	}
	m := reflect.MakeMap(v.Type())
	keys, knodes, vnodes := d.pairs(n, path)
	for i, key := range keys {
		p := joinKey(path, key)
		d.keys[p] = knodes[i]
		val := reflect.New(v.Type().Elem()).Elem()
		d.decode(vnodes[i], val, p, false)
		if d.failed[p] {
			d.failed[path] = true
		}
		m.SetMapIndex(reflect.ValueOf(key), val)
	}
	v.Set(m)
}

// joinField appends a struct field to a path: "services[0]" + "restart".
func joinField(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// joinKey appends a map key to a path, quoting keys that would make the
// path ambiguous: environment.RBENV_ROOT, environment["A B"].
func joinKey(path, key string) string {
	plain := key != ""
	for _, r := range key {
		if !(r == '_' || r == '-' || r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r))) {
			plain = false
			break
		}
	}
	if plain {
		return joinField(path, key)
	}
	return path + "[" + strconv.Quote(key) + "]"
}

// parentPath strips the last element of a logical path.
func parentPath(path string) string {
	if strings.HasSuffix(path, `"]`) {
		if i := strings.LastIndex(path, `["`); i >= 0 {
			return path[:i]
		}
	}
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// suggest returns the known key closest to key, or "" when none is close:
// the same key with other case and underscores (WorkingDirectory for
// working_directory), or one at most two edits away.
func suggest(key string, known []string) string {
	norm := func(s string) string { return strings.ToLower(strings.ReplaceAll(s, "_", "")) }
	for _, k := range known {
		if norm(k) == norm(key) {
			return k
		}
	}
	best, bestDist := "", 3
	for _, k := range known {
		if len(k) > len(key)+2 || len(key) > len(k)+2 {
			continue
		}
		if dist := editDistance(key, k); dist < bestDist && dist < len(key) {
			best, bestDist = k, dist
		}
	}
	return best
}

// editDistance is the Levenshtein distance between two short strings.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
