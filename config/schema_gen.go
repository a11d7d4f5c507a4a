package config

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// GenerateSchema builds the JSON Schema from the Config types: key names
// and types by reflection, descriptions from the doc comments in typesSrc
// (the source of types.go), defaults from applyDefaults.
func GenerateSchema(typesSrc []byte) ([]byte, error) {
	docs, err := fieldDocs(typesSrc)
	if err != nil {
		return nil, err
	}
	g := &schemaGen{docs: docs}
	root := g.object("", reflect.TypeOf(Config{}), reflect.ValueOf(schemaDefaults()))
	root["patternProperties"] = map[string]any{"^x-": map[string]any{"description": "Ignored: a place for YAML anchors."}}
	root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	root["$id"] = "https://github.com/bridgeway/bridgeway/config/bridgeway.schema.json"
	root["title"] = "bridgeway configuration"
	root["$defs"] = map[string]any{
		"env": map[string]any{
			"description": "A value holding ${NAME} or ${NAME:-default}, expanded from the environment when the file is loaded.",
			"type":        "string", "pattern": envPattern,
		},
		"duration": map[string]any{
			"description": "A Go duration such as \"250ms\", \"15s\" or \"1h30m\", or 0.",
			"anyOf": []any{
				map[string]any{"type": "string", "pattern": durationPattern},
				map[string]any{"const": 0},
				map[string]any{"$ref": "#/$defs/env"},
			},
		},
		"size": map[string]any{
			"description": "A byte count, optionally with a unit B, KB, KiB, MB, MiB, GB or GiB (\"64KiB\" = 65536).",
			"anyOf": []any{
				map[string]any{"type": "string", "pattern": sizePattern},
				map[string]any{"type": "integer", "minimum": 0},
				map[string]any{"$ref": "#/$defs/env"},
			},
		},
	}
	out, err := json.MarshalIndent(root, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// schemaDefaults is a config with every default applied, including those of
// the optional tls.acme and tls.hsts sections and of one route.
func schemaDefaults() Config {
	c := Config{TLS: &TLS{ACME: &ACME{}, HSTS: &HSTS{}}, Routes: []Route{{Upstream: Upstream{URL: "ws://127.0.0.1/"}, SockJS: &SockJS{}}}}
	// The schema is the same on every machine: max_connections shows its
	// cap, not half of this machine's fd limit (the docs say both).
	saved := fdLimit
	fdLimit = func() uint64 { return 0 }
	defer func() { fdLimit = saved }()
	applyDefaults(&c, func(string) bool { return false })
	return c
}

type schemaGen struct {
	docs map[string]string // "Type.Field" and "Type" → doc comment
}

// object describes a struct type at path; def holds its defaulted value
// (invalid when the section has no defaults).
func (g *schemaGen) object(path string, t reflect.Type, def reflect.Value) map[string]any {
	props := map[string]any{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		key := joinPath(path, name)
		var fv reflect.Value
		if def.IsValid() {
			fv = def.Field(i)
		}
		s := g.value(key, f.Type, fv)
		doc := g.docs[t.Name()+"."+f.Name]
		if doc == "" {
			doc = g.docs[deref(f.Type).Name()]
		}
		if doc != "" {
			s["description"] = doc
		}
		if d, ok := schemaDefault(f.Type, fv); ok && !schemaNoDefault[key] {
			s["default"] = d
		}
		props[name] = s
	}
	o := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if req := schemaRequired[path]; req != nil {
		o["required"] = req
	}
	return o
}

// value describes a key of type t; null is accepted everywhere, since a null
// value means the key is absent.
func (g *schemaGen) value(path string, t reflect.Type, def reflect.Value) map[string]any {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
		if def.IsValid() {
			def = def.Elem()
		}
	}
	switch {
	case t == durationType:
		return anyOf(map[string]any{"$ref": "#/$defs/duration"}, null())
	case t == sizeType:
		return anyOf(map[string]any{"$ref": "#/$defs/size"}, null())
	}
	switch t.Kind() {
	case reflect.String:
		if enum, ok := schemaEnums[path]; ok {
			return anyOf(map[string]any{"enum": enum}, map[string]any{"$ref": "#/$defs/env"}, null())
		}
		return map[string]any{"type": []string{"string", "null"}}
	case reflect.Bool:
		return anyOf(map[string]any{"type": "boolean"}, map[string]any{"$ref": "#/$defs/env"}, null())
	case reflect.Float32, reflect.Float64:
		return anyOf(map[string]any{"type": "number", "minimum": 0}, map[string]any{"$ref": "#/$defs/env"}, null())
	case reflect.Int, reflect.Int64, reflect.Uint, reflect.Uint64:
		n := map[string]any{"type": "integer", "minimum": 0}
		if b, ok := schemaBounds[path]; ok {
			n["minimum"] = b[0]
			if b[1] >= 0 {
				n["maximum"] = b[1]
			}
		}
		return anyOf(n, map[string]any{"$ref": "#/$defs/env"}, null())
	case reflect.Slice:
		var item reflect.Value
		if def.IsValid() && def.Len() > 0 {
			item = def.Index(0)
		}
		a := map[string]any{"type": []string{"array", "null"}, "items": g.value(path+"[]", t.Elem(), item)}
		if schemaNonEmpty[path] {
			a["minItems"] = 1
		}
		if t.Elem().Kind() == reflect.String {
			a["uniqueItems"] = true
		}
		return a
	case reflect.Map:
		return map[string]any{"type": []string{"object", "null"}, "additionalProperties": g.value(path+".*", t.Elem(), reflect.Value{})}
	case reflect.Struct:
		o := g.object(path, t, def)
		o["type"] = []string{"object", "null"}
		return o
	}
	panic(fmt.Sprintf("config schema: no JSON type for %s (%s)", path, t))
}

// schemaDefault is the JSON form of a defaulted value: durations and sizes
// as the file writes them; absent sections, lists and empty strings have
// none.
func schemaDefault(t reflect.Type, v reflect.Value) (any, bool) {
	if !v.IsValid() {
		return nil, false
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil, false
		}
		v = v.Elem()
	}
	switch {
	case v.Type() == durationType:
		return Duration(v.Int()).String(), true
	case v.Type() == sizeType:
		if v.Int() == 0 {
			return 0, true
		}
		return Size(v.Int()).String(), true
	}
	switch v.Kind() {
	case reflect.String:
		return v.String(), v.String() != ""
	case reflect.Bool:
		return v.Bool(), true
	case reflect.Int, reflect.Int64:
		return v.Int(), true
	}
	return nil, false
}

func anyOf(s ...any) map[string]any { return map[string]any{"anyOf": s} }

func null() map[string]any { return map[string]any{"type": "null"} }

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	return t
}
