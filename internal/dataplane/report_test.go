package dataplane

import (
	"reflect"
	"testing"
)

func TestReportRoundTrip(t *testing.T) {
	data := map[string]string{}
	reports := map[string]PodReport{
		"gw-nginx-5d8f-abcde": {AppliedHash: "h1"},
		"gw-nginx-5d8f-fghij": {AppliedHash: "h0", RejectedHash: "h1", RejectedMessage: `[emerg] unknown directive "x"`},
		"pod.with.dots":       {RejectedHash: "h1", RejectedMessage: "bad"},
	}
	for pod, r := range reports {
		for k, v := range r.Data(pod) {
			data[k] = v
		}
	}
	data["unrelated"] = "x"
	data[".applied-hash"] = "no pod"
	if got := ParseReports(data); !reflect.DeepEqual(got, reports) {
		t.Errorf("ParseReports = %+v, want %+v", got, reports)
	}
	if got := len(PodReport{AppliedHash: "h"}.Data("p")); got != 1 {
		t.Errorf("an applied report has %d keys, want 1 (no empty rejected keys)", got)
	}
	if got := ReportPod("pod.with.dots.rejected-message"); got != "pod.with.dots" {
		t.Errorf("ReportPod = %q", got)
	}
	if got := ReportPod("unrelated"); got != "" {
		t.Errorf("ReportPod(unrelated) = %q", got)
	}
}
