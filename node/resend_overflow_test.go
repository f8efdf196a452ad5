package node

import (
	"math"
	"testing"
)

// A ResendReports asking for the reports after the largest input
// sequence there is asks for nothing: nothing is resent. (after + 1
// wrapped to the smallest int64, and the worker resent every report of
// the account in the resend window, as if asked from the start.)
func TestResendAfterTheLargestSequenceResendsNothing(t *testing.T) {
	for _, recent := range []int{0, 1 << 10} {
		cfg := testConfig(t, t.TempDir())
		cfg.Gateway.RecentReports = recent
		n, addrs, _ := startNode(t, cfg)
		in := cfg.Instruments[0]
		c := dial(t, addrs.Gateway, 4)
		for i := range 3 {
			restBuy(t, c, in, uint64(i+1))
		}
		tag, err := c.Resend(math.MaxInt64)
		if err != nil {
			t.Fatal(err)
		}
		resent, done, _ := resendAnswer(t, c, tag)
		n.Stop()
		if len(resent) != 0 || done.Count != 0 || done.FirstInputSeq < 0 {
			t.Errorf("recent_reports %d: resend after MaxInt64 resent %d reports, done %+v; want none", recent, len(resent), done)
		}
	}
}
