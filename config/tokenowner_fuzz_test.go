//go:build unix

package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ringex/ringex/internal/testkit"
)

// FuzzUnmappedOwner reads any bytes as the kernel's uid_map and
// overflowuid files, as unmappedOwner does for a token file's owner: no
// panic; uid is unmapped only when it is the overflow uid (the file's, or
// 65534 when it says no number); a line mapping uid, added before the
// map or after it, makes it mapped; and an unmapped uid stays unmapped
// with lines added that map the uids just below it and just above it.
func FuzzUnmappedOwner(f *testing.F) {
	f.Add([]byte("         0          0 4294967295\n"), []byte("65534\n"), uint32(65534))
	f.Add([]byte("         0       1000          1\n"), []byte("65534\n"), uint32(65534))
	f.Add([]byte("         0       1000          1\n         1     100000      65536\n"), []byte("65534\n"), uint32(65534))
	f.Add([]byte("         0     100000      65534\n"), []byte("65534\n"), uint32(65534))
	f.Add([]byte(""), []byte("4294967295"), uint32(4294967295))
	f.Add([]byte("0 0 1\n\n"), []byte("x"), uint32(65534))
	f.Add([]byte("4294967295 0 18446744073709551615"), []byte("1000\n"), uint32(1000))
	kernel := testkit.FuzzDir(f)
	sysMap, sysOverflow := procUIDMap, procOverflowUID
	procUIDMap, procOverflowUID = filepath.Join(kernel, "uid_map"), filepath.Join(kernel, "overflowuid")
	f.Cleanup(func() { procUIDMap, procOverflowUID = sysMap, sysOverflow })
	unmapped := func(t *testing.T, uidMap []byte, uid uint32) bool {
		if err := os.WriteFile(procUIDMap, uidMap, 0o600); err != nil {
			t.Fatal(err)
		}
		return unmappedOwner(uid)
	}
	f.Fuzz(func(t *testing.T, uidMap, overflowFile []byte, uid uint32) {
		if err := os.WriteFile(procOverflowUID, overflowFile, 0o600); err != nil {
			t.Fatal(err)
		}
		got := unmapped(t, uidMap, uid)
		overflow := uint64(65534)
		if v, err := strconv.ParseUint(strings.TrimSpace(string(overflowFile)), 10, 32); err == nil {
			overflow = v
		}
		if got && uint64(uid) != overflow {
			t.Fatalf("uid %d unmapped by %q, the overflow uid being %d", uid, uidMap, overflow)
		}
		mapsUID := fmt.Sprintf("%d 0 1\n", uid)
		for _, m := range [][]byte{append([]byte(mapsUID), uidMap...), fmt.Appendf(nil, "%s\n%s", uidMap, mapsUID)} {
			if unmapped(t, m, uid) {
				t.Fatalf("uid %d unmapped by %q, which maps it", uid, m)
			}
		}
		if !got || len(uidMap) > 0 && uidMap[len(uidMap)-1] != '\n' { // a line added after it would join its last
			return
		}
		beside := fmt.Sprintf("0 0 %d\n%s", uid, uidMap) // uids 0 … uid-1; none when uid is 0
		if uid < 1<<32-1 {
			beside += fmt.Sprintf("%d 0 %d\n", uint64(uid)+1, uint64(1)<<32-1-uint64(uid)) // uid+1 … 2^32-1
		}
		if m := []byte(beside); !unmapped(t, m, uid) {
			t.Fatalf("uid %d mapped by %q, which maps only the uids beside it", uid, m)
		}
	})
}
