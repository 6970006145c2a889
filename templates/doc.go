// Package templates embeds the nginx configuration templates that
// operator/render executes.
package templates
