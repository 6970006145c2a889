package metrics

import (
	"strings"
	"testing"
)

// TestParseStubStatus reads nginx's stub_status page (as nginx 1.30 writes
// it, trailing spaces included) and refuses pages of another shape.
func TestParseStubStatus(t *testing.T) {
	page := "Active connections: 3 \nserver accepts handled requests\n 10 9 25 \nReading: 1 Writing: 1 Waiting: 1 \n"
	got, err := ParseStubStatus(page)
	want := StubStatus{Active: 3, Reading: 1, Writing: 1, Waiting: 1, Accepted: 10, Handled: 9, Requests: 25}
	if err != nil || got != want {
		t.Errorf("ParseStubStatus = %+v, %v; want %+v", got, err, want)
	}
	for _, bad := range []string{"", "<html>404</html>", strings.Replace(page, "Reading", "Read", 1), strings.Replace(page, " 10 9 25", " 10 9", 1)} {
		if _, err := ParseStubStatus(bad); err == nil {
			t.Errorf("ParseStubStatus(%q) accepted", bad)
		}
	}
}
