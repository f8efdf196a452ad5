package output

import "testing"

// discard takes every write: a client that keeps up.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
func (discard) Close() error                { return nil }

// BenchmarkCommitBudget: one execution report (150 bytes) staged and
// committed per op, as the execution sender does per session per batch,
// with no budget (the baseline) and under a budget far from spent: the
// cost of its check on the fast path.
func BenchmarkCommitBudget(b *testing.B) {
	report := make([]byte, 150)
	for _, bc := range []struct {
		name   string
		budget *Budget
	}{{"none", nil}, {"shared", NewBudget(4<<30, 1<<20)}} {
		b.Run(bc.name, func(b *testing.B) {
			o := NewOutbox(discard{}, 16<<20, 0, nil)
			defer o.Close()
			if bc.budget != nil {
				o.UseBudget(bc.budget)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := o.Stage(report); err != nil {
					b.Fatal(err)
				}
				if err := o.Commit(0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
