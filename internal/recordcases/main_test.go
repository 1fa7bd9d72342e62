package main

import (
	"bufio"
	"encoding/json"
	"os"
	"testing"
)

// TestFormat renders every line of the conformance file again from its own
// fields and the answer the reference gave, and expects the same bytes: new
// lines look like the old ones, and the tool keeps what the file says.
func TestFormat(t *testing.T) {
	f, err := os.Open("../../testdata/conformance/cases.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text() + "\n"
		var c struct {
			spec
			OK     bool    `json:"ok"`
			Output *string `json:"output"`
			Error  *string `json:"error"`
		}
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatalf("line %d: %v", n, err)
		}
		answer := "ERR\t" + deref(c.Error)
		switch {
		case c.OK:
			answer = "OK\t" + deref(c.Output)
		case deref(c.Error) == "the reference panics":
			answer = "PANIC\tserde panicked"
		}
		got, err := caseLine(c.spec, answer)
		if err != nil {
			t.Fatalf("line %d: %v", n, err)
		}
		if got != line {
			t.Errorf("line %d:\n got %s\nwant %s", n, got, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no cases read")
	}
}

func TestCaseLineRefusesWhatTheReferenceContradicts(t *testing.T) {
	if _, err := caseLine(spec{Type: "StatusRequest", Input: `{"id":"w"}`, Field: "id"}, "OK\t{\"id\":\"w\"}"); err == nil {
		t.Error("a field at fault in a message the reference accepted")
	}
	out := `{"id":"w"}`
	if _, err := caseLine(spec{Type: "StatusRequest", Input: `{}`, GoOutput: &out}, "ERR\tmissing field `id`"); err == nil {
		t.Error("go_output for a message the reference rejected")
	}
	if _, err := caseLine(spec{Type: "InstallResult", Input: `{}`, Field: "sha256", GoRejects: true}, "ERR\tmissing field `binary_path`"); err == nil {
		t.Error("go_rejects for a message the reference rejected")
	}
	if _, err := caseLine(spec{Type: "InstallResult", Input: `{"binary_path":"/b","install_time":1,"sha256":1}`, GoRejects: true}, "OK\t{\"binary_path\":\"/b\",\"install_time\":1}"); err == nil {
		t.Error("go_rejects without the field at fault")
	}
	if _, err := caseLine(spec{Type: "InstallResult", Input: `{"binary_path":"/b","install_time":1,"sha256":1}`, Field: "sha256", GoRejects: true, GoOutput: &out}, "OK\t{\"binary_path\":\"/b\",\"install_time\":1}"); err == nil {
		t.Error("go_output for a message Go rejects")
	}
	if _, err := caseLine(spec{Type: "StatusRequest", Input: `{}`}, "what?"); err == nil {
		t.Error("an answer the oracle never gives")
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
