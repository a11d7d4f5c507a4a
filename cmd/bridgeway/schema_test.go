package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"testing"
)

func TestSchemaCommandPrintsTheCommittedSchema(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"schema"}, &out, io.Discard); code != 0 {
		t.Fatalf("exit %d", code)
	}
	committed, err := os.ReadFile("../../config/bridgeway.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), committed) {
		t.Fatal("bridgeway schema does not print config/bridgeway.schema.json")
	}
	var doc struct {
		Properties map[string]any `json:"properties"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil || doc.Properties["routes"] == nil {
		t.Fatalf("not a schema with routes: %v", err)
	}
	if code := run([]string{"schema", "extra"}, io.Discard, io.Discard); code != 2 {
		t.Errorf("extra argument: exit %d, want 2", code)
	}
}
