package gateway

import "testing"

func TestRateLimiter(t *testing.T) {
	const sec = int64(1e9)
	tests := []struct {
		name             string
		reject, discon   int
		msgs             int
		spacing          int64
		wantAllowed      int
		wantRejected     int
		wantDisconnectAt int // index of the first disconnect verdict, -1 none
	}{
		{"under limit", 100, 1000, 100, sec / 100, 100, 0, -1},
		{"burst above reject", 100, 1000, 150, 0, 100, 50, -1},
		{"burst above disconnect", 100, 120, 200, 0, 100, 20, 120},
		{"disabled", 0, 0, 10000, 0, 10000, 0, -1},
		{"refills over time", 10, 0, 100, sec / 10, 100, 0, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRateLimiter(tt.reject, tt.discon, 0)
			allowed, rejected, disconAt := 0, 0, -1
			now := int64(0)
			for i := 0; i < tt.msgs; i++ {
				switch r.take(now) {
				case allow:
					allowed++
				case rejectMsg:
					rejected++
				case disconnectSession:
					if disconAt < 0 {
						disconAt = i
					}
				}
				now += tt.spacing
			}
			if allowed != tt.wantAllowed || rejected != tt.wantRejected || disconAt != tt.wantDisconnectAt {
				t.Fatalf("allowed %d rejected %d disconnect at %d; want %d %d %d",
					allowed, rejected, disconAt, tt.wantAllowed, tt.wantRejected, tt.wantDisconnectAt)
			}
		})
	}
}
