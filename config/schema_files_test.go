package config

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// schemaLevelInvalid are the invalid golden files whose problem the schema
// can see on its own (unknown keys, wrong types, enums, required keys,
// ranges). The others need the validator: rules between keys, URLs,
// addresses, positive durations, YAML that does not parse.
var schemaLevelInvalid = []string{
	"acme_no_domains", "alias_positions", "bad_duration", "bad_size", "buffer_zero",
	"cluster_redis_missing", "comments_only", "empty", "empty_transports",
	"missing_path_and_url", "negative_duration", "negative_limits", "no_routes",
	"unknown_enums", "unknown_key_nested", "unknown_key_top", "unknown_transport",
	"windows_bom_crlf", "wrong_type_bool", "wrong_type_int", "wrong_type_list",
	"wrong_type_mapping",
}

func compiledSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema()))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("bridgeway.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("bridgeway.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// yamlAsJSON reads a config file the way an editor's YAML language server
// does: YAML (anchors and merge keys resolved) turned into a JSON value.
func yamlAsJSON(t *testing.T, file string) any {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatalf("not YAML: %v", err)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestSchemaAcceptsValidFiles(t *testing.T) {
	s := compiledSchema(t)
	for _, file := range append(goldenFiles(t, "valid"), filepath.Join(repoRoot, "packaging", "bridgeway.yaml")) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			if err := s.Validate(yamlAsJSON(t, file)); err != nil {
				t.Errorf("the schema refuses a valid file:\n%v", err)
			}
		})
	}
}

func TestSchemaRefusesSchemaLevelInvalidFiles(t *testing.T) {
	s := compiledSchema(t)
	for _, name := range schemaLevelInvalid {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(repoRoot, "testdata", "config", "invalid", name+".yaml")
			if _, err := parseWithEnv(name, mustRead(t, file), lookupTestEnv); err == nil {
				t.Fatal("the loader accepts it: not an invalid case")
			}
			err := s.Validate(yamlAsJSON(t, file))
			if err == nil {
				t.Fatal("the schema accepts it")
			}
			if strings.TrimSpace(err.Error()) == "" {
				t.Error("empty schema error")
			}
		})
	}
}

func mustRead(t *testing.T, file string) []byte {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
