package config

import (
	"sort"
	"strconv"
	"strings"
)

// Error is one problem at a position in a config file.
type Error struct {
	File string
	Line int
	Col  int
	Msg  string
}

// Error returns "FILE:LINE:COL: message".
func (e *Error) Error() string {
	return e.File + ":" + strconv.Itoa(e.Line) + ":" + strconv.Itoa(e.Col) + ": " + e.Msg
}

// ErrorList is every problem found in one file, in file order. Load and
// Parse return it (as error) when anything is wrong.
type ErrorList []*Error

// Error returns one "FILE:LINE:COL: message" line per problem.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// sortAndDedupe orders problems by position (stable, so problems found at the
// same spot keep the order they were found in) and drops exact repeats.
func (l ErrorList) sortAndDedupe() ErrorList {
	sort.SliceStable(l, func(i, j int) bool {
		if l[i].Line != l[j].Line {
			return l[i].Line < l[j].Line
		}
		return l[i].Col < l[j].Col
	})
	out := l[:0]
	seen := make(map[Error]bool, len(l))
	for _, e := range l {
		if seen[*e] {
			continue
		}
		seen[*e] = true
		out = append(out, e)
	}
	return out
}
