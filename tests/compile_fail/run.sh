#!/bin/sh
# run.sh: misuses of the typed macros (cf_submit, CF_TASK, cf_future_result)
# must not compile, each for the reason its file states; good_submit.c, the
# same uses done right, must compile without a warning.
#
# Each bad_*.c carries one line " * expect: ERE": an extended regular
# expression that one of the compiler's error lines must match, so that a
# file failing for an unrelated reason (a typo, a missing header) is caught.
#
# The same misuses must not compile in C++ either: every bad_*.c is also
# compiled as C++17, where its " * expect-c++: ERE" line must match an error
# line or one of the notes that explain it (C++ compilers often give the
# reason there). bad_*.cc are misuses only C++ can write (" * expect: ");
# good_cplusplus.cc, every typed macro used right, must compile as C++17
# without a warning, -pedantic included.
#
# Environment (make check sets CC, CXX and top_srcdir through
# AM_TESTS_ENVIRONMENT):
#   CC                 the configured compiler (default: cc)
#   CXX                the configured C++ compiler; empty when configure found
#                      none (default: c++)
#   top_srcdir         the source tree (default: two levels above this script)
#   CF_TEST_COMPILERS  the compilers to check with, space-separated (default:
#                      $CC, then gcc and clang when installed; each once)
#   CF_TEST_CXX_COMPILERS  likewise for C++ (default: $CXX, then g++ and
#                      clang++ when installed; none when CXX is set empty)
# Exit status: 0 pass, 1 fail, 77 skip (no compiler found), as automake's
# test driver reads it.

# Diagnostics in English, with plain ASCII quotes.
LC_ALL=C
export LC_ALL

here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$here/../..}"
: "${CC:=cc}"
: "${CXX=c++}"

if [ -z "$CF_TEST_COMPILERS" ]; then
    CF_TEST_COMPILERS=$CC
    for extra in gcc clang; do
        if command -v "$extra" >/dev/null 2>&1; then
            case " $CF_TEST_COMPILERS " in
            *" $extra "*) ;;
            *) CF_TEST_COMPILERS="$CF_TEST_COMPILERS $extra" ;;
            esac
        fi
    done
fi

if [ -z "${CF_TEST_CXX_COMPILERS+set}" ]; then
    CF_TEST_CXX_COMPILERS=
    if [ -n "$CXX" ]; then
        CF_TEST_CXX_COMPILERS=$CXX
        for extra in g++ clang++; do
            if command -v "$extra" >/dev/null 2>&1; then
                case " $CF_TEST_CXX_COMPILERS " in
                *" $extra "*) ;;
                *) CF_TEST_CXX_COMPILERS="$CF_TEST_CXX_COMPILERS $extra" ;;
                esac
            fi
        done
    else
        echo "SKIP: C++ checks: configure found no C++ compiler"
    fi
fi

out=$(mktemp) || exit 1
trap 'rm -f "$out"' EXIT

failures=0
compilers=0

# refused LABEL FILE EXPECT LINES COMPILER FLAGS...: FILE must not compile,
# with an error (LINES: 'error', or 'error|note') matching EXPECT.
refused() {
    label=$1 file=$2 expect=$3 lines=$4
    shift 4
    name=$(basename "$file")
    if [ -z "$expect" ]; then
        echo "FAIL: $name has no ' * $label: ' line"
        failures=$((failures + 1))
    elif "$@" "$file" >"$out" 2>&1; then
        echo "FAIL: $1: $name compiles, but must not"
        failures=$((failures + 1))
    elif reason=$(grep -E "$lines" "$out" | grep -E -m1 -- "$expect"); then
        reason=${reason#*error: }
        echo "PASS: $1: $name is refused (${reason#*note: })"
    else
        echo "FAIL: $1: $name is refused, but not with an error matching: $expect"
        sed 's/^/    /' "$out"
        failures=$((failures + 1))
    fi
}

for cc in $CF_TEST_COMPILERS; do
    if ! command -v "$cc" >/dev/null 2>&1; then
        echo "SKIP: compiler '$cc' not found"
        continue
    fi
    compilers=$((compilers + 1))
    flags="-std=c11 -fsyntax-only -I$top_srcdir/include"

    if $cc $flags -Wall -Wextra -Werror "$here/good_submit.c" >"$out" 2>&1; then
        echo "PASS: $cc: good_submit.c compiles"
    else
        echo "FAIL: $cc: good_submit.c does not compile:"
        sed 's/^/    /' "$out"
        failures=$((failures + 1))
    fi

    for file in "$here"/bad_*.c; do
        expect=$(sed -n 's/^ \* expect: \(.*[^ /*]\)[ /*]*$/\1/p' "$file")
        refused expect "$file" "$expect" 'error' $cc $flags
    done
done

for cxx in $CF_TEST_CXX_COMPILERS; do
    if ! command -v "$cxx" >/dev/null 2>&1; then
        echo "SKIP: C++ compiler '$cxx' not found"
        continue
    fi
    compilers=$((compilers + 1))
    flags="-std=c++17 -fsyntax-only -I$top_srcdir/include"

    if $cxx $flags -Wall -Wextra -pedantic -Werror "$here/good_cplusplus.cc" >"$out" 2>&1; then
        echo "PASS: $cxx: good_cplusplus.cc compiles"
    else
        echo "FAIL: $cxx: good_cplusplus.cc does not compile:"
        sed 's/^/    /' "$out"
        failures=$((failures + 1))
    fi

    for file in "$here"/bad_*.c; do
        expect=$(sed -n 's/^ \* expect-c++: \(.*[^ /*]\)[ /*]*$/\1/p' "$file")
        refused expect-c++ "$file" "$expect" 'error|note' $cxx -x c++ $flags
    done
    for file in "$here"/bad_*.cc; do
        expect=$(sed -n 's/^ \* expect: \(.*[^ /*]\)[ /*]*$/\1/p' "$file")
        refused expect "$file" "$expect" 'error|note' $cxx $flags
    done
done

if [ "$compilers" -eq 0 ]; then
    echo "SKIP: no compiler to check with"
    exit 77
fi
[ "$failures" -eq 0 ]
