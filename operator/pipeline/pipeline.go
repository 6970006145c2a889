package pipeline

import (
	"cmp"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/configsource"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/render"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/resources"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/translate"
)

// Size budgets of one Gateway's config files.
const (
	// CompressedBudget is what the config may take in its ConfigMap once
	// gzipped (a ConfigMap holds at most 1 MiB; the rest is left for keys,
	// metadata and the encoding).
	CompressedBudget = 1<<20 - 64<<10
	// FileBudget and TotalBudget are the sidecar's decompression bounds.
	FileBudget  = dataplane.MaxDecompressedFileSize
	TotalBudget = dataplane.MaxDecompressedConfigSize
)

// maxRounds bounds the translate + render rounds.
const maxRounds = 16

// Result is the final translation with the files of each Gateway.
type Result struct {
	// Output is the last translation: refused routes are Accepted False
	// and in no model.
	Output translate.Output
	// Files holds the rendered files of each Gateway with a model and no
	// error.
	Files map[types.NamespacedName]render.Files
	// Encoded holds the config files of Files as their ConfigMap stores
	// them (compressed once, here), with their config hash (hashed once).
	Encoded map[types.NamespacedName]resources.EncodedConfig
	// Errors holds, per Gateway, a render error that is no route's fault.
	Errors map[types.NamespacedName]error
	// Refused is every route refused, Input.Refused included.
	Refused map[translate.RouteKey]string
	// Memo is what the next Rerun may reuse of this one.
	Memo Memo
}

// Served reports whether the translation gave Gateway nn a model: the
// pipeline then gave it files or an error. It stays true once the models
// are let go (the reconciler keeps its last Result without them).
func (r Result) Served(nn types.NamespacedName) bool {
	_, rendered := r.Files[nn]
	return rendered || r.Errors[nn] != nil
}

// Memo is what a run rendered, for the next run to reuse: a Gateway whose
// model is the same (the same modelDigest) keeps its files and their
// encoding without rendering or compressing anything; a changed one is
// rendered reusing the text of every location whose content did not change
// (render.Fragments), and a file that comes out byte-identical keeps its
// compressed bytes. Most events change no model
// (an EndpointSlice: endpoints are not in the model; a pod, a status
// write) or one route of one Gateway. It is an input like any other: Rerun
// with a Memo gives what Run gives without it, only sooner. The zero Memo
// remembers nothing.
type Memo struct {
	gateways map[types.NamespacedName]memoGateway
}

type memoGateway struct {
	model   [sha256.Size]byte // modelDigest
	files   render.Files
	encoded resources.EncodedConfig
	// fragments are the location texts of its render (render.Fragments).
	fragments render.Fragments
	// sourceSize is the size of its source document, which sizes the
	// next one's buffer (per location of the model, sourceLocations);
	// lean: files do not hold the document (RerunLean).
	sourceSize, sourceLocations int
	lean                        bool
}

// Run translates in, renders every accepted Gateway and refuses the routes
// the render step or the size budgets cannot take, until none is new.
func Run(in translate.Input) Result {
	return Rerun(in, Memo{})
}

// Rerun is Run reusing what an earlier run rendered (its Result.Memo).
func Rerun(in translate.Input, prev Memo) Result {
	return rerun(in, prev, false)
}

// RerunLean is Rerun for a caller that reads neither the models nor the
// plain source document (the reconciler: it writes Encoded). Each
// Gateway's model is let go as soon as its source document is written,
// rather than kept alive beside its files, that document and their
// compression while those are made (at 5,000 routes the model is ~3 MiB,
// and with GOGC=50 every MiB live in the middle of a run raises the heap's
// goal by half as much); Result.Served still says which Gateways had one.
// Files hold no dataplane.SourceFile (Encoded does), nor does the Memo:
// the document (~2 MiB) is not kept from one run to the next. Everything
// else is Rerun's, and a Memo of either serves the other.
func RerunLean(in translate.Input, prev Memo) Result {
	return rerun(in, prev, true)
}

func rerun(in translate.Input, prev Memo, lean bool) Result {
	memo := Memo{gateways: map[types.NamespacedName]memoGateway{}}
	// What the earlier run rendered of a Gateway is let go as this run no
	// longer needs it (its location texts once rendered again, its source
	// document before the new one is written, the rest once the new files
	// are compressed) rather than kept alive beside the new files until
	// the run ends: a copy of the map, the caller's Memo is not changed.
	earlier := maps.Clone(prev.gateways)
	if earlier == nil {
		earlier = map[types.NamespacedName]memoGateway{}
	}
	refused := maps.Clone(in.Refused)
	if refused == nil {
		refused = map[translate.RouteKey]string{}
	}
	for round := 1; ; round++ {
		in.Refused = refused
		res := Result{Output: translate.Translate(in), Files: map[types.NamespacedName]render.Files{}, Encoded: map[types.NamespacedName]resources.EncodedConfig{},
			Errors: map[types.NamespacedName]error{}, Refused: refused, Memo: memo}
		added := false
		for i := range res.Output.Gateways {
			gw := &res.Output.Gateways[i]
			m := gw.Model
			if m == nil {
				continue
			}
			if lean {
				gw.Model = nil // Served still says it had one
			}
			nn := gw.NamespacedName
			digest, digested := modelDigest(m)
			before, known := earlier[nn]
			if known && digested && before.model == digest && (lean || !before.lean) {
				// Rendered, encoded and within budget before.
				res.Files[nn], res.Encoded[nn] = before.files, before.encoded
				memo.gateways[nn] = before
				continue
			}
			// From here on, earlier holds for a later round (routes refused)
			// what is closest to its render: this round's files when it
			// made any, else what is left of the earlier run's.
			delete(earlier, nn)
			// Of the earlier source document only its size is read (it
			// sizes the new one's buffer): a changed model changes it, so
			// it is compared with nothing and let go before the render.
			locs := locations(m) // not m itself: let go once its document is written
			lastSource := scaledSourceSize(before, locs)
			prevConfig := maps.Clone(before.files.Config)
			delete(prevConfig, dataplane.SourceFile)
			before.files = render.Files{}
			files, fragments, err := render.RenderAfter(m, before.fragments)
			before.fragments = render.Fragments{} // rendered again
			var re *render.RefusedError
			switch {
			case errors.As(err, &re):
				for _, r := range re.Refusals {
					key := translate.RouteKey{Kind: gatewayv1.Kind(r.Kind), NamespacedName: types.NamespacedName{Namespace: r.Namespace, Name: r.Name}}
					if _, ok := refused[key]; !ok {
						refused[key], added = r.Message, true
					}
				}
				res.Errors[nn] = err // replaced by the next round
				earlier[nn] = before
			case err != nil:
				res.Errors[nn] = err
				earlier[nn] = before
			default:
				encoded := encode(m, files, lastSource, prevConfig, before.encoded)
				if msg, size, budget := overBudget(files, encoded); msg != "" {
					earlier[nn] = memoGateway{files: files, encoded: encoded, fragments: fragments, sourceSize: len(files.Config[dataplane.SourceFile]), sourceLocations: locs}
					newest := newestRoutes(in, res.Output, nn, refused)
					if len(newest) == 0 {
						res.Errors[nn] = fmt.Errorf("the nginx config %s, and no route is left to refuse", msg)
						continue
					}
					// Leave out the newest routes in proportion to the excess
					// (at least one), so that a large excess takes few rounds.
					n := min(len(newest), 1+int(int64(len(newest))*int64(size-budget)/int64(size)))
					for _, key := range newest[:n] {
						refused[key] = fmt.Sprintf("the nginx config of Gateway %s %s; the newest routes are left out, this one among them", nn, msg)
					}
					added = true
					res.Errors[nn] = fmt.Errorf("the nginx config %s", msg)
					continue
				}
				sourceSize := len(files.Config[dataplane.SourceFile])
				if lean {
					delete(files.Config, dataplane.SourceFile) // a map of this run's render
				}
				res.Files[nn] = files
				res.Encoded[nn] = encoded
				if digested {
					memo.gateways[nn] = memoGateway{model: digest, files: files, encoded: encoded, fragments: fragments, sourceSize: sourceSize, sourceLocations: locs, lean: lean}
					earlier[nn] = memo.gateways[nn]
				}
			}
		}
		if !added {
			return res
		}
		if round == maxRounds {
			for nn := range res.Errors {
				res.Errors[nn] = fmt.Errorf("routes still refused after %d rounds: %w", maxRounds, res.Errors[nn])
			}
			return res
		}
	}
}

// encode writes the source document of m into files (it travels with the
// files it describes: same ConfigMap, same hash, same staged tree) and
// encodes the config files for their ConfigMap, keeping the compressed
// bytes (in prev) of each file that prevConfig has byte for byte.
// lastSource is the size of the last source document of the Gateway.
// The rendered files are compared with prevConfig before the document is
// written, so that the earlier run's files (~1.6-2.6 MB at 5,000 routes)
// are let go rather than alive beside the document (~2.4 MB) and its
// compression; the model is let go once the document is written.
func encode(m *model.Gateway, files render.Files, lastSource int, prevConfig map[string][]byte, prev resources.EncodedConfig) resources.EncodedConfig {
	same := resources.SameFiles(files.Config, prevConfig)
	files.Config[dataplane.SourceFile] = configsource.Encode(m, files.Sources, lastSource)
	encoded := resources.EncodeConfigKeeping(files.Config, same, prev)
	encoded.Hash = resources.ConfigHash(files)
	return encoded
}

// scaledSourceSize is the size the source document of a model with that
// many locations is expected to take: the last one's (before), grown or
// shrunk with the number of locations. While routes arrive a run may have hundreds more than the
// last, and a buffer sized from the last document alone then grows while
// the document is written (a second, larger buffer beside the first at
// the run's largest moment).
func scaledSourceSize(before memoGateway, locations int) int {
	if before.sourceLocations == 0 {
		return before.sourceSize
	}
	return int(int64(before.sourceSize) * int64(locations) / int64(before.sourceLocations))
}

// locations counts the locations of m's HTTP servers.
func locations(m *model.Gateway) int {
	n := 0
	for _, s := range m.HTTPServers {
		n += len(s.Locations)
	}
	return n
}

// overBudget says how the config files are over a size budget ("" when
// they are not), with the size measured and its budget. encoded is the
// files as their ConfigMap stores them.
func overBudget(files render.Files, encoded resources.EncodedConfig) (msg string, size, budget int) {
	total := 0
	for _, name := range slices.Sorted(maps.Keys(files.Config)) {
		if n := len(files.Config[name]); n > FileBudget {
			return fmt.Sprintf("file %s takes %d bytes, over the sidecar's bound of %d per file", name, n, FileBudget), n, FileBudget
		}
		total += len(files.Config[name])
	}
	if total > TotalBudget {
		return fmt.Sprintf("takes %d bytes, over the sidecar's bound of %d", total, TotalBudget), total, TotalBudget
	}
	if n := encoded.Size(); n > CompressedBudget {
		return fmt.Sprintf("takes %d bytes once compressed, over its ConfigMap budget of %d", n, CompressedBudget), n, CompressedBudget
	}
	return "", 0, 0
}

// newestRoutes lists the routes accepted by Gateway nn and not refused,
// newest first (creationTimestamp, then namespace/name, the later first).
func newestRoutes(in translate.Input, out translate.Output, nn types.NamespacedName, refused map[translate.RouteKey]string) []translate.RouteKey {
	created := map[translate.RouteKey]metav1.Time{}
	for _, r := range in.HTTPRoutes {
		created[translate.RouteKey{Kind: "HTTPRoute", NamespacedName: types.NamespacedName{Namespace: r.Namespace, Name: r.Name}}] = r.CreationTimestamp
	}
	for _, r := range in.GRPCRoutes {
		created[translate.RouteKey{Kind: "GRPCRoute", NamespacedName: types.NamespacedName{Namespace: r.Namespace, Name: r.Name}}] = r.CreationTimestamp
	}
	var keys []translate.RouteKey
	for key, parents := range out.Routes {
		if _, ok := refused[key]; ok {
			continue
		}
		for _, p := range parents {
			ns := key.Namespace
			if p.ParentRef.Namespace != nil {
				ns = string(*p.ParentRef.Namespace)
			}
			if ns != nn.Namespace || string(p.ParentRef.Name) != nn.Name || !accepted(p.Conditions) {
				continue
			}
			keys = append(keys, key)
			break
		}
	}
	slices.SortFunc(keys, func(a, b translate.RouteKey) int {
		ta, tb := created[a], created[b]
		return -cmp.Or(ta.Compare(tb.Time), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return keys
}

func accepted(conds []metav1.Condition) bool {
	for _, c := range conds {
		if c.Type == string(gatewayv1.RouteConditionAccepted) {
			return c.Status == metav1.ConditionTrue
		}
	}
	return false
}
