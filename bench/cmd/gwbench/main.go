// Command gwbench is the benchmark harness the bench/run script drives:
//
//	gwbench upstream  -addr-file F              a tiny keep-alive upstream (~100-byte answers)
//	gwbench gateway   -upstream URL -addr-file F [-redis URL] [-big] [-pprof ADDR]
//	                                             Portico's gateway as cmd/portico builds it
//	gwbench wrkscript -host H -mode signed|public -out F.lua
//	                                             a wrk script replaying prepared (signed) requests
//	gwbench bigconfig                            compile time and memory of the large configuration
//	gwbench report    RESULTS.tsv                medians and the comparison table
//	gwbench pairs     PAIRS.tsv                  paired ratios of back-to-back short runs
//	gwbench freeport                             print a free loopback port
//
// It builds the gateway from the same production code paths as portico
// serve: gateway.Compile, gateway.NewHandler with a billing.Ledger on a
// migrated SQLite database, Prometheus metrics, the same http.Server
// settings, and Redis through the same client options.
package main

import (
	"fmt"
	"os"

	"github.com/portico-dev/portico/portal/gwconfig"
)

func main() {
	if serving, _ := gwconfig.CollectorSettings(os.Getenv); serving > 0 {
		gwconfig.TuneCollector(serving, gwconfig.DefaultHeapFloor) // as cmd/portico does
	}
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: gwbench upstream|goproxy|gateway|wrkscript|bigconfig|report|pairs|freeport [flags]")
		os.Exit(2)
	}
	var err error
	args := os.Args[2:]
	switch os.Args[1] {
	case "upstream":
		err = upstream(args)
	case "goproxy":
		err = goproxy(args)
	case "gateway":
		err = gatewayCmd(args)
	case "wrkscript":
		err = wrkScript(args)
	case "bigconfig":
		err = bigConfig(args)
	case "report":
		err = report(args)
	case "pairs":
		err = pairs(args)
	case "freeport":
		err = freePort()
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gwbench:", err)
		os.Exit(1)
	}
}
