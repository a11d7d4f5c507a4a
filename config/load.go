package config

import (
	"bytes"
	"fmt"
	"os"
	"reflect"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Load reads and validates a config file: defaults are filled in and ${VAR}
// expanded from the environment. On any problem it returns an ErrorList
// with every problem found; the file name in it is path as given.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data)
}

// Parse does what Load does for bytes; name is used as the file name in
// error messages and as Config.Path.
func Parse(name string, data []byte) (*Config, error) {
	return parseWithEnv(name, data, os.LookupEnv)
}

func parseWithEnv(name string, data []byte, env func(string) (string, bool)) (*Config, error) {
	d := newDecoder(name, env)
	cfg := &Config{Path: name}
	ok := d.decodeDocument(data, cfg)
	// Validation runs even after decode errors, to report every problem in
	// one pass; it skips values that could not be read.
	if ok && !d.bad[""] {
		applyDefaults(cfg, func(path string) bool { _, ok := d.seen[path]; return ok })
		v := &validator{d: d, cfg: cfg}
		v.validate()
	}
	if len(d.errs) > 0 {
		return nil, d.finalErrors()
	}
	return cfg, nil
}

// decodeDocument parses data and decodes it into cfg, recording where each
// key was given in d.seen. It reports false when the YAML does not parse.
func (d *decoder) decodeDocument(data []byte, cfg *Config) bool {
	root, ok := d.parseDocument(normalize(data))
	if ok {
		d.collectAnchors(root)
		d.decode("", root, reflect.ValueOf(cfg).Elem())
	}
	return ok
}

// normalize drops a byte order mark (some Windows editors start UTF-8
// files with one) and folds CRLF to LF: YAML does that in every scalar
// anyway, and doing it first keeps line numbers right (the parser counts a
// comment's CRLF as two lines).
func normalize(data []byte) []byte {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	return bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
}

// parseDocument parses the YAML text and returns the single document body.
func (d *decoder) parseDocument(data []byte) (ast.Node, bool) {
	file, err := parser.ParseBytes(data, 0, parser.AllowDuplicateMapKey())
	if err != nil {
		p, msg := pos{1, 1}, err.Error()
		if ye, ok := err.(yaml.Error); ok {
			msg = ye.GetMessage()
			if tk := ye.GetToken(); tk != nil {
				p = tokenPos(tk.Position)
			}
		}
		p, msg = yamlHint(data, p, msg)
		d.errorAt(p, "", "yaml: %s", composed(msg))
		return nil, false
	}
	var bodies []*ast.DocumentNode
	for _, doc := range file.Docs {
		if doc != nil && doc.Body != nil {
			bodies = append(bodies, doc)
		}
	}
	if len(bodies) == 0 {
		return nil, true
	}
	if len(bodies) > 1 {
		d.errorAt(nodePos(bodies[1].Body), "", "only one YAML document is allowed (found a second one)")
		return nil, false
	}
	return bodies[0].Body, true
}

// finalErrors sorts the problems and keeps the first maxReported, ending
// with a line that says how many more there were.
func (d *decoder) finalErrors() ErrorList {
	list := d.errs.sortAndDedupe()
	if more := len(list) - maxReported + d.dropped; more > 0 && len(list) > maxReported {
		next := list[maxReported]
		list = append(list[:maxReported], &Error{File: d.file, Line: next.Line, Col: next.Col,
			Msg: fmt.Sprintf("too many problems: %d more not shown", more)})
	}
	return list
}
