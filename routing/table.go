package routing

import "sort"

// Table picks the longest matching pattern. It is immutable after Build, so
// a reload builds a new Table and swaps it atomically.
type Table[T any] struct {
	entries []tableEntry[T]
}

type tableEntry[T any] struct {
	pattern Pattern
	value   T
}

// Match is the result of a successful lookup.
type Match[T any] struct {
	Pattern Pattern
	Value   T
	Params  map[string]string
	Rest    string
}

// Add registers a pattern. Call Build before Lookup.
func (t *Table[T]) Add(p Pattern, v T) {
	t.entries = append(t.entries, tableEntry[T]{pattern: p, value: v})
}

// Build orders entries longest first; literal segments win over placeholders
// at equal length.
func (t *Table[T]) Build() {
	sort.SliceStable(t.entries, func(i, j int) bool {
		a, b := t.entries[i].pattern, t.entries[j].pattern
		if a.Len() != b.Len() {
			return a.Len() > b.Len()
		}
		return len(a.Params()) < len(b.Params())
	})
}

// Lookup finds the best pattern for urlPath.
func (t *Table[T]) Lookup(urlPath string) (Match[T], bool) {
	for _, e := range t.entries {
		if params, rest, ok := e.pattern.Match(urlPath); ok {
			return Match[T]{Pattern: e.pattern, Value: e.value, Params: params, Rest: rest}, true
		}
	}
	return Match[T]{}, false
}
