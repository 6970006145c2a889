package logs

import (
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// fileSource serves two pods' logs from what the real nginx wrote
// (testdata/nginx-*.log, captured by TestParseNginxLines -capture): one pod
// with the text access log format, one with JSON (the default).
type fileSource struct {
	mu    sync.Mutex // -f streams every pod at once
	since []time.Duration
}

var podFiles = map[string]string{"web-nginx-a": "nginx-text.log", "web-nginx-b": "nginx-json.log"}

func (s *fileSource) Pods(context.Context) ([]string, error) {
	return []string{"web-nginx-a", "web-nginx-b"}, nil
}

func (s *fileSource) Stream(_ context.Context, pod string, since time.Duration, _ bool) (io.ReadCloser, error) {
	s.mu.Lock()
	s.since = append(s.since, since)
	s.mu.Unlock()
	return os.Open(filepath.Join("testdata", podFiles[pod]))
}

func runLogs(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, _, err := runLogsFrom(t, args...)
	return out, err
}

// runLogsFrom also returns the source, to see what was asked of it.
func runLogsFrom(t *testing.T, args ...string) (string, *fileSource, error) {
	t.Helper()
	src := &fileSource{}
	var out bytes.Buffer
	o := &options{streams: genericiooptions.IOStreams{Out: &out, ErrOut: &out}}
	o.newSource = func(name string) (Source, error) {
		if name != "web" {
			t.Errorf("Gateway %q", name)
		}
		return src, nil
	}
	cmd := o.command()
	cmd.SetArgs(append([]string{"web"}, args...))
	err := cmd.Execute()
	return out.String(), src, err
}

// TestCommand filters and summarizes the two pods' logs; golden outputs.
func TestCommand(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		wants []string
		lines int // data lines expected (table and raw)
	}{
		{"all", nil, []string{"web-nginx-a", "web-nginx-b", "shop/catalog", "TCPRoute shop/raw"}, 16},
		{"5xx", []string{"--status", "5xx"}, []string{"shop_empty_80", "invalid"}, 4},
		// --route NS/NAME selects a TCP session's "TCPRoute NS/NAME" too.
		{"tcp-route", []string{"--route", "shop/raw"}, []string{"TCP", "u029a5d_shop_local_80"}, 2},
		// The host of both formats, and a hostile request parsed back.
		{"host-and-hostile", []string{"--status", "400", "-o", "yaml"}, []string{"host: shop.example.com",
			"path: /items/q\"uo\\te?x=\"\\x22,}", `userAgent: "a\"b\\c\x01d\e[31m\x7F\te"`}, 0},
		{"route-rule", []string{"--route", "shop/catalog", "--rule", "beta"}, []string{"/beta/x%22y"}, 2},
		{"no-route-raw", []string{"--status", "404", "-o", "raw"}, []string{`route="" rule=""`, `"route":""`}, 2},
		{"summary", []string{"--summary"}, []string{"shop/api", "100.0%", "TCPRoute shop/raw"}, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := runLogs(t, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range tc.wants {
				if !strings.Contains(got, want) {
					t.Errorf("output lacks %q:\n%s", want, got)
				}
			}
			lines := strings.Count(strings.TrimSpace(got), "\n") + 1
			if !strings.Contains(tc.name, "raw") {
				lines-- // header
			}
			if tc.lines != 0 && lines != tc.lines {
				t.Errorf("%d lines, want %d:\n%s", lines, tc.lines, got)
			}
			testenv.Golden(t, filepath.Join("testdata", tc.name+".golden"), []byte(got), *update)
		})
	}
	got, err := runLogs(t, "-o", "json", "--status", "503")
	if err != nil || !strings.Contains(got, `"backend": "shop_empty_80"`) || strings.Count(got, `"status": 503`) != 2 {
		t.Errorf("json: %v\n%s", err, got)
	}
	got, err = runLogs(t, "-f", "--route", "shop/legacy")
	if err != nil || strings.Count(got, "shop/legacy") != 2 {
		t.Errorf("follow: %v\n%s", err, got)
	}
}

func TestSincePassedToTheAPI(t *testing.T) {
	_, src, err := runLogsFrom(t, "--since", "10m")
	if err != nil || len(src.since) != 2 || src.since[0] != 10*time.Minute {
		t.Errorf("%v: since %v", err, src.since)
	}
}

func TestCommandErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--rule", "0"}, "--rule needs --route"},
		{[]string{"--status", "5x"}, "want a code (404) or a class (5xx)"},
		{[]string{"-f", "--summary"}, "--follow prints lines as they come"},
		{[]string{"--summary", "-o", "raw"}, "--summary prints a table"},
		{[]string{"-o", "wide"}, "unknown output format"},
	} {
		if _, err := runLogs(t, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	var entries []Entry
	for i := 1; i <= 100; i++ {
		status := 200
		if i%10 == 0 {
			status = 502
		}
		entries = append(entries, Entry{Route: "a/r", Backend: "b", Status: status, RequestTime: float64(i) / 1000})
	}
	s := Summarize(entries)
	if len(s) != 1 || s[0].Requests != 100 || s[0].Errors != 10 || s[0].P50 != 0.05 || s[0].P99 != 0.099 {
		t.Errorf("%+v", s)
	}
}
