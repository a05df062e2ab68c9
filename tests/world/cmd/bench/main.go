// Command bench is the driver of bench/run.sh (figures, never a pass/fail test):
//
//	bench fill --kubeconfig FILE --namespace NS [--isvcs N] [--pods N] [--label k=v]
//	bench small --kubeconfig FILE --audit LOG --plugin BIN --kubectl BIN [--rounds N]
//	bench big --kubeconfig FILE --audit LOG --plugin BIN --kubectl BIN --namespace NS [--rounds N]
//
// `fill` writes a large namespace into a world without controllers; `small` measures every command
// against kubectl and the floor (curl making the same requests) on a world with KServe and
// Knative; `big` measures `status` over the filled namespace. Each pair (or triple) alternates its
// commands round by round; the report gives medians, the spread (25th–75th percentile), ratios,
// and the requests each command made, counted from the API server's audit log by user agent.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: bench fill|small|big [flags]")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "fill":
		fill(os.Args[2:])
	case "small":
		small(os.Args[2:])
	case "big":
		big(os.Args[2:])
	default:
		fmt.Fprintln(os.Stderr, "usage: bench fill|small|big [flags]")
		os.Exit(2)
	}
}
