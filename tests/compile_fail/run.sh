#!/bin/sh
# run.sh: misuses of the typed macros (cf_submit, CF_TASK, cf_future_result)
# must not compile, each for the reason its file states; good_submit.c, the
# same uses done right, must compile without a warning.
#
# Each bad_*.c carries one line " * expect: ERE": an extended regular
# expression that one of the compiler's error lines must match, so that a
# file failing for an unrelated reason (a typo, a missing header) is caught.
#
# Environment (make check sets CC and top_srcdir through AM_TESTS_ENVIRONMENT):
#   CC                 the configured compiler (default: cc)
#   top_srcdir         the source tree (default: two levels above this script)
#   CF_TEST_COMPILERS  the compilers to check with, space-separated (default:
#                      $CC, then gcc and clang when installed; each once)
# Exit status: 0 pass, 1 fail, 77 skip (no compiler found), as automake's
# test driver reads it.

# Diagnostics in English, with plain ASCII quotes.
LC_ALL=C
export LC_ALL

here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$here/../..}"
: "${CC:=cc}"

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

out=$(mktemp) || exit 1
trap 'rm -f "$out"' EXIT

failures=0
compilers=0
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
        name=$(basename "$file")
        expect=$(sed -n 's/^ \* expect: \(.*[^ /*]\)[ /*]*$/\1/p' "$file")
        if [ -z "$expect" ]; then
            echo "FAIL: $name has no ' * expect: ' line"
            failures=$((failures + 1))
            continue
        fi
        if $cc $flags "$file" >"$out" 2>&1; then
            echo "FAIL: $cc: $name compiles, but must not"
            failures=$((failures + 1))
        elif reason=$(grep -E 'error' "$out" | grep -E -m1 -- "$expect"); then
            echo "PASS: $cc: $name is refused (${reason#*error: })"
        else
            echo "FAIL: $cc: $name is refused, but not with an error matching: $expect"
            sed 's/^/    /' "$out"
            failures=$((failures + 1))
        fi
    done
done

if [ "$compilers" -eq 0 ]; then
    echo "SKIP: no compiler to check with"
    exit 77
fi
[ "$failures" -eq 0 ]
