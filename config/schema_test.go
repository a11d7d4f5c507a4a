package config

import (
	"bytes"
	"os"
	"testing"
)

// TestSchemaUpToDate fails when config/bridgeway.schema.json is not what
// GenerateSchema makes from types.go today; -update rewrites it.
func TestSchemaUpToDate(t *testing.T) {
	src, err := os.ReadFile("types.go")
	if err != nil {
		t.Fatal(err)
	}
	got, err := GenerateSchema(src)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("bridgeway.schema.json", got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(got, Schema()) {
		t.Fatal("config/bridgeway.schema.json is stale: run go test ./config -run TestSchemaUpToDate -update and commit it")
	}
}
