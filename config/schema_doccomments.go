package config

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"strings"
)

// fieldDocs reads the doc comments of the struct types and their fields
// from Go source: "Type" → type doc, "Type.Field" → field doc (the comment
// above the field, else the one after it), each as one line.
func fieldDocs(src []byte) (map[string]string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), "types.go", src, parser.ParseComments)
	if err != nil {
		return nil, fmt.Errorf("config schema: %w", err)
	}
	docs := map[string]string{}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.TYPE {
			continue
		}
		for _, spec := range gd.Specs {
			ts := spec.(*ast.TypeSpec)
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				continue
			}
			docs[ts.Name.Name] = oneLine(gd.Doc)
			prev := ""
			for _, field := range st.Fields.List {
				doc := oneLine(field.Doc)
				if doc == "" {
					doc = oneLine(field.Comment)
				}
				for _, n := range field.Names {
					// "CertFile and KeyFile are ..." above CertFile covers KeyFile.
					if doc == "" && strings.Contains(prev, " "+n.Name+" ") {
						doc = prev
					}
					docs[ts.Name.Name+"."+n.Name] = doc
				}
				prev = doc
			}
		}
	}
	return docs, nil
}

func oneLine(g *ast.CommentGroup) string {
	if g == nil {
		return ""
	}
	return strings.Join(strings.Fields(g.Text()), " ")
}
