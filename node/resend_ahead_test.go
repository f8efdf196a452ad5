package node

import (
	"math"
	"testing"

	"github.com/ringex/ringex/proto"
)

// A ResendReports from at or past its own input asks after an input the
// exchange had not reached — the client's sequences are of another
// history (a node started on new data, another cluster): it is answered
// ahead, nothing resent, through the exchange's last input before the
// request, from the recent reports or not. A request from the input just
// before its own asks for nothing and is complete. Both were answered
// complete with count 0, and such a client was not told. The largest
// input sequence asks for nothing either (after + 1 wrapped to the
// smallest int64, and the worker resent every report of the account in
// the resend window, as if asked from the start); its answer echoes
// after_input_seq exactly (it named one less) and, with no input after
// it, a first_input_seq of that same largest one.
func TestResendFromAheadSaysSo(t *testing.T) {
	for _, recent := range []int{0, 1 << 10} {
		cfg := testConfig(t, t.TempDir())
		cfg.Gateway.RecentReports = recent
		n, addrs, _ := startNode(t, cfg)
		in := cfg.Instruments[0]
		c := dial(t, addrs.Gateway, 4)
		last := restBuy(t, c, in, 1).Report.InputSeq

		// From the last input there is: nothing missed, complete. Its
		// answer says which input the request was (through + 1).
		tag, _ := c.Resend(last)
		_, done, _ := resendAnswer(t, c, tag)
		if done.Reason != proto.ResendComplete || done.Count != 0 || done.ThroughInputSeq < last {
			t.Fatalf("recent_reports %d: resend from the last input %d: %+v, want complete, nothing", recent, last, done)
		}
		// From the next request's own input (unless another input came
		// between), from far ahead, and from the largest there is.
		for _, after := range []int64{done.ThroughInputSeq + 2, 1 << 40, math.MaxInt64} {
			tag, _ := c.Resend(after)
			resent, done, _ := resendAnswer(t, c, tag)
			want := proto.ResendComplete
			if after >= done.ThroughInputSeq+1 { // at or past the request's own input
				want = proto.ResendAhead
			}
			first := after + 1
			if after == math.MaxInt64 {
				first = after
			}
			if len(resent) != 0 || done.Count != 0 || done.Reason != want || done.AfterInputSeq != after || done.FirstInputSeq != first || done.FirstInputSeq <= done.ThroughInputSeq {
				t.Errorf("recent_reports %d: resend after %d: %d resent, %+v; want %v, nothing, after %d, first %d", recent, after, len(resent), done, want, after, first)
			}
		}
		ahead := n.stats.resends.results[proto.ResendAhead].Load()
		n.Stop()
		if ahead == 0 {
			t.Errorf("recent_reports %d: no resend counted ahead", recent)
		}
	}
}
