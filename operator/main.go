// Command operator is the nginx-gateway-operator manager.
package main

func main() {}
