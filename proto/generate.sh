#!/bin/sh
# Regenerates proto/wire (package wire) from proto/ringex.fbs.
#
# The committed code was generated with flatc 2.0.8 (Debian package
# flatbuffers-compiler), matching the Go runtime pinned in go.mod,
# github.com/google/flatbuffers v2.0.8+incompatible. Another flatc version
# may generate code that does not compile against that runtime, so this
# script refuses it; FLATC names another binary.
set -eu
cd "$(dirname "$0")"
FLATC=${FLATC:-flatc}
want="flatc version 2.0.8"
got=$("$FLATC" --version)
if [ "$got" != "$want" ]; then
	echo "proto/generate.sh: $FLATC is \"$got\", want \"$want\"" >&2
	exit 1
fi
rm -rf wire
"$FLATC" --go -o . ringex.fbs
gofmt -l wire | sed 's/^/not gofmt-clean: /' >&2
