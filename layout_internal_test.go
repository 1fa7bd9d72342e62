package daemoncontract

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// layouts binds each contract type's layout to a value of the type, as the
// codec does.
func layouts() []struct {
	l *layout
	v any // a pointer to a value of the type
	b values
} {
	var (
		h  DaemonHandle
		rq StatusRequest
		rs StatusResponse
		ic InstallConfig
		ir InstallResult
		uc UninstallConfig
		hc HttpDaemonConfig
		sc ShutdownConfig
	)
	return []struct {
		l *layout
		v any
		b values
	}{
		{daemonHandleLayout, &h, h.values()},
		{statusRequestLayout, &rq, rq.values()},
		{statusResponseLayout, &rs, rs.values()},
		{installConfigLayout, &ic, ic.values()},
		{installResultLayout, &ir, ir.values()},
		{uninstallConfigLayout, &uc, uc.values()},
		{httpDaemonConfigLayout, &hc, hc.values()},
		{shutdownConfigLayout, &sc, sc.values()},
	}
}

// TestLayoutsMatchTheTypes holds each layout to its Go type, so that the
// struct tags and the layouts cannot drift apart:
//   - the layout names the type, and has one member for each field, in
//     field order;
//   - values binds member i to field i;
//   - for the exported types, member i's name is field i's json tag, and
//     the member is optional and nullable exactly where the tag says
//     omitzero (graceful_timeout_secs is optional, with a default, and
//     always written).
//
// DaemonHandle's fields are unexported, and so carry no json tag (go vet
// rejects one): its wire names live in its layout alone, pinned by the
// conformance cases and the golden messages.
func TestLayoutsMatchTheTypes(t *testing.T) {
	for _, tt := range layouts() {
		typ := reflect.TypeOf(tt.v).Elem()
		val := reflect.ValueOf(tt.v).Elem()
		if tt.l.typ != typ.Name() {
			t.Errorf("layout of %s names %q", typ.Name(), tt.l.typ)
		}
		if len(tt.l.members) != typ.NumField() {
			t.Errorf("%s: %d members for %d fields", typ.Name(), len(tt.l.members), typ.NumField())
			continue
		}
		for i, m := range tt.l.members {
			f := typ.Field(i)
			if reflect.ValueOf(tt.b[i]).Pointer() != val.Field(i).Addr().Pointer() {
				t.Errorf("%s: member %q is bound to another field than %s", typ.Name(), m.name, f.Name)
			}
			if !f.IsExported() {
				if _, ok := f.Tag.Lookup("json"); ok {
					t.Errorf("%s.%s: an unexported field with a json tag", typ.Name(), f.Name)
				}
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name != m.name {
				t.Errorf("%s.%s: json tag %q, but the codec reads and writes %q", typ.Name(), f.Name, name, m.name)
			}
			omitzero := strings.Contains(","+opts+",", ",omitzero,")
			if nullable := nullableKind(tt.b[i]); omitzero != (m.optional && nullable) {
				t.Errorf("%s.%s: omitzero is %v, but the member is optional %v (nullable %v)", typ.Name(), f.Name, omitzero, m.optional, nullable)
			}
		}
	}
}

// nullableKind reports whether a member of the given values kind reads null
// as absent.
func nullableKind(dst any) bool {
	switch dst.(type) {
	case **string, *optional[uint32], *optional[string], *json.RawMessage:
		return true
	}
	return false
}
