package status

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/plugin/output"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Output formats of Print.
const (
	OutputTable = output.Table
	OutputYAML  = output.YAML
	OutputJSON  = output.JSON
)

// shortHash and maxMessage bound the table's columns; YAML and JSON carry
// everything.
const (
	shortHash  = 12
	maxMessage = 72
)

// List is the document Print writes as YAML or JSON.
type List struct {
	Gateways []GatewayStatus `json:"gateways"`
	InSync   bool            `json:"inSync"`
}

// Print writes statuses in format (OutputTable, OutputYAML or OutputJSON).
func Print(w io.Writer, format string, statuses []GatewayStatus) error {
	list := List{Gateways: statuses, InSync: AllInSync(statuses)}
	if list.Gateways == nil {
		list.Gateways = []GatewayStatus{}
	}
	return output.Write(w, format, list, func(w io.Writer) error { return printTable(w, statuses) })
}

// AllInSync is whether every Gateway is in sync.
func AllInSync(statuses []GatewayStatus) bool {
	for _, s := range statuses {
		if !s.InSync {
			return false
		}
	}
	return true
}

func printTable(w io.Writer, statuses []GatewayStatus) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for i, s := range statuses {
		if i > 0 {
			fmt.Fprintln(tw)
		}
		sync := "IN SYNC"
		if !s.InSync {
			sync = "NOT IN SYNC"
		}
		fmt.Fprintf(tw, "GATEWAY %s/%s\t%s\n", s.Namespace, s.Name, sync)
		fmt.Fprintf(tw, "  Accepted:\t%s\n", conditionText(s.Accepted))
		fmt.Fprintf(tw, "  Programmed:\t%s\n", conditionText(s.Programmed))
		fmt.Fprintf(tw, "  Wanted config:\t%s\n", orNone(short(s.WantedHash)))
		tw.Flush()
		if len(s.Pods) == 0 {
			fmt.Fprintln(tw, "  no gateway pods")
		} else {
			fmt.Fprintln(tw, "  POD\tSTATE\tREADY\tANNOTATED\tAPPLIED\tLAST RELOAD\tRELOADS\tNGINX -T\tGENERATIONS\tMESSAGE")
			for _, p := range s.Pods {
				msg := ""
				if p.State == Rejected {
					msg = oneLine(p.RejectedMessage)
				}
				if p.DataPlaneError != "" {
					msg = strings.TrimPrefix(msg+"; ", "; ") + oneLine(p.DataPlaneError)
				}
				state := string(p.State)
				if p.StaleFor != "" {
					state += " for " + p.StaleFor
				}
				fmt.Fprintf(tw, "  %s\t%s\t%t\t%s\t%s\t%s\t%s\n", p.Name, state, p.Ready,
					orNone(short(p.AnnotatedHash)), orNone(short(p.AppliedHash)), dataPlaneColumns(p.DataPlane), msg)
			}
		}
		tw.Flush()
		if len(s.RefusedRoutes) > 0 {
			fmt.Fprintln(tw, "  REFUSED ROUTE\tREASON\tMESSAGE")
			for _, r := range s.RefusedRoutes {
				fmt.Fprintf(tw, "  %s %s/%s\t%s\t%s\n", r.Kind, r.Namespace, r.Name, r.Reason, oneLine(r.Message))
			}
		}
		tw.Flush()
	}
	return tw.Flush()
}

// dataPlaneColumns are LAST RELOAD (when, how long), RELOADS (failed
// ones too), NGINX -T (runs, the last one's time) and GENERATIONS (alive,
// peak): "-" each when unknown.
func dataPlaneColumns(d *DataPlane) string {
	if d == nil {
		return "-\t-\t-\t-"
	}
	last := "-"
	if d.LastReload != nil {
		last = d.LastReload.Format(time.RFC3339) + " (" + duration(d.LastReloadSeconds).String() + ")"
	}
	reloads := fmt.Sprint(d.Reloads)
	if d.ReloadFailures > 0 {
		reloads += fmt.Sprintf(" (%d failed)", d.ReloadFailures)
	}
	validations := fmt.Sprint(d.Validations)
	if d.Validations > 0 {
		validations += " (last " + duration(d.LastValidationSeconds).String()
		if d.LastValidation != nil {
			validations += " at " + d.LastValidation.Format(time.RFC3339)
		}
		validations += ")"
	}
	if d.ValidationFailures > 0 {
		validations += fmt.Sprintf(" %d failed", d.ValidationFailures)
	}
	return fmt.Sprintf("%s\t%s\t%s\t%d (peak %d)", last, reloads, validations, d.WorkerGenerations, d.WorkerGenerationsPeak)
}

func conditionText(c Condition) string {
	if c.Status == metav1.ConditionTrue {
		return string(c.Status)
	}
	text := string(c.Status)
	if c.Reason != "" {
		text += " (" + c.Reason + ")"
	}
	if c.Message != "" {
		text += ": " + oneLine(c.Message)
	}
	return text
}

func short(hash string) string {
	if len(hash) > shortHash {
		return hash[:shortHash]
	}
	return hash
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine is msg on one line, cut to maxMessage runes with "…".
func oneLine(msg string) string {
	msg = strings.Join(strings.Fields(msg), " ")
	if r := []rune(msg); len(r) > maxMessage {
		return string(r[:maxMessage-1]) + "…"
	}
	return msg
}
