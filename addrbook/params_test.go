package addrbook

import (
	"testing"
	"time"
)

// The constants are upstream's; peers' behaviour and the eclipse bounds
// depend on them.
func TestConstantsAreUpstreams(t *testing.T) {
	for name, got := range map[string][2]int{
		"needAddressThreshold":    {NeedAddressThreshold, 1000},
		"bucket size":             {bucketSize, 64},
		"new buckets":             {newBucketCount, 256},
		"old buckets":             {oldBucketCount, 64},
		"newBucketsPerGroup":      {newBucketsPerGroup, 32},
		"oldBucketsPerGroup":      {oldBucketsPerGroup, 4},
		"maxNewBucketsPerAddress": {maxNewBucketsPerAddress, 4},
		"numMissingDays":          {numMissingDays, 7},
		"numRetries":              {numRetries, 3},
		"maxFailures":             {maxFailures, 10},
		"minBadDays":              {minBadDays, 7},
		"getSelectionPercent":     {getSelectionPercent, 23},
		"minGetSelection":         {minGetSelection, 32},
		"maxGetSelection":         {maxGetSelection, 250},
		"key hex length":          {bookKeyHexLen, 24},
		"bucket type new":         {int(bucketTypeNew), 1},
		"bucket type old":         {int(bucketTypeOld), 2},
	} {
		if got[0] != got[1] {
			t.Errorf("%s = %d, upstream has %d", name, got[0], got[1])
		}
	}
	if DefaultSaveInterval != 2*time.Minute {
		t.Errorf("save interval %v", DefaultSaveInterval)
	}
}
