#!/bin/bash
# check-abi.sh: compare a built libcfutures.so with the ABI of the newest
# release recorded in abi/ (abidw's XML), by the rules of doc/versioning.md:
# an incompatible change (abidiff's exit bit 8: a removed symbol, a changed
# type) is an error unless the soname changed too; compatible changes
# (added symbols) are reported.
#
# usage: scripts/check-abi.sh BUILD_DIR
#   BUILD_DIR   a built tree (its .libs/libcfutures.so.*), made with -g.
# scripts/check-abi.sh --record BUILD_DIR writes abi/libcfutures-<version>.abi
# for a release.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
record=0
if [ "${1:-}" = --record ]; then record=1; shift; fi
build=${1:?usage: scripts/check-abi.sh [--record] BUILD_DIR}
die() { printf 'check-abi: %s\n' "$*" >&2; exit 1; }
command -v abidiff >/dev/null || die "abidiff not found: install abigail-tools"

lib=$(ls "$build"/.libs/libcfutures.so.*.*.* 2>/dev/null | head -n 1)
[ -n "$lib" ] || die "no .libs/libcfutures.so.X.Y.Z in $build: build it first"
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')

if [ "$record" = 1 ]; then
    version=$(sed -n "s/^PACKAGE_VERSION = //p" "$build/Makefile")
    out=$top/abi/libcfutures-$version.abi
    abidw --headers-dir "$top/include" --out-file "$out" "$lib"
    echo "recorded $soname of cfutures $version in $out"
    exit 0
fi

baseline=$(ls "$top"/abi/libcfutures-*.abi | sort -V | tail -n 1)
base_soname=$(sed -n "s/.*<abi-corpus [^>]*soname='\([^']*\)'.*/\1/p" "$baseline" | head -n 1)
echo "baseline: $(basename "$baseline") ($base_soname); built: $soname"

status=0
abidiff --headers-dir2 "$top/include" "$baseline" "$lib" >"$build/abidiff.txt" 2>&1 || status=$?
cat "$build/abidiff.txt"
(( status & 1 )) && die "abidiff failed (exit $status)"
# Removed or changed functions and variables, or what abidiff itself calls
# incompatible, break callers built against the baseline.
broken=$(grep -E '^(Functions|Variables) changes summary' "$build/abidiff.txt" \
    | grep -vE ': 0 Removed(, 0 Removed)?, 0 Changed' || true)
if [ "$soname" != "$base_soname" ]; then
    # A new soname is a new ABI: programs built against the baseline keep
    # using their library. abidiff cannot pair symbols across version nodes,
    # so its report above may be empty.
    echo "new soname ($base_soname -> $soname): incompatible changes allowed"
elif (( status & 8 )) || [ -n "$broken" ]; then
    die "incompatible ABI change, but the soname is still $soname: raise current and set age to 0 in CF_LT_VERSION (doc/versioning.md)"
elif (( status & 4 )); then
    echo "compatible ABI change (additions only)"
else
    echo "ABI unchanged"
fi
