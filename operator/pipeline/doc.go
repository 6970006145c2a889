// Package pipeline runs the pure part of the operator: translate the
// inputs, render each accepted Gateway, and feed back what the render
// step refuses. It owns the loop between the two steps:
//
//   - a route whose values nginx cannot take as written (render.RefusedError:
//     a token over nginx's limit, a route over render.MaxRouteValueBytes) is
//     added to translate.Input.Refused, so it is Accepted False
//     (UnsupportedValue) with a message naming the field, and left out;
//   - a Gateway whose config is over its size budget (what its ConfigMap
//     holds once compressed, what the sidecar decompresses) loses its newest
//     routes (by creationTimestamp, then namespace/name) the same way;
//
// and translates again until nothing new is refused (refusals only remove
// routes, so this ends; a hard cap bounds it anyway). A render error that is
// no route's fault stays an error of its Gateway. Each Gateway's config files
// get the source document (operator/configsource, dataplane.SourceFile) of
// the model and source map they were rendered from. No I/O, no clock: the
// controller and the render command call Run and write what it returns.
package pipeline
