package config

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// docsRow matches a key row of docs/configuration.md's tables:
// | `key` | type | default | meaning |.
var docsRow = regexp.MustCompile("(?m)^\\| `([a-z0-9_.]+)` \\| ([^|]+) \\| ([^|]+) \\|")

// TestSchemaMatchesConfigurationDocs keeps the reference page and the
// generated schema (so the Go types and applyDefaults) in step: every key
// is documented, every documented key exists, and every default in the
// schema is the one the page gives.
func TestSchemaMatchesConfigurationDocs(t *testing.T) {
	docs, err := os.ReadFile(filepath.Join(repoRoot, "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]string{} // key → default column
	for _, m := range docsRow.FindAllStringSubmatch(string(docs), -1) {
		documented[m[1]] = strings.TrimSpace(m[3])
	}
	var schema map[string]any
	if err := json.Unmarshal(Schema(), &schema); err != nil {
		t.Fatal(err)
	}
	keys, sections := map[string]any{}, map[string]any{} // documented name → schema of the key
	schemaKeys("", schema, keys, sections)

	for _, key := range slices.Sorted(maps.Keys(keys)) {
		col, ok := documented[key]
		if !ok {
			t.Errorf("%s: in the schema, not in docs/configuration.md", key)
			continue
		}
		def, ok := keys[key].(map[string]any)["default"]
		if !ok {
			continue
		}
		if !sameDefault(def, col) {
			t.Errorf("%s: schema default %v, docs say %s", key, def, col)
		}
	}
	for key := range documented {
		if _, ok := keys[key]; !ok && sections[key] == nil {
			t.Errorf("%s: documented, not in the schema", key)
		}
	}
}

// schemaKeys collects the keys of an object schema under the names the
// docs use: full paths, except inside routes[] where they are relative.
// Sections (objects with properties) are documented key by key; they go
// into sections, and may have a row of their own (tls).
func schemaKeys(prefix string, s map[string]any, leaves, sections map[string]any) {
	props, _ := s["properties"].(map[string]any)
	for name, p := range props {
		ps := p.(map[string]any)
		key := joinPath(prefix, name)
		switch {
		case ps["properties"] != nil:
			sections[key] = ps
			schemaKeys(key, ps, leaves, sections)
		case name == "routes" && prefix == "":
			leaves[key] = ps
			schemaKeys("", ps["items"].(map[string]any), leaves, sections)
		default:
			leaves[key] = ps
		}
	}
}

// sameDefault compares a schema default with the docs' column (`15s`,
// `64KiB`, `true`): durations and sizes by value, the rest as text.
func sameDefault(def any, col string) bool {
	text := strings.Trim(col, "`")
	switch v := def.(type) {
	case string:
		if d1, err := ParseDuration(v); err == nil {
			d2, err := ParseDuration(text)
			return err == nil && d1 == d2
		}
		if s1, err := ParseSize(v); err == nil {
			s2, err := ParseSize(text)
			return err == nil && s1 == s2
		}
		return v == text
	default:
		return fmt.Sprint(v) == text
	}
}
