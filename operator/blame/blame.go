// Package blame finds the route behind a config the data plane rejected:
// nginx names the file and line it refused ("… in servers.conf:123"), and
// the render step's source map (render.Sources) names the route rule that
// line was written for. Pure: the reconciler refuses that route
// (translate.Input.Refused) so that the next config leaves it out and the
// other routes of the Gateway are served again.
package blame

import (
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/render"
)

// location is how nginx ends an error about a config line: " in FILE:LINE".
// The match is anchored at the end of a line and the rest is greedy, so a
// quoted value in the message that looks the same cannot be taken for it.
var location = regexp.MustCompile(`^.*\sin (\S+):([0-9]+)\s*$`)

// Location returns the file (its base name: the sidecar strips its staging
// folder, nginx -t run elsewhere gives an absolute path) and line of the
// first error line of an nginx message that names one.
func Location(message string) (file string, line int, ok bool) {
	for l := range strings.Lines(message) {
		if !strings.Contains(l, "[emerg]") && !strings.Contains(l, "[crit]") && !strings.Contains(l, "[alert]") {
			continue
		}
		m := location.FindStringSubmatch(strings.TrimRight(l, "\r\n"))
		if m == nil {
			continue
		}
		n, err := strconv.Atoi(m[2])
		if err != nil || n < 1 {
			continue
		}
		return path.Base(m[1]), n, true
	}
	return "", 0, false
}

// Route returns the route rule behind the line an nginx message names, in
// the sources of the files that message is about; false when the message
// names no line, or a line that is ours (a bug of the render step, not a
// route to refuse).
func Route(message string, sources render.Sources) (model.RouteRef, bool) {
	file, line, ok := Location(message)
	if !ok {
		return model.RouteRef{}, false
	}
	return sources.At(file, line)
}
