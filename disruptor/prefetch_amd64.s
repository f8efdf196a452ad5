#include "textflag.h"

// func prefetchForWrite(addr uintptr)
//
// PREFETCHW (0F 0D /1), which Go's assembler has no mnemonic for. It asks
// for the cache line in a state this core may write; it never faults and
// changes no data. Processors without it run it as a no-op.
TEXT ·prefetchForWrite(SB), NOSPLIT|NOFRAME, $0-8
	MOVQ addr+0(FP), AX
	BYTE $0x0F; BYTE $0x0D; BYTE $0x08 // PREFETCHW (AX)
	RET
