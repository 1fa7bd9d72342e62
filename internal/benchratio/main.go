// Command benchratio turns the output of the package's benchmarks into the
// table that make bench prints: for each contract type, the median time and
// allocations of decoding and encoding with the contract type and with a
// plain struct, and the contract/plain ratio against the targets.
//
// It reads go test -bench output (with -benchmem) on standard input. Each
// benchmark should have run several times (-count), so that the medians and
// ratios are stable on a noisy machine.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Targets for contract/plain, from the issue that asked for the benchmarks.
const (
	decodeTarget = 1.5
	encodeTarget = 1.2
)

func main() {
	results, err := parse(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchratio:", err)
		os.Exit(1)
	}
	if err := report(os.Stdout, results); err != nil {
		fmt.Fprintln(os.Stderr, "benchratio:", err)
		os.Exit(1)
	}
}

// sample is one benchmark's measurements, one entry per run.
type sample struct {
	ns, bytes, allocs []float64
}

// benchLine matches a result line: name, iterations, then "value unit" pairs.
var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

// parse reads go test -bench output and returns the samples by benchmark
// name, without the -GOMAXPROCS suffix.
func parse(r io.Reader) (map[string]*sample, error) {
	results := map[string]*sample{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		s := results[m[1]]
		if s == nil {
			s = &sample{}
			results[m[1]] = s
		}
		fields := strings.Fields(m[2])
		for i := 0; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				return nil, fmt.Errorf("%s: %q is not a number", m[1], fields[i])
			}
			switch fields[i+1] {
			case "ns/op":
				s.ns = append(s.ns, v)
			case "B/op":
				s.bytes = append(s.bytes, v)
			case "allocs/op":
				s.allocs = append(s.allocs, v)
			}
		}
	}
	return results, sc.Err()
}

// median returns the median of xs, which must not be empty.
func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// types lists the contract types in the order of the README.
var types = []string{
	"DaemonHandle", "StatusRequest", "StatusResponse", "InstallConfig",
	"InstallResult", "UninstallConfig", "HttpDaemonConfig", "ShutdownConfig",
}

// report writes the table. It fails if a benchmark it needs is missing.
func report(w io.Writer, results map[string]*sample) error {
	get := func(name string) (*sample, error) {
		s := results[name]
		if s == nil || len(s.ns) == 0 || len(s.allocs) == 0 {
			return nil, fmt.Errorf("no results for %s (run the benchmarks with -benchmem)", name)
		}
		return s, nil
	}
	cell := func(op, typ string, target float64) (string, error) {
		c, err := get("Benchmark" + op + typ + "/contract")
		if err != nil {
			return "", err
		}
		p, err := get("Benchmark" + op + typ + "/plain")
		if err != nil {
			return "", err
		}
		ratio := median(c.ns) / median(p.ns)
		mark := ""
		if ratio > target {
			mark = " (over target)"
		}
		return fmt.Sprintf("%.0f / %.0f ns | **%.2f×**%s | %.0f / %.0f", median(c.ns), median(p.ns), ratio, mark, median(c.allocs), median(p.allocs)), nil
	}
	runs := 0
	if s := results["BenchmarkUnmarshalDaemonHandle/contract"]; s != nil {
		runs = len(s.ns)
	}
	fmt.Fprintf(w, "Medians of %d runs; time is contract / plain; allocations a call, contract / plain.\n", runs)
	fmt.Fprintf(w, "Targets: decoding at most %.1f×, encoding at most %.1f× plain.\n\n", decodeTarget, encodeTarget)
	fmt.Fprintln(w, "| type | decode time | decode ratio | decode allocs | encode time | encode ratio | encode allocs |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- |")
	for _, typ := range types {
		dec, err := cell("Unmarshal", typ, decodeTarget)
		if err != nil {
			return err
		}
		enc, err := cell("Marshal", typ, encodeTarget)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "| %s | %s | %s |\n", typ, dec, enc)
	}
	c, p := results["BenchmarkMarshalStatusResponseV2/contract"], results["BenchmarkMarshalStatusResponseV2/plain"]
	if c != nil && p != nil && len(c.ns) > 0 && len(p.ns) > 0 {
		fmt.Fprintf(w, "\nStatusResponse encoding through encoding/json/v2: %.0f / %.0f ns, **%.2f×**.\n", median(c.ns), median(p.ns), median(c.ns)/median(p.ns))
	}
	if s := results["BenchmarkDaemonHandleAccessors"]; s != nil && len(s.allocs) > 0 {
		fmt.Fprintf(w, "\nDaemonHandle accessors: %.1f ns, %.0f allocations a call (median).\n", median(s.ns), median(s.allocs))
	}
	return nil
}
