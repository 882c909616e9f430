package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chatapp-dev/chatapp/internal/reporoot"
)

// The README's API examples, read from README.md as a reader reads them,
// for readme_test.go. Parsing is strict: a line of an example block that
// is not understood fails the test, so that no edit of the examples goes
// unchecked.

// readmeHost is the address the README's examples use.
const readmeHost = "127.0.0.1:8080"

// readmeAPI returns the README's "## API" section.
func readmeAPI(t *testing.T) string {
	t.Helper()
	root, err := reporoot.Find()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "\n## API\n")
	if !ok {
		t.Fatal("README.md has no \"## API\" section")
	}
	if i := strings.Index(section, "\n## "); i >= 0 {
		section = section[:i]
	}
	return section
}

// codeBlocks returns the fenced blocks of text whose info string is lang.
func codeBlocks(text, lang string) []string {
	var blocks []string
	var block []string
	in := false
	for line := range strings.SplitSeq(text, "\n") {
		switch {
		case !in && line == "```"+lang:
			in, block = true, nil
		case in && line == "```":
			in = false
			blocks = append(blocks, strings.Join(block, "\n"))
		case in:
			block = append(block, line)
		}
	}
	return blocks
}

// restExample is one curl command of the README and the answer it shows.
type restExample struct {
	command string // as written, for messages
	method  string
	url     string
	body    string
	header  map[string]string
	status  int    // the status line's, 0 where none is shown
	answer  string // the JSON shown after "# → " (with its continuation lines), "" if none
}

var statusLine = regexp.MustCompile(`^HTTP/[0-9.]+ ([0-9]{3})[^{\[]*`)

// parseRESTExamples reads a ```sh block: curl commands (continued by a
// trailing backslash), each optionally followed by "# → " and the answer
// (its continuation lines start with "#" and at least two spaces), and
// comment lines of prose.
func parseRESTExamples(block string) ([]restExample, error) {
	var out []restExample
	lines := strings.Split(block, "\n")
	inAnswer := false
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		switch {
		case strings.TrimSpace(line) == "":
			inAnswer = false
		case strings.HasPrefix(line, "curl "):
			cmd := line
			for strings.HasSuffix(cmd, `\`) && i+1 < len(lines) {
				i++
				cmd = strings.TrimSuffix(cmd, `\`) + "\n" + lines[i]
			}
			ex, err := parseCurl(cmd)
			if err != nil {
				return nil, err
			}
			out = append(out, ex)
			inAnswer = false
		case strings.HasPrefix(line, "# → "):
			if len(out) == 0 || out[len(out)-1].answer != "" {
				return nil, fmt.Errorf("%q: an answer without its own command", line)
			}
			out[len(out)-1].answer = strings.TrimPrefix(line, "# → ")
			inAnswer = true
		case inAnswer && strings.HasPrefix(line, "#  "):
			out[len(out)-1].answer += strings.TrimSpace(strings.TrimPrefix(line, "#"))
		case strings.HasPrefix(line, "# "):
			inAnswer = false // prose
		default:
			return nil, fmt.Errorf("%q: not a curl command, an answer or a comment", line)
		}
	}
	for i, ex := range out {
		if ex.answer == "" {
			continue
		}
		if m := statusLine.FindStringSubmatch(ex.answer); m != nil {
			out[i].status, _ = strconv.Atoi(m[1])
			out[i].answer = ex.answer[len(m[0]):]
		}
	}
	return out, nil
}

// parseCurl reads the curl options the examples use; any other is an error.
func parseCurl(cmd string) (restExample, error) {
	words, err := shellWords(cmd)
	if err != nil {
		return restExample{}, fmt.Errorf("%q: %w", cmd, err)
	}
	ex := restExample{command: cmd, header: map[string]string{}}
	for i := 1; i < len(words); i++ {
		w := words[i]
		needsValue := slices.Contains([]string{"-X", "--request", "-d", "--data", "--data-raw", "-H", "--header"}, w)
		if needsValue && i+1 == len(words) {
			return ex, fmt.Errorf("%q: %s without its value", cmd, w)
		}
		switch {
		case w == "-X" || w == "--request":
			i++
			ex.method = words[i]
		case w == "-d" || w == "--data" || w == "--data-raw":
			i++
			ex.body = words[i]
		case w == "-H" || w == "--header":
			i++
			k, v, ok := strings.Cut(words[i], ":")
			if !ok {
				return ex, fmt.Errorf("%q: header %q", cmd, words[i])
			}
			ex.header[strings.TrimSpace(k)] = strings.TrimSpace(v)
		case w == "-i" || w == "--include":
		case strings.HasPrefix(w, "-"):
			return ex, fmt.Errorf("%q: curl option %s is not one the test knows", cmd, w)
		case ex.url != "":
			return ex, fmt.Errorf("%q: two URLs", cmd)
		default:
			ex.url = w
		}
	}
	if ex.body != "" {
		// As curl sends -d.
		if ex.method == "" {
			ex.method = "POST"
		}
		if _, ok := ex.header["Content-Type"]; !ok {
			ex.header["Content-Type"] = "application/x-www-form-urlencoded"
		}
	}
	if ex.method == "" {
		ex.method = "GET"
	}
	if ex.url == "" {
		return ex, fmt.Errorf("%q: no URL", cmd)
	}
	return ex, nil
}

// shellWords splits a command line as a POSIX shell does for the quoting
// the examples use: '...', "..." with backslash escapes, a backslash
// before a newline, and a comment from an unquoted # at a word's start.
func shellWords(s string) ([]string, error) {
	var words []string
	var word strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words, inWord = append(words, word.String()), false
				word.Reset()
			}
		case c == '#' && !inWord:
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("unterminated '")
			}
			word.WriteString(s[i+1 : i+1+end])
			i += 1 + end
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
				}
				word.WriteByte(s[i])
			}
			if i == len(s) {
				return nil, fmt.Errorf("unterminated \"")
			}
			inWord = true
		case c == '\\' && i+1 < len(s):
			i++
			if s[i] != '\n' {
				word.WriteByte(s[i])
				inWord = true
			}
		default:
			word.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, word.String())
	}
	return words, nil
}

// anyValue stands for a bare … in a documented answer: any value at all.
const anyValue = "\x00any"

// parseDocumented reads a documented JSON answer, where … stands for any
// value (bare) or any string (inside a string); nothing may follow it.
func parseDocumented(doc string) (any, error) {
	var b strings.Builder
	inString := false
	for i := 0; i < len(doc); i++ {
		switch c := doc[i]; {
		case inString && c == '\\' && i+1 < len(doc):
			b.WriteByte(c)
			i++
			b.WriteByte(doc[i])
			continue
		case c == '"':
			inString = !inString
		case !inString && strings.HasPrefix(doc[i:], "…"):
			b.WriteString(jsonText(anyValue))
			i += len("…") - 1
			continue
		}
		b.WriteByte(doc[i])
	}
	return decodeStrict([]byte(b.String()))
}

// decodeStrict decodes one JSON value, numbers as json.Number, and fails
// on anything after it.
func decodeStrict(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%q is not JSON: %w", data, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%q: something follows the JSON value", data)
	}
	return v, nil
}

// shapeDiffs lists where got differs from the documented answer: the
// same field names at every level and the same value types; strings equal
// unless the documented one holds … (any string); numbers of any value;
// an array empty in both or in neither, each element shaped as the
// documented one at its place (the last documented one past the end).
func shapeDiffs(path string, doc, got any) []string {
	if s, ok := doc.(string); ok && s == anyValue {
		return nil
	}
	differ := func(format string, args ...any) []string {
		return []string{path + ": " + fmt.Sprintf(format, args...)}
	}
	switch d := doc.(type) {
	case string:
		g, ok := got.(string)
		switch {
		case !ok:
			return differ("documented a string, got %s", jsonText(got))
		case !strings.Contains(d, "…") && g != d:
			return differ("documented %q, got %q", d, g)
		}
	case json.Number:
		if _, ok := got.(json.Number); !ok {
			return differ("documented a number, got %s", jsonText(got))
		}
	case bool:
		if _, ok := got.(bool); !ok {
			return differ("documented a boolean, got %s", jsonText(got))
		}
	case nil:
		if got != nil {
			return differ("documented null, got %s", jsonText(got))
		}
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return differ("documented an object, got %s", jsonText(got))
		}
		var diffs []string
		for _, k := range keys(d) {
			if _, ok := g[k]; !ok {
				diffs = append(diffs, fmt.Sprintf("%s: documented field %q is not in the answer", path, k))
				continue
			}
			diffs = append(diffs, shapeDiffs(path+"."+k, d[k], g[k])...)
		}
		for _, k := range keys(g) {
			if _, ok := d[k]; !ok {
				diffs = append(diffs, fmt.Sprintf("%s: the answer's field %q is not documented", path, k))
			}
		}
		return diffs
	case []any:
		g, ok := got.([]any)
		switch {
		case !ok:
			return differ("documented an array, got %s", jsonText(got))
		case len(d) == 0 && len(g) > 0:
			return differ("documented empty, got %d elements", len(g))
		case len(g) < len(d):
			return differ("documented %d elements, got %d", len(d), len(g))
		}
		var diffs []string
		for i := range g {
			diffs = append(diffs, shapeDiffs(fmt.Sprintf("%s[%d]", path, i), d[min(i, len(d)-1)], g[i])...)
		}
		return diffs
	}
	return nil
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestShapeDiffs: the comparison the README tests rely on catches a field
// added to or dropped from the documentation, and a changed type.
func TestShapeDiffs(t *testing.T) {
	got, err := decodeStrict([]byte(`{"users":[],"message":{"id":"01M9","timestamp":1796529006780,"name":"Ada"},"delivered":0}`))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]int{ // documented answer → how many differences
		`{"users":[],"message":{"id":"01K…","timestamp":…,"name":"Ada"},"delivered":0}`:                   0,
		`{"users":[],"message":{"id":"01K…","timestamp":1,"name":"Ada"},"delivered":7}`:                   0,
		`{"users":[],"message":{"id":"01K…","timestamp":1,"name":"Ada","seen":true},"delivered":0}`:       1,
		`{"users":[],"message":{"id":"01K…","timestamp":1,"name":"Ada"}}`:                                 1,
		`{"users":[{"connection_id":"…"}],"message":{"id":"…","timestamp":1,"name":"Ada"},"delivered":1}`: 1,
		`{"users":[],"message":{"id":"01K…","timestamp":"1","name":"Grace"},"delivered":0}`:               2,
	}
	for doc, want := range cases {
		d, err := parseDocumented(doc)
		if err != nil {
			t.Fatal(err)
		}
		if diffs := shapeDiffs("answer", d, got); len(diffs) != want {
			t.Errorf("%s: %d differences %q, want %d", doc, len(diffs), diffs, want)
		}
	}
	if _, err := parseDocumented(`{"a":1}   (prose after the answer)`); err == nil {
		t.Error("prose after a documented answer was accepted")
	}
}
