package node

import "math"

// diskSpace is NaN for both, unknown: no node runs on Windows
// (vfs.Unsafe), so nothing fills a disk whose space to report.
func diskSpace(dir string) (free, size float64) { return math.NaN(), math.NaN() }
