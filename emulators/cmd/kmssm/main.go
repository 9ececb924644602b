// Command kmssm serves the in-memory Cloud KMS and Secret Manager emulator until it receives
// SIGINT or SIGTERM. Point clients at it with gcp.EmulatorOptions(ADDR).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"tokapi.io/tok/emulators/kmssm"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9011", "address to listen on")
	flag.Parse()
	if err := run(*addr); err != nil {
		fmt.Fprintln(os.Stderr, "kmssm:", err)
		os.Exit(1)
	}
}

func run(addr string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := kmssm.Start(addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "listening on %s\n", r.Addr())
	served := make(chan error, 1)
	go func() { served <- r.Wait() }()
	select {
	case <-ctx.Done():
		r.Stop()
		return nil
	case err := <-served:
		return err
	}
}
