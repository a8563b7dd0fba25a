//go:build !unix

package db

import "context"

// lockFile is a no-op where flock does not exist: run one process per SQLite file there.
func lockFile(context.Context, string) (func(), error) { return func() {}, nil }
