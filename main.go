// Command vod is a self-hosted video-on-demand platform in one binary.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"vod/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := app.Run(ctx, os.Args, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "vod:", err)
		os.Exit(1)
	}
}
