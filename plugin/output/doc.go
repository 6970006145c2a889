// Package output writes the plugin commands' documents in the format the
// user picked with -o: a table (each command draws its own), YAML or JSON.
package output
