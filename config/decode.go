package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// pos is a 1-based line and column in the file.
type pos struct{ line, col int }

// decoder walks the YAML syntax tree next to the Go value it fills, so every
// problem (unknown key, wrong type, bad duration) is reported at its own
// position and the walk goes on to find the next one.
type decoder struct {
	file string
	errs ErrorList
	// seen maps a key path ("routes[0].upstream.url") to the position of the
	// value the file gave for it. A key missing from seen was not written
	// (or was null), which is how defaults tell "absent" from "explicit 0".
	seen map[string]pos
	// bad holds key paths whose value could not be read; validation stays
	// quiet about them so one mistake gives one message.
	bad     map[string]bool
	anchors []anchorDef
	env     func(string) (string, bool)
	dropped int // problems not kept once maxCollected was reached
	// via, when set, is the alias or merge key being decoded through.
	via *pos
	// open holds the collections being decoded, to refuse an alias that
	// points back into its own node (it would recurse without end).
	open map[ast.Node]bool
}

// Bounds on the problems kept: aliases can repeat one bad value many times.
const (
	maxCollected = 10000
	maxReported  = 100
)

type anchorDef struct {
	name   string
	offset int
	value  ast.Node
}

func newDecoder(file string, env func(string) (string, bool)) *decoder {
	return &decoder{file: file, seen: map[string]pos{}, bad: map[string]bool{}, open: map[ast.Node]bool{}, env: env}
}

// errorAt reports that the value at path could not be read.
func (d *decoder) errorAt(p pos, path, format string, args ...any) {
	d.bad[path] = true
	d.report(p, path, format, args...)
}

// report records a problem without marking path unreadable (unknown or
// duplicate keys: the mapping itself is still usable).
func (d *decoder) report(p pos, path, format string, args ...any) {
	if len(d.errs) >= maxCollected {
		d.dropped++
		return
	}
	if d.via != nil {
		p = *d.via
	}
	msg := fmt.Sprintf(format, clipArgs(args)...)
	if path != "" {
		msg = path + ": " + msg
	}
	d.errs = append(d.errs, &Error{File: d.file, Line: p.line, Col: p.col, Msg: msg})
}

// maxShown bounds how much of a value a message repeats.
const maxShown = 100

// clip shortens a long value for a message.
func clip(s string) string {
	if len(s) <= maxShown {
		return s
	}
	cut := maxShown - 20
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// composed is a message already built from clipped parts.
type composed string

func clipArgs(args []any) []any {
	for i, a := range args {
		if s, ok := a.(string); ok {
			args[i] = clip(s)
		}
	}
	return args
}

// nodePos is where a node starts; never less than 1:1.
func nodePos(n ast.Node) pos {
	switch m := n.(type) {
	case *ast.MappingNode:
		if len(m.Values) > 0 {
			return nodePos(m.Values[0])
		}
	case *ast.MappingValueNode:
		return nodePos(m.Key)
	case *ast.LiteralNode:
		if m.Start != nil {
			return tokenPos(m.Start.Position)
		}
	}
	if n == nil || reflect.ValueOf(n).IsNil() {
		return pos{1, 1}
	}
	tk := n.GetToken()
	if tk == nil {
		return pos{1, 1}
	}
	return tokenPos(tk.Position)
}

func tokenPos(tp *token.Position) pos {
	if tp == nil {
		return pos{1, 1}
	}
	return pos{max(tp.Line, 1), max(tp.Column, 1)}
}

// collectAnchors records every &anchor in file order, so an alias can find
// the latest anchor of its name defined before it, even one that sits
// under a key the decoder rejects.
func (d *decoder) collectAnchors(root ast.Node) {
	ast.Walk(anchorVisitor{d}, root)
}

type anchorVisitor struct{ d *decoder }

func (v anchorVisitor) Visit(n ast.Node) ast.Visitor {
	if a, ok := n.(*ast.AnchorNode); ok && a.Name != nil && a.Start != nil {
		v.d.anchors = append(v.d.anchors, anchorDef{
			name:   a.Name.GetToken().Value,
			offset: a.Start.Position.Offset,
			value:  a.Value,
		})
	}
	return v
}

// resolve looks through anchors, tags and aliases. It returns the node that
// holds the value and the position to report problems at: the alias when
// the value came through one, so the user sees the line they wrote.
func (d *decoder) resolve(path string, n ast.Node) (ast.Node, pos, bool) {
	p := nodePos(n)
	viaAlias := false
	for hops := 0; hops < 64; hops++ {
		switch m := n.(type) {
		case *ast.AnchorNode:
			n = m.Value
		case *ast.TagNode:
			n = m.Value
		case *ast.AliasNode:
			target := d.lookupAnchor(m)
			if target == nil {
				name := ""
				if m.Value != nil {
					name = m.Value.GetToken().Value
				}
				d.errorAt(p, path, "unknown alias *%s", name)
				return nil, p, false
			}
			if d.open[target] {
				d.errorAt(p, path, "alias *%s refers to a node that contains it", m.Value.GetToken().Value)
				return nil, p, false
			}
			n, viaAlias = target, true
		default:
			if d.via != nil {
				return n, *d.via, true
			}
			if !viaAlias {
				p = nodePos(n)
			}
			return n, p, true
		}
	}
	d.errorAt(p, path, "aliases nested too deeply")
	return nil, p, false
}

// through runs fn with every position inside it reported at p: content
// reached through an alias or merge key is placed where it is used.
func (d *decoder) through(p pos, fn func()) {
	if d.via != nil {
		fn()
		return
	}
	d.via = &p
	defer func() { d.via = nil }()
	fn()
}

func (d *decoder) lookupAnchor(a *ast.AliasNode) ast.Node {
	if a.Value == nil || a.Start == nil {
		return nil
	}
	name := a.Value.GetToken().Value
	var found ast.Node
	for _, def := range d.anchors {
		if def.name == name && def.offset < a.Start.Position.Offset {
			found = def.value
		}
	}
	return found
}

var (
	durationType = reflect.TypeOf(Duration(0))
	sizeType     = reflect.TypeOf(Size(0))
)

// decode fills v from n. Problems are recorded; v keeps what could be read.
func (d *decoder) decode(path string, n ast.Node, v reflect.Value) {
	_, isAlias := n.(*ast.AliasNode)
	n, p, ok := d.resolve(path, n)
	if !ok || isNull(n) {
		return
	}
	if isAlias && d.via == nil {
		d.through(p, func() { d.decode(path, n, v) })
		return
	}
	d.seen[path] = p
	if isCollection(n) {
		d.open[n] = true
		defer delete(d.open, n)
	}
	switch v.Type() {
	case durationType:
		d.decodeDuration(path, n, p, v)
		return
	case sizeType:
		d.decodeSize(path, n, p, v)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		elem := reflect.New(v.Type().Elem())
		d.decode(path, n, elem.Elem())
		v.Set(elem)
	case reflect.Struct:
		d.decodeStruct(path, n, p, v)
	case reflect.Slice:
		d.decodeSlice(path, n, p, v)
	case reflect.Map:
		d.decodeMap(path, n, p, v)
	case reflect.String:
		if s, ok := d.scalarString(path, n, p, "a string"); ok {
			v.SetString(s)
		}
	case reflect.Bool:
		d.decodeBool(path, n, p, v)
	case reflect.Int:
		d.decodeInt(path, n, p, v)
	default:
		panic("config: no decoder for " + v.Type().String())
	}
}

func isCollection(n ast.Node) bool {
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode, *ast.SequenceNode:
		return true
	}
	return false
}

func isNull(n ast.Node) bool {
	_, ok := n.(*ast.NullNode)
	return ok || n == nil
}

// describe names what a node holds, for "want X, got Y" messages.
func describe(n ast.Node) string {
	switch m := n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.StringNode:
		return strconv.Quote(clip(m.Value))
	case *ast.LiteralNode:
		return "a block string"
	case *ast.BoolNode:
		return strconv.FormatBool(m.Value)
	default:
		if tk := n.GetToken(); tk != nil {
			return tk.Value
		}
		return "an unknown value"
	}
}

// scalarText returns the text of a scalar node as written, and whether the
// node is a scalar at all.
func scalarText(n ast.Node) (string, bool) {
	switch m := n.(type) {
	case *ast.StringNode:
		return m.Value, true
	case *ast.LiteralNode:
		if m.Value == nil {
			return "", true
		}
		return m.Value.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		return n.GetToken().Value, true
	}
	return "", false
}

// scalarString reads any scalar as text and expands ${VAR} in it.
func (d *decoder) scalarString(path string, n ast.Node, p pos, want string) (string, bool) {
	s, ok := scalarText(n)
	if !ok {
		d.errorAt(p, path, "want %s, got %s", want, describe(n))
		return "", false
	}
	out, problems := expandEnv(s, d.env)
	for _, msg := range problems {
		d.errorAt(p, path, "%s", composed(msg))
	}
	return out, len(problems) == 0
}

// expandedText is the text of a string node that held a ${VAR}, expanded:
// the only way a string may stand for a number or boolean.
func (d *decoder) expandedText(path string, n ast.Node, p pos) (string, bool, bool) {
	sn, ok := n.(*ast.StringNode)
	if !ok || !strings.Contains(sn.Value, "${") {
		return "", false, true
	}
	s, ok := d.scalarString(path, n, p, "")
	return s, true, ok
}

func (d *decoder) decodeBool(path string, n ast.Node, p pos, v reflect.Value) {
	if b, ok := n.(*ast.BoolNode); ok {
		v.SetBool(b.Value)
		return
	}
	s, expanded, ok := d.expandedText(path, n, p)
	if !ok {
		return
	}
	if expanded {
		switch s {
		case "true":
			v.SetBool(true)
			return
		case "false":
			v.SetBool(false)
			return
		}
		d.errorAt(p, path, "want true or false, got %q", s)
		return
	}
	d.errorAt(p, path, "want true or false, got %s", describe(n))
}

func (d *decoder) decodeInt(path string, n ast.Node, p pos, v reflect.Value) {
	text := ""
	switch m := n.(type) {
	case *ast.IntegerNode:
		text = m.Token.Value
	default:
		s, expanded, ok := d.expandedText(path, n, p)
		if !ok {
			return
		}
		if !expanded {
			d.errorAt(p, path, "want an integer, got %s", describe(n))
			return
		}
		text = strings.TrimSpace(s)
	}
	i, err := strconv.ParseInt(strings.ReplaceAll(text, "_", ""), 0, 64)
	if err != nil || int64(int(i)) != i {
		d.errorAt(p, path, "want an integer, got %q", text)
		return
	}
	v.SetInt(i)
}

func (d *decoder) decodeStruct(path string, n ast.Node, p pos, v reflect.Value) {
	m, ok := asMapping(n)
	if !ok {
		d.errorAt(p, path, "want a mapping, got %s", describe(n))
		return
	}
	fields := yamlFields(v.Type())
	// Merge keys (<<: *base) go first so the mapping's own keys override them.
	for _, mv := range m.Values {
		if mv.Key != nil && mv.Key.IsMergeKey() {
			d.decodeMerge(path, mv, v)
		}
	}
	first := map[string]pos{}
	for _, mv := range m.Values {
		if mv.Key == nil || mv.Key.IsMergeKey() {
			continue
		}
		key, kp, ok := d.keyName(path, mv.Key)
		if !ok {
			continue
		}
		if at, dup := first[key]; dup {
			d.report(kp, path, "duplicate key %q (first at line %d)", key, at.line)
			continue
		}
		first[key] = kp
		idx, known := fields[key]
		if !known && path == "" && strings.HasPrefix(key, "x-") {
			continue // extension key: a place for anchors, ignored
		}
		if !known {
			d.report(kp, path, "unknown key %q%s", key, composed(unknownKeyHint(key, fields)))
			if misplacedUpstreamKey(key, fields) {
				d.bad[joinPath(path, "upstream."+key)] = true // one mistake, one message
			}
			continue
		}
		d.decode(joinPath(path, key), mv.Value, v.Field(idx))
	}
}

func (d *decoder) decodeMerge(path string, mv *ast.MappingValueNode, v reflect.Value) {
	src, p, ok := d.resolve(path, mv.Value)
	if !ok {
		return
	}
	d.through(nodePos(mv.Key), func() { d.mergeFrom(path, src, p, v) })
}

func (d *decoder) mergeFrom(path string, src ast.Node, p pos, v reflect.Value) {
	var sources []ast.Node
	if seq, isSeq := src.(*ast.SequenceNode); isSeq {
		for _, item := range seq.Values {
			if r, _, ok := d.resolve(path, item); ok {
				sources = append(sources, r)
			}
		}
	} else {
		sources = append(sources, src)
	}
	for _, s := range sources {
		if _, ok := asMapping(s); !ok {
			d.report(p, path, "merge key << wants a mapping, got %s", describe(s))
			continue
		}
		if d.open[s] {
			d.report(p, path, "merge key << refers to a node that contains it")
			continue
		}
		d.open[s] = true
		d.decodeStruct(path, s, p, v)
		delete(d.open, s)
	}
}

func asMapping(n ast.Node) (*ast.MappingNode, bool) {
	switch m := n.(type) {
	case *ast.MappingNode:
		return m, true
	case *ast.MappingValueNode:
		return &ast.MappingNode{BaseNode: m.BaseNode, Values: []*ast.MappingValueNode{m}}, true
	}
	return nil, false
}

func (d *decoder) keyName(path string, k ast.Node) (string, pos, bool) {
	k, p, ok := d.resolve(path, k)
	if !ok {
		return "", p, false
	}
	s, ok := scalarText(k)
	if !ok {
		d.report(p, path, "keys must be plain strings, got %s", describe(k))
		return "", p, false
	}
	return s, p, true
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (d *decoder) decodeSlice(path string, n ast.Node, p pos, v reflect.Value) {
	seq, ok := n.(*ast.SequenceNode)
	if !ok {
		d.errorAt(p, path, "want a list, got %s", describe(n))
		return
	}
	out := reflect.MakeSlice(v.Type(), len(seq.Values), len(seq.Values))
	for i, item := range seq.Values {
		d.decode(fmt.Sprintf("%s[%d]", path, i), item, out.Index(i))
	}
	v.Set(out)
}

func (d *decoder) decodeMap(path string, n ast.Node, p pos, v reflect.Value) {
	m, ok := asMapping(n)
	if !ok {
		d.errorAt(p, path, "want a mapping, got %s", describe(n))
		return
	}
	out := reflect.MakeMapWithSize(v.Type(), len(m.Values))
	first := map[string]pos{}
	for _, mv := range m.Values {
		if mv.Key == nil || mv.Key.IsMergeKey() {
			kp := p
			if mv.Key != nil {
				kp = nodePos(mv.Key)
			}
			d.report(kp, path, "merge keys are not supported here")
			continue
		}
		key, kp, ok := d.keyName(path, mv.Key)
		if !ok {
			continue
		}
		if at, dup := first[key]; dup {
			d.report(kp, path, "duplicate key %q (first at line %d)", key, at.line)
			continue
		}
		first[key] = kp
		val := reflect.New(v.Type().Elem()).Elem()
		d.decode(joinPath(path, key), mv.Value, val)
		out.SetMapIndex(reflect.ValueOf(key), val)
	}
	v.Set(out)
}

// yamlFields maps each yaml tag name of a struct to its field index.
func yamlFields(t reflect.Type) map[string]int {
	out := make(map[string]int, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		out[tag] = i
	}
	return out
}
