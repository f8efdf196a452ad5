package main

import (
	"math"
	"math/big"
	"regexp"
	"strings"
	"testing"

	"github.com/ringex/ringex/config"
)

func TestUnits(t *testing.T) {
	for _, tc := range []struct {
		in       string
		decimals int
		want     int64
		err      string
	}{
		{"60000", 2, 6000000, ""},
		{"60000.5", 2, 6000050, ""},
		{"60000.50", 2, 6000050, ""},
		{".5", 2, 50, ""},
		{"-1.25", 2, -125, ""},
		{"7", 0, 7, ""},
		{"0.0001", 4, 1, ""},
		{"1.001", 2, 0, "more than 2 decimals"},
		{"1.", 2, 0, "not a number"},
		{"", 2, 0, "not a number"},
		{"-", 2, 0, "not a number"},
		{".", 2, 0, "not a number"},
		{"1e5", 2, 0, "not a number"},
		{"1.-5", 2, 0, "not a number"},
		{"+1", 2, 0, "not a number"},
		{"1.+5", 2, 0, "not a number"},
		{"--1", 2, 0, "not a number"},
		{"1_000", 0, 0, "not a number"},
		{" 1", 0, 0, "not a number"},
		{"\u0661", 0, 0, "not a number"}, // ARABIC-INDIC DIGIT ONE
		{"99999999999999999", 4, 0, "too large"},
		// What config accepts, 0…18 decimals, and no more.
		{"1.5", 13, 15e12, ""},
		{"0.000000000000000001", 18, 1, ""},
		{"1", 19, 0, "19 decimals not supported (0…18 are)"},
		{"1", -1, 0, "-1 decimals not supported"},
		// The ends of an int64 of units: the largest taken, one more
		// refused, never wrapped.
		{"9223372036854775807", 0, math.MaxInt64, ""},
		{"9223372036854775808", 0, 0, `"9223372036854775808" is too large: the units of 0 decimals reach 9223372036854775807`},
		{"-9223372036854775808", 0, math.MinInt64, ""},
		{"-9223372036854775809", 0, 0, "is too large: the units of 0 decimals reach -9223372036854775808"},
		{"99999999999999999999", 0, 0, "too large"}, // past uint64 too
		{"4611686018427387904", 0, 1 << 62, ""},     // 2^62: the most there was, taken
		{"9.223372036854775807", 18, math.MaxInt64, ""},
		{"9.223372036854775808", 18, 0, "the units of 18 decimals reach 9.223372036854775807"},
		{"-9.223372036854775808", 18, math.MinInt64, ""},
		{"-9.223372036854775809", 18, 0, "the units of 18 decimals reach -9.223372036854775808"},
		{"10", 18, 0, "too large"},
		{"922337203685477580.7", 1, math.MaxInt64, ""},
		{"922337203685477580.8", 1, 0, "too large"},
	} {
		got, err := parseUnits(tc.in, tc.decimals)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("parseUnits(%q, %d) = %d, %v; want error %q", tc.in, tc.decimals, got, err, tc.err)
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("parseUnits(%q, %d) = %d, %v; want %d", tc.in, tc.decimals, got, err, tc.want)
		}
		if tc.err == "" {
			if back, _ := parseUnits(formatUnits(got, tc.decimals), tc.decimals); back != got {
				t.Errorf("formatUnits(%d, %d) = %q does not read back", got, tc.decimals, formatUnits(got, tc.decimals))
			}
		}
	}
	for _, tc := range []struct {
		v        int64
		decimals int
		want     string
	}{
		{6000050, 2, "60000.50"},
		{-5, 3, "-0.005"},
		{0, 18, "0.000000000000000000"},
		{math.MaxInt64, 18, "9.223372036854775807"},
		{math.MinInt64, 18, "-9.223372036854775808"},
		{math.MinInt64, 0, "-9223372036854775808"},
		{15e12, 13, "1.5000000000000"},
		{42, 19, "42"}, // none config accepts: the units
		{42, -1, "42"},
	} {
		if got := formatUnits(tc.v, tc.decimals); got != tc.want {
			t.Errorf("formatUnits(%d, %d) = %q; want %q", tc.v, tc.decimals, got, tc.want)
		}
	}
}

// Every decimals config accepts (0…18, and no more: checked against
// config's Validate) reads and prints a unit, the smallest step, and
// both ends of an int64 of units; one step past an end is refused, as
// is a digit more than the decimals. Each is checked against big.Rat's
// reading, not parseUnits' own arithmetic.
func TestUnitsEveryDecimalsConfigAccepts(t *testing.T) {
	for d := 0; d <= maxDecimals+1; d++ {
		c := config.Default()
		c.Instruments[0].PriceDecimals, c.Instruments[0].QtyDecimals = d, d
		if err := c.Validate(); (err != nil) != (d > maxDecimals) {
			t.Fatalf("config with %d decimals: %v; want refused past %d only", d, err, maxDecimals)
		}
		if d > maxDecimals {
			if _, err := parseUnits("1", d); err == nil || !strings.Contains(err.Error(), "not supported") {
				t.Errorf("parseUnits with %d decimals: %v; want not supported", d, err)
			}
			break
		}
		unit := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d)), nil)
		// shown is units as a person writes them with d decimals.
		shown := func(units *big.Int) string { return new(big.Rat).SetFrac(units, unit).FloatString(d) }
		for _, v := range []*big.Int{big.NewInt(0), big.NewInt(1), big.NewInt(-1), unit, new(big.Int).Neg(unit),
			big.NewInt(math.MaxInt64), big.NewInt(math.MinInt64), big.NewInt(math.MaxInt64 - 1)} {
			s := shown(v)
			got, err := parseUnits(s, d)
			if err != nil || got != v.Int64() {
				t.Errorf("parseUnits(%q, %d) = %d, %v; want %d", s, d, got, err, v)
			}
			if f := formatUnits(v.Int64(), d); f != s {
				t.Errorf("formatUnits(%d, %d) = %q; want %q", v, d, f, s)
			}
		}
		for _, v := range []*big.Int{new(big.Int).Add(big.NewInt(math.MaxInt64), big.NewInt(1)),
			new(big.Int).Sub(big.NewInt(math.MinInt64), big.NewInt(1)),
			new(big.Int).Lsh(unit, 64)} {
			s := shown(v)
			if got, err := parseUnits(s, d); err == nil || !strings.Contains(err.Error(), "too large") {
				t.Errorf("parseUnits(%q, %d) = %d, %v; want too large", s, d, got, err)
			}
		}
		s := "0." + strings.Repeat("0", d) + "1"
		if got, err := parseUnits(s, d); err == nil || !strings.Contains(err.Error(), "more than") {
			t.Errorf("parseUnits(%q, %d) = %d, %v; want more than %d decimals", s, d, got, err, d)
		}
	}
}

// numberOfUnits is what parseUnits takes, in syntax: digits, a point
// followed by digits, a minus before.
var numberOfUnits = regexp.MustCompile(`^-?([0-9]+(\.[0-9]+)?|\.[0-9]+)$`)

// FuzzParseUnits: a quantity or price typed to `ringex client` (the
// shell's lines, the order flags) reads, when parseUnits takes it, as
// the number big.Rat reads it as, in units of the decimals; and
// formatUnits prints that back to the same units. What it refuses is
// what does not fit: not a plain decimal, more fractional digits than
// the decimals (even zeros: "1.0" of 0 decimals), decimals outside 0…18, or units past an int64's ends
// (then called too large, and only then).
func FuzzParseUnits(f *testing.F) {
	for _, s := range []string{"60000", "60000.50", ".5", "-1.25", "0.0001", "1.001", "1.", "1e5", "-", "99999999999999999",
		"4611686018427387904", "9223372036854775807", "-9223372036854775808", "9.223372036854775808", "0.000000000000000001"} {
		f.Add(s, uint8(2))
		f.Add(s, uint8(0))
		f.Add(s, uint8(18))
	}
	f.Fuzz(func(t *testing.T, s string, decimals uint8) {
		d := int(decimals % uint8(len(pow10)+1)) // one past the last supported: refused
		v, err := parseUnits(s, d)
		// plain: a number in parseUnits' syntax, read by big.Rat as
		// want units.
		want, plain := new(big.Rat).SetString(s)
		plain = plain && numberOfUnits.MatchString(s)
		fits := false
		if plain {
			want.Mul(want, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d)), nil)))
			_, frac, _ := strings.Cut(s, ".")
			fits = want.IsInt() && want.Num().IsInt64() && d <= maxDecimals && len(frac) <= d // "1.0" has a decimal
		}
		if err != nil {
			switch {
			case fits:
				t.Fatalf("parseUnits(%q, %d) refused %s units, which an int64 holds: %v", s, d, want.RatString(), err)
			case strings.Contains(err.Error(), "too large") && (!plain || !want.IsInt() || want.Num().IsInt64()):
				t.Fatalf("parseUnits(%q, %d): %v; but it is not a whole number of units past an int64's ends", s, d, err)
			}
			return
		}
		if !fits || want.Num().Int64() != v {
			t.Fatalf("parseUnits(%q, %d) = %d; big.Rat reads it as %v units (in parseUnits' syntax: %v)", s, d, v, want, plain)
		}
		if back, err := parseUnits(formatUnits(v, d), d); err != nil || back != v {
			t.Fatalf("formatUnits(%d, %d) = %q reads back as %d, %v", v, d, formatUnits(v, d), back, err)
		}
	})
}

// FuzzFormatUnits: whatever units a node reports (a price, a quantity
// of any int64), formatUnits prints, with any decimals config accepts,
// a number parseUnits reads back as the same units.
func FuzzFormatUnits(f *testing.F) {
	for _, v := range []int64{0, 1, -1, 6000050, math.MaxInt64, math.MinInt64} {
		f.Add(v, uint8(0))
		f.Add(v, uint8(2))
		f.Add(v, uint8(18))
	}
	f.Fuzz(func(t *testing.T, v int64, decimals uint8) {
		d := int(decimals % (maxDecimals + 1))
		s := formatUnits(v, d)
		if back, err := parseUnits(s, d); err != nil || back != v {
			t.Fatalf("formatUnits(%d, %d) = %q reads back as %d, %v", v, d, s, back, err)
		}
	})
}

// A symbol is matched in any ASCII case and only in ASCII's: a rune
// that strings.ToUpper turns into an ASCII letter (ſ, the long s, to S;
// ı, the dotless i, to I) names no instrument, and the refusal shows it
// escaped rather than as its look-alike.
func TestLookupMatchesASCIICaseOnly(t *testing.T) {
	in := newInstruments([]config.Instrument{{ID: 1, Symbol: "BTC-USD"}, {ID: 2, Symbol: "IBM"}, {ID: 3, Symbol: "KO"}})
	for _, tc := range []struct {
		s    string
		want uint32 // 0: refused
		err  string
	}{
		{"BTC-USD", 1, ""},
		{"btc-usd", 1, ""},
		{"Btc-uSd", 1, ""},
		{"ibm", 2, ""},
		{"2", 2, ""},
		{"BTC-U\u017fD", 0, `unknown instrument "BTC-U\u017fD"`},
		{"btc-u\u017fd", 0, `unknown instrument "btc-u\u017fd"`},
		{"\u0131bm", 0, `unknown instrument "\u0131bm"`},
		{"\u212aO", 0, `unknown instrument "\u212aO"`}, // the Kelvin sign, which folds with K
		{"BTC-USD ", 0, "unknown instrument"},
	} {
		got, err := in.lookup(tc.s)
		switch {
		case tc.want != 0 && (err != nil || got.ID != tc.want):
			t.Errorf("lookup(%+q) = %d, %v; want instrument %d", tc.s, got.ID, err, tc.want)
		case tc.want == 0 && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("lookup(%+q) = %d (%s), %v; want an error holding %s", tc.s, got.ID, got.Symbol, err, tc.err)
		}
	}
}
