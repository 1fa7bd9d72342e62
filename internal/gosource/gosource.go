// Package gosource reads the Go source of a package, for the tools that
// look at the contract package's own declarations: the API check
// (internal/apicheck) and the generator of the schema and the TypeScript
// declarations (schema_gen_test.go).
package gosource

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
)

// Parse parses the non-test Go files of the package in dir with mode, and
// returns them with their file set.
func Parse(dir string, mode parser.Mode) (*token.FileSet, []*ast.File, error) {
	fset := token.NewFileSet()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, nil, err
	}
	var files []*ast.File
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, mode)
		if err != nil {
			return nil, nil, err
		}
		files = append(files, f)
	}
	return fset, files, nil
}
