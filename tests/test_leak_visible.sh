#!/bin/sh
# test_leak_visible.sh: a program that leaks futures is reported by valgrind,
# in every build, the default one (the library's private jemalloc) included:
# the library allocates through plain malloc when valgrind runs it
# (lib/alloc.c). And the switch is what makes them visible: forced back onto
# jemalloc (CF_ALLOCATOR=jemalloc), the same leaks are invisible in a
# jemalloc build. Skipped, with the reason, when valgrind is not installed
# or the program is built for a sanitizer (which valgrind cannot run).
# Run by make check from the top build directory.

prog=tests/leak_futures
run="${LIBTOOL:-./libtool} --mode=execute"
if ! command -v valgrind >/dev/null 2>&1; then
    echo "SKIP: valgrind is not installed (Debian package valgrind)"
    exit 77
fi
$prog --probe
if test $? -eq 77; then
    echo "SKIP: $prog is built for a sanitizer, which valgrind cannot run"
    exit 77
fi
log=${TMPDIR:-/tmp}/cf-leak-visible.$$
trap 'rm -f "$log"' EXIT
vg="valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=42"

unset CF_ALLOCATOR
$run $vg $prog >"$log" 2>&1
rc=$?
if test $rc -ne 42 || ! grep -q "definitely lost" "$log"; then
    echo "FAIL: valgrind did not report the leaked futures (exit $rc, expected 42):"
    cat "$log"
    exit 1
fi
echo "ok: valgrind reports the leaked futures: $(grep 'definitely lost' "$log" | head -1)"

CF_ALLOCATOR=system $run $vg $prog >"$log" 2>&1
rc=$?
if test $rc -ne 42; then
    echo "FAIL: with CF_ALLOCATOR=system, valgrind did not report the leak (exit $rc)"
    cat "$log"
    exit 1
fi
echo "ok: CF_ALLOCATOR=system: reported too"

if grep -q '^#define CF_USE_JEMALLOC 1' config.h 2>/dev/null; then
    CF_ALLOCATOR=jemalloc $run $vg $prog >"$log" 2>&1
    rc=$?
    if test $rc -ne 0; then
        echo "FAIL: forced onto jemalloc, the program should look clean to valgrind (exit $rc):"
        cat "$log"
        exit 1
    fi
    echo "ok: CF_ALLOCATOR=jemalloc hides them, as it says"
fi
exit 0
