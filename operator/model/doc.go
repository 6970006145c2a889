// Package model is the data-plane model: what one Gateway's nginx serves,
// after every Gateway API object has been resolved and validated.
//
// The translation step (operator/translate) is its only producer and the render step
// (operator/render) its only consumer. It holds no Kubernetes types, so the
// renderer never needs to know the Gateway API, and it holds only validated
// values: anything the render step writes into nginx config from here is
// still quoted by the renderer, but never needs to be checked again.
package model
