package addrbook

import "time"

// Upstream's constants. They shape what peers can do to a
// book, so they are kept exactly; only the capacity check around them is
// corrected (buckets hold bucketSize, not bucketSize+1).
const (
	// NeedAddressThreshold: below this many addresses the book wants more.
	NeedAddressThreshold = 1000
	// DefaultSaveInterval is how often a started book writes its file.
	DefaultSaveInterval = 2 * time.Minute

	bucketSize     = 64 // old and new buckets alike
	newBucketCount = 256
	oldBucketCount = 64

	newBucketsPerGroup      = 32
	oldBucketsPerGroup      = 4
	maxNewBucketsPerAddress = 4

	numMissingDays = 7
	numRetries     = 3
	maxFailures    = 10
	minBadDays     = 7

	getSelectionPercent = 23
	minGetSelection     = 32
	maxGetSelection     = 250

	bookKeyHexLen = 24 // upstream's "key": 24 hex characters, an ASCII hash prefix
	hashKeySize   = 32 // HighwayHash key
)
