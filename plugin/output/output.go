package output

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"sigs.k8s.io/yaml"
)

// Formats of Write.
const (
	Table = "table"
	YAML  = "yaml"
	JSON  = "json"
)

// Check returns an error for a format Write does not know.
func Check(format string) error {
	switch format {
	case Table, YAML, JSON, "":
		return nil
	}
	return fmt.Errorf("unknown output format %q: use table, yaml or json", format)
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
		b, err := yaml.Marshal(doc)
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
