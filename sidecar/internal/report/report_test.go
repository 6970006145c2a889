package report

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTrimMessage(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		max      int
		want     string
	}{
		{"short", "  nginx: [emerg] x\n", 100, "nginx: [emerg] x"},
		{"exact", "abcdef", 6, "abcdef"},
		{"cut", "abcdefghij", 8, "abcde…"},
		{"cut before a multi-byte character", "abcdé" + strings.Repeat("x", 10), 8, "abcd…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := TrimMessage(tc.in, tc.max)
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if len(got) > tc.max || !utf8.ValidString(got) {
				t.Errorf("%q: %d bytes (max %d), valid UTF-8 %v", got, len(got), tc.max, utf8.ValidString(got))
			}
		})
	}
}
