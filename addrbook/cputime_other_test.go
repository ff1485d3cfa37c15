//go:build !unix

package addrbook

import "time"

func processCPU() (time.Duration, bool) { return 0, false }
