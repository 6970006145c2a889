package logs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/resources"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/plugin/output"
)

// OutputRaw prints the selected lines as nginx wrote them.
const OutputRaw = "raw"

type options struct {
	flags   *genericclioptions.ConfigFlags
	streams genericiooptions.IOStreams
	output  string
	route   string
	rule    string
	status  string
	since   time.Duration
	follow  bool
	summary bool
	// newSource reads Gateway name's pods: through the API server, or a
	// test's files.
	newSource func(name string) (Source, error)
}

// Source reads the nginx container's log of a Gateway's pods.
type Source interface {
	// Pods are the names of the Gateway's pods.
	Pods(ctx context.Context) ([]string, error)
	// Stream is one pod's nginx log since a duration ago (0: all of it),
	// following it when follow is set.
	Stream(ctx context.Context, pod string, since time.Duration, follow bool) (io.ReadCloser, error)
}

// NewCommand is `logs GATEWAY`. flags are the root command's kubeconfig
// flags (genericclioptions), which it reads at run time.
func NewCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &options{flags: flags, streams: streams}
	o.newSource = o.apiSource
	return o.command()
}

func (o *options) command() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "logs GATEWAY [--route NS/NAME] [--rule RULE] [--status 5xx] [--since 10m] [-f] [--summary]",
		Short: "Show the access log of every gateway pod, filtered by route, rule and status, or summarized",
		Long: `Read the nginx container's log of every pod of the Gateway through the API server (as
kubectl logs does: needs list pods and get pods/log in the Gateway's namespace), keep the
access log lines (the JSON format, the default, and the text format of the operator's nginx;
HTTP requests and TCP/UDP/TLS sessions), filter them by route, rule and status, and print them as a table (-o raw: as nginx wrote them; -o yaml|json:
parsed). --summary prints, per route and backend, the requests, 5xx rate and the p50/p99
request_time instead. Each line names the route, rule and backend that served it: an empty
route is a request no route took (404), backend "no-endpoints" a 503, "invalid" a 500.`,
		Example: `  kubectl nginx-gateway logs web --status 5xx --since 10m
  kubectl nginx-gateway logs web --route shop/catalog --rule beta -f
  kubectl nginx-gateway logs web --since 1h --summary`,
		Args:          cobra.ExactArgs(1),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			src, err := o.newSource(args[0])
			if err != nil {
				return err
			}
			return o.run(cmd.Context(), src)
		},
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", output.Table, "output format: table, raw, yaml or json")
	cmd.Flags().StringVar(&o.route, "route", "", "only requests of this route (NAMESPACE/NAME)")
	cmd.Flags().StringVar(&o.rule, "rule", "", "only requests of this rule (its name or index; with --route)")
	cmd.Flags().StringVar(&o.status, "status", "", "only these statuses: codes or classes, comma-separated (404,5xx)")
	cmd.Flags().DurationVar(&o.since, "since", 0, "only lines newer than this (10m, 1h); default all")
	cmd.Flags().BoolVarP(&o.follow, "follow", "f", false, "keep printing new lines")
	cmd.Flags().BoolVar(&o.summary, "summary", false, "per route and backend: requests, 5xx rate, p50/p99 request_time")
	return cmd
}

// apiSource reads the pods of Gateway name through the API server.
func (o *options) apiSource(name string) (Source, error) {
	namespace, _, err := o.flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, err
	}
	cfg, err := o.flags.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &apiSource{cs: cs, namespace: namespace, gateway: name}, nil
}

func (o *options) run(ctx context.Context, src Source) error {
	if err := output.Check(o.output, OutputRaw); err != nil {
		return err
	}
	if o.summary && o.output == OutputRaw {
		return errors.New("--summary prints a table, yaml or json, not raw lines")
	}
	if o.follow && (o.summary || o.output == output.YAML || o.output == output.JSON) {
		return errors.New("--follow prints lines as they come: it takes -o table or raw, without --summary")
	}
	if o.rule != "" && o.route == "" {
		return errors.New("--rule needs --route: rule names and indexes repeat across routes")
	}
	statuses, err := ParseStatuses(o.status)
	if err != nil {
		return err
	}
	filter := Filter{Route: o.route, Rule: o.rule, Statuses: statuses}
	pods, err := src.Pods(ctx)
	if err != nil {
		return err
	}
	if len(pods) == 0 {
		return errors.New("the Gateway has no pods (is it Programmed? kubectl nginx-gateway status)")
	}
	if o.follow {
		return o.followAll(ctx, src, pods, filter)
	}

	var entries []Entry
	for _, pod := range pods {
		got, err := readAll(ctx, src, pod, o.since, filter)
		if err != nil {
			return err
		}
		entries = append(entries, got...)
	}
	// Lines of one pod are in order; merge the pods by time.
	slices.SortStableFunc(entries, func(a, b Entry) int { return a.Time.Compare(b.Time) })
	if o.summary {
		return output.Write(o.streams.Out, o.output, Summarize(entries), func(w io.Writer) error { return printSummary(w, Summarize(entries)) })
	}
	if o.output == OutputRaw {
		for _, e := range entries {
			fmt.Fprintln(o.streams.Out, e.Raw)
		}
		return nil
	}
	if entries == nil {
		entries = []Entry{}
	}
	return output.Write(o.streams.Out, o.output, entries, func(w io.Writer) error { return printEntries(w, entries, true) })
}

func readAll(ctx context.Context, src Source, pod string, since time.Duration, filter Filter) ([]Entry, error) {
	rc, err := src.Stream(ctx, pod, since, false)
	if err != nil {
		return nil, fmt.Errorf("reading the nginx log of pod %s: %w", pod, err)
	}
	defer rc.Close()
	var out []Entry
	err = scan(rc, func(line string) {
		if e, ok := Parse(line); ok && filter.Match(e) {
			e.Pod = pod
			out = append(out, e)
		}
	})
	return out, err
}

// scan calls fn for each line of r; lines may be long (a JSON line with a
// long URI).
func scan(r io.Reader, fn func(string)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fn(sc.Text())
	}
	return sc.Err()
}

// followAll prints the selected lines of every pod as they come.
func (o *options) followAll(ctx context.Context, src Source, pods []string, filter Filter) error {
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, len(pods))
	if o.output != OutputRaw {
		_ = printEntries(o.streams.Out, nil, true)
	}
	for i, pod := range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc, err := src.Stream(ctx, pod, o.since, true)
			if err != nil {
				errs[i] = fmt.Errorf("following the nginx log of pod %s: %w", pod, err)
				return
			}
			defer rc.Close()
			err = scan(rc, func(line string) {
				e, ok := Parse(line)
				if !ok || !filter.Match(e) {
					return
				}
				e.Pod = pod
				mu.Lock()
				defer mu.Unlock()
				if o.output == OutputRaw {
					fmt.Fprintln(o.streams.Out, e.Raw)
				} else {
					_ = printEntries(o.streams.Out, []Entry{e}, false)
				}
			})
			if err != nil && ctx.Err() == nil {
				errs[i] = err
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// apiSource reads pods/log through the API server.
type apiSource struct {
	cs                 kubernetes.Interface
	namespace, gateway string
}

func (s *apiSource) Pods(ctx context.Context) ([]string, error) {
	list, err := s.cs.CoreV1().Pods(s.namespace).List(ctx, metav1.ListOptions{
		LabelSelector: labels.SelectorFromSet(resources.SelectorLabels(s.namespace, s.gateway)).String()})
	if err != nil {
		return nil, fmt.Errorf("listing the pods of Gateway %s/%s: %w", s.namespace, s.gateway, err)
	}
	var names []string
	for _, p := range list.Items {
		names = append(names, p.Name)
	}
	slices.Sort(names)
	return names, nil
}

func (s *apiSource) Stream(ctx context.Context, pod string, since time.Duration, follow bool) (io.ReadCloser, error) {
	opts := &corev1.PodLogOptions{Container: dataplane.NginxContainerName, Follow: follow}
	if since > 0 {
		secs := int64((since + time.Second - 1) / time.Second)
		opts.SinceSeconds = &secs
	}
	return s.cs.CoreV1().Pods(s.namespace).GetLogs(pod, opts).Stream(ctx)
}

// printEntries writes entries as table rows (header first when header).
// Columns are fixed-width so that followed lines line up without buffering;
// POD fits a Deployment's pod of a Gateway name up to 9 characters.
func printEntries(w io.Writer, entries []Entry, header bool) error {
	const row = "%-20s %-32s %3s %-7s %-24s %-32s %-24s %-8s %-28s %s\n"
	if header {
		fmt.Fprintf(w, row, "TIME", "POD", "ST", "METHOD", "HOST", "PATH", "ROUTE", "RULE", "BACKEND", "SECONDS")
	}
	for _, e := range entries {
		method, path := e.Method, e.Path
		if e.Protocol != "" { // a TCP/UDP/TLS session: its protocol and listener port
			method, path = e.Protocol, fmt.Sprintf(":%d", e.Port)
		}
		fmt.Fprintf(w, row, e.Time.UTC().Format(time.RFC3339), e.Pod, fmt.Sprint(e.Status), method, visible(orDash(e.Host)), visible(cut(path, 32)),
			orDash(e.Route), orDash(e.Rule), orDash(e.Backend), fmt.Sprintf("%.3f", e.RequestTime))
	}
	return nil
}

func printSummary(w io.Writer, sums []Summary) error {
	const row = "%-32s %-32s %8s %8s %7s %8s %8s\n"
	fmt.Fprintf(w, row, "ROUTE", "BACKEND", "REQUESTS", "5XX", "RATE", "P50 S", "P99 S")
	for _, s := range sums {
		fmt.Fprintf(w, row, orDash(s.Route), orDash(s.Backend), fmt.Sprint(s.Requests), fmt.Sprint(s.Errors),
			fmt.Sprintf("%.1f%%", 100*s.ErrorRate), fmt.Sprintf("%.3f", s.P50), fmt.Sprintf("%.3f", s.P99))
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func cut(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// visible escapes what a terminal would act on (a client's path may carry
// escape sequences) as \xHH.
func visible(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsPrint(r) {
			b.WriteRune(r)
		} else {
			fmt.Fprintf(&b, "\\x%02x", r)
		}
	}
	return b.String()
}
