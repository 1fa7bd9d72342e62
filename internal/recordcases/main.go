// Command recordcases runs new conformance cases through the Rust reference
// and prints them as lines of testdata/conformance/cases.jsonl, recording
// what the reference did: never what someone expects it to do.
//
// Build the reference once (see ../shared/rust-reference/README.md in the
// rbee planning material), then:
//
//	go run ./internal/recordcases -oracle /tmp/rust-ref/oracle < new.jsonl >> testdata/conformance/cases.jsonl
//
// Each input line is a JSON object with the case's "type", "input", "note",
// and, where the reference rejects the message because of one member, the
// "field" a Go error must name. "go_output" is for a message that Go
// deliberately writes back differently, because it carries a member beyond
// the Rust contract: Go must write go_output where the reference writes
// output. "go_rejects" is for a message that the reference accepts and Go
// rejects, because a member beyond the Rust contract, which serde ignores
// whatever it holds, has a type Go does not read; "field" names that member.
// Everything else (ok, output, error) comes from the reference.
//
// With -numbers, each input line is a JSON number instead; recordcases asks
// the reference whether it reads a StatusResponse whose metadata is that
// number, and prints the number, a tab and OK or ERR, for
// testdata/conformance/numbers.tsv:
//
//	go run ./internal/recordcases -oracle /tmp/rust-ref/oracle -numbers < numbers.txt > testdata/conformance/numbers.tsv
//
// The lines are written in the file's own format: keys in a fixed order,
// ", " and ": " between them. Feeding the file itself re-records every case
// (but for the one whose input holds a newline, which the oracle cannot
// read), and must change nothing.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"unicode/utf8"
)

// spec is one new case, as the input describes it.
type spec struct {
	Type     string  `json:"type"`
	Input    string  `json:"input"`
	Field    string  `json:"field"`
	Note     string  `json:"note"`
	GoOutput *string `json:"go_output"`
	// GoRejects says that Go rejects, because of Field, a message that the
	// reference accepts.
	GoRejects bool `json:"go_rejects"`
}

func main() {
	oracle := flag.String("oracle", "", "path to the Rust reference's oracle binary")
	numbers := flag.Bool("numbers", false, "read JSON numbers and record whether the reference reads each as metadata")
	flag.Parse()
	if *oracle == "" {
		fmt.Fprintln(os.Stderr, "recordcases: -oracle is required")
		os.Exit(2)
	}
	record := run
	if *numbers {
		record = runNumbers
	}
	if err := record(*oracle, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "recordcases:", err)
		os.Exit(1)
	}
}

func run(oracle string, in io.Reader, out io.Writer) error {
	var specs []spec
	sc := bufio.NewScanner(in)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var s spec
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			return fmt.Errorf("input line %d: %w", len(specs)+1, err)
		}
		if strings.ContainsAny(s.Input, "\r\n") || !utf8.ValidString(s.Input) {
			return fmt.Errorf("input line %d: the oracle reads one line of UTF-8 a case", len(specs)+1)
		}
		specs = append(specs, s)
	}
	if err := sc.Err(); err != nil {
		return err
	}

	// The oracle reads every input, then every go_output: the reference
	// must read what Go writes, and get the same message.
	var questions []string
	for _, s := range specs {
		questions = append(questions, s.Type+"\t"+s.Input)
	}
	for _, s := range specs {
		if s.GoOutput != nil {
			questions = append(questions, s.Type+"\t"+*s.GoOutput)
		}
	}
	lines, err := ask(oracle, questions)
	if err != nil {
		return err
	}
	readBack := lines[len(specs):]
	for i, s := range specs {
		if s.GoOutput == nil {
			continue
		}
		// What the reference writes after reading Go's message must be what
		// it writes after reading the input.
		if !strings.HasPrefix(lines[i], "OK\t") || readBack[0] != lines[i] {
			return fmt.Errorf("case %d (%s): the reference reads go_output as %q, and the input as %q", i+1, s.Note, readBack[0], lines[i])
		}
		readBack = readBack[1:]
	}

	w := bufio.NewWriter(out)
	for i, s := range specs {
		line, err := caseLine(s, lines[i])
		if err != nil {
			return fmt.Errorf("case %d (%s): %w", i+1, s.Note, err)
		}
		w.WriteString(line)
	}
	return w.Flush()
}

// ask runs the oracle once on questions, lines of "TYPE\tJSON", and returns
// its answers, one a question.
func ask(oracle string, questions []string) ([]string, error) {
	var feed bytes.Buffer
	for _, q := range questions {
		feed.WriteString(q + "\n")
	}
	cmd := exec.Command(oracle)
	cmd.Stdin = &feed
	cmd.Stderr = os.Stderr
	answers, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("oracle: %w", err)
	}
	lines := strings.Split(strings.TrimSuffix(string(answers), "\n"), "\n")
	if len(lines) != len(questions) {
		return nil, fmt.Errorf("oracle gave %d answers to %d questions", len(lines), len(questions))
	}
	return lines, nil
}

// runNumbers records, for each JSON number read from in, whether the
// reference reads it as a StatusResponse's metadata.
func runNumbers(oracle string, in io.Reader, out io.Writer) error {
	b, err := io.ReadAll(in)
	if err != nil {
		return err
	}
	numbers := strings.Fields(string(b))
	var questions []string
	for _, n := range numbers {
		questions = append(questions, `StatusResponse	{"id":"n","is_running":true,"metadata":`+n+`}`)
	}
	lines, err := ask(oracle, questions)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(out)
	for i, n := range numbers {
		verdict, _, _ := strings.Cut(lines[i], "\t")
		if verdict != "OK" && verdict != "ERR" {
			return fmt.Errorf("number %s: unexpected oracle answer %q", n, lines[i])
		}
		fmt.Fprintf(w, "%s\t%s\n", n, verdict)
	}
	return w.Flush()
}

// caseLine returns the line of cases.jsonl for s, given the oracle's answer
// to it: "OK\t" and what the reference wrote back, "ERR\t" and its error, or
// "PANIC\t...".
func caseLine(s spec, answer string) (string, error) {
	verdict, text, _ := strings.Cut(answer, "\t")
	c := []field{{"type", s.Type}, {"input", s.Input}}
	switch verdict {
	case "OK":
		if s.Field != "" && !s.GoRejects {
			return "", errors.New("the reference accepted it, so no field is at fault")
		}
		c = append(c, field{"ok", true}, field{"output", text}, field{"error", nil})
	case "ERR":
		c = append(c, field{"ok", false}, field{"output", nil}, field{"error", text})
	case "PANIC":
		c = append(c, field{"ok", false}, field{"output", nil}, field{"error", "the reference panics"})
	default:
		return "", fmt.Errorf("unexpected oracle answer %q", answer)
	}
	if s.GoRejects {
		switch {
		case verdict != "OK":
			return "", errors.New("go_rejects for a message the reference rejects: that is a plain rejected case")
		case s.Field == "":
			return "", errors.New("go_rejects without the field Go rejects")
		case s.GoOutput != nil:
			return "", errors.New("go_output for a message Go rejects")
		}
	}
	c = append(c, field{"field", s.Field}, field{"note", s.Note})
	if s.GoRejects {
		c = append(c, field{"go_rejects", true})
	}
	if s.GoOutput != nil {
		if verdict != "OK" {
			return "", errors.New("go_output for a message the reference rejects")
		}
		c = append(c, field{"go_output", *s.GoOutput})
	}
	var b strings.Builder
	writeObject(&b, c)
	return b.String(), nil
}

// field is one key and value of an output line: a string, a bool or nil.
type field struct {
	key   string
	value any
}

// writeObject writes c as one line, in the format of the file's existing
// lines (Python's json.dumps with ensure_ascii=False).
func writeObject(w *strings.Builder, c []field) {
	w.WriteByte('{')
	for i, f := range c {
		if i > 0 {
			w.WriteString(", ")
		}
		writeString(w, f.key)
		w.WriteString(": ")
		switch v := f.value.(type) {
		case nil:
			w.WriteString("null")
		case bool:
			w.WriteString(strconv.FormatBool(v))
		case string:
			writeString(w, v)
		default:
			panic(errors.New("recordcases: unsupported value"))
		}
	}
	w.WriteString("}\n")
}

// writeString writes s as a JSON string, escaping what Python's json.dumps
// escapes with ensure_ascii=False: quotes, backslashes and C0 controls.
func writeString(w *strings.Builder, s string) {
	w.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			w.WriteString(`\"`)
		case r == '\\':
			w.WriteString(`\\`)
		case r == '\n':
			w.WriteString(`\n`)
		case r == '\r':
			w.WriteString(`\r`)
		case r == '\t':
			w.WriteString(`\t`)
		case r == '\b':
			w.WriteString(`\b`)
		case r == '\f':
			w.WriteString(`\f`)
		case r < 0x20:
			fmt.Fprintf(w, `\u%04x`, r)
		default:
			w.WriteRune(r)
		}
	}
	w.WriteByte('"')
}
