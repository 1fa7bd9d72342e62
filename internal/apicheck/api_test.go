package apicheck_test

import (
	"flag"
	"fmt"
	"go/importer"
	"go/parser"
	"go/types"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rbee-keeper/daemoncontract/internal/gosource"
)

// The package whose API is guarded, and the committed baseline of its
// exported API, one declaration a line, as Go's own api/go1.*.txt files are.
// Paths are relative to this directory, where go test runs.
const (
	pkgDir       = "../.."
	baselineName = "api/daemoncontract.txt"
)

var apiFile = filepath.Join(pkgDir, baselineName)

var updateAPI = flag.Bool("update-api", false, "rewrite "+baselineName+" from the package's current API (make apibaseline)")

// TestAPI compares the exported API with the committed baseline. A line of
// the baseline that is gone is an incompatible change: a removed or renamed
// identifier, a changed signature, field type or JSON tag, a method that
// moved between value and pointer receiver, a type that stopped being
// comparable. Making one is a decision, recorded by updating the baseline in
// the same commit, with the reason in its message. A line that is new is a
// compatible addition, which the baseline must record too.
func TestAPI(t *testing.T) {
	got := exportedAPI(t)
	if *updateAPI {
		if err := os.WriteFile(apiFile, []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	b, err := os.ReadFile(apiFile)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	for _, line := range want {
		if !slices.Contains(got, line) {
			t.Errorf("incompatible API change, this is gone: %s", line)
		}
	}
	for _, line := range got {
		if !slices.Contains(want, line) {
			t.Errorf("API addition missing from %s: %s", baselineName, line)
		}
	}
	if t.Failed() {
		t.Log("If the change is deliberate, run make apibaseline and commit " + baselineName +
			" with the change; for an incompatible change, say why in the commit message." +
			" A changed json tag is a change of the wire format: it needs conformance cases and" +
			" golden messages too, and go test . fails until the codec's layout agrees.")
	}
}

// exportedAPI type-checks the package's source and returns its exported API,
// sorted, one declaration a line.
func exportedAPI(t *testing.T) []string {
	t.Helper()
	fset, files, err := gosource.Parse(pkgDir, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	conf := types.Config{Importer: importer.ForCompiler(fset, "source", nil)}
	pkg, err := conf.Check("github.com/rbee-keeper/daemoncontract", fset, files, nil)
	if err != nil {
		t.Fatal(err)
	}
	qualifier := func(p *types.Package) string {
		if p == pkg {
			return ""
		}
		return p.Path()
	}
	typeString := func(typ types.Type) string { return types.TypeString(typ, qualifier) }

	var lines []string
	add := func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) }
	scope := pkg.Scope()
	for _, name := range scope.Names() {
		switch obj := scope.Lookup(name).(type) {
		case *types.Const:
			if obj.Exported() {
				add("const %s %s = %s", name, typeString(obj.Type()), obj.Val().ExactString())
			}
		case *types.Var:
			if obj.Exported() {
				add("var %s %s", name, typeString(obj.Type()))
			}
		case *types.Func:
			if obj.Exported() {
				add("func %s%s", name, signature(obj.Signature(), typeString))
			}
		case *types.TypeName:
			if !obj.Exported() {
				continue
			}
			typ := obj.Type()
			switch u := typ.Underlying().(type) {
			case *types.Struct:
				add("type %s struct", name)
				for i := range u.NumFields() {
					if f := u.Field(i); f.Exported() {
						add("type %s struct, %s %s%s", name, f.Name(), typeString(f.Type()), tag(u.Tag(i)))
					}
				}
			default:
				add("type %s %s", name, typeString(u))
			}
			if types.Comparable(typ) {
				add("type %s comparable", name)
			}
			values := types.NewMethodSet(typ)
			for m := range values.Methods() {
				if m.Obj().Exported() {
					add("method (%s) %s%s", name, m.Obj().Name(), signature(m.Type().(*types.Signature), typeString))
				}
			}
			for m := range types.NewMethodSet(types.NewPointer(typ)).Methods() {
				if m.Obj().Exported() && values.Lookup(pkg, m.Obj().Name()) == nil {
					add("method (*%s) %s%s", name, m.Obj().Name(), signature(m.Type().(*types.Signature), typeString))
				}
			}
		}
	}
	slices.Sort(lines)
	return lines
}

// signature formats sig without its parameter names, which callers do not
// depend on: "(string, *uint32) DaemonHandle".
func signature(sig *types.Signature, typeString func(types.Type) string) string {
	list := func(tuple *types.Tuple, variadic bool) []string {
		var out []string
		for i := range tuple.Len() {
			s := typeString(tuple.At(i).Type())
			if variadic && i == tuple.Len()-1 {
				s = "..." + strings.TrimPrefix(s, "[]")
			}
			out = append(out, s)
		}
		return out
	}
	s := "(" + strings.Join(list(sig.Params(), sig.Variadic()), ", ") + ")"
	switch results := list(sig.Results(), false); len(results) {
	case 0:
	case 1:
		s += " " + results[0]
	default:
		s += " (" + strings.Join(results, ", ") + ")"
	}
	return s
}

// tag formats a struct tag for a baseline line: JSON tags are part of the
// wire format, so a changed tag is an incompatible change.
func tag(s string) string {
	if s == "" {
		return ""
	}
	return " " + strconv.Quote(s)
}
