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
// ranges). The others need the validator: rules between keys (an empty
// transports list is right for kind http only), URLs, addresses, positive
// durations, YAML that does not parse.
var schemaLevelInvalid = []string{
	"acme_no_domains", "alias_positions", "bad_duration", "bad_size", "buffer_zero",
	"cluster_redis_missing", "comments_only", "empty",
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
	return yamlTextAsJSON(t, mustRead(t, file))
}

func yamlTextAsJSON(t *testing.T, data []byte) any {
	t.Helper()
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
			// What validate --print shows (Marshal) must pass too.
			cfg, err := parseWithEnv(file, mustRead(t, file), lookupTestEnv)
			if err != nil {
				t.Fatal(err)
			}
			effective, err := Marshal(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Validate(yamlTextAsJSON(t, effective)); err != nil {
				t.Errorf("the schema refuses the effective config:\n%v\n%s", err, effective)
			}
		})
	}
}

// Forms the loader accepts that a stricter schema would wrongly mark in an
// editor.
func TestSchemaAcceptsWhatTheLoaderAccepts(t *testing.T) {
	s := compiledSchema(t)
	route := "routes:\n  - path: /a\n    upstream: {url: \"http://127.0.0.1:9001\"}\n"
	for name, text := range map[string]string{
		"http route without transports": route + "    transports: []\n",
		"null values":                   "listen:\nlog: {level: null}\ntls:\nroutes:\n  - path: /a\n    buffer:\n    upstream: {url: \"http://h:1\", headers: {X-A: }}\n",
		"zero durations and sizes":      "shutdown_timeout: 0\n" + route + "    idle_close: 0s\n    sse_padding: 0\n",
		"sizes with a space and case":   "limits: {max_body_bytes: 2 mib, max_header_bytes: 65_536}\n" + route,
		"durations in several units":    "limits: {read_header_timeout: 1m30s, body_timeout: 1.5h}\n" + route,
		"environment in typed keys":     "admin: {pprof: \"${BW_TEST_BOOL:-false}\"}\nlimits: {max_connections: \"${BW_TEST_BUFFER}\"}\n" + route,
		"anchors under x- keys":         "x-common: &c {buffer: 8}\nroutes:\n  - <<: *c\n    path: /a\n    upstream: {url: \"ws://h:1\"}\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := parseWithEnv("inline.yaml", []byte(text), lookupTestEnv); err != nil {
				t.Fatalf("the loader refuses it, not a valid case: %v", err)
			}
			if err := s.Validate(yamlTextAsJSON(t, []byte(text))); err != nil {
				t.Errorf("the schema refuses it:\n%v", err)
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
