package replicator

import "testing"

// BenchmarkBatchNext: one input read per op from an entry of 2048 (a full
// input-ring batch) — what a follower does for every input it applies.
func BenchmarkBatchNext(b *testing.B) {
	const inputs = 2048
	e := AppendHeader(nil, Header{Origin: 1, Incarnation: 1, First: 1, Count: inputs})
	payload := make([]byte, 96)
	for i := range inputs {
		e = AppendInput(e, &Input{RecvTime: int64(i), Session: 7, Account: 1, Kind: 1, Payload: payload})
	}
	var batch Batch
	var in Input
	var sum int64
	for i := 0; b.Loop(); i++ {
		if i%inputs == 0 {
			var err error
			if batch, err = ParseBatch(e); err != nil {
				b.Fatal(err)
			}
		}
		if ok, err := batch.Next(&in); !ok || err != nil {
			b.Fatalf("input %d: %v, %v", i%inputs, ok, err)
		}
		sum += in.RecvTime + int64(len(in.Payload))
	}
	if sum == 0 {
		b.Fatal("no inputs read")
	}
}
