package config

// validator checks what the decoder cannot: values against each other and
// against the rules in docs/configuration.md. Problems are reported at the
// position of the offending key, or of its nearest written parent.
type validator struct {
	d   *decoder
	cfg *Config
}

// at returns the position of path, or of its nearest ancestor in the file.
func (v *validator) at(path string) pos {
	for {
		if p, ok := v.d.seen[path]; ok {
			return p
		}
		cut := lastSep(path)
		if cut < 0 {
			return pos{1, 1}
		}
		path = path[:cut]
	}
}

func lastSep(path string) int {
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == '.' || path[i] == '[' {
			return i
		}
	}
	if path == "" {
		return -1
	}
	return 0
}

func (v *validator) errorf(path, format string, args ...any) {
	v.d.errorAt(v.at(path), path, format, args...)
}

func (v *validator) set(path string) bool {
	_, ok := v.d.seen[path]
	return ok
}

func (v *validator) validate() {
	if len(v.cfg.Routes) == 0 {
		v.d.errorAt(v.at("routes"), "", "no routes: the file must define at least one entry under \"routes\"")
	}
}
