// Command sidecar runs beside nginx in every gateway pod.
package main

func main() {}
