//go:build !race

#include "textflag.h"

// On amd64 every plain store is a release store: the processor makes a
// core's stores visible in program order, so a MOV publishing a sequence
// becomes visible only after the slot writes before it. What it does not
// order is a later load before the store (see signal in wait.go).

// func storeRelease(a *atomic.Int64, v int64)
TEXT ·storeRelease(SB), NOSPLIT|NOFRAME, $0-16
	MOVQ a+0(FP), AX
	MOVQ v+8(FP), BX
	MOVQ BX, (AX)
	RET

// func storeRelease32(a *atomic.Int32, v int32)
TEXT ·storeRelease32(SB), NOSPLIT|NOFRAME, $0-12
	MOVQ a+0(FP), AX
	MOVL v+8(FP), BX
	MOVL BX, (AX)
	RET
