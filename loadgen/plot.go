package loadgen

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// WritePlotSVG draws the latency-by-percentile curve (the customary HDR
// plot: x is the percentile on a log scale of 1/(1-p), y is latency in
// microseconds) as a self-contained SVG a person can open in a browser.
func (res Result) WritePlotSVG(w io.Writer, title string) error {
	const (
		width, height = 800, 480
		left, right   = 70, 20
		top, bottom   = 40, 50
		maxNines      = 5.0 // up to 99.999%
	)
	plotW, plotH := float64(width-left-right), float64(height-top-bottom)
	if res.hist == nil || res.hist.TotalCount() == 0 {
		return fmt.Errorf("loadgen: no latencies recorded, nothing to plot")
	}
	maxY := float64(res.hist.Max())
	if maxY < 1 {
		maxY = 1
	}
	x := func(nines float64) float64 { return float64(left) + plotW*nines/maxNines }
	y := func(us float64) float64 { return float64(top) + plotH*(1-us/maxY) }

	var pts []string
	for nines := 0.0; nines <= maxNines; nines += 0.02 {
		q := 100 * (1 - math.Pow(10, -nines))
		v := float64(res.hist.ValueAtQuantile(q))
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(nines), y(v)))
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`)
	fmt.Fprintf(&b, `<text x="%d" y="20" font-size="15">%s</text>`, left, escape(title))
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`, left, top+int(plotH), left+int(plotW), top+int(plotH))
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`, left, top, left, top+int(plotH))
	labels := []string{"0%", "90%", "99%", "99.9%", "99.99%", "99.999%"}
	for i, l := range labels {
		xi := x(float64(i))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`, xi, top, xi, top+int(plotH))
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, xi, top+int(plotH)+18, l)
	}
	for i := 0; i <= 4; i++ {
		v := maxY * float64(i) / 4
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%.0f</text>`, left-6, y(v)+4, v)
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">percentile</text>`, left+int(plotW)/2, height-8)
	fmt.Fprintf(&b, `<text x="16" y="%d" transform="rotate(-90 16 %d)" text-anchor="middle">latency (µs)</text>`, top+int(plotH)/2, top+int(plotH)/2)
	fmt.Fprintf(&b, `<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="%s"/>`, strings.Join(pts, " "))
	fmt.Fprintf(&b, `<text x="%d" y="%d">p50 %d µs · p99 %d µs · p99.9 %d µs · max %d µs · %.0f orders/s</text>`,
		left+10, top+16, res.P50us, res.P99us, res.P999us, res.MaxUs, res.ThroughputPerS)
	b.WriteString(`</svg>`)
	_, err := io.WriteString(w, b.String())
	return err
}

func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
