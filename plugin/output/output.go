package output

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// Formats of Write.
const (
	Table = "table"
	YAML  = "yaml"
	JSON  = "json"
)

// Check returns an error for a format neither Write nor the command (its
// own formats, e.g. logs' "raw") knows. "" is Table, as for kubectl get:
// `-o ""` from a script that leaves its variable empty prints the default.
func Check(format string, own ...string) error {
	switch format {
	case Table, YAML, JSON, "":
		return nil
	}
	if slices.Contains(own, format) {
		return nil
	}
	known := append([]string{Table}, own...)
	return fmt.Errorf("unknown output format %q: use %s, yaml or json", format, strings.Join(known, ", "))
}

// Write writes doc as YAML or JSON, or, for Table, what table draws, with
// the trailing spaces of tabwriter's padding removed from every line.
func Write(w io.Writer, format string, doc any, table func(io.Writer) error) error {
	switch format {
	case JSON:
		b, err := json.MarshalIndent(doc, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case YAML:
		j, err := json.Marshal(doc)
		if err != nil {
			return err
		}
		// YAML refuses some characters JSON leaves as they are (DEL, C1
		// controls), which an access log's user agent or path may carry.
		b, err := yaml.JSONToYAML(escapeNonYAML(j))
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	case Table, "":
		var buf bytes.Buffer
		if err := table(&buf); err != nil {
			return err
		}
		lines := strings.Split(buf.String(), "\n")
		for i, l := range lines {
			lines[i] = strings.TrimRight(l, " ")
		}
		_, err := io.WriteString(w, strings.Join(lines, "\n"))
		return err
	}
	return Check(format)
}

// escapeNonYAML writes, in JSON text, the characters outside YAML's
// printable set as \u escapes: JSON allows them raw only inside strings, where
// the escape means the same.
func escapeNonYAML(j []byte) []byte {
	printable := func(r rune) bool {
		return r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r <= 0x7e) || r == 0x85 ||
			(r >= 0xa0 && r <= 0xd7ff) || (r >= 0xe000 && r <= 0xfffd) || (r >= 0x10000 && r <= 0x10ffff)
	}
	if !bytes.ContainsFunc(j, func(r rune) bool { return !printable(r) }) {
		return j
	}
	var b bytes.Buffer
	for _, r := range string(j) {
		if printable(r) {
			b.WriteRune(r)
		} else {
			fmt.Fprintf(&b, "\\u%04x", r)
		}
	}
	return b.Bytes()
}
