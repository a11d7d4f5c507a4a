package config

import "github.com/goccy/go-yaml"

// Marshal renders c as YAML in the file format, defaults included; Parse
// reads it back to an equal Config. Header values are written as they are,
// so treat the output as secret when headers hold credentials.
func Marshal(c *Config) ([]byte, error) {
	return yaml.MarshalWithOptions(c, yaml.UseLiteralStyleIfMultiline(true))
}

// MarshalYAML writes a duration the way the file does ("15s").
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// MarshalYAML writes a size with a binary unit when one divides it.
func (s Size) MarshalYAML() (any, error) { return s.String(), nil }
