package main

import (
	"bytes"
	"strings"
	"testing"
)

// output is go test -bench output for two types, three runs each, with the
// lines benchratio must skip.
const output = `goos: linux
goarch: amd64
pkg: github.com/rbee-keeper/daemoncontract
cpu: AMD EPYC
BenchmarkUnmarshalDaemonHandle/contract-2 	 1000	 300.0 ns/op	 88 B/op	 3 allocs/op
BenchmarkUnmarshalDaemonHandle/contract-2 	 1000	 310.0 ns/op	 88 B/op	 3 allocs/op
BenchmarkUnmarshalDaemonHandle/contract-2 	 1000	 900.0 ns/op	 88 B/op	 3 allocs/op
BenchmarkUnmarshalDaemonHandle/plain-2    	 1000	 200.0 ns/op	 64 B/op	 2 allocs/op
BenchmarkUnmarshalDaemonHandle/plain-2    	 1000	 200.0 ns/op	 64 B/op	 2 allocs/op
BenchmarkUnmarshalDaemonHandle/plain-2    	 1000	 100.0 ns/op	 64 B/op	 2 allocs/op
BenchmarkMarshalDaemonHandle/contract-2   	 1000	 120.0 ns/op	 96 B/op	 3 allocs/op
BenchmarkMarshalDaemonHandle/plain-2      	 1000	 100.0 ns/op	 96 B/op	 3 allocs/op
BenchmarkMarshalStatusResponseV2/contract-2 	 1000	 110.0 ns/op	 96 B/op	 3 allocs/op
BenchmarkMarshalStatusResponseV2/plain-2    	 1000	 100.0 ns/op	 96 B/op	 3 allocs/op
BenchmarkDaemonHandleAccessors-2          	 1000	 5.5 ns/op	 0 B/op	 0 allocs/op
PASS
ok  	github.com/rbee-keeper/daemoncontract	1.0s
`

func TestParse(t *testing.T) {
	results, err := parse(strings.NewReader(output))
	if err != nil {
		t.Fatal(err)
	}
	s := results["BenchmarkUnmarshalDaemonHandle/contract"]
	if s == nil || len(s.ns) != 3 || s.ns[2] != 900 || s.allocs[0] != 3 || s.bytes[1] != 88 {
		t.Fatalf("contract samples: %+v", s)
	}
	if len(results) != 7 {
		t.Errorf("got %d benchmarks, want 7", len(results))
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		xs   []float64
		want float64
	}{
		{[]float64{3}, 3},
		{[]float64{900, 300, 310}, 310}, // an outlier does not move it
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		if got := median(tt.xs); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.xs, got, tt.want)
		}
	}
}

func TestReport(t *testing.T) {
	results, err := parse(strings.NewReader(output))
	if err != nil {
		t.Fatal(err)
	}
	// Only DaemonHandle is there: the report must say what is missing.
	var buf bytes.Buffer
	if err := report(&buf, results); err == nil || !strings.Contains(err.Error(), "StatusRequest") {
		t.Fatalf("want an error naming the missing StatusRequest results, got %v", err)
	}
	// With every type present, one row each.
	for _, typ := range types[1:] {
		for _, op := range []string{"Unmarshal", "Marshal"} {
			for _, impl := range []string{"contract", "plain"} {
				results["Benchmark"+op+typ+"/"+impl] = &sample{ns: []float64{100}, allocs: []float64{1}}
			}
		}
	}
	buf.Reset()
	if err := report(&buf, results); err != nil {
		t.Fatal(err)
	}
	got := buf.String()
	// Decoding: medians 310 and 200, ratio 1.55, over the 1.5 target.
	// Encoding: 120 and 100, ratio 1.20, within the 1.2 target.
	want := "| DaemonHandle | 310 / 200 ns | **1.55×** (over target) | 3 / 2 | 120 / 100 ns | **1.20×** | 3 / 3 |"
	if !strings.Contains(got, want) {
		t.Errorf("missing the DaemonHandle row\n%s\nin\n%s", want, got)
	}
	if !strings.Contains(got, "Medians of 3 runs") || !strings.Contains(got, "DaemonHandle accessors: 5.5 ns, 0 allocations") ||
		!strings.Contains(got, "through encoding/json/v2: 110 / 100 ns, **1.10×**") {
		t.Errorf("missing header or accessor line in\n%s", got)
	}
	if n := strings.Count(got, "\n| "); n != 2+len(types) {
		t.Errorf("got %d table lines, want %d", n, 2+len(types))
	}
}
